/*
 * queue_scan.h - list the queue files of one or more queue directories.
 *
 * queue_scan_list() reads the names in $queue_directory/<queue> that are
 * queue IDs (qfile_id_ok: no dot files, no temporary files, nothing with
 * a '/'), sorted, so listings are stable and a reader never sees the same
 * name twice. queue_walk() does that for each queue of a list and calls
 * back with (queue, id, full path); the callback decides what to do with
 * the file, which may have moved or vanished by then (queues change while
 * they are being read: callers treat ENOENT as "gone", never as an error).
 *
 * Queue orders used by the tools (Postfix's):
 *   QUEUE_SCAN_LISTED  maildrop active incoming deferred hold  (mailq, showq)
 *   QUEUE_SCAN_MESSAGE maildrop incoming active deferred hold  (postsuper)
 *   QUEUE_SCAN_FIND    maildrop incoming active deferred hold saved corrupt  (postcat -q)
 *
 * NOT HERE: opening or interpreting queue files (queue_summary.h,
 * qfile.h), hashed subdirectories (Hikyaku's queues are flat).
 */
#ifndef HK_MAIL_QUEUE_SCAN_H
#define HK_MAIL_QUEUE_SCAN_H

#include <stdbool.h>
#include "util/strv.h"

extern const char *const QUEUE_SCAN_LISTED[];   /* NULL-terminated */
extern const char *const QUEUE_SCAN_MESSAGE[];
extern const char *const QUEUE_SCAN_FIND[];

/* True if queue is one of the message queues above (not defer/, bounce/...). */
bool queue_scan_is_message_queue(const char *queue);
/* True if queue is a known queue directory name (message or log queue). */
bool queue_scan_is_known_queue(const char *queue);

/*
 * Append the queue IDs found in queue (sorted) to ids. 0, or -1 with
 * errno when the directory cannot be read (ENOENT: it does not exist).
 */
int queue_scan_list(const char *queue, strv *ids);

/*
 * Call fn for every queue file of every queue in queues (NULL-terminated),
 * in that order. fn returns 0 to go on, nonzero to stop (that value is
 * returned). A directory that cannot be read is reported with msg_warn
 * and skipped.
 */
typedef int (*queue_walk_fn)(const char *queue, const char *id, const char *path, void *ctx);
int queue_walk(const char *const *queues, queue_walk_fn fn, void *ctx);

#endif
