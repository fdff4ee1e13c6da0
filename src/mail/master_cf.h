/*
 * master_cf.h - master.cf: the service table.
 *
 * Each logical line has eight columns: service, type (inet, unix,
 * unix-dgram, fifo, pass), private, unpriv, chroot, wakeup, maxproc, and
 * the command with its arguments. "-" means the default. -o name=value
 * and -o { name = value } overrides are collected per service; the other
 * arguments stay in argv. Errors name the file and the line.
 *
 * Daemon options (-o, -v, ...) are only those before the first non-option
 * argument or "--", as the daemons' own option parsing sees them: a "-o"
 * inside a pipe(8) argv= is an argument, not an override. words keeps
 * every argument after the command in its original order, normalised the
 * way postconf prints them ("-oa=b" and "-o { a = b }" become "-o" "a=b",
 * "{ text }" becomes "text").
 *
 * master_service_format_ex() lays a service out as postconf -M does:
 * fields at columns 0, 11, 17, 25, 33, 41, 49 and 57 (at least one space
 * apart), arguments containing blanks in braces; with MASTER_FMT_FOLD
 * each "-o name=value" starts a new line indented by four spaces and
 * other text is folded before column 80.
 * This module does not start anything: master does.
 */
#ifndef HK_MAIL_MASTER_CF_H
#define HK_MAIL_MASTER_CF_H

#include <stdbool.h>
#include "util/sbuf.h"
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
    strv    words;          /* all arguments after command, in order, normalised */
    int     line;
    bool    disabled;       /* commented out via postconf -M# is not here */
};

struct master_cf {
    char   *path;
    struct master_service *svc;
    size_t  n;
};

/* Parse path. Returns 0, or -1 with a malloc'd message in *err and cf
 * left empty (master_cf_free is then optional). */
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

/* Formatting flags and the optional rewrite of -o values (postconf -Mx). */
#define MASTER_FMT_FOLD 1
typedef const char *(*master_value_fn)(const char *value, void *ctx);
/* Caller frees; no trailing newline (fold mode embeds "\n    "). */
char *master_service_format_ex(const struct master_service *s, int flags,
                               master_value_fn xform, void *ctx);
/* The command field with its arguments, as postconf -F shows it; text is
 * appended to out, whose current line already holds col characters. */
void master_service_format_command(const struct master_service *s, int flags, int col,
                                   master_value_fn xform, void *ctx, sbuf *out);
/* A service name or type pattern: "*" matches anything. */
bool master_pattern_match(const char *pattern, const char *text);

#endif
