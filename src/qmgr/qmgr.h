/*
 * qmgr.h - the queue manager's shared state: messages, recipients, transports,
 * destination queues, deliveries in flight.
 *
 * qmgr is one single-threaded process (mail_server EVENT kind) around
 * one event loop (util/event.h). Nothing blocks the loop for long:
 * connecting to an agent's UNIX socket is local and bounded by a short
 * timeout, requests are small, and a reply is read only once the socket
 * is readable (then with qmgr_ipc_timeout as the bound on one message).
 *
 * Ownership: a message (active/ID) owns its recipients; a destination
 * queue links the recipients waiting for it; a delivery holds the
 * recipients it carries (state QR_BUSY) until the agent's final reply.
 * A message is finished (removed, deferred or notified about) once no
 * recipient is pending or busy (msg->unfinished == 0).
 *
 * Modules: qmgr.c (start-up, triggers, timers), qmgr_scan.c (queue
 * directories), qmgr_message.c (reading a queue file, results, the end
 * of a message), qmgr_queue.c (transports and destinations, dead
 * destinations), qmgr_deliver.c (scheduling and agent conversations),
 * qmgr_notify.c (requests to the bounce service), qmgr_calc.c and
 * qmgr_feedback.c (pure arithmetic: retries, concurrency feedback).
 */
#ifndef HK_QMGR_QMGR_H
#define HK_QMGR_QMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#include "mail/deliver_request.h"
#include "mail/qfile.h"
#include "qmgr/qmgr_feedback.h"
#include "util/event.h"
#include "util/sbuf.h"
#include "util/strv.h"

struct qmgr_message;
struct qmgr_queue;

enum qmgr_rcpt_state {
    QR_PENDING,         /* waiting in a destination queue (or not yet queued) */
    QR_BUSY,            /* part of a delivery in flight */
    QR_DONE,            /* sent or bounced: marked done in the queue file */
    QR_DEFER,           /* deferred in this pass */
};

struct qmgr_rcpt {
    char   *address;            /* as resolved (what the agent delivers to) */
    char   *orig;               /* original recipient ("" if none) */
    char   *dsn_orcpt;          /* "" if none */
    int     notify;             /* DSN_NOTIFY_* */
    off_t   offset;             /* of the QREC_RCPT record */
    enum qmgr_rcpt_state state;
    struct qmgr_message *msg;
    struct qmgr_queue *queue;   /* while QR_PENDING in a queue */
    struct qmgr_rcpt *qnext;    /* next in that queue */
    /* last deferral in this pass (for expiry notices) */
    char    defer_dsn[16];
    char   *defer_reason;
    char   *defer_relay;
};

enum qmgr_finish_step {
    QF_NONE,            /* still delivering */
    QF_EXPIRE,          /* return expired recipients */
    QF_BOUNCE,          /* failure notice for bounce/ID */
    QF_DELAY,           /* delay warning for defer/ID */
    QF_SUCCESS,         /* success notice for trace/ID */
    QF_MOVE,            /* remove, or move to deferred */
};

struct qmgr_message {
    char    id[32];
    char   *sender;
    char   *dsn_envid;
    int     dsn_ret;
    char   *client_name;
    char   *client_addr;
    char   *filter;             /* QREC_FILTER "transport:nexthop", NULL if none */
    struct timeval arrival;
    struct timeval active;      /* when this pass started */
    struct qfile_sizes sizes;
    off_t   warn_offset;        /* QREC_WARN record, -1 if none */
    time_t  warn_time;          /* 0: no warning due */
    struct qmgr_rcpt *rcpt;
    size_t  nrcpt;
    size_t  unfinished;         /* recipients QR_PENDING or QR_BUSY */
    size_t  ndeferred;          /* recipients QR_DEFER */
    bool    no_bounce;          /* null/double-bounce sender or a notification */
    bool    notify_failed;      /* a notification could not be queued: keep it */
    bool    finish_queued;      /* qmgr_message_finish is deferred */
    bool    flushed;            /* brought in by a flush: defer_transports does not apply */
    enum qmgr_finish_step step;
    struct qmgr_message *prev, *next;
};

struct qmgr_transport;

struct qmgr_queue {
    char   *name;               /* nexthop, or the recipient when recipient limit is 1 */
    char   *nexthop;
    struct qmgr_transport *tr;
    struct qmgr_rcpt *head, *tail;
    size_t  npending;
    int     busy;               /* deliveries in flight */
    struct qmgr_fb_state fb;    /* concurrency window; fb.dead: suspended */
    char    dead_dsn[16];       /* while dead: the site failure that killed it */
    char   *dead_reason;
    uint64_t dead_timer;        /* revives it after minimal_backoff_time */
    struct qmgr_queue *hnext;   /* hash chain */
    struct qmgr_queue *next;    /* transport's list */
};

struct qmgr_transport {
    char   *name;
    int     dest_limit;         /* <transport>_destination_concurrency_limit */
    struct qmgr_fb_conf fb;     /* window and dead-destination settings */
    long    rcpt_limit;         /* <transport>_destination_recipient_limit */
    int     cap;                /* deliveries in flight over this transport */
    int     busy;
    int64_t throttle_until;     /* monotonic ms, 0 when usable */
    char   *throttle_reason;
    uint64_t throttle_timer;
    struct qmgr_queue *queues;
    size_t  npending;
    struct qmgr_transport *next;
};

/* Global state (one qmgr per process). */
struct qmgr_state {
    event_loop *loop;
    int     listen_fd;          /* public/qmgr, -1 stand-alone */
    struct qmgr_message *messages;
    size_t  nmessages;
    size_t  nrcpts;             /* recipients of messages in memory */
    int     busy;               /* deliveries in flight */
    struct qmgr_transport *transports;
    bool    startup_scan;       /* first incoming scan: accept complete 0600 files */
    bool    scan_flushed;       /* loading the messages of a flush (defer_transports off) */
    bool    more_incoming;      /* a scan stopped at a limit */
    bool    more_deferred;
    bool    scan_queued;
    bool    sched_queued;
    bool    exiting;            /* master wants us gone: drain, start nothing new */
    int     notifying;          /* bounce service conversations in flight */
    /* configuration, read once at start */
    long    active_limit;
    long    rcpt_limit;
    long    min_backoff, max_backoff;
    long    max_lifetime, bounce_lifetime;
    long    queue_run_delay;
    long    transport_retry;
    long    delay_warning;
    int     ipc_timeout_ms;
    int     process_limit;
    int     total_cap;
    int     initial_concurrency;
    bool    feedback_debug;     /* destination_concurrency_feedback_debug */
    bool    notify_2bounce;
    strv    defer_transports;   /* transports that deliver only on a flush */
    char   *double_bounce;
    char   *bounce_service;
};

extern struct qmgr_state qmgr;

/* qmgr.c */
void qmgr_want_scan(bool incoming, bool deferred);
/* Room in memory again: scans that stopped at a limit go on. */
void qmgr_resume_scans(void);
void qmgr_want_schedule(void);

/* qmgr_scan.c */
void qmgr_recover_active(void);
/* fresh: a new scan is asked for; else go on with one that stopped at a
 * limit (qmgr_scan.c). */
void qmgr_scan_incoming(bool fresh);
void qmgr_scan_deferred(bool fresh, bool flush);
/* Move queue/id to corrupt/ and log why. */
void qmgr_save_corrupt(const char *queue, const char *id, const char *why);
/* Has room for one more message? */
bool qmgr_has_room(void);

/* qmgr_message.c */
/* Take active/id into memory and queue its recipients; 0, or -1 (the file
 * was moved to corrupt/ or vanished). */
int  qmgr_message_load(const char *id);
/* A recipient result: log it when qmgr made it itself (log), record it,
 * mark it done when final. Results of one delivery come in one call. */
void qmgr_message_results(struct qmgr_message *m, struct qmgr_rcpt **rcpts,
                          struct deliver_result *res, size_t n, bool log);
/* Defer one pending recipient with a reason qmgr made ("4.3.0", "text"). */
void qmgr_rcpt_defer(struct qmgr_rcpt *r, const char *dsn, const char *reason);
/* Count recipients as no longer pending or busy (may finish the message). */
void qmgr_rcpt_finished(struct qmgr_rcpt **rcpts, size_t n);
/* Continue the end-of-message steps (after a notification reply). */
void qmgr_message_finish(struct qmgr_message *m);

/* qmgr_queue.c */
struct qmgr_transport *qmgr_transport_get(const char *name);
struct qmgr_queue *qmgr_queue_get(struct qmgr_transport *tr, const char *name,
                                  const char *nexthop);
void qmgr_queue_append(struct qmgr_queue *q, struct qmgr_rcpt *r);
/* Unlink up to max recipients of the head recipient's message. */
size_t qmgr_queue_take(struct qmgr_queue *q, struct qmgr_rcpt **out, size_t max);
/* Unlink every pending recipient of the transport into a new array. */
size_t qmgr_transport_take_all(struct qmgr_transport *tr, struct qmgr_rcpt ***out);
void qmgr_transport_throttle(struct qmgr_transport *tr, const char *reason);
void qmgr_transport_unthrottle(struct qmgr_transport *tr);
/* Lift every transport throttle and revive every dead destination (flush). */
void qmgr_unthrottle_all(void);
/* Unlink every pending recipient of one queue into a new array. */
size_t qmgr_queue_take_all(struct qmgr_queue *q, struct qmgr_rcpt ***out);
/*
 * Feedback from a delivery to q that has ended (q->busy already counts it
 * out): hop_fail is a site-level failure with its dsn and reason. A
 * destination that this makes dead is suspended for minimal_backoff_time
 * (or until a flush); the caller defers what waits for it.
 */
void qmgr_queue_feedback(struct qmgr_queue *q, bool hop_fail, const char *dsn,
                         const char *reason);
/* Bring a dead destination back now. */
void qmgr_queue_revive(struct qmgr_queue *q);
/* Drop queues with nothing pending or busy (dead ones stay). */
void qmgr_queue_gc(void);

/* qmgr_deliver.c */
void qmgr_schedule(void);

/* qmgr_notify.c */
/* Ask the bounce service for a notification of kind; calls back into
 * qmgr_message_finish() with m->notify_failed set on failure. */
void qmgr_notify(struct qmgr_message *m, const char *kind);

#endif
