/*
 * cleanup_orphan.h - a cleanup client whose cleanup went away mid-message.
 *
 * When the connection to cleanup breaks before its reply to "finish"
 * (cleanup was killed, or crashed), the client cannot tell from the
 * protocol whether the message was queued; the queue file tells:
 *   - complete (qfile_validate: the end record is there): cleanup died in
 *     or after its commit. The file is synced and marked done (mode 0700)
 *     here, and the message counts as queued: an SMTP server answers 250
 *     rather than a 4xx that would make the client send it twice
 *     (docs/architecture.md, "The reply tells the truth").
 *   - incomplete: never queued. Nobody else would remove it before the
 *     next "postfix start", so it is removed here.
 *   - still locked by its writer (qfile_writer_alive; cleanup alive but
 *     not answering): left alone, not queued; the writer finishes it or
 *     removes it itself.
 * A file already taken by qmgr (active/, deferred/) or moved to hold/ is
 * queued.
 *
 * NOT HERE: the protocol (cleanup_client.c calls this).
 */
#ifndef HK_MAIL_CLEANUP_ORPHAN_H
#define HK_MAIL_CLEANUP_ORPHAN_H

#include <stdbool.h>

/* True when the message queue_id is queued (see above). Logs what it did. */
bool cleanup_orphan_settle(const char *queue_id);

#endif
