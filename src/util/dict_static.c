/*
 * dict_static.c - static: tables: every lookup returns the table's name.
 *
 * "static:value" returns "value"; "static:{ text with spaces }" returns the
 * text inside the braces without the white space after '{' and before '}'.
 * Read-only; cannot be listed.
 */
#include <ctype.h>
#include <string.h>

#include "util/dict_impl.h"
#include "util/mem.h"

static const char *static_lookup(dict *d, const char *key)
{
    (void) key;
    return d->priv;
}

static void static_close(dict *d)
{
    xfree(d->priv);
    dict_free(d);
}

dict *dict_static_open(const char *name, int open_flags, int dict_flags, char **err)
{
    char *inner = 0;
    int braced = dict_braced_name(name, &inner);
    if (braced < 0) {
        *err = dict_errorf("bad syntax: \"static:%s\"; need \"static:{text}\"", name);
        return 0;
    }
    if (braced) {
        char *b = inner, *e = inner + strlen(inner);
        while (isspace((unsigned char) *b))
            b++;
        while (e > b && isspace((unsigned char) e[-1]))
            e--;
        char *v = xstrndup(b, (size_t) (e - b));
        xfree(inner);
        inner = v;
    } else {
        inner = xstrdup(name);
    }
    dict *d = dict_alloc("static", name, open_flags, dict_flags & ~DICT_FLAG_FOLD_FIX);
    d->priv = inner;
    d->lookup = static_lookup;
    d->close = static_close;
    return d;
}
