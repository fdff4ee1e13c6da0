/*
 * dict.c - the table-type registry and the generic dict operations (see dict.h).
 *
 * Knows the list of types and how to turn "type:name" into a call of the
 * right opener; every type's behaviour lives in its own dict_<type>.c.
 * "proxy:type:name" opens type:name directly (there is no proxymap
 * server; the table is read in-process with the caller's privileges).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/mem.h"
#include "util/sbuf.h"
#include "util/strv.h"

struct dict_type {
    const char *name;
    dict_open_fn open;
    const char *suffix;         /* file suffix of indexed types, or NULL */
};

/* Sorted by name: postconf -m prints them in this order. */
static const struct dict_type types[] = {
    {"btree", dict_btree_open, ".db"},
    {"cidr", dict_cidr_open, 0},
    {"environ", dict_environ_open, 0},
    {"fail", dict_fail_open, 0},
    {"hash", dict_hash_open, ".db"},
    {"inline", dict_inline_open, 0},
    {"internal", dict_internal_open, 0},
    {"lmdb", dict_lmdb_open, ".lmdb"},
    {"nis", dict_nis_open, 0},
    {"pcre", dict_pcre_open, 0},
    {"pipemap", dict_pipemap_open, 0},
    {"proxy", 0, 0},
    {"randmap", dict_randmap_open, 0},
    {"regexp", dict_regexp_open, 0},
    {"static", dict_static_open, 0},
    {"texthash", dict_texthash_open, 0},
    {"unionmap", dict_unionmap_open, 0},
    {"unix", dict_unix_open, 0},
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

static struct dict_tuning tuning = { 131072, 16777216, 16777216 };

void dict_set_tuning(const struct dict_tuning *t)
{
    if (t->db_read_buffer)
        tuning.db_read_buffer = t->db_read_buffer;
    if (t->db_create_buffer)
        tuning.db_create_buffer = t->db_create_buffer;
    if (t->lmdb_map_size)
        tuning.lmdb_map_size = t->lmdb_map_size;
}

const struct dict_tuning *dict_get_tuning(void)
{
    return &tuning;
}

static const struct dict_type *find_type(const char *name)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(types[i].name, name) == 0)
            return &types[i];
    return 0;
}

const char *const *dict_type_names(void)
{
    static const char *names[NTYPES + 1];
    if (!names[0])
        for (size_t i = 0; i < NTYPES; i++)
            names[i] = types[i].name;
    return names;
}

int dict_type_known(const char *type)
{
    return find_type(type) != 0;
}

const char *dict_type_suffix(const char *type)
{
    const struct dict_type *t = find_type(type);
    return t ? t->suffix : 0;
}

int dict_type_writable(const char *type)
{
    return dict_type_suffix(type) != 0;
}

char *dict_errorf(const char *fmt, ...)
{
    sbuf b = SBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    return sbuf_steal(&b);
}

static dict *fail_open(char **err, char *msg)
{
    if (err)
        *err = msg;
    else
        xfree(msg);
    return 0;
}

dict *dict_open3(const char *type, const char *name, int open_flags, int dict_flags, char **err)
{
    const struct dict_type *t = find_type(type);
    if (!t)
        return fail_open(err, dict_errorf("unsupported dictionary type: %s", type));
    if (!t->open) {                             /* proxy:type:name */
        const char *colon = strchr(name, ':');
        if (!colon || colon == name)
            return fail_open(err, dict_errorf("open dictionary: expecting \"type:name\" "
                                              "form instead of \"proxy:%s\"", name));
        char *inner = xstrndup(name, (size_t) (colon - name));
        dict *d = 0;
        if (strcmp(inner, "proxy") == 0)
            fail_open(err, dict_errorf("open dictionary: nested proxy: \"proxy:%s\"", name));
        else
            d = dict_open3(inner, colon + 1, open_flags, dict_flags, err);
        xfree(inner);
        return d;
    }
    char *msg = 0;
    dict *d = t->open(name, open_flags, dict_flags, &msg);
    if (!d)
        return fail_open(err, msg ? msg : dict_errorf("open %s:%s failed", type, name));
    xfree(msg);
    return d;
}

dict *dict_open(const char *spec, int open_flags, int dict_flags, char **err)
{
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec)
        return fail_open(err, dict_errorf("open dictionary: expecting \"type:name\" "
                                          "form instead of \"%s\"", spec));
    char *type = xstrndup(spec, (size_t) (colon - spec));
    dict *d = dict_open3(type, colon + 1, open_flags, dict_flags, err);
    xfree(type);
    return d;
}

const char *dict_lookup(dict *d, const char *key)
{
    d->error = DICT_ERR_NONE;
    if (!d->lookup)
        return 0;
    return d->lookup(d, key);
}

int dict_update(dict *d, const char *key, const char *value)
{
    d->error = DICT_ERR_NONE;
    if (!d->update) {
        d->error = DICT_ERR_CONFIG;
        return -1;
    }
    return d->update(d, key, value);
}

int dict_remove(dict *d, const char *key)
{
    d->error = DICT_ERR_NONE;
    if (!d->remove) {
        d->error = DICT_ERR_CONFIG;
        return -1;
    }
    return d->remove(d, key);
}

int dict_sequence(dict *d, int first, const char **key, const char **value)
{
    d->error = DICT_ERR_NONE;
    if (!d->sequence) {
        d->error = DICT_ERR_CONFIG;
        return -1;
    }
    return d->sequence(d, first, key, value);
}

int dict_sync(dict *d)
{
    return d->sync ? d->sync(d) : 0;
}

void dict_close(dict *d)
{
    if (!d)
        return;
    if (d->close)
        d->close(d);
    else
        dict_free(d);
}

int dict_changed(dict *d)
{
    return d && d->changed ? d->changed(d) : 0;
}

dict *dict_alloc(const char *type, const char *name, int open_flags, int dict_flags)
{
    dict *d = xcalloc(1, sizeof(*d));
    d->type = xstrdup(type);
    d->name = xstrdup(name);
    d->open_flags = open_flags;
    d->flags = dict_flags;
    return d;
}

void dict_free(dict *d)
{
    if (!d)
        return;
    xfree(d->type);
    xfree(d->name);
    xfree(d);
}

const char *dict_fold_key(dict *d, const char *key, sbuf *buf)
{
    if (!(d->flags & DICT_FLAG_FOLD_FIX))
        return key;
    sbuf_set(buf, key);
    sbuf_lower(buf);
    return sbuf_str(buf);
}

/* ---- helpers for the composite and inline types ---- */

int dict_braced_name(const char *name, char **inner)
{
    const char *p = name;
    if (*p != '{')
        return 0;
    int depth = 0;
    const char *q = p;
    for (; *q; q++) {
        if (*q == '{')
            depth++;
        else if (*q == '}' && --depth == 0)
            break;
    }
    if (!*q)
        return -1;
    for (const char *r = q + 1; *r; r++)
        if (!isspace((unsigned char) *r))
            return -1;
    *inner = xstrndup(p + 1, (size_t) (q - p - 1));
    return 1;
}

int dict_split_braced(const char *text, strv *out)
{
    const char *delims = ", \t\r\n";
    const char *s = text;
    if (!out->v)
        strv_init(out);
    for (;;) {
        s += strspn(s, delims);
        if (!*s)
            return 0;
        const char *p = s;
        int depth = 0;
        for (; *p; p++) {
            if (*p == '{')
                depth++;
            else if (*p == '}') {
                if (--depth < 0)
                    return -1;
                if (depth == 0 && *s == '{') {
                    p++;
                    break;
                }
            } else if (depth == 0 && strchr(delims, *p))
                break;
        }
        if (depth != 0)
            return -1;
        if (*s == '{') {
            const char *b = s + 1, *e = p - 1;
            while (b < e && isspace((unsigned char) *b))
                b++;
            while (e > b && isspace((unsigned char) e[-1]))
                e--;
            strv_addn(out, b, (size_t) (e - b));
        } else {
            strv_addn(out, s, (size_t) (p - s));
        }
        s = p;
    }
}

int dict_open_list(const char *type, const char *name, int open_flags, int dict_flags,
                   dict ***out, char **err)
{
    char *inner = 0;
    strv specs = { 0, 0, 0 };
    if (dict_braced_name(name, &inner) != 1 || dict_split_braced(inner, &specs) < 0
        || specs.n == 0) {
        *err = dict_errorf("bad syntax: \"%s:%s\"; need \"%s:{type:name...}\"", type, name, type);
        xfree(inner);
        strv_free(&specs);
        return -1;
    }
    xfree(inner);
    dict **list = xcalloc(specs.n, sizeof(dict *));
    for (size_t i = 0; i < specs.n; i++) {
        char *why = 0;
        list[i] = dict_open(specs.v[i], open_flags, dict_flags, &why);
        if (!list[i]) {
            *err = dict_errorf("%s:%s: %s", type, name, why);
            xfree(why);
            dict_close_list(list, (int) i);
            strv_free(&specs);
            return -1;
        }
    }
    int n = (int) specs.n;
    strv_free(&specs);
    *out = list;
    return n;
}

void dict_close_list(dict **list, int n)
{
    for (int i = 0; i < n; i++)
        dict_close(list[i]);
    xfree(list);
}
