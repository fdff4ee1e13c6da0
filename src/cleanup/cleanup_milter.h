/*
 * cleanup_milter.h - mail filters in cleanup: the content part of
 * smtpd_milters (handed over by smtpd) and all of non_smtpd_milters.
 *
 * smtpd runs the SMTP events of its filters itself, then passes the
 * filters that still want the message (and their sockets) in a
 * "milters" request before "finish" (src/mail/milter_send.h). For a
 * local submission (CLEANUP_FLAG_MILTER, set by pickup) cleanup makes
 * the non_smtpd_milters and plays the SMTP events itself: connect from
 * localhost[127.0.0.1], EHLO localhost, MAIL, one RCPT per recipient,
 * DATA. receive_override_options = no_milters (pickup's, smtpd's or
 * cleanup's own) turns them off.
 *
 * At the end of the content, before the extracted recipients and the
 * commit (cleanup_commit.c step 2), the filters get the message as
 * queued; the first header, our own Received:, is not shown to them, as
 * Sendmail and Postfix do. Their verdict and changes then apply:
 *   reject/tempfail/replycode  the message is refused (CLEANUP_STAT_CONT
 *                  or CLEANUP_STAT_DEFER; the reason is the whole SMTP
 *                  reply, e.g. "550 5.7.1 Command rejected"); a local
 *                  submission with CLEANUP_FLAG_BOUNCE bounces
 *   discard        accepted and thrown away
 *   quarantine     committed into hold/
 *   header, sender, recipient and body changes are written into the
 *   queue file before the commit (the records from the sender on are
 *   rewritten once, after the last filter). Deleted recipients become
 *   DONE records; added ones go through canonical and virtual mapping.
 * Logged as Postfix does:
 *   ID: milter-reject: END-OF-MESSAGE from host[addr]: 5.7.1 Command
 *       rejected; from=<s> to=<r> proto=ESMTP helo=<h>
 *   ID: milter-hold: END-OF-MESSAGE from host[addr]: milter triggers
 *       HOLD action; from=<s> to=<r> proto=ESMTP helo=<h>
 * and milter-discard alike.
 */
#ifndef HK_CLEANUP_CLEANUP_MILTER_H
#define HK_CLEANUP_CLEANUP_MILTER_H

#include <stdbool.h>

#include "cleanup/cleanup.h"
#include "util/attr.h"
#include "util/vstream.h"

/* The "milters" request (MILTER_REQ_MILTERS): take smtpd's filters for
 * st. false when the connection is out of step and must be closed. */
bool cleanup_milter_receive(struct cleanup_state *st, vstream *client, const attr_list *req);

/* The hook at the end of the content: run the filters for st, if any,
 * and apply what they decide. */
void cleanup_milter_inspect(struct cleanup_state *st);

/* Forget filters still held for st (its state goes away). */
void cleanup_milter_release(struct cleanup_state *st);

#endif
