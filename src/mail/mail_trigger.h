/*
 * mail_trigger.h - wake a daemon through its public or private endpoint.
 *
 * mail_trigger("public", "qmgr", "A", 1) connects to
 * $queue_directory/public/qmgr (a UNIX stream socket, or a FIFO for
 * master.cf services of type fifo), writes the bytes and closes. It never
 * waits longer than trigger_timeout. A failed wake-up is never fatal:
 * the woken daemons also scan on their own timers, so callers normally
 * ignore the result (or log it with msg_verbose).
 *
 * NOT HERE: no reply is read; requests that need an answer use the
 * attribute codec over a connection of their own.
 */
#ifndef HK_MAIL_MAIL_TRIGGER_H
#define HK_MAIL_MAIL_TRIGGER_H

#include <stddef.h>

/* 0, or -1 with errno (ENOENT: the daemon's endpoint is not there). */
int mail_trigger(const char *class, const char *service, const void *buf, size_t len);

#endif
