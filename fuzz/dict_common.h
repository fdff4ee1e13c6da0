/*
 * dict_common.h - the shared body of the table fuzz targets (fuzz_dict_*.c).
 *
 * Input layout: table text, then optionally a NUL byte and lookup keys,
 * one per line. The table text is written to a file and opened as
 * "type:/path" (or, when it starts with '{', opened inline as
 * "type:{...}"); then the target's fixed keys and the input's keys are
 * looked up (each twice: results must be stable), and the table is
 * listed with dict_sequence() where the type can list. Keys are cut at
 * KEY_MAX bytes. An open failure must come with a message.
 * Included by one target each; not a target itself.
 */
#ifndef HK_FUZZ_DICT_COMMON_H
#define HK_FUZZ_DICT_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "util/dict.h"
#include "util/mem.h"
#include "util/sbuf.h"

#define DICT_FUZZ_MAX_INPUT (32 * 1024)
#define KEY_MAX 512
#define MAX_KEYS 16

static void lookup_twice(dict *d, const char *key)
{
    const char *v = dict_lookup(d, key);
    char *first = v ? xstrdup(v) : NULL;
    int err1 = d->error;
    v = dict_lookup(d, key);
    if ((first == NULL) != (v == NULL) || (first && strcmp(first, v) != 0) || err1 != d->error)
        abort();                /* the same key gives the same answer */
    xfree(first);
}

static int fuzz_dict(const char *type, const char *const *keys, const uint8_t *data,
                     size_t size)
{
    if (size > DICT_FUZZ_MAX_INPUT)
        return 0;
    fuzz_init();
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t) (nul - data) : size;
    sbuf spec = SBUF_INIT;
    if (tlen && data[0] == '{') {
        sbuf_printf(&spec, "%s:", type);
        sbuf_add(&spec, data, tlen);
    } else {
        const char *path = fuzz_write_file("table", data, tlen);
        sbuf_printf(&spec, "%s:%s", type, path);
    }
    char *err = NULL;
    dict *d = dict_open(sbuf_str(&spec), O_RDONLY, DICT_FLAG_DEFAULT, &err);
    sbuf_free(&spec);
    if (!d) {
        if (!err || !*err)
            abort();
        xfree(err);
        return 0;
    }
    for (const char *const *k = keys; *k; k++)
        lookup_twice(d, *k);
    if (nul) {
        struct fuzz_in in = {nul + 1, size - tlen - 1};
        for (int i = 0; i < MAX_KEYS && in.left; i++) {
            size_t len;
            char *key = fuzz_take(&in, '\n', &len);
            if (len > KEY_MAX)
                key[KEY_MAX] = 0;
            lookup_twice(d, key);
            free(key);
        }
    }
    const char *k, *v;
    int first = 1, n = 0;
    while (n < 100000 && dict_sequence(d, first, &k, &v) == 0) {
        if (!k || !v)
            abort();
        first = 0;
        n++;
    }
    dict_close(d);
    return 0;
}

#endif
