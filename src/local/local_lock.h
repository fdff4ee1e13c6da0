/*
 * local_lock.h - mailbox locks: "path.lock" dot-lock files and fcntl(2) locks.
 *
 * mailbox_delivery_lock names the methods (fcntl, dotlock; flock is
 * taken as fcntl). Both retry deliver_lock_attempts times,
 * deliver_lock_delay apart. A dot-lock older than stale_lock_time is
 * removed as stale, and so is one that names (by its content, the maker's
 * process ID) a process that no longer exists. A dot-lock that cannot be created because the
 * directory is not writable (EACCES, EPERM, EROFS) is skipped: the fcntl
 * lock still protects the file, and readers that need the dot-lock can
 * only be as careful as the directory permissions allow.
 *
 * Runs in the delivery child, as the user. Failures leave a message in
 * why; "busy" failures are temporary.
 *
 * NOT HERE: opening or creating the mailbox.
 */
#ifndef HK_LOCAL_LOCK_H
#define HK_LOCAL_LOCK_H

#include <stdbool.h>
#include "util/sbuf.h"

/* 1 locked (the caller must local_dotlock_release), 0 skipped (no write
 * access to the directory), -1 failed (errno EEXIST: still locked by
 * someone else after all attempts). */
int  local_dotlock_acquire(const char *path, sbuf *why);
void local_dotlock_release(const char *path);
/* Exclusive fcntl lock on the whole file: 0, or -1 (why set). */
int  local_fcntl_lock(int fd, sbuf *why);

#endif
