/*
 * showq_proto.h - the showq service protocol (public/showq), both ends.
 *
 * The client connects and sends nothing; the server writes the queue and
 * closes. Every record is one attribute-codec message (docs/ipc.md):
 *
 *   per message: type="message", queue_name (str), queue_id (str),
 *                arrival_time (long, epoch seconds), message_size (long),
 *                forced_expire (int 0/1), sender (str), rcpt_count (int)
 *   then rcpt_count times:
 *                type="rcpt", address (str), orig_address (str),
 *                delay_reason (str, "" when none)
 *   at the end:  type="end", status (int: 0 complete, -1 the listing is
 *                incomplete), reason (str, when status is not 0)
 *
 * Strings are printable text (queue_summary.h); the reader checks that
 * again anyway, since any local user can run a fake server only if they
 * can write public/, and a client must never print escapes it was sent.
 * Records are small (each at most SHOWQ_RECORD_MAX bytes) so a message
 * with many recipients never needs one big protocol message.
 *
 * NOT HERE: reading the queue (queue_summary.h), output formats.
 */
#ifndef HK_MAIL_SHOWQ_PROTO_H
#define HK_MAIL_SHOWQ_PROTO_H

#include "mail/queue_summary.h"
#include "util/sbuf.h"
#include "util/vstream.h"

#define SHOWQ_RECORD_MAX   (256 * 1024)     /* bytes per protocol record */
#define SHOWQ_RCPT_MAX     10000000         /* recipients per message */

/* Server side. 0, or -1 when the stream failed. */
int showq_send_message(vstream *s, const queue_summary *qs);
int showq_send_end(vstream *s, int status, const char *reason);

/*
 * Client side: read the next message into qs (reset first).
 * Returns 1 (a message), 0 (the end record: *status and reason set;
 * reason may be NULL), or -1 with why (malformed, truncated, timeout).
 */
int showq_read(vstream *s, queue_summary *qs, int *status, sbuf *reason, sbuf *why);

#endif
