/*
 * params.c - the parameter table built from params.def (see params.h).
 *
 * params.def must be sorted by name; a unit test checks it.
 */
#include <string.h>
#include <stdlib.h>

#include "mail/params.h"

const struct param_def param_table[] = {
#define P(name, type, def, flags, meaning) { #name, type, def, flags, meaning },
#include "mail/params.def"
#undef P
};

const size_t param_count = sizeof(param_table) / sizeof(param_table[0]);

static int cmp(const void *key, const void *elem)
{
    return strcmp((const char *) key, ((const struct param_def *) elem)->name);
}

const struct param_def *param_find(const char *name)
{
    return bsearch(name, param_table, param_count, sizeof(param_table[0]), cmp);
}

const char *param_type_name(enum param_type t)
{
    switch (t) {
    case PT_STR: return "string";
    case PT_RAW: return "raw string";
    case PT_INT: return "integer";
    case PT_LONG: return "size";
    case PT_BOOL: return "boolean";
    case PT_TIME: return "time";
    case PT_LIST: return "list";
    }
    return "?";
}
