/*
 * queue_scan.c - list the queue files of queue directories.
 *
 * See queue_scan.h. Names are read with readdir, filtered with
 * qfile_id_ok and sorted; nothing here opens a queue file.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "mail/queue_scan.h"
#include "util/msg.h"
#include "util/sbuf.h"

const char *const QUEUE_SCAN_LISTED[] = {
    QUEUE_MAILDROP, QUEUE_ACTIVE, QUEUE_INCOMING, QUEUE_DEFERRED, QUEUE_HOLD, 0,
};
const char *const QUEUE_SCAN_MESSAGE[] = {
    QUEUE_MAILDROP, QUEUE_INCOMING, QUEUE_ACTIVE, QUEUE_DEFERRED, QUEUE_HOLD, 0,
};
const char *const QUEUE_SCAN_FIND[] = {
    QUEUE_MAILDROP, QUEUE_INCOMING, QUEUE_ACTIVE, QUEUE_DEFERRED, QUEUE_HOLD, QUEUE_SAVED,
    QUEUE_CORRUPT, 0,
};

static const char *const log_queues[] = {
    QUEUE_DEFER, QUEUE_BOUNCE, QUEUE_TRACE, QUEUE_FLUSH, 0,
};

static bool in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

bool queue_scan_is_message_queue(const char *queue)
{
    return in_list(QUEUE_SCAN_FIND, queue);
}

bool queue_scan_is_known_queue(const char *queue)
{
    return in_list(QUEUE_SCAN_FIND, queue) || in_list(log_queues, queue);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

int queue_scan_list(const char *queue, strv *ids)
{
    char dir[4200];
    if (qfile_path(dir, sizeof(dir), queue, "") < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t first = ids->n;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != 0)
        if (qfile_id_ok(e->d_name))
            strv_add(ids, e->d_name);
    int saved = errno;
    closedir(d);
    if (saved) {
        errno = saved;
        return -1;
    }
    if (ids->n - first > 1)
        qsort(ids->v + first, ids->n - first, sizeof(char *), cmp_str);
    return 0;
}

int queue_walk(const char *const *queues, queue_walk_fn fn, void *ctx)
{
    for (; *queues; queues++) {
        strv ids = {0};
        strv_init(&ids);
        if (queue_scan_list(*queues, &ids) < 0) {
            if (errno != ENOENT)
                msg_warn("read queue directory %s: %m", *queues);
            strv_free(&ids);
            continue;
        }
        int rc = 0;
        for (size_t i = 0; i < ids.n && rc == 0; i++) {
            char path[4200];
            if (qfile_path(path, sizeof(path), *queues, ids.v[i]) < 0)
                continue;
            rc = fn(*queues, ids.v[i], path, ctx);
        }
        strv_free(&ids);
        if (rc)
            return rc;
    }
    return 0;
}
