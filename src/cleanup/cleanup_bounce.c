/*
 * cleanup_bounce.c - a refused local submission goes back to its sender.
 *
 * A client that cannot tell a human about a refusal (pickup: the user's
 * sendmail has long exited) opens the message with CLEANUP_FLAG_BOUNCE.
 * When such a message is rejected for its content (header_checks,
 * body_checks, MIME errors: CLEANUP_STAT_CONT) or has too many Received:
 * headers (CLEANUP_STAT_HOPS), cleanup does not refuse it; it queues it
 * with every recipient already bounced, and the ordinary machinery
 * returns it:
 *
 *   1. bounce/ID: one record per recipient (action "failed", the
 *      rejection's status and text, relay "none"), fdatasync'ed. A log
 *      left behind under this ID by a crashed cleanup is removed first.
 *   2. every RCPT record of the queue file becomes DONE;
 *   3. the file is committed to incoming/ like any other message (size
 *      record, END, fdatasync) and the client is answered "OK";
 *   4. cleanup logs "ID: to=<r>, relay=none, delay=..., dsn=5.7.1,
 *      status=bounced (Message content rejected)" per recipient, and
 *      wakes qmgr as after any commit.
 * qmgr then finds nothing to deliver and a bounce log (docs/queue.md,
 * "When a message is finished"): it asks the bounce service for the
 * non-delivery notification (with the whole original attached, which is
 * why the content was kept being written after the rejection) and
 * removes the message.
 *
 * Crash safety: nothing is acknowledged before 3. A crash before it
 * leaves an incomplete file that "postfix start" removes, the client
 * still holds the message (pickup removes its maildrop file only after
 * the OK), and at worst a stale bounce/ID that step 1 of the next message
 * with this ID removes. A crash after 3 is an ordinary committed message.
 *
 * Not bounced: temporary errors (the client tries again), an incomplete
 * message (write errors, message_size_limit), no recipients (nothing to
 * bounce). With soft_bounce = yes nothing is bounced: the rejection is
 * made temporary (4.X.X, CLEANUP_STAT_DEFER), so the message stays with
 * the client, as soft_bounce keeps mail queued that would be returned.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cleanup/cleanup.h"
#include "mail/deliver_request.h"
#include "mail/dsn_log.h"
#include "mail/dsn_util.h"
#include "util/mem.h"
#include "util/msg.h"

#define BOUNCE_ERRS (CLEANUP_STAT_CONT | CLEANUP_STAT_HOPS)
#define CANT_BOUNCE (CLEANUP_STAT_BAD | CLEANUP_STAT_WRITE | CLEANUP_STAT_SIZE | \
                     CLEANUP_STAT_DEFER)

bool cleanup_can_bounce(const struct cleanup_state *st)
{
    return (st->flags & CLEANUP_FLAG_BOUNCE) && (st->errs & BOUNCE_ERRS)
        && !(st->errs & CANT_BOUNCE) && st->sender && st->q && st->nrcpt_offsets > 0
        && st->written;
}

static void log_bounced(const struct cleanup_state *st, const char *code, const char *text)
{
    struct deliver_request req;
    memset(&req, 0, sizeof(req));
    req.queue_id = (char *) st->queue_id;
    req.sender = st->sender;
    req.arrival = st->arrival;
    gettimeofday(&req.active, 0);
    req.handed = req.active;
    struct deliver_result res;
    memset(&res, 0, sizeof(res));
    res.outcome = DELIVER_BOUNCE;
    snprintf(res.dsn, sizeof(res.dsn), "%s", code);
    res.relay = "none";
    res.reason = (char *) text;
    for (size_t i = 0; i < st->nrcpt_offsets; i++) {
        const struct cleanup_rcpt *w = &st->written[i];
        struct deliver_rcpt dr = {w->addr, w->orcpt ? w->orcpt : (char *) "", (char *) "",
                                  w->notify, st->rcpt_offsets[i]};
        req.rcpt = &dr;
        req.nrcpt = 1;
        deliver_log(&req, 0, &res);
    }
}

int cleanup_bounce_message(struct cleanup_state *st, off_t extracted_offset)
{
    char code[DSN_CODE_SIZE];
    const char *text = dsn_split(sbuf_str(&st->reason), "5.7.1", code, sizeof(code));
    if (!*text)
        text = "Message content rejected";

    if (cleanup_par.soft_bounce) {
        /* Keep it: a temporary refusal, the client tries again later. */
        dsn_set_class(code, '4');
        sbuf why = SBUF_INIT;
        sbuf_printf(&why, "%s %s", code, text);
        sbuf_set(&st->reason, sbuf_str(&why));
        sbuf_free(&why);
        st->errs |= CLEANUP_STAT_DEFER;
        qfile_abort(st->q);
        st->q = 0;
        return st->errs;
    }
    dsn_set_class(code, '5');
    char *reason = xstrdup(text);

    /* 1. */
    time_t now = time(0);
    size_t n = st->nrcpt_offsets;
    struct dsn_rec *recs = xcalloc(n, sizeof(*recs));
    for (size_t i = 0; i < n; i++) {
        const struct cleanup_rcpt *w = &st->written[i];
        recs[i].recipient = w->addr;
        recs[i].orig_recipient = w->orcpt ? w->orcpt : "";
        recs[i].dsn_orcpt = w->dsn_orcpt ? w->dsn_orcpt : "";
        recs[i].notify = w->notify;
        recs[i].offset = st->rcpt_offsets[i];
        snprintf(recs[i].status, sizeof(recs[i].status), "%s", code);
        recs[i].action = "failed";
        recs[i].reason = reason;
        recs[i].relay = "none";
        recs[i].diag_type = "";
        recs[i].diag_text = "";
        recs[i].time = now;
    }
    int failed = 0;
    if (dsn_log_delete(DSN_LOG_BOUNCE, st->queue_id) < 0
        || dsn_log_append(DSN_LOG_BOUNCE, st->queue_id, recs, n, true) < 0) {
        msg_warn("%s: write %s log: %m", st->queue_id, DSN_LOG_BOUNCE);
        failed = 1;
    }
    xfree(recs);

    /* 2. */
    for (size_t i = 0; !failed && i < n; i++) {
        if (qfile_mark_done(st->q, st->rcpt_offsets[i]) < 0) {
            msg_warn("%s: mark recipient done: %m", st->queue_id);
            failed = 1;
        }
    }

    /* 3. The commit point (as in cleanup_commit.c). */
    if (!failed) {
        struct qfile_sizes sz = {
            .content_offset = (uint64_t) st->content_offset,
            .content_size = st->content_size + 1,
            .extracted_offset = (uint64_t) extracted_offset,
            .nrcpt = st->nrcpt,
            .flags = st->qflags,
        };
        qfile_set_sizes(st->q, &sz);
        if (cleanup_commit_durably(st->q) < 0) {
            msg_warn("%s: commit queue file: %m", st->queue_id);
            st->q = 0;                  /* qfile_commit removed the file */
            failed = 1;
        }
    }
    if (failed) {
        if (st->q)
            qfile_abort(st->q);
        st->q = 0;
        dsn_log_delete(DSN_LOG_BOUNCE, st->queue_id);
        xfree(reason);
        st->errs |= CLEANUP_STAT_WRITE;
        sbuf_set(&st->reason, cleanup_stat_text(CLEANUP_STAT_WRITE));
        return st->errs;
    }
    if (qfile_close(st->q) < 0)
        msg_warn("%s: close queue file: %m", st->queue_id);
    st->q = 0;

    /* 4. The wake-up follows the reply (cleanup_service.c). */
    log_bounced(st, code, reason);
    xfree(reason);
    st->hold = false;           /* nothing to hold: qmgr must see it */
    return CLEANUP_STAT_OK;
}
