/*
 * dict_nis.c - nis: tables on a host without NIS: every lookup finds nothing.
 *
 * Hikyaku has no NIS client. Postfix on a host whose NIS domain is not set
 * behaves the same way (lookups return "not found"), and the Postfix
 * default alias_maps names nis:mail.aliases, so this keeps such
 * configurations working. The first lookup logs one warning.
 */
#include "util/dict_impl.h"
#include "util/msg.h"

static const char *nis_lookup(dict *d, const char *key)
{
    static int warned;
    (void) key;
    if (!warned++)
        msg_warn("nis:%s: NIS is not supported - NIS lookups disabled", d->name);
    return 0;
}

dict *dict_nis_open(const char *name, int open_flags, int dict_flags, char **err)
{
    (void) err;
    dict *d = dict_alloc("nis", name, open_flags, dict_flags);
    d->lookup = nis_lookup;
    return d;
}
