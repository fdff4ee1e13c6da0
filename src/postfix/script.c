/*
 * script.c - how the postfix command talks while it starts, stops and inspects.
 *
 * Postfix runs those subcommands in postfix-script, whose messages look
 * like "postfix/postfix-script: starting the Postfix mail system" on the
 * terminal and "postfix/postfix-script[PID]: ..." in the mail log;
 * administrators and their scripts know these lines, so we print the
 * same. While master is not running the log line is appended to
 * maillog_file directly (script_init).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "postfix/postfix.h"
#include "mail/master_pid.h"
#include "util/msg.h"

void script_init(void)
{
    int targets = msg_get_targets();
    /* Postfix down: the lines go to maillog_file directly, as Postfix's
     * postfix(1) does. Not to the postlog socket: after master was
     * killed, its postlogd may still hold that socket while it exits, and
     * a line sent there then would be lost. */
    if ((targets & MSG_TO_POSTLOG) && master_pid_running() == 0)
        targets = (targets & ~MSG_TO_POSTLOG) | MSG_TO_FILE;
    msg_init("postfix-script", targets);
}

__attribute__((format(printf, 2, 3)))
static void log_at(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msg_vlog(level, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 0)))
static void say(int level, const char *fmt, va_list ap)
{
    static const char *prefix[] = {"", "warning: ", "error: ", "fatal: ", "panic: "};
    char text[2048];
    vsnprintf(text, sizeof(text), fmt, ap);
    fprintf(stderr, "%s: %s%s\n", msg_tag(), prefix[level], text);
    fflush(stderr);
    int targets = msg_get_targets();
    msg_set_targets(targets & ~MSG_TO_STDERR);
    log_at(level, "%s", text);
    msg_set_targets(targets);
}

void script_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(MSG_INFO, fmt, ap);
    va_end(ap);
}

void script_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(MSG_WARN, fmt, ap);
    va_end(ap);
}

void script_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(MSG_FATAL, fmt, ap);
    va_end(ap);
    exit(1);
}

void script_require_root(void)
{
    if (geteuid() != 0)
        msg_fatal("the postfix command is reserved for the superuser");
}

bool script_wait_stopped(int ms)
{
    struct timespec pause = {0, 50 * 1000 * 1000};
    for (int waited = 0;; waited += 50) {
        if (master_pid_running() == 0)
            return true;
        if (waited >= ms)
            return false;
        nanosleep(&pause, 0);
    }
}
