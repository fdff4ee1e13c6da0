/*
 * master_cf.h - master.cf: the service table.
 *
 * Each logical line has eight columns: service, type (inet, unix,
 * unix-dgram, fifo, pass), private, unpriv, chroot, wakeup, maxproc, and
 * the command with its arguments. "-" means the default. -o name=value
 * and -o { name = value } overrides are collected per service; the other
 * arguments stay in argv. Errors name the file and the line.
 * This module does not start anything: master does.
 */
#ifndef HK_MAIL_MASTER_CF_H
#define HK_MAIL_MASTER_CF_H

#include <stdbool.h>
#include "util/strv.h"

struct master_service {
    char   *name;           /* "smtp", "127.0.0.1:2525", "submission" */
    char   *type;           /* "inet", "unix", "unix-dgram", "fifo", "pass" */
    char    private_;       /* 'y', 'n' or '-' as written */
    char    unpriv;
    char    chroot;
    char   *wakeup;         /* "-", "60", "1000?" */
    char   *maxproc;        /* "-", "0", "100" */
    char   *command;        /* program name, e.g. "smtpd" */
    strv    args;           /* arguments other than -o, in order */
    strv    overrides;      /* "name=value", in order */
    int     line;
    bool    disabled;       /* commented out via postconf -M# is not here */
};

struct master_cf {
    char   *path;
    struct master_service *svc;
    size_t  n;
};

/* Parse path. Returns 0, or -1 with a malloc'd message in *err. */
int  master_cf_load(const char *path, struct master_cf *cf, char **err);
int  master_cf_parse(const char *path, const char *text, size_t len, struct master_cf *cf,
                     char **err);
void master_cf_free(struct master_cf *cf);
/* Effective flag values with defaults applied. */
bool master_service_private(const struct master_service *s);   /* default y; inet n */
bool master_service_unpriv(const struct master_service *s);    /* default y */
bool master_service_chroot(const struct master_service *s);    /* default n (3.x) */
int  master_service_maxproc(const struct master_service *s, int default_limit);
int  master_service_wakeup(const struct master_service *s, bool *conditional);
const struct master_service *master_cf_find(const struct master_cf *cf, const char *name,
                                            const char *type);
/* Format one service as postconf -M prints it (single line, columns aligned). */
char *master_service_format(const struct master_service *s);

#endif
