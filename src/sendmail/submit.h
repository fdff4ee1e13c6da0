/*
 * submit.h - sendmail's mail submission: stdin -> postdrop -> maildrop/.
 */
#ifndef HK_SENDMAIL_SUBMIT_H
#define HK_SENDMAIL_SUBMIT_H

#include <stdbool.h>
#include "util/strv.h"

struct submit_opts {
    const char *sender;         /* envelope sender, internal form; NULL: the login name */
    const char *full_name;      /* -F; NULL: $NAME, else the password file */
    bool    extract;            /* -t */
    bool    ignore_dots;        /* -i, -oi */
    bool    gateway;            /* -G: rewrite_context=remote */
    int     notify;             /* -N, DSN_NOTIFY_* bits; 0 not given */
    const char *dsn_ret;        /* -R: "FULL" or "HDRS" */
    const char *dsn_envid;      /* -V */
    const char *body_type;      /* -B: "7BIT" or "8BITMIME" */
    strv    rcpts;              /* recipients, internal form */
};

/* Read the message from standard input and hand it to postdrop. Returns
 * the exit status (0, or postdrop's, or a sysexits.h code). */
int submit_message(const struct submit_opts *o);

#endif
