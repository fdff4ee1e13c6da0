/*
 * params.h - the parameter table: every main.cf parameter Hikyaku knows.
 *
 * params.def is the single source of parameter names, types, defaults and
 * their few-word meaning. It feeds postconf -d, type checking in
 * mail_conf.c and docs/parameters.md (tools/gen_parameters_md.py). No
 * default value lives anywhere else.
 *
 * Entries are P(name, type, default, flags, meaning). The default is the
 * raw string postconf -d prints ($name references are expanded lazily by
 * mail_conf). Time defaults carry their unit ("300s", "5d"); that unit is
 * the parameter's default unit when a value has none. PF_COMPUTED marks
 * defaults that depend on the machine (myhostname, mynetworks, ...) and are
 * worked out by mail_conf at run time.
 */
#ifndef HK_MAIL_PARAMS_H
#define HK_MAIL_PARAMS_H

#include <stddef.h>

enum param_type {
    PT_STR,     /* free text, $-expanded */
    PT_RAW,     /* free text, not $-expanded when read (expanded at use) */
    PT_INT,     /* decimal integer */
    PT_LONG,    /* decimal integer that may exceed int (sizes in bytes) */
    PT_BOOL,    /* yes/no */
    PT_TIME,    /* number with optional unit s, m, h, d, w */
    PT_LIST,    /* comma/space separated list, $-expanded */
};

#define PF_NONE       0
#define PF_COMPUTED   (1 << 0)  /* default worked out at run time */
#define PF_READONLY   (1 << 1)  /* cannot be set in main.cf (mail_version, ...) */
#define PF_MIN0       (1 << 2)  /* numeric, must be >= 0 */
#define PF_MIN1       (1 << 3)  /* numeric, must be >= 1 */

struct param_def {
    const char *name;
    enum param_type type;
    const char *def;        /* raw default, NULL never */
    int flags;
    const char *meaning;
};

extern const struct param_def param_table[];
extern const size_t param_count;

/* Binary search by name (the table is kept sorted); NULL if unknown. */
const struct param_def *param_find(const char *name);
const char *param_type_name(enum param_type t);

#endif
