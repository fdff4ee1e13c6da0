/*
 * cleanup_client.h - how smtpd, pickup, bounce and local hand a message to cleanup.
 *
 * The cleanup service ($queue_directory/public/cleanup, a UNIX stream
 * socket) builds one queue file per message. A client:
 *
 *   cc = cleanup_open(flags, id, sizeof(id), &err);  // queue file exists now
 *   cleanup_sender(cc, "user@example.jp");
 *   cleanup_attr(cc, "client_name", "mail.example.jp");     // any number
 *   cleanup_rcpt(cc, "a@example.jp", "a@example.jp", DSN_NOTIFY_..., NULL);
 *   cleanup_data(cc, buf, len);                      // content, any chunking
 *   status = cleanup_finish(cc, &reason);            // commit point, see below
 *
 * Content is the message as it will be stored: header lines then an
 * empty line then the body, lines ending in LF (the SMTP server has
 * already removed CR LF framing and dot-stuffing). Lines may be split
 * across cleanup_data() calls anywhere.
 *
 * cleanup_finish() returns CLEANUP_STAT_OK only after the queue file is
 * complete and on stable storage (fsync): that is the moment an SMTP
 * server may say 250. Any other status means the message was not queued
 * (the file is gone) and reason holds "D.D.D text" for the reply, e.g.
 * "5.7.1 Message content rejected" or "4.3.0 Error: queue file write
 * error". A lost connection to cleanup before the reply is
 * CLEANUP_STAT_WRITE, unless the queue file is complete: then cleanup
 * died after writing it, the message is queued and the status is
 * CLEANUP_STAT_OK (cleanup_orphan.h). cleanup_abort() drops the message.
 *
 * This header is the contract; cleanup_client.c implements it over the
 * attribute codec (docs/ipc.md lists the request attributes).
 */
#ifndef HK_MAIL_CLEANUP_CLIENT_H
#define HK_MAIL_CLEANUP_CLIENT_H

#include <stddef.h>
#include "util/sbuf.h"
#include "util/vstream.h"

/* cleanup_open flags */
#define CLEANUP_FLAG_NONE         0
#define CLEANUP_FLAG_BOUNCE       (1 << 0)  /* on content reject, bounce instead of refusing */
#define CLEANUP_FLAG_FILTER       (1 << 1)  /* run header/body checks (default for SMTP) */
#define CLEANUP_FLAG_HOLD         (1 << 2)  /* put the message on hold */
#define CLEANUP_FLAG_DISCARD      (1 << 3)  /* accept and discard */
#define CLEANUP_FLAG_BCC_OK       (1 << 4)  /* always_bcc etc. may add recipients */
#define CLEANUP_FLAG_MAP_OK       (1 << 5)  /* canonical/virtual mapping allowed */
#define CLEANUP_FLAG_MILTER       (1 << 6)  /* run non_smtpd_milters */
#define CLEANUP_FLAG_EXTRACT_RCPT (1 << 7)  /* sendmail -t: recipients from To/Cc/Bcc */
#define CLEANUP_FLAG_NOTIFICATION (1 << 8)  /* this is a bounce/delay notice (null sender) */
#define CLEANUP_FLAG_LOCAL        (1 << 9)  /* locally submitted: rewrite headers as local */
#define CLEANUP_FLAG_MASK_DEFAULT (CLEANUP_FLAG_FILTER | CLEANUP_FLAG_BCC_OK | CLEANUP_FLAG_MAP_OK)

/* cleanup_finish status bits (0 = queued) */
#define CLEANUP_STAT_OK     0
#define CLEANUP_STAT_BAD    (1 << 0)    /* internal protocol error: 451 4.3.0 */
#define CLEANUP_STAT_WRITE  (1 << 1)    /* queue write error: 451 4.3.0 */
#define CLEANUP_STAT_SIZE   (1 << 2)    /* message too big: 552 5.3.4 */
#define CLEANUP_STAT_CONT   (1 << 3)    /* content rejected: 550 5.7.1 (text from the check) */
#define CLEANUP_STAT_HOPS   (1 << 4)    /* too many hops: 554 5.4.0 */
#define CLEANUP_STAT_RCPT   (1 << 5)    /* no recipients: 554 5.5.1 */
#define CLEANUP_STAT_DEFER  (1 << 6)    /* temporary refusal (4xx from a check or milter) */
#define CLEANUP_STAT_DISCARD (1 << 7)   /* accepted and discarded: still say 250 */
#define CLEANUP_STAT_NOSPACE (1 << 8)   /* with WRITE: queue file system full: 452 4.3.1 */

/* DSN NOTIFY bits, shared with the queue file and delivery agents */
#define DSN_NOTIFY_NEVER   (1 << 0)
#define DSN_NOTIFY_SUCCESS (1 << 1)
#define DSN_NOTIFY_FAILURE (1 << 2)
#define DSN_NOTIFY_DELAY   (1 << 3)

typedef struct cleanup_client cleanup_client;

/* Connect to public/cleanup and start a message. NULL with "D.D.D text" in err. */
cleanup_client *cleanup_open(int flags, char *queue_id, size_t id_size, sbuf *err);
void cleanup_sender(cleanup_client *cc, const char *sender);
void cleanup_attr(cleanup_client *cc, const char *name, const char *value);
/* orig may be NULL (= rcpt); notify 0 = not given; dsn_orcpt may be NULL. */
void cleanup_rcpt(cleanup_client *cc, const char *rcpt, const char *orig, int notify,
                  const char *dsn_orcpt);
/* 0, or -1 once the connection failed (cleanup_finish will report it). */
int  cleanup_data(cleanup_client *cc, const void *buf, size_t len);
int  cleanup_finish(cleanup_client *cc, sbuf *reason);
void cleanup_abort(cleanup_client *cc);
/* Map a status to the SMTP reply code (250, 451, 452, 550, 552, 554). */
int  cleanup_stat_smtp_code(int status);

/*
 * The wire protocol (docs/ipc.md, section "cleanup"), shared by this
 * client and the cleanup daemon. Every request is one attribute list
 * whose "request" attribute names it; only open and finish are answered.
 */
#define CLEANUP_REQ_OPEN    "open"      /* flags -> status, queue_id, reason */
#define CLEANUP_REQ_SENDER  "sender"    /* address */
#define CLEANUP_REQ_ATTR    "attr"      /* name, value */
#define CLEANUP_REQ_RCPT    "rcpt"      /* address [orig] [notify] [dsn_orcpt] */
#define CLEANUP_REQ_DATA    "data"      /* data (binary string) */
#define CLEANUP_REQ_FINISH  "finish"    /* -> status, reason */
#define CLEANUP_REQ_ABORT   "abort"     /* drop the message, no reply */
#define CLEANUP_DATA_MAX    65536       /* most content bytes in one data request */

/*
 * As cleanup_open, over a stream that is already connected (tests, or a
 * server reached some other way). Takes ownership of s: it is closed on
 * failure and by cleanup_finish/cleanup_abort.
 */
cleanup_client *cleanup_open_stream(vstream *s, int flags, char *queue_id, size_t id_size,
                                    sbuf *err);
/* The default "D.D.D text" for the most important bit of status. */
const char *cleanup_stat_text(int status);
/* The connection, for an exchange of its own between requests (smtpd
 * hands its mail filters to cleanup over it, see milter_send.h); NULL
 * once the connection failed. */
vstream *cleanup_client_stream(cleanup_client *cc);

#endif
