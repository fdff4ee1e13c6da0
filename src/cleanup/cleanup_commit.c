/*
 * cleanup_commit.c - the end of a message, read in order:
 *
 *   1. the rest of the content (last line, missing headers, last BODY)
 *   2. EXTRACTED, then the recipients found in the headers (sendmail -t)
 *   3. a REDIRECT verdict: every recipient so far marked done, the
 *      redirect address added as the only pending one
 *   4. verdicts: errors and "no recipients" remove the file; DISCARD
 *      removes it and still reports success (CLEANUP_STAT_DISCARD)
 *   5. the size record's real values
 *   6. THE COMMIT POINT: qfile_commit() writes END, fixes the size
 *      record, fdatasync()s and marks the file complete (mode 0700)
 *   7. HOLD: the committed file is renamed into hold/
 *
 * Only after this returns CLEANUP_STAT_OK does cleanup.c answer the
 * client, and only after that does it wake qmgr.
 *
 * NOT HERE: the reply and the wake-up (cleanup.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup/cleanup.h"
#include "mail/mail_conf.h"
#include "mail/queue_dirs.h"
#include "util/mem.h"
#include "util/msg.h"

/*
 * Make the queue file durable. This is the only place cleanup syncs a
 * file. Group commit later: call qfile_commit(q, false) here, queue the
 * state, and let the server loop issue one sync (qfile_sync() of each
 * file, or syncfs() of the queue file system) for every message that
 * finished in the same round before it sends their replies. The file
 * format does not change: completeness is the END record, not the sync.
 */
static int commit_durably(qfile *q)
{
    return qfile_commit(q, true);
}

static void drop_file(struct cleanup_state *st)
{
    if (st->q) {
        qfile_abort(st->q);
        st->q = 0;
    }
}

static void hold_file(struct cleanup_state *st)
{
    char path[4200];
    if (qfile_path(path, sizeof(path), QUEUE_HOLD, st->queue_id) < 0
        || rename(qfile_file(st->q), path) < 0) {
        /* Committed already: it stays in incoming/ and will be delivered. */
        msg_warn("%s: cannot move the message to the hold queue: %s", st->queue_id,
                 strerror(errno));
    }
}

int cleanup_commit_message(struct cleanup_state *st)
{
    /* 1. */
    cleanup_content_end(st);

    /* 2. */
    off_t extracted_offset = st->q ? qfile_tell(st->q) : 0;
    cleanup_put(st, QREC_EXTRACTED, "", 0);
    if ((st->flags & CLEANUP_FLAG_EXTRACT_RCPT) && !cleanup_failed(st)) {
        const strv *found = st->resent ? &st->xrcpt_resent : &st->xrcpt;
        for (size_t i = 0; i < found->n && !cleanup_failed(st); i++)
            cleanup_env_extracted(st, found->v[i]);
    }

    /* 3. */
    if (st->redirect && st->q && !cleanup_failed(st)) {
        for (size_t i = 0; i < st->nrcpt_offsets; i++) {
            if (qfile_mark_done(st->q, st->rcpt_offsets[i]) < 0) {
                msg_warn("%s: redirect: update queue file: %m", st->queue_id);
                cleanup_error(st, CLEANUP_STAT_WRITE, 0);
                break;
            }
        }
        st->nrcpt = 0;
        st->nrcpt_offsets = 0;
        memtab_free(st->dups);          /* the target may have been a recipient */
        st->dups = memtab_create();
        st->ndups = 0;
        if (!cleanup_failed(st))
            cleanup_env_extracted(st, st->redirect);
    }

    /* 4. */
    if (!cleanup_failed(st) && st->nrcpt == 0 && !st->discard)
        cleanup_error(st, CLEANUP_STAT_RCPT,
                      (st->flags & CLEANUP_FLAG_EXTRACT_RCPT)
                          ? "5.5.1 Error: no recipient addresses found in message header"
                          : 0);
    if (cleanup_failed(st) || !st->q) {
        if (!st->q && !cleanup_failed(st))
            cleanup_error(st, CLEANUP_STAT_WRITE, 0);
        drop_file(st);
        return st->errs;
    }
    if (st->discard) {
        if (!st->action_log.len)
            msg_info("%s: discard: from=<%s> to=<%s>", st->queue_id,
                     st->sender ? st->sender : "", st->first_rcpt ? st->first_rcpt : "");
        drop_file(st);
        return CLEANUP_STAT_DISCARD;
    }

    /* 5. content_size counts the empty line between headers and body. */
    struct qfile_sizes sz = {
        .content_offset = (uint64_t) st->content_offset,
        .content_size = st->content_size + 1,
        .extracted_offset = (uint64_t) extracted_offset,
        .nrcpt = st->nrcpt,
        .flags = st->qflags,
    };
    qfile_set_sizes(st->q, &sz);

    /* 6. The commit point. */
    if (commit_durably(st->q) < 0) {
        msg_warn("%s: commit queue file: %m", st->queue_id);
        st->q = 0;                      /* qfile_commit removed the file */
        cleanup_error(st, CLEANUP_STAT_WRITE, 0);
        return st->errs;
    }

    /* 7. */
    if (st->hold)
        hold_file(st);
    if (qfile_close(st->q) < 0)
        msg_warn("%s: close queue file: %m", st->queue_id);
    st->q = 0;
    return CLEANUP_STAT_OK;
}
