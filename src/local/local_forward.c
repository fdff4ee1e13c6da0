/*
 * local_forward.c - forwarded mail is resubmitted through cleanup as a new message.
 *
 * Addresses that alias or .forward expansion sends elsewhere (another
 * domain, a local address owned by a list or .forward, luser_relay) are
 * collected while one request recipient is expanded. At the end, unless
 * that recipient is being deferred (then the whole expansion will run
 * again, and forwarding now would send the message twice), they are
 * submitted: one new message per (envelope sender, Delivered-To) pair -
 * normally one per request - with all targets as its recipients, the
 * original sender (or the owner- alias), each target's original
 * recipient, and the content preceded by
 *     Received: by $myhostname ($mail_name)
 *             id NEWID; date
 *     Delivered-To: recipient         (prepend_delivered_header "forward")
 * (the Delivered-To: header is how the next delivery spots a loop).
 * Each target is then logged on its own:
 *     to=<target>, orig_to=<original>, relay=local, ..., status=sent (forwarded as NEWID)
 * A failed submission defers the targets (or bounces them when cleanup
 * refuses the message for good, e.g. too large).
 *
 * NOT HERE: deciding what to forward (local_recipient.c,
 * local_deliver_token.c), the cleanup protocol (mail/cleanup_client.c).
 */
#include <string.h>
#include <time.h>

#include "local/local.h"
#include "local/local_copy.h"
#include "mail/cleanup_client.h"
#include "mail/mail_conf.h"
#include "mail/mail_date.h"
#include "util/mem.h"
#include "util/msg.h"

struct forward_item {
    char   *sender;
    char   *delivered;
    char   *address;
    char   *orig;
    char   *dsn_orcpt;
    int     notify;
    bool    done;               /* submitted (or failed) with its group */
    struct forward_item *next;
};

static char *dup0(const char *s)
{
    return xstrdup(s ? s : "");
}

int local_forward_append(const struct msg_attr *a)
{
    if (local_verify_only(a))
        return local_sent(a, "forwards to %s", a->address);
    struct forward_item **tail = &a->st->fwd;
    const char *delivered = a->delivered ? a->delivered : a->address;
    for (struct forward_item *f = a->st->fwd; f; f = f->next) {
        if (strcmp(f->address, a->address) == 0 && strcmp(f->sender, a->sender) == 0
            && strcmp(f->delivered, delivered) == 0)
            return 0;           /* already on the list */
        tail = &f->next;
    }
    struct forward_item *f = xcalloc(1, sizeof(*f));
    f->sender = dup0(a->sender);
    f->delivered = dup0(delivered);
    f->address = dup0(a->address);
    f->orig = dup0(a->orig);
    f->dsn_orcpt = dup0(a->dsn_orcpt);
    /* NOTIFY=SUCCESS was answered here; do not ask for it again. */
    f->notify = a->notify == DSN_NOTIFY_SUCCESS ? DSN_NOTIFY_NEVER
                                                : a->notify & ~DSN_NOTIFY_SUCCESS;
    *tail = f;
    return 0;
}

static void free_items(struct forward_item *f)
{
    while (f) {
        struct forward_item *next = f->next;
        xfree(f->sender);
        xfree(f->delivered);
        xfree(f->address);
        xfree(f->orig);
        xfree(f->dsn_orcpt);
        xfree(f);
        f = next;
    }
}

/* A msg_attr that logs a result for one target. */
static struct msg_attr target_attr(struct local_rcpt_state *st, const struct forward_item *f)
{
    struct msg_attr a;
    memset(&a, 0, sizeof(a));
    a.st = st;
    a.address = f->address;
    a.orig = f->orig;
    a.sender = f->sender;
    return a;
}

static bool same_group(const struct forward_item *x, const struct forward_item *y)
{
    return strcmp(x->sender, y->sender) == 0 && strcmp(x->delivered, y->delivered) == 0;
}

/* Submit the group led by first; log every member. */
static void submit_group(struct local_rcpt_state *st, struct forward_item *first)
{
    char id[64] = "";
    sbuf err = SBUF_INIT, reason = SBUF_INIT, extra = SBUF_INIT, chunk = SBUF_INIT;
    int status = CLEANUP_STAT_WRITE;
    const char *why = 0;

    cleanup_client *cc = cleanup_open(CLEANUP_FLAG_BOUNCE | CLEANUP_FLAG_MAP_OK, id, sizeof(id),
                                      &err);
    if (!cc) {
        why = sbuf_str(&err);
    } else {
        time_t now = time(0);
        cleanup_sender(cc, first->sender);
        for (struct forward_item *f = first; f; f = f->next)
            if (!f->done && same_group(first, f))
                cleanup_rcpt(cc, f->address, *f->orig ? f->orig : 0, f->notify,
                             *f->dsn_orcpt ? f->dsn_orcpt : 0);
        sbuf_printf(&extra, "Received: by %s (%s)\n\tid %s; ", mail_conf_str("myhostname"),
                    mail_conf_str("mail_name"), id);
        mail_date(now, &extra);
        sbuf_addc(&extra, '\n');
        if (local_cf.hdr_mask & DELIVER_HDR_FORWARD) {
            sbuf dt = SBUF_INIT;
            sbuf_set(&dt, first->delivered);
            sbuf_lower(&dt);
            sbuf_printf(&extra, "Delivered-To: %s\n", sbuf_str(&dt));
            sbuf_free(&dt);
        }

        struct local_copy_attr ca;
        memset(&ca, 0, sizeof(ca));
        ca.sender = first->sender;
        ca.extra_headers = sbuf_str(&extra);
        ca.now = now;
        struct local_copy copy;
        int got = -1;
        if (local_copy_start(&copy, st->qf, st->req->content_offset, &ca) == 0)
            while ((got = local_copy_next(&copy, &chunk)) > 0)
                if (cleanup_data(cc, chunk.s, chunk.len) < 0)
                    break;
        local_copy_end(&copy);
        if (got < 0) {
            /* The queue file could not be read: drop the new message. */
            cleanup_abort(cc);
            why = "4.3.0 queue file read error";
        } else {
            status = cleanup_finish(cc, &reason);
            if (status != CLEANUP_STAT_OK && status != CLEANUP_STAT_DISCARD)
                why = sbuf_str(&reason);
        }
    }
    for (struct forward_item *f = first; f; f = f->next) {
        if (f->done || !same_group(first, f))
            continue;
        f->done = true;
        struct msg_attr a = target_attr(st, f);
        if (!why) {
            local_sent(&a, "forwarded as %s", id);
        } else {
            /* cleanup's reason is "D.D.D text". */
            char dsn[16] = "4.3.0";
            const char *text = why;
            size_t n = strcspn(why, " ");
            if (n > 0 && n < sizeof(dsn) && (why[0] == '4' || why[0] == '5') && why[1] == '.') {
                memcpy(dsn, why, n);
                dsn[n] = 0;
                text = why[n] ? why + n + 1 : "";
            }
            local_status(&a, dsn[0] == '5' ? DELIVER_BOUNCE : DELIVER_DEFER, dsn,
                         "cannot forward message: %s", text);
        }
    }
    sbuf_free(&err);
    sbuf_free(&reason);
    sbuf_free(&extra);
    sbuf_free(&chunk);
}

void local_forward_finish(struct local_rcpt_state *st, bool cancel)
{
    if (!cancel)
        for (struct forward_item *f = st->fwd; f; f = f->next)
            if (!f->done)
                submit_group(st, f);
    free_items(st->fwd);
    st->fwd = 0;
}
