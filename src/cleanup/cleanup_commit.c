/*
 * cleanup_commit.c - the end of a message, read in order:
 *
 *   1. the rest of the content (last line, missing headers, last BODY,
 *      MIME errors)
 *   2. milters (cleanup_milter.h)
 *   3. EXTRACTED, then the recipients found in the headers (sendmail -t),
 *      then the BCC recipients of BCC verdicts
 *   4. a REDIRECT (verdict or smtpd's access REDIRECT): every recipient so
 *      far marked done, the redirect address added as the only pending one
 *   5. the FILTER record: content_filter or FILTER verdict, unless a
 *      REDIRECT overrides it (as Postfix's qmgr lets REDIRECT win)
 *   6. verdicts: DISCARD removes the file and still reports success
 *      (CLEANUP_STAT_DISCARD), whatever else happened; errors remove it,
 *      unless the client asked for bounces (CLEANUP_FLAG_BOUNCE) and the
 *      error is one to return to the sender: then cleanup_bounce.c commits
 *      it with every recipient bounced; "no recipients" removes it
 *   7. the size record's real values
 *   8. THE COMMIT POINT: qfile_commit() fixes the size record, writes
 *      END, fdatasync()s and marks the file complete (mode 0700)
 *   9. HOLD: the committed file is renamed into hold/
 *
 * Only after this returns CLEANUP_STAT_OK does cleanup.c answer the
 * client, and only after that does it wake qmgr.
 *
 * NOT HERE: the reply and the wake-up (cleanup_service.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup/cleanup.h"
#include "cleanup/cleanup_milter.h"
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
int cleanup_commit_durably(qfile *q)
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

/* 4. Every recipient so far is done; the redirect target is the only one. */
static void redirect(struct cleanup_state *st)
{
    for (size_t i = 0; i < st->nrcpt_offsets; i++) {
        if (qfile_mark_done(st->q, st->rcpt_offsets[i]) < 0) {
            msg_warn("%s: redirect: update queue file: %m", st->queue_id);
            cleanup_error(st, CLEANUP_STAT_WRITE, 0);
            return;
        }
    }
    st->nrcpt = 0;
    memtab_free(st->dups);              /* the target may have been a recipient */
    st->dups = memtab_create();
    st->ndups = 0;
    cleanup_env_extracted(st, st->redirect);
}

int cleanup_commit_message(struct cleanup_state *st)
{
    /* 1. */
    cleanup_content_end(st);

    /* 2. */
    cleanup_milter_inspect(st);

    /* 3. */
    off_t extracted_offset = st->q ? qfile_tell(st->q) : 0;
    cleanup_put(st, QREC_EXTRACTED, "", 0);
    if ((st->flags & CLEANUP_FLAG_EXTRACT_RCPT) && !cleanup_failed(st)) {
        const strv *found = st->resent ? &st->xrcpt_resent : &st->xrcpt;
        for (size_t i = 0; i < found->n && !cleanup_failed(st); i++)
            cleanup_env_extracted(st, found->v[i]);
    }
    for (size_t i = 0; i < st->bcc.n && !cleanup_failed(st); i++)
        cleanup_env_bcc(st, st->bcc.v[i]);

    /* 4. Not for a message that will bounce: its recipients are the ones
     * that get the bounce records. */
    if (st->redirect && st->q && !st->errs)
        redirect(st);

    /* 5. */
    if (st->filter && !st->redirect)
        cleanup_put(st, QREC_FILTER, st->filter, strlen(st->filter));

    /* 6. */
    if (st->discard) {
        if (!st->action_log.len)
            msg_info("%s: discard: from=<%s> to=<%s>", st->queue_id,
                     st->sender ? st->sender : "", st->first_rcpt ? st->first_rcpt : "");
        drop_file(st);
        return CLEANUP_STAT_DISCARD;
    }
    if (st->errs && st->q && cleanup_can_bounce(st))
        return cleanup_bounce_message(st, extracted_offset);
    if (!st->errs && st->nrcpt == 0)
        cleanup_error(st, CLEANUP_STAT_RCPT,
                      (st->flags & CLEANUP_FLAG_EXTRACT_RCPT)
                          ? "5.5.1 Error: no recipient addresses found in message header"
                          : 0);
    if (st->errs || !st->q) {
        if (!st->q && !st->errs)
            cleanup_error(st, CLEANUP_STAT_WRITE, 0);
        drop_file(st);
        return st->errs;
    }

    /* 7. content_size counts the empty line between headers and body. */
    struct qfile_sizes sz = {
        .content_offset = (uint64_t) st->content_offset,
        .content_size = st->content_size + 1,
        .extracted_offset = (uint64_t) extracted_offset,
        .nrcpt = st->nrcpt,
        .flags = st->qflags,
    };
    qfile_set_sizes(st->q, &sz);

    /* 8. The commit point. */
    if (cleanup_commit_durably(st->q) < 0) {
        int err = errno;
        msg_warn("%s: commit queue file: %m", st->queue_id);
        st->q = 0;                      /* qfile_commit removed the file */
        cleanup_error(st, CLEANUP_STAT_WRITE
                      | (err == ENOSPC || err == EDQUOT ? CLEANUP_STAT_NOSPACE : 0), 0);
        return st->errs;
    }

    /* 9. */
    if (st->hold)
        hold_file(st);
    if (qfile_close(st->q) < 0)
        msg_warn("%s: close queue file: %m", st->queue_id);
    st->q = 0;
    return CLEANUP_STAT_OK;
}
