/*
 * ps_ops.c - postsuper -d, -h, -H, -r: delete, hold, release, requeue.
 *
 * Every change is one rename(2) or unlink(2) of a queue file, the same
 * atomic steps qmgr uses, so running this while the mail system works
 * never leaves a half-moved message: whoever renames a file first wins,
 * and the loser sees ENOENT (the message moved on; it is looked for once
 * more in the other queues, then given up silently).
 *
 *   delete   queue/ID removed; its defer/, bounce/ and trace/ logs are
 *            removed first (only when the queue file is there), so a
 *            log never outlives its message for long ("postsuper -s"
 *            removes any that do).
 *   hold     incoming|active|deferred/ID -> hold/ID ("ID: placed on hold")
 *   release  hold/ID -> deferred/ID ("ID: released from hold"); it is
 *            tried at qmgr's next deferred queue scan, as in Postfix.
 *   requeue  incoming|active|deferred|hold/ID -> incoming/ID, its defer
 *            log removed (its reasons are stale), then qmgr is woken:
 *            the message is scheduled again from scratch (new transport
 *            lookups with the current tables). Postfix moves it to
 *            maildrop/ so that cleanup rewrites it again; Hikyaku's
 *            pickup accepts only what postdrop writes there, so header
 *            and envelope rewriting is not redone.
 *
 * Only complete message files (owner-execute bit set) are touched: a
 * file cleanup is still writing is left alone, so a message cannot be
 * deleted after cleanup decided to accept it. corrupt/ and saved/ may be
 * named explicitly for -d (their files are taken whatever their mode).
 *
 * Messages in active/ belong to qmgr until it is done with them. Holding
 * or requeueing one moves it away from qmgr, which then cannot mark the
 * recipients of its current attempt done: those may be delivered again
 * later. Deleting one stops nothing already handed to a delivery agent.
 *
 * NOT HERE: option parsing and summaries (postsuper.c), -s and -p.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/dsn_log.h"
#include "mail/mail_conf.h"
#include "mail/mail_trigger.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "mail/queue_scan.h"
#include "postsuper/postsuper.h"
#include "util/msg.h"
#include "util/strv.h"

struct ps_counts ps_counts;

bool ps_is_log_queue(const char *queue)
{
    return strcmp(queue, QUEUE_DEFER) == 0 || strcmp(queue, QUEUE_BOUNCE) == 0
           || strcmp(queue, QUEUE_TRACE) == 0 || strcmp(queue, QUEUE_FLUSH) == 0;
}

static bool any_mode_queue(const char *queue)
{
    return strcmp(queue, QUEUE_CORRUPT) == 0 || strcmp(queue, QUEUE_SAVED) == 0;
}

bool ps_ready(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR);
}

void ps_remove_logs(const char *id)
{
    static const char *const logs[] = {DSN_LOG_DEFER, DSN_LOG_BOUNCE, DSN_LOG_TRACE};
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++)
        if (dsn_log_delete(logs[i], id) < 0) {
            msg_warn("%s: remove %s log: %m", id, logs[i]);
            ps_counts.errors++;
        }
}

/* Is the file at path one this queue's operations may take? */
static bool takeable(const char *queue, const char *path)
{
    if (any_mode_queue(queue)) {
        struct stat st;
        return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
    }
    return ps_ready(path);
}

static bool valid_id(const char *id)
{
    if (qfile_id_ok(id))
        return true;
    msg_warn("invalid mail queue id: %s", id);
    return false;
}

/* rename from_queue/id -> to_queue/id: 0, 1 lost a race (ENOENT), -1 error. */
static int move(const char *from_queue, const char *to_queue, const char *id)
{
    char from[4200], to[4200];
    if (qfile_path(from, sizeof(from), from_queue, id) < 0
        || qfile_path(to, sizeof(to), to_queue, id) < 0) {
        msg_warn("%s: queue file name too long", id);
        ps_counts.errors++;
        return -1;
    }
    if (rename(from, to) == 0) {
        if (msg_verbose)
            msg_info("renamed file %s as %s", from, to);
        return 0;
    }
    if (errno == ENOENT)
        return 1;
    msg_warn("rename file %s as %s: %m", from, to);
    ps_counts.errors++;
    return -1;
}

/* ---- one message by queue ID ---- */

bool ps_delete_one(const char *const *queues, const char *id)
{
    if (!valid_id(id))
        return false;
    for (int tries = 0; tries < 2; tries++) {
        for (const char *const *q = queues; *q; q++) {
            char path[4200];
            if (ps_is_log_queue(*q) || qfile_path(path, sizeof(path), *q, id) < 0
                || !takeable(*q, path))
                continue;
            ps_remove_logs(id);
            if (unlink(path) == 0) {
                msg_info("%s: removed", id);
                return true;
            }
            if (errno != ENOENT) {
                msg_warn("remove file %s: %m", path);
                ps_counts.errors++;
                return false;
            }
        }
    }
    return false;
}

bool ps_hold_one(const char *const *queues, const char *id)
{
    if (!valid_id(id))
        return false;
    for (int tries = 0; tries < 2; tries++) {
        for (const char *const *q = queues; *q; q++) {
            char path[4200];
            if (strcmp(*q, QUEUE_INCOMING) != 0 && strcmp(*q, QUEUE_ACTIVE) != 0
                && strcmp(*q, QUEUE_DEFERRED) != 0)
                continue;
            if (qfile_path(path, sizeof(path), *q, id) < 0 || !ps_ready(path))
                continue;
            int r = move(*q, QUEUE_HOLD, id);
            if (r == 0) {
                msg_info("%s: placed on hold", id);
                return true;
            }
            if (r < 0)
                return false;
        }
    }
    return false;
}

bool ps_release_one(const char *const *queues, const char *id)
{
    if (!valid_id(id))
        return false;
    for (const char *const *q = queues; *q; q++) {
        char path[4200];
        if (strcmp(*q, QUEUE_HOLD) != 0 || qfile_path(path, sizeof(path), *q, id) < 0
            || !ps_ready(path))
            continue;
        if (move(QUEUE_HOLD, QUEUE_DEFERRED, id) == 0) {
            msg_info("%s: released from hold", id);
            return true;
        }
        return false;
    }
    return false;
}

static bool requeue_from(const char *queue)
{
    return strcmp(queue, QUEUE_INCOMING) == 0 || strcmp(queue, QUEUE_ACTIVE) == 0
           || strcmp(queue, QUEUE_DEFERRED) == 0 || strcmp(queue, QUEUE_HOLD) == 0;
}

/* Move to incoming/ and drop the stale defer log. */
static int requeue_file(const char *queue, const char *id)
{
    if (strcmp(queue, QUEUE_INCOMING) == 0)
        return 0;               /* already where a requeued message goes */
    if (dsn_log_delete(DSN_LOG_DEFER, id) < 0)
        msg_warn("%s: remove %s log: %m", id, DSN_LOG_DEFER);
    return move(queue, QUEUE_INCOMING, id);
}

bool ps_requeue_one(const char *const *queues, const char *id)
{
    if (!valid_id(id))
        return false;
    for (int tries = 0; tries < 2; tries++) {
        for (const char *const *q = queues; *q; q++) {
            char path[4200];
            if (!requeue_from(*q) || qfile_path(path, sizeof(path), *q, id) < 0
                || !ps_ready(path))
                continue;
            int r = requeue_file(*q, id);
            if (r == 0) {
                msg_info("%s: requeued", id);
                return true;
            }
            if (r < 0)
                return false;
        }
    }
    return false;
}

/* ---- every message of the queues ---- */

typedef void (*all_fn)(const char *queue, const char *id, const char *path);

/* Every file of the queue that has a queue ID name. */
static void for_all(const char *const *queues, all_fn fn)
{
    for (const char *const *q = queues; *q; q++) {
        strv ids = {0};
        strv_init(&ids);
        if (queue_scan_list(*q, &ids) < 0) {
            if (errno != ENOENT) {
                msg_warn("read queue directory %s: %m", *q);
                ps_counts.errors++;
            }
        }
        for (size_t i = 0; i < ids.n; i++) {
            char path[4200];
            if (qfile_path(path, sizeof(path), *q, ids.v[i]) == 0)
                fn(*q, ids.v[i], path);
        }
        strv_free(&ids);
    }
}

static void delete_all_one(const char *queue, const char *id, const char *path)
{
    if (ps_is_log_queue(queue)) {
        if (unlink(path) < 0 && errno != ENOENT) {
            msg_warn("remove file %s: %m", path);
            ps_counts.errors++;
        }
        return;
    }
    if (!takeable(queue, path))
        return;
    ps_remove_logs(id);
    if (unlink(path) == 0) {
        if (msg_verbose)
            msg_info("%s: removed", id);
        ps_counts.deleted++;
    } else if (errno != ENOENT) {
        msg_warn("remove file %s: %m", path);
        ps_counts.errors++;
    }
}

void ps_delete_all(const char *const *queues)
{
    for_all(queues, delete_all_one);
}

static void hold_all_one(const char *queue, const char *id, const char *path)
{
    if ((strcmp(queue, QUEUE_INCOMING) == 0 || strcmp(queue, QUEUE_ACTIVE) == 0
         || strcmp(queue, QUEUE_DEFERRED) == 0) && ps_ready(path) && move(queue, QUEUE_HOLD, id) == 0)
        ps_counts.held++;
}

void ps_hold_all(const char *const *queues)
{
    for_all(queues, hold_all_one);
}

static void release_all_one(const char *queue, const char *id, const char *path)
{
    if (strcmp(queue, QUEUE_HOLD) == 0 && ps_ready(path) && move(queue, QUEUE_DEFERRED, id) == 0)
        ps_counts.released++;
}

void ps_release_all(const char *const *queues)
{
    for_all(queues, release_all_one);
}

static void requeue_all_one(const char *queue, const char *id, const char *path)
{
    if (requeue_from(queue) && ps_ready(path) && requeue_file(queue, id) == 0)
        ps_counts.requeued++;
}

void ps_requeue_all(const char *const *queues)
{
    for_all(queues, requeue_all_one);
}
