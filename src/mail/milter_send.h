/*
 * milter_send.h - hand smtpd's mail filters to cleanup for the content.
 *
 * smtpd talks to its filters during the SMTP dialogue (connect, HELO,
 * MAIL, RCPT, DATA); cleanup sends them the message as it will be
 * queued (headers, body, end of message) and applies their changes. So
 * at the end of DATA smtpd passes each filter that still takes part in
 * the message to cleanup over the cleanup connection: its settings and
 * negotiated state as a request, then the socket itself (SCM_RIGHTS).
 * Both processes hold the socket; they use it in turn (smtpd waits for
 * cleanup's finish reply), and a failure in cleanup shuts it down so
 * smtpd sees it too.
 *
 * The exchange, on the cleanup stream:
 *   smtpd:   attr request="milters" count=N milter={...}... macros={...}
 *   cleanup: attr status=0  (its input buffer is empty at this point)
 *   smtpd:   one byte with N descriptors attached (sendmsg)
 * macros carries the values smtpd knows for the DATA, end-of-header and
 * end-of-message macros of those filters ("name=value", no braces).
 *
 * NOT HERE: the filters themselves (milter.h), the rest of the cleanup
 * protocol (cleanup_client.h).
 */
#ifndef HK_MAIL_MILTER_SEND_H
#define HK_MAIL_MILTER_SEND_H

#include "mail/milter.h"
#include "util/attr.h"
#include "util/vstream.h"

#define MILTER_REQ_MILTERS "milters"

/* smtpd: send the filters that want the message. 0 (also when there is
 * nothing to send), or -1 with a warning logged (the stream is broken). */
int milters_send(milters *ms, vstream *stream, milter_macro_fn fn, void *ctx);

/* cleanup: after reading the "milters" request req from stream, answer
 * and take the descriptors. The list, or NULL with why (the stream must
 * then be closed: it is out of step). */
milters *milters_receive(vstream *stream, const attr_list *req, sbuf *why);

/* A macro value received with the filters, or NULL. */
const char *milters_received_macro(const milters *ms, const char *name);

#endif
