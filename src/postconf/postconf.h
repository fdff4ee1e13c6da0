/*
 * postconf.h - the pieces of the postconf command (one header for the folder).
 *
 * postconf.c parses the command line into a mode (PC_* bits) and calls one
 * of: pc_show_main (main.cf parameters), pc_show_master (-M, -F, -P),
 * pc_edit_main / pc_edit_master (-e, -X, -#), or one of the listings in
 * pc_other.c. Output goes to stdout through pc_print_line(); warnings go
 * to stderr through msg_warn; fatal errors exit 1 through msg_fatal.
 */
#ifndef HK_POSTCONF_POSTCONF_H
#define HK_POSTCONF_POSTCONF_H

#include "mail/master_cf.h"
#include "util/strv.h"

/* What the command line asks for. */
#define PC_SHOW_NONDEF  (1 << 0)    /* -n */
#define PC_SHOW_DEFS    (1 << 1)    /* -d */
#define PC_HIDE_NAME    (1 << 2)    /* -h */
#define PC_HIDE_VALUE   (1 << 3)    /* -H */
#define PC_SHOW_EVAL    (1 << 4)    /* -x */
#define PC_FOLD_LINE    (1 << 5)    /* -f */
#define PC_EDIT_CONF    (1 << 6)    /* -e, or an argument with '=' */
#define PC_EDIT_EXCL    (1 << 7)    /* -X */
#define PC_COMMENT_OUT  (1 << 8)    /* -# */
#define PC_MAIN_PARAM   (1 << 9)    /* -p (the default) */
#define PC_MASTER_ENTRY (1 << 10)   /* -M */
#define PC_MASTER_FLD   (1 << 11)   /* -F */
#define PC_MASTER_PARAM (1 << 12)   /* -P */
#define PC_SHOW_MAPS    (1 << 13)   /* -m */
#define PC_SHOW_LOCKS   (1 << 14)   /* -l */
#define PC_SASL_SERVER  (1 << 15)   /* -a */
#define PC_SASL_CLIENT  (1 << 16)   /* -A */
#define PC_SHOW_TLS     (1 << 17)   /* -T mode */
#define PC_DSN_DUMP     (1 << 18)   /* -t */
#define PC_DSN_EXPAND   (1 << 19)   /* -b */
#define PC_QUIET        (1 << 20)   /* -q: no unused-parameter warnings */

#define PC_LINE_LIMIT   80
#define PC_INDENT       "    "
#define PC_INDENT_LEN   4

struct pc_options {
    int     mode;
    int     classes;        /* -C: PARAM_BUILTIN | PARAM_SERVICE | PARAM_USER */
    const char *config_dir; /* -c, else $MAIL_CONFIG, else the default */
    strv    overrides;      /* -o name=value */
    const char *tls_mode;   /* -T */
};

/* pc_print.c: one line, white space normalised, folded with -f. */
void pc_print_line(int mode, const char *text);
void pc_flush(void);
void pc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* pc_main.c */
void pc_show_main(const struct pc_options *o, char **names, int nnames);
void pc_edit_main(const struct pc_options *o, char **args, int nargs);
/* Load main.cf (fatal when unreadable) and apply -o overrides. */
void pc_load_main(const struct pc_options *o);
/* Read master.cf: 0 ok, -1 missing/unreadable (warned unless fail_on_open,
 * which is fatal); a parse error is always fatal. */
int  pc_read_master(const struct pc_options *o, struct master_cf *cf, int fail_on_open);
const char *pc_config_dir(const struct pc_options *o);
/* $name expansion of a value; fatal with a clear message on a loop. */
char *pc_expand(const char *value);

/* pc_master.c */
void pc_show_master(const struct pc_options *o, char **args, int nargs);
void pc_edit_master(const struct pc_options *o, char **args, int nargs);

/* pc_other.c */
void pc_show_maps(void);
void pc_show_locks(void);
void pc_show_sasl(int which);
void pc_show_tls(const char *mode);
void pc_show_templates(int mode, char **args, int nargs);

#endif
