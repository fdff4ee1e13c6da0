/*
 * deliver_request.h - the qmgr -> delivery agent protocol, and the delivery log line.
 *
 * qmgr connects to a transport's socket ($queue_directory/private/local,
 * private/smtp, private/error, ...), sends one deliver_request, and reads
 * one deliver_status per recipient followed by a final reply. The agent:
 *
 *   deliver_request_read(stream, &req)        // on accept
 *   for each recipient: deliver, then
 *     deliver_log(&req, i, &res)              // the "status=sent (...)" line
 *     deliver_status_write(stream, i, &res)   // tell qmgr
 *   deliver_request_done(stream, &req)
 *
 * The agent never writes the queue file: qmgr is its single writer and
 * marks recipients done, defers or bounces them from the statuses. The
 * agent reads the content from the queue file itself (queue_name/queue_id,
 * content_offset from the size record).
 *
 * Log lines (Postfix's format, which pflogsumm and friends read):
 *   ID: to=<a@b>, orig_to=<c@d>, relay=host[addr]:25, delay=0.35,
 *       delays=0.07/0.02/0.17/0.09, dsn=2.0.0, status=sent (250 2.0.0 Ok)
 * delays = before qmgr (arrival -> active), in qmgr (active -> agent
 * start), connection setup, transmission.
 *
 * soft_bounce: with soft_bounce = yes, deliver_log() and
 * deliver_status_write() turn a DELIVER_BOUNCE into a DELIVER_DEFER with
 * a 4.X.X code (as Postfix does in its delivery agents), so every agent
 * gets it without code of its own; qmgr applies the same rule with
 * deliver_result_soften() to results it makes itself.
 *
 * Site-level failures: an agent sets DELIVER_RES_FLAG_HOP on a deferral
 * that says nothing about the recipient but about the next hop itself
 * (no server could be connected to, or none got past the greeting and
 * HELO/EHLO handshake: refused, timed out, 421, temporary DNS failure).
 * qmgr counts such deliveries toward marking the destination dead
 * (default_destination_concurrency_failed_cohort_limit); a recipient's
 * own 4xx never carries it. On the wire it is the optional "flags"
 * attribute of a status: an agent that does not send it reports
 * recipient-level results only, so old agents and new ones mix.
 *
 * qmgr reads statuses without blocking its loop on a silent agent: it
 * waits for the socket to become readable, then calls
 * deliver_status_read() for each message (one status, or the final
 * reply), while vstream_peek_pending() shows more is buffered.
 */
#ifndef HK_MAIL_DELIVER_REQUEST_H
#define HK_MAIL_DELIVER_REQUEST_H

#include <stddef.h>
#include <sys/time.h>
#include <sys/types.h>

#include "util/attr.h"
#include "util/vstream.h"

struct deliver_rcpt {
    char   *address;        /* recipient after aliasing/rewriting */
    char   *orig_address;   /* as the client gave it (for orig_to=) */
    char   *dsn_orcpt;      /* DSN ORCPT= value, or "" */
    int     notify;         /* DSN_NOTIFY_* bits, 0 when not given */
    off_t   offset;         /* of its QREC_RCPT record (qmgr's bookkeeping) */
};

/* request flags */
#define DEL_REQ_FLAG_VERIFY   (1 << 0)  /* address probe: do not deliver */
#define DEL_REQ_FLAG_BOUNCE   (1 << 1)  /* the message is a notification */
#define DEL_REQ_FLAG_RECORD   (1 << 2)  /* record success for DSN SUCCESS */

struct deliver_request {
    char   *queue_name;     /* "active" */
    char   *queue_id;
    char   *transport;      /* "smtp", "local", "relay", ... (master.cf service) */
    char   *nexthop;        /* "[192.168.1.2]:25", "example.jp", user's domain ... */
    char   *sender;         /* "" for the null sender */
    char   *dsn_envid;      /* "" if none */
    int     dsn_ret;        /* 0, 1 = FULL, 2 = HDRS */
    int     flags;          /* DEL_REQ_FLAG_* */
    off_t   content_offset; /* of the QREC_CONTENT record */
    off_t   content_size;
    struct timeval arrival; /* message arrival */
    struct timeval active;  /* when qmgr took it into the active queue */
    struct timeval handed;  /* when qmgr sent this request */
    char   *client_name;    /* for Received: and logging by some agents */
    char   *client_addr;
    struct deliver_rcpt *rcpt;
    size_t  nrcpt;
};

/* Outcome of one recipient. */
enum deliver_outcome { DELIVER_SENT = 0, DELIVER_DEFER = 4, DELIVER_BOUNCE = 5 };

struct deliver_result {
    enum deliver_outcome outcome;
    char    dsn[16];        /* "2.0.0", "4.4.1", "5.1.1" */
    char   *relay;          /* "local", "host[addr]:25", "none" */
    char   *reason;         /* "delivered to mailbox", "250 2.0.0 Ok: queued as X" */
    double  conn_time;      /* delays c: connection setup (seconds) */
    double  xfer_time;      /* delays d: transmission (seconds) */
    /* Optional, for RFC 3464 Diagnostic-Code (NULL or "" when unknown):
     * diag_type "smtp" with diag_text "550 5.1.1 <a@b>: user unknown",
     * or "x-unix" with a local error text. */
    char   *diag_type;
    char   *diag_text;
    int     flags;          /* DELIVER_RES_FLAG_* (0 when the agent sent none) */
};

/* result flags */
/* the next hop failed (connect, greeting, handshake), not the recipient */
#define DELIVER_RES_FLAG_HOP  (1 << 0)

/* qmgr side */
int  deliver_request_write(vstream *s, const struct deliver_request *req);
/* Read statuses until the final reply. index -> result via callback. 0, or -1
 * when the agent went away (every recipient without status is then deferred). */
typedef void (*deliver_status_fn)(size_t index, const struct deliver_result *res, void *ctx);
int  deliver_status_read_all(vstream *s, size_t nrcpt, deliver_status_fn fn, void *ctx);
/*
 * Read one message of the status stream. DELIVER_READ_STATUS: *index and
 * *res are filled (strings point into buf, valid until buf is reused or
 * freed); DELIVER_READ_DONE: the final reply; DELIVER_READ_ERROR: the
 * agent went away or sent garbage (logged). Statuses for an index out of
 * range are logged and skipped (the next message is read).
 */
enum { DELIVER_READ_ERROR = -1, DELIVER_READ_DONE = 0, DELIVER_READ_STATUS = 1 };
int  deliver_status_read(vstream *s, size_t nrcpt, size_t *index, struct deliver_result *res,
                         attr_list *buf);

/* agent side */
int  deliver_request_read(vstream *s, struct deliver_request *req);   /* 0, -1 malformed */
int  deliver_status_write(vstream *s, size_t index, const struct deliver_result *res);
int  deliver_request_done(vstream *s, const struct deliver_request *req);
void deliver_request_free(struct deliver_request *req);

/* The log line for one recipient (msg_info), with delay= and delays=. */
void deliver_log(const struct deliver_request *req, size_t index,
                 const struct deliver_result *res);
/* Status word of an outcome: "sent", "deferred", "bounced". */
const char *deliver_outcome_word(enum deliver_outcome o);
/* Apply soft_bounce (main.cf) to res in place: a bounce becomes a deferral
 * and dsn "5.x.y" becomes "4.x.y". No-op when soft_bounce = no. */
void deliver_result_soften(struct deliver_result *res);

#endif
