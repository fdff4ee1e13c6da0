/*
 * master_pid.h - the master's pid file and its lock: is the mail system running?
 *
 * $queue_directory/pid/master.pid holds master's process ID, written as
 * Postfix writes it (right-aligned in ten columns and a newline), and is
 * held with an exclusive fcntl(2) write lock for as long as master runs.
 * The lock, never the file's presence or content, says whether master
 * runs: a pid file left behind by a crash is unlocked and never blocks a
 * start. Only master takes the lock; the postfix command asks who holds
 * it (F_GETLK), which disturbs nothing.
 *
 * POSIX locks belong to the process and vanish when it closes any
 * descriptor of the file or exits, and they are not inherited by fork():
 * master takes the lock after it has become the background process, and
 * must not open the pid file a second time.
 *
 * This module does not signal anything (see src/postfix/).
 */
#ifndef HK_MAIL_MASTER_PID_H
#define HK_MAIL_MASTER_PID_H

#include <stddef.h>
#include <sys/types.h>

/* "$queue_directory/pid/master.pid" into buf; -1 if it does not fit. */
int master_pid_path(char *buf, size_t size);

/*
 * The process ID of the running master, 0 when the mail system is not
 * running (no pid file, or nobody holds its lock), -1 with errno when the
 * file exists but cannot be examined.
 */
pid_t master_pid_running(void);

/*
 * For master: create or open the pid file and lock it. Returns the
 * descriptor (close-on-exec; keep it open for the process's lifetime),
 * or -1 with errno: EAGAIN when another process holds the lock (its pid
 * in *holder when holder is not NULL), anything else for open/lock errors.
 */
int master_pid_lock(pid_t *holder);

/* Replace the file's content with pid (after master_pid_lock). 0 or -1. */
int master_pid_write(int fd, pid_t pid);

#endif
