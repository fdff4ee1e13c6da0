/*
 * local_lock.c - dot-lock files and fcntl locks for mailbox delivery (see local_lock.h).
 *
 * NOT HERE: opening the mailbox (local_mbox.c); locks are never inherited
 * by commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "local/local.h"
#include "local/local_lock.h"
#include "util/msg.h"

static void lock_name(const char *path, sbuf *out)
{
    sbuf_set(out, path);
    sbuf_adds(out, ".lock");
}

/*
 * A dot-lock holds the decimal process ID of its maker (as liblockfile's
 * do). One whose process no longer exists (or is a zombie) was left by a
 * delivery that was killed: it is stale at once, instead of after
 * stale_lock_time. An empty or unreadable lock file (other programs make
 * those; or its maker died before writing) only ages.
 */
static bool lock_owner_gone(const char *lock)
{
    char buf[32];
    int fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    char *end;
    long pid = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ' || *end == '\t')
        end++;
    if (end == buf || *end || pid <= 1 || pid > 0x3fffffff)
        return false;
    if (kill((pid_t) pid, 0) < 0)
        return errno == ESRCH;
    /* A killed delivery whose parent died too may stay a zombie for a
     * while (nobody reaps it): it holds nothing. Linux /proc only. */
    char stat_path[64], st[512];
    snprintf(stat_path, sizeof(stat_path), "/proc/%ld/stat", pid);
    fd = open(stat_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, st, sizeof(st) - 1);
    close(fd);
    if (n <= 0)
        return false;
    st[n] = 0;
    const char *paren = strrchr(st, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/*
 * Create the lock file with our process ID already in it, so that no one
 * ever sees an empty lock of ours (a delivery killed between create and
 * write would otherwise leave a lock that only ages, for stale_lock_time).
 * Linux: an unnamed O_TMPFILE file gets the PID, then linkat() gives it the
 * lock name, failing with EEXIST as O_EXCL would. Elsewhere, or on a file
 * system without O_TMPFILE, an O_EXCL create then write. Returns 0, or -1
 * with errno.
 */
static int make_lock(const char *dir, const char *lock)
{
    char pid[24];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) {
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
        int ok = write(fd, pid, (size_t) n) == n && fchmod(fd, 0) == 0
            && linkat(AT_FDCWD, self, AT_FDCWD, lock, AT_SYMLINK_FOLLOW) == 0;
        int saved = errno;
        close(fd);
        errno = saved;
        if (ok || errno == EEXIST || errno == EACCES || errno == EPERM || errno == EROFS)
            return ok ? 0 : -1;
        /* e.g. /proc not mounted: fall through to the portable way */
    } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT) {
        return -1;
    }
#endif
    int lfd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
    if (lfd < 0)
        return -1;
    if (write(lfd, pid, (size_t) n) != n) {
        /* An empty lock is still a lock; it only cannot be broken early. */
    }
    close(lfd);
    return 0;
}

int local_dotlock_acquire(const char *path, sbuf *why)
{
    sbuf lock = SBUF_INIT, dir = SBUF_INIT;
    lock_name(path, &lock);
    const char *slash = strrchr(path, '/');
    if (slash)
        sbuf_add(&dir, path, slash == path ? 1 : (size_t) (slash - path));
    else
        sbuf_set(&dir, ".");
    int attempts = local_cf.lock_attempts > 0 ? local_cf.lock_attempts : 1;
    for (int i = 0; i < attempts; i++) {
        if (make_lock(sbuf_str(&dir), sbuf_str(&lock)) == 0) {
            sbuf_free(&lock);
            sbuf_free(&dir);
            return 1;
        }
        if (errno == EACCES || errno == EPERM || errno == EROFS) {
            sbuf_free(&lock);
            sbuf_free(&dir);
            return 0;
        }
        if (errno != EEXIST) {
            int saved = errno;
            sbuf_set(why, "");
            sbuf_printf(why, "cannot create lock file %s: %s", sbuf_str(&lock), strerror(saved));
            sbuf_free(&lock);
            sbuf_free(&dir);
            errno = saved;
            return -1;
        }
        struct stat st;
        if (lstat(sbuf_str(&lock), &st) == 0
            && time(0) > st.st_mtime + local_cf.stale_lock_time) {
            (void) unlink(sbuf_str(&lock));     /* stale: its owner is gone */
            continue;
        }
        if (lock_owner_gone(sbuf_str(&lock))) {
            msg_warn("removing stale lock file %s: its process is gone", sbuf_str(&lock));
            (void) unlink(sbuf_str(&lock));
            continue;
        }
        if (i + 1 < attempts)
            sleep((unsigned) (local_cf.lock_delay > 0 ? local_cf.lock_delay : 1));
    }
    sbuf_set(why, "");
    sbuf_printf(why, "unable to lock for exclusive access: %s exists", sbuf_str(&lock));
    sbuf_free(&lock);
    sbuf_free(&dir);
    errno = EEXIST;
    return -1;
}

void local_dotlock_release(const char *path)
{
    sbuf lock = SBUF_INIT;
    lock_name(path, &lock);
    (void) unlink(sbuf_str(&lock));
    sbuf_free(&lock);
}

int local_fcntl_lock(int fd, sbuf *why)
{
    int attempts = local_cf.lock_attempts > 0 ? local_cf.lock_attempts : 1;
    struct flock fl;
    for (int i = 0; i < attempts; i++) {
        memset(&fl, 0, sizeof(fl));
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_SETLK, &fl) == 0)
            return 0;
        if (errno != EAGAIN && errno != EACCES && errno != EINTR)
            break;
        if (i + 1 < attempts)
            sleep((unsigned) (local_cf.lock_delay > 0 ? local_cf.lock_delay : 1));
    }
    int saved = errno;
    sbuf_set(why, "");
    sbuf_printf(why, "unable to lock for exclusive access: %s", strerror(saved));
    errno = saved;
    return -1;
}
