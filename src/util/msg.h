/*
 * msg.h - the one logger: info, warning, error, fatal, panic.
 *
 * Lines look like Postfix's, because administrators' tools read them:
 *   syslog:      ident "syslog_name/program", LOG_PID, facility syslog_facility
 *   file/postlog "Mmm dd hh:mm:ss host syslog_name/program[pid]: text"
 *   stderr:      "program: text" (commands) or the file format (-v daemons)
 * Levels other than info prefix the text with "warning: ", "error: ",
 * "fatal: " or "panic: ". msg_fatal exits with status 1 after running the
 * cleanup hook; msg_panic aborts (a broken invariant). Text is sanitised:
 * control characters become '?', so outside input cannot forge lines.
 * MSG_TO_POSTLOG: a line that the postlog socket does not take (nobody
 * there, or its queue stays full for msg_set_postlog_wait ms) is appended
 * to the msg_set_logfile path directly (which works for root only when
 * postlogd made the file). msg_set_logfd makes MSG_TO_FILE write to an
 * open descriptor instead (postlogd's own messages).
 * This module does not read configuration: programs call msg_set_*.
 */
#ifndef HK_UTIL_MSG_H
#define HK_UTIL_MSG_H

#include <stdarg.h>

enum {
    MSG_TO_STDERR = 1,      /* "program: text" on fd 2 */
    MSG_TO_SYSLOG = 2,      /* syslog(3) */
    MSG_TO_FILE = 4,        /* append to the file of msg_set_logfile */
    MSG_TO_POSTLOG = 8,     /* datagram to the socket of msg_set_postlog */
};

extern int msg_verbose;

void msg_init(const char *program, int targets);
void msg_set_targets(int targets);
int  msg_get_targets(void);
void msg_set_syslog_name(const char *name);         /* default "postfix" */
void msg_set_facility(const char *facility);        /* "mail", "local0", ... */
void msg_set_logfile(const char *path);             /* MSG_TO_FILE target */
void msg_set_logfd(int fd);                         /* MSG_TO_FILE: write here instead
                                                       of opening the path (-1: off) */
void msg_set_postlog(const char *socket_path);      /* MSG_TO_POSTLOG target */
/* How long a line may wait for room in the postlog socket before it is
 * appended to the log file directly instead (default 1000 ms). */
void msg_set_postlog_wait(int ms);
void msg_set_cleanup(void (*fn)(void));             /* run before fatal exit */
void msg_set_stderr_long(int on);                   /* stderr in the file format */
const char *msg_program(void);
const char *msg_tag(void);                          /* "postfix/smtpd" */

/* Format one finished log line into buf ("Mmm dd ... : text\n"). */
int  msg_format_line(char *buf, int size, const char *text);

void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void msg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void msg_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

enum { MSG_INFO, MSG_WARN, MSG_ERROR, MSG_FATAL, MSG_PANIC };

#endif
