/*
 * dict_inline.c - inline: tables written in the table name.
 *
 * "inline:{ key=value, { key = text with spaces }, ... }": elements are
 * separated by comma or white space; inside a "{...}" element white space
 * around the '=' and inside the braces is ignored. An element without '='
 * makes the open fail. Keys fold to lower case like hash: keys. Built on
 * the in-memory table of dict_internal.c.
 */
#include <ctype.h>
#include <string.h>

#include "util/dict_impl.h"
#include "util/memtab.h"
#include "util/mem.h"
#include "util/strv.h"

static char *trim(char *s)
{
    while (isspace((unsigned char) *s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char) e[-1]))
        *--e = 0;
    return s;
}

dict *dict_inline_open(const char *name, int open_flags, int dict_flags, char **err)
{
    char *inner = 0;
    if (dict_braced_name(name, &inner) != 1) {
        *err = dict_errorf("bad syntax: \"inline:%s\"; need \"inline:{name=value...}\"", name);
        return 0;
    }
    strv elems = { 0, 0, 0 };
    if (dict_split_braced(inner, &elems) < 0) {
        *err = dict_errorf("bad syntax: \"inline:%s\"; need \"inline:{name=value...}\"", name);
        strv_free(&elems);
        xfree(inner);
        return 0;
    }
    xfree(inner);
    memtab *t = memtab_create();
    for (size_t i = 0; i < elems.n; i++) {
        char *eq = strchr(elems.v[i], '=');
        if (!eq || eq == elems.v[i]) {
            *err = dict_errorf("missing '=' after attribute name: \"inline:%s\"; "
                               "need \"inline:{name=value...}\"", name);
            memtab_free(t);
            strv_free(&elems);
            return 0;
        }
        *eq = 0;
        char *k = trim(elems.v[i]), *v = trim(eq + 1);
        if (dict_flags & DICT_FLAG_FOLD_FIX)
            for (char *c = k; *c; c++)
                *c = (char) tolower((unsigned char) *c);
        memtab_put(t, k, v, 0);
    }
    strv_free(&elems);
    dict *d = dict_mem_wrap("inline", name, open_flags, dict_flags, t);
    d->update = 0;             /* read-only, like Postfix */
    d->remove = 0;
    return d;
}
