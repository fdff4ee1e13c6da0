/*
 * cleanup_orphan.c - settle the queue file of a cleanup that went away
 * (see cleanup_orphan.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/cleanup_orphan.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "util/msg.h"
#include "util/sbuf.h"

#define LOCK_WAIT_MS 2000       /* a dying writer's descriptors close in this time */
#define LOCK_POLL_MS 20

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void log_queued(const char *id)
{
    msg_warn("%s: cleanup went away after the message was complete; it is queued", id);
}

/* Is the file already in a queue that only complete files reach? (qmgr's
 * first scan after a restart may have taken it, or cleanup put it on hold.) */
static bool committed_elsewhere(const char *id)
{
    static const char *const queues[] = {QUEUE_ACTIVE, QUEUE_DEFERRED, QUEUE_HOLD};
    char path[4200];
    struct stat st;
    for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
        if (qfile_path(path, sizeof(path), queues[i], id) == 0 && lstat(path, &st) == 0) {
            log_queued(id);
            return true;
        }
    }
    return false;
}

/* Finish the commit cleanup did not finish: sync, then the done mode. */
static bool complete_commit(const char *id, const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || fdatasync(fd) < 0
        || ((st.st_mode & S_IXUSR) == 0 && fchmod(fd, (st.st_mode & 07777) | S_IXUSR) < 0)) {
        msg_warn("%s: cleanup went away; cannot complete %s: %m", id, path);
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    log_queued(id);
    return true;
}

bool cleanup_orphan_settle(const char *queue_id)
{
    char path[4200];
    if (!queue_id || !qfile_id_ok(queue_id)
        || qfile_path(path, sizeof(path), QUEUE_INCOMING, queue_id) < 0)
        return false;
    int alive;
    for (long waited = 0; (alive = qfile_writer_alive(path)) == 1 && waited < LOCK_WAIT_MS;
         waited += LOCK_POLL_MS)
        sleep_ms(LOCK_POLL_MS);
    if (alive < 0)                      /* no such file: removed, or moved on */
        return errno == ENOENT && committed_elsewhere(queue_id);
    if (alive == 1) {
        msg_warn("%s: cleanup does not answer but still writes the queue file; "
                 "leaving it alone", queue_id);
        return false;
    }
    sbuf why = SBUF_INIT;
    int valid = qfile_validate(path, &why);
    if (valid == 0) {
        sbuf_free(&why);
        return complete_commit(queue_id, path);
    }
    if (unlink(path) == 0)
        msg_info("%s: removed incomplete queue file after cleanup went away (%s)", queue_id,
                 sbuf_str(&why));
    else if (errno == ENOENT)
        return committed_elsewhere(queue_id);
    else
        msg_warn("%s: remove incomplete queue file %s: %m", queue_id, path);
    sbuf_free(&why);
    return false;
}
