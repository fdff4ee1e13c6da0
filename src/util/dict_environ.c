/*
 * dict_environ.c - environ: tables: the process environment.
 *
 * The key is a variable name; the result is its value. The table name is
 * ignored. Keys are not folded (variable names are case-sensitive).
 * Read-only.
 */
#include <stdlib.h>

#include "util/dict_impl.h"

static const char *environ_lookup(dict *d, const char *key)
{
    (void) d;
    return getenv(key);
}

dict *dict_environ_open(const char *name, int open_flags, int dict_flags, char **err)
{
    (void) err;
    dict *d = dict_alloc("environ", name, open_flags, dict_flags & ~DICT_FLAG_FOLD_FIX);
    d->lookup = environ_lookup;
    return d;
}
