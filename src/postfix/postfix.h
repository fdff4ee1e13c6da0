/*
 * postfix.h - the postfix command's subcommands (one file each).
 *
 * Every function returns the process exit status. The subcommands that
 * start, stop or inspect the mail system talk like Postfix's
 * postfix-script: their lines are "postfix/postfix-script: text" on
 * stderr and the same text in the mail log (script.c).
 */
#ifndef HK_POSTFIX_POSTFIX_H
#define HK_POSTFIX_POSTFIX_H

#include <stdbool.h>

int postfix_check(bool quiet);                      /* check.c */
int postfix_start(bool foreground);                 /* start.c: start, start-fg */
int postfix_stop(void);                             /* stop.c */
int postfix_abort(void);                            /* stop.c */
int postfix_reload(void);                           /* reload.c */
int postfix_status(void);                           /* status.c */
int postfix_flush(void);                            /* flush.c */
int postfix_set_permissions(void);                  /* set_permissions.c */

/* recover.c: clean up after a crash, before master starts. */
void postfix_recover(void);

/* script.c: postfix-script style messages (stderr + log). */
void script_init(void);
void script_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void script_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void script_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void script_require_root(void);
/* Wait until master has gone (its pid file lock is free), at most ms. */
bool script_wait_stopped(int ms);

#endif
