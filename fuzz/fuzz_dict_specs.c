/*
 * fuzz_dict_specs.c - libFuzzer target for table specs whose text is the
 * whole table: dict_open() of "type:name" for static:, inline:{...},
 * pipemap:{...}, unionmap:{...}, randmap:{...}, fail:, environ:,
 * internal: and proxy: in front of any of them, nested as deep as the
 * input likes, then lookups through what was opened.
 *
 * Input: the first line (up to LF) is the spec; each further line is a key
 * to look up (at most MAX_KEYS keys of at most KEY_MAX bytes).
 * A spec that names any other table type anywhere in its text ("hash:",
 * "regexp:", "unix:", a type added later ...) is skipped before
 * dict_open: those read files or ask the system, and have targets of their
 * own. Every nested spec is a piece of the outer text, so looking for
 * "type:" in the whole text finds every type that could be opened.
 *
 * Checks, for every input:
 *   - a failed open comes with a message; an open table has the type the
 *     spec names (proxy: removed);
 *   - the same key gives the same answer twice (the random generator is
 *     reset before each randmap lookup), and a result comes with no error;
 *   - static: answers every key with the same text, fail: never answers
 *     (DICT_ERR_RETRY), environ: answers what getenv() says, randmap:
 *     always answers; inline: and internal: fold keys (an upper-case key
 *     finds what the lower-case one finds);
 *   - a table that can be listed lists at most as many entries as the
 *     spec has bytes, and each listed key looks up to its listed value;
 *   - nothing reports a changed file.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "util/dict.h"
#include "util/mem.h"

#define MAX_INPUT (16 * 1024)
#define MAX_KEYS 16
#define KEY_MAX 512

/* Types opened here: the table is the spec text (or the environment). */
static const char *const in_memory[] = {
    "static", "inline", "pipemap", "unionmap", "randmap", "fail", "environ", "internal",
    "proxy", 0,
};

static int in_memory_type(const char *type)
{
    for (int i = 0; in_memory[i]; i++)
        if (strcmp(in_memory[i], type) == 0)
            return 1;
    return 0;
}

/* No "type:" of another known type anywhere in the spec. */
static int spec_is_safe(const char *spec)
{
    for (const char *const *t = dict_type_names(); *t; t++) {
        if (in_memory_type(*t))
            continue;
        size_t n = strlen(*t);
        for (const char *p = strstr(spec, *t); p; p = strstr(p + 1, *t))
            if (p[n] == ':')
                return 0;
    }
    return 1;
}

/* The type dict_open must give spec: before the first ':', after one
 * "proxy:"; NULL when the spec cannot open (malloc'd otherwise). */
static char *expected_type(const char *spec)
{
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec)
        return 0;
    if ((size_t) (colon - spec) == 5 && strncmp(spec, "proxy", 5) == 0) {
        spec = colon + 1;
        colon = strchr(spec, ':');
        if (!colon || colon == spec || ((size_t) (colon - spec) == 5
                                        && strncmp(spec, "proxy", 5) == 0))
            return 0;
    }
    return xstrndup(spec, (size_t) (colon - spec));
}

static int same(const char *a, const char *b)
{
    return (a == 0) == (b == 0) && (!a || strcmp(a, b) == 0);
}

/* Look key up (twice); returns a copy of the answer, *err its error. */
static char *lookup_checked(dict *d, const char *key, int *err)
{
    srandom(1);
    const char *v = dict_lookup(d, key);
    char *first = v ? xstrdup(v) : 0;
    *err = d->error;
    srandom(1);
    v = dict_lookup(d, key);
    if (!same(first, v) || *err != d->error)
        abort();                        /* the same key, another answer */
    if (first && *err != DICT_ERR_NONE)
        abort();                        /* an answer and an error */
    if (*err != DICT_ERR_NONE && *err != DICT_ERR_RETRY && *err != DICT_ERR_CONFIG)
        abort();
    return first;
}

static void check_key(dict *d, const char *key, char **static_value)
{
    int err;
    char *v = lookup_checked(d, key, &err);

    if (strcmp(d->type, "static") == 0) {
        if (!v || err)
            abort();
        if (!*static_value)
            *static_value = xstrdup(v);
        else if (strcmp(*static_value, v) != 0)
            abort();                    /* static: has one answer */
    } else if (strcmp(d->type, "fail") == 0) {
        if (v || err != DICT_ERR_RETRY)
            abort();
    } else if (strcmp(d->type, "environ") == 0) {
        if (!same(v, getenv(key)))
            abort();
    } else if (strcmp(d->type, "randmap") == 0) {
        if (!v)
            abort();
    } else if (strcmp(d->type, "inline") == 0 || strcmp(d->type, "internal") == 0) {
        char *upper = xstrdup(key);
        for (char *c = upper; *c; c++)
            *c = (char) toupper((unsigned char) *c);
        int uerr;
        char *uv = lookup_checked(d, upper, &uerr);
        if (!same(v, uv) || uerr != err)
            abort();                    /* keys fold to lower case */
        xfree(uv);
        xfree(upper);
    }
    xfree(v);
}

static void check_listing(dict *d, size_t limit)
{
    const char *k, *v;
    size_t count = 0;
    int r;

    for (int first = 1; (r = dict_sequence(d, first, &k, &v)) == 0; first = 0) {
        if (!k || !v || ++count > limit)
            abort();
        char *key = xstrdup(k), *value = xstrdup(v);
        int err;
        char *found = lookup_checked(d, key, &err);
        if (!found || strcmp(found, value) != 0)
            abort();                    /* a listed key finds its value */
        xfree(found);
        xfree(key);
        xfree(value);
    }
    if (r != 1 && r != -1)
        abort();
    if (r < 0 && d->error == DICT_ERR_NONE)
        abort();                        /* a failed listing says why */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    fuzz_init();
    struct fuzz_in in = {data, size};
    char *spec = fuzz_take(&in, '\n', 0);
    if (!spec_is_safe(spec)) {
        xfree(spec);
        return 0;
    }

    char *err = 0;
    dict *d = dict_open(spec, O_RDONLY, DICT_FLAG_DEFAULT, &err);
    char *want = expected_type(spec);
    if (!d) {
        if (!err || !*err)
            abort();                    /* a refusal says why */
    } else {
        if (!want || strcmp(d->type, want) != 0)
            abort();
        char *static_value = 0;
        for (int i = 0; i < MAX_KEYS && in.left; i++) {
            char *key = fuzz_take(&in, '\n', 0);
            if (strlen(key) > KEY_MAX)
                key[KEY_MAX] = 0;
            check_key(d, key, &static_value);
            xfree(key);
        }
        check_key(d, "", &static_value);
        check_listing(d, strlen(spec));
        if (dict_changed(d))
            abort();
        xfree(static_value);
        dict_close(d);
    }
    xfree(want);
    xfree(err);
    xfree(spec);
    return 0;
}
