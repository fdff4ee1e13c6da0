/*
 * dict_fail.c - fail: tables: every operation fails with DICT_ERR_RETRY.
 *
 * The name is only for logging. Exists so that error handling can be
 * tested (a lookup that cannot be done must defer, not reject).
 */
#include "util/dict_impl.h"

static const char *fail_lookup(dict *d, const char *key)
{
    (void) key;
    d->error = DICT_ERR_RETRY;
    return 0;
}

static int fail_update(dict *d, const char *key, const char *value)
{
    (void) key;
    (void) value;
    d->error = DICT_ERR_RETRY;
    return -1;
}

static int fail_remove(dict *d, const char *key)
{
    (void) key;
    d->error = DICT_ERR_RETRY;
    return -1;
}

static int fail_sequence(dict *d, int first, const char **key, const char **value)
{
    (void) first;
    (void) key;
    (void) value;
    d->error = DICT_ERR_RETRY;
    return -1;
}

dict *dict_fail_open(const char *name, int open_flags, int dict_flags, char **err)
{
    (void) err;
    dict *d = dict_alloc("fail", name, open_flags, dict_flags);
    d->lookup = fail_lookup;
    d->update = fail_update;
    d->remove = fail_remove;
    d->sequence = fail_sequence;
    return d;
}
