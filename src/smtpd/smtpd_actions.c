/*
 * smtpd_actions.c - the message actions that access tables and policy
 * services ask for (access(5) HOLD, DISCARD, FILTER, REDIRECT, BCC,
 * PREPEND), on their way to the queue file.
 *
 * The restrictions record them in st->actions (smtpd_access.c); they
 * affect the whole message, whichever recipient triggered them:
 *   HOLD      cleanup_open() gets CLEANUP_FLAG_HOLD when it was decided
 *             before the queue file was opened; later (another RCPT, DATA)
 *             it is sent as the cleanup attribute "hold" (the log text).
 *   FILTER    the cleanup attribute "content_filter" (transport:nexthop).
 *   REDIRECT  the cleanup attribute "redirect" (the one new recipient).
 *   BCC       one more recipient, with NOTIFY=NEVER.
 *   PREPEND   header lines written before our Received: header, in order.
 *   DISCARD   smtpd reads the message, drops the queue file and answers
 *             "250 2.0.0 Ok: queued as ID" (smtpd_data.c).
 * The attributes are sent before the content (smtpd_actions_apply, just
 * before "354"), the only time cleanup takes attributes; cleanup then
 * holds the message, writes the FILTER record, or makes the redirect
 * address the only recipient (docs/ipc.md, docs/smtpd.md).
 *
 * Also: the policy "instance" of a transaction.
 *
 * Does not: decide actions, or log them (smtpd_access.c logs "hold:" etc.).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/msg.h"

#include "smtpd/smtpd.h"

int smtpd_actions_open_flags(SMTPD_STATE *st)
{
    int flags = CLEANUP_FLAG_MASK_DEFAULT;
    if (st->actions.hold) {
        flags |= CLEANUP_FLAG_HOLD;
        st->actions.hold_at_open = true;
    }
    return flags;
}

void smtpd_actions_apply(SMTPD_STATE *st, sbuf *headers)
{
    const struct smtpd_actions *a = &st->actions;

    if (!st->cleanup)
        return;
    if (a->hold && !a->hold_at_open)
        cleanup_attr(st->cleanup, "hold", a->hold);
    if (a->filter)
        cleanup_attr(st->cleanup, "content_filter", a->filter);
    if (a->redirect)
        cleanup_attr(st->cleanup, "redirect", a->redirect);
    for (size_t i = 0; i < a->bcc.n; i++)
        cleanup_rcpt(st->cleanup, a->bcc.v[i], a->bcc.v[i], DSN_NOTIFY_NEVER, 0);
    for (size_t i = 0; i < a->prepend.n; i++) {
        sbuf_adds(headers, a->prepend.v[i]);
        sbuf_addc(headers, '\n');
    }
}

void smtpd_actions_reset(SMTPD_STATE *st)
{
    static unsigned counter;

    smtpd_actions_free(&st->actions);
    snprintf(st->instance, sizeof(st->instance), "%x.%lx.%x", (unsigned) getpid(),
             (unsigned long) time(0), ++counter);
}
