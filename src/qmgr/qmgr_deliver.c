/*
 * qmgr_deliver.c - scheduling, and the conversations with delivery agents.
 *
 * Scheduling: for every transport that is not throttled, visit its
 * destination queues round-robin and start one delivery at a time while
 * the destination is under its concurrency window, the transport under
 * its cap (default_process_limit) and qmgr under its global cap. A
 * delivery takes up to the transport's recipient limit of one message's
 * recipients from one queue. Pending recipients of a throttled
 * transport, or of a dead destination, are deferred at once with
 * "delivery temporarily suspended: REASON".
 *
 * A conversation: connect to $queue_directory/private/<transport>
 * (UNIX socket, short timeout), write the deliver_request, then wait in
 * the event loop until the socket is readable and read one status
 * message at a time (deliver_status_read, bounded by qmgr_ipc_timeout)
 * until the final reply. No threads, no blocking wait for a slow agent.
 *   - connect fails: the recipients are deferred with "delivery
 *     temporarily suspended: connect to transport private/X: ERROR", the
 *     transport is throttled for transport_retry_time;
 *   - the agent goes away before its final reply, or leaves recipients
 *     without a status: those are deferred with "unknown mail transport
 *     error" and the transport is throttled;
 *   - nobody takes the request (master accepted for a service that cannot
 *     run): see on_pickup_check, "mail transport unavailable".
 * Results reach qmgr_message_results() once the conversation is over.
 * A conversation that ended normally is feedback for the destination's
 * window: negative when a status carries DELIVER_RES_FLAG_HOP (the agent
 * could not get through to the next hop at all), else positive; enough
 * negative feedback makes the destination dead (qmgr_queue_feedback).
 * An agent failure throttles the transport and gives no feedback.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <linux/sockios.h>
#include <unistd.h>

#include "mail/cleanup_client.h"
#include "mail/mail_conf.h"
#include "qmgr/qmgr.h"
#include "qmgr/qmgr_calc.h"
#include "util/attr.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sock.h"

#define QMGR_CONNECT_TIMEOUT_MS 5000
#define UNKNOWN_ERROR "unknown mail transport error"
#define UNAVAILABLE "mail transport unavailable"

struct delivery {
    struct qmgr_message *msg;
    struct qmgr_queue *queue;
    struct qmgr_transport *tr;
    struct qmgr_rcpt **rcpt;
    struct deliver_result *res;     /* copies of the statuses */
    bool   *got;
    size_t  n;
    vstream *stream;
    attr_list buf;
    uint64_t pickup_timer;          /* see on_pickup_check */
};

static bool transport_name_ok(const char *name)
{
    size_t n = 0;
    if (*name == '.' || !*name)
        return false;
    for (const char *p = name; *p; p++, n++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_' || *p == '.'))
            return false;
    return n < 64;
}

static void free_delivery(struct delivery *d)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->got[i]) {
            xfree(d->res[i].relay);
            xfree(d->res[i].reason);
            xfree(d->res[i].diag_type);
            xfree(d->res[i].diag_text);
        }
    }
    attr_list_free(&d->buf);
    xfree(d->rcpt);
    xfree(d->res);
    xfree(d->got);
    xfree(d);
}

/* Defer recipients that never reached an agent, and finish them. */
static void defer_batch(struct qmgr_rcpt **rcpts, size_t n, const char *dsn, const char *reason)
{
    for (size_t i = 0; i < n; i++)
        qmgr_rcpt_defer(rcpts[i], dsn, reason);
}

/* Defer everything pending for a throttled transport. */
static void defer_transport(struct qmgr_transport *tr)
{
    struct qmgr_rcpt **v;
    size_t n = qmgr_transport_take_all(tr, &v);
    sbuf reason = SBUF_INIT;
    sbuf_printf(&reason, "delivery temporarily suspended: %s",
                tr->throttle_reason ? tr->throttle_reason : "mail transport unavailable");
    defer_batch(v, n, "4.3.0", sbuf_str(&reason));
    sbuf_free(&reason);
    xfree(v);
}

/* Defer everything pending for a dead destination. */
static void defer_dead_queue(struct qmgr_queue *q)
{
    struct qmgr_rcpt **v;
    size_t n = qmgr_queue_take_all(q, &v);
    sbuf reason = SBUF_INIT;
    sbuf_printf(&reason, "delivery temporarily suspended: %s",
                q->dead_reason ? q->dead_reason : "destination unavailable");
    defer_batch(v, n, q->dead_dsn[0] ? q->dead_dsn : "4.0.0", sbuf_str(&reason));
    sbuf_free(&reason);
    xfree(v);
}

/* The first status that reports a site failure, or NULL. */
static const struct deliver_result *hop_failure(const struct delivery *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->got[i] && d->res[i].outcome == DELIVER_DEFER
            && (d->res[i].flags & DELIVER_RES_FLAG_HOP))
            return &d->res[i];
    return 0;
}

/* The conversation is over: record results, release the recipients.
 * Recipients without a status are deferred with lost_reason. */
static void delivery_end(struct delivery *d, bool clean, const char *lost_reason)
{
    if (d->pickup_timer)
        event_timer_cancel(qmgr.loop, d->pickup_timer);
    if (d->stream) {
        event_fd_remove(qmgr.loop, vstream_fd(d->stream));
        vstream_close(d->stream);
        d->stream = 0;
    }
    struct qmgr_rcpt **lost = xcalloc(d->n, sizeof(*lost));
    struct qmgr_rcpt **have = xcalloc(d->n, sizeof(*have));
    struct deliver_result *lost_res = xcalloc(d->n, sizeof(*lost_res));
    struct deliver_result *have_res = xcalloc(d->n, sizeof(*have_res));
    size_t nl = 0, nh = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->got[i]) {
            have[nh] = d->rcpt[i];
            have_res[nh++] = d->res[i];
        } else {
            lost[nl] = d->rcpt[i];
            struct deliver_result *r = &lost_res[nl++];
            r->outcome = DELIVER_DEFER;
            snprintf(r->dsn, sizeof(r->dsn), "4.3.0");
            r->relay = "none";
            r->reason = (char *) lost_reason;
        }
    }
    if (nh)
        qmgr_message_results(d->msg, have, have_res, nh, false);
    if (nl)
        qmgr_message_results(d->msg, lost, lost_res, nl, true);
    d->queue->busy--;
    d->tr->busy--;
    qmgr.busy--;
    if (!clean || nl) {
        qmgr_transport_throttle(d->tr, lost_reason);
    } else {
        const struct deliver_result *hop = hop_failure(d);
        qmgr_queue_feedback(d->queue, hop != 0, hop ? hop->dsn : 0, hop ? hop->reason : 0);
    }
    qmgr_rcpt_finished(d->rcpt, d->n);
    xfree(lost);
    xfree(have);
    xfree(lost_res);
    xfree(have_res);
    free_delivery(d);
    qmgr_want_schedule();
}

static void on_agent_reply(event_loop *loop, int fd, int ready, void *ctx)
{
    (void) loop;
    (void) fd;
    (void) ready;
    struct delivery *d = ctx;
    for (;;) {
        size_t idx;
        struct deliver_result res;
        int rc = deliver_status_read(d->stream, d->n, &idx, &res, &d->buf);
        if (rc == DELIVER_READ_DONE) {
            delivery_end(d, true, UNKNOWN_ERROR);
            return;
        }
        if (rc == DELIVER_READ_ERROR) {
            if (vstream_timed_out(d->stream))
                msg_warn("%s: transport %s: timeout reading the delivery status",
                         d->msg->id, d->tr->name);
            delivery_end(d, false, UNKNOWN_ERROR);
            return;
        }
        if (!d->got[idx]) {
            d->got[idx] = true;
            d->res[idx] = res;
            d->res[idx].relay = xstrdup(res.relay ? res.relay : "none");
            d->res[idx].reason = xstrdup(res.reason ? res.reason : "");
            d->res[idx].diag_type = xstrdup(res.diag_type ? res.diag_type : "");
            d->res[idx].diag_text = xstrdup(res.diag_text ? res.diag_text : "");
        }
        if (vstream_peek_pending(d->stream) == 0)
            return;             /* wait for the socket */
    }
}

/*
 * Our protocol has no "ready" handshake: master accepts on the agent's
 * behalf, and a service that cannot run (missing program, throttled by
 * master) leaves the request sitting in the socket. qmgr_ipc_timeout
 * after sending, if the agent has not even read the whole request
 * (SIOCOUTQ: bytes not yet consumed by the peer), the delivery is given
 * up as "mail transport unavailable". A request that was read is waited
 * for as long as the agent needs (its own timeouts apply).
 */
static void on_pickup_check(event_loop *loop, void *ctx)
{
    (void) loop;
    struct delivery *d = ctx;
    int unread = 0;
    d->pickup_timer = 0;
    if (ioctl(vstream_fd(d->stream), SIOCOUTQ, &unread) < 0 || unread <= 0)
        return;
    msg_warn("%s: transport %s: no agent took the delivery request within %ds", d->msg->id,
             d->tr->name, qmgr.ipc_timeout_ms / 1000);
    delivery_end(d, false, UNAVAILABLE);
}

/* Start one delivery from queue q. false when the transport got throttled. */
static bool start_delivery(struct qmgr_transport *tr, struct qmgr_queue *q)
{
    size_t max = qmgr_batch_size(q->npending, tr->rcpt_limit);
    struct qmgr_rcpt **rcpts = xcalloc(max ? max : 1, sizeof(*rcpts));
    size_t n = qmgr_queue_take(q, rcpts, max);
    if (n == 0) {
        xfree(rcpts);
        return true;
    }
    struct qmgr_message *m = rcpts[0]->msg;
    for (size_t i = 0; i < n; i++)
        rcpts[i]->state = QR_BUSY;

    char path[4200];
    sbuf reason = SBUF_INIT;
    int fd = -1;
    if (!transport_name_ok(tr->name)) {
        sbuf_printf(&reason, "bad mail transport name \"%.64s\"", tr->name);
    } else if (snprintf(path, sizeof(path), "%s/private/%s", mail_conf_str("queue_directory"),
                        tr->name) >= (int) sizeof(path)) {
        sbuf_printf(&reason, "connect to transport private/%s: file name too long", tr->name);
    } else if ((fd = sock_connect_unix(path, QMGR_CONNECT_TIMEOUT_MS)) < 0) {
        sbuf_printf(&reason, "connect to transport private/%s: %s", tr->name, strerror(errno));
    }
    if (fd < 0) {
        qmgr_transport_throttle(tr, sbuf_str(&reason));
        sbuf_reset(&reason);
        sbuf_printf(&reason, "delivery temporarily suspended: %s", tr->throttle_reason);
        defer_batch(rcpts, n, "4.3.0", sbuf_str(&reason));
        sbuf_free(&reason);
        xfree(rcpts);
        return false;
    }
    sbuf_free(&reason);

    struct delivery *d = xcalloc(1, sizeof(*d));
    d->msg = m;
    d->queue = q;
    d->tr = tr;
    d->rcpt = rcpts;
    d->n = n;
    d->res = xcalloc(n, sizeof(*d->res));
    d->got = xcalloc(n, sizeof(*d->got));
    d->stream = vstream_open(fd);
    vstream_set_timeout(d->stream, qmgr.ipc_timeout_ms);
    q->busy++;
    tr->busy++;
    qmgr.busy++;

    struct deliver_request req;
    memset(&req, 0, sizeof(req));
    struct deliver_rcpt *dr = xcalloc(n, sizeof(*dr));
    bool record = false;
    for (size_t i = 0; i < n; i++) {
        dr[i].address = rcpts[i]->address;
        dr[i].orig_address = rcpts[i]->orig;
        dr[i].dsn_orcpt = rcpts[i]->dsn_orcpt;
        dr[i].notify = rcpts[i]->notify;
        dr[i].offset = rcpts[i]->offset;
        if (rcpts[i]->notify & DSN_NOTIFY_SUCCESS)
            record = true;
    }
    req.queue_name = "active";
    req.queue_id = m->id;
    req.transport = tr->name;
    req.nexthop = q->nexthop;
    req.sender = m->sender;
    req.dsn_envid = m->dsn_envid ? m->dsn_envid : "";
    req.dsn_ret = m->dsn_ret;
    req.flags = (m->no_bounce && !*m->sender ? DEL_REQ_FLAG_BOUNCE : 0)
                | (record ? DEL_REQ_FLAG_RECORD : 0);
    req.content_offset = (off_t) m->sizes.content_offset;
    req.content_size = (off_t) m->sizes.content_size;
    req.arrival = m->arrival;
    req.active = m->active;
    gettimeofday(&req.handed, 0);
    req.client_name = m->client_name ? m->client_name : "";
    req.client_addr = m->client_addr ? m->client_addr : "";
    req.rcpt = dr;
    req.nrcpt = n;
    int rc = deliver_request_write(d->stream, &req);
    xfree(dr);
    if (rc < 0) {
        msg_warn("%s: transport %s: cannot send the delivery request: %s", m->id, tr->name,
                 strerror(vstream_errno(d->stream)));
        delivery_end(d, false, UNKNOWN_ERROR);
        return false;
    }
    if (event_fd_add(qmgr.loop, fd, EVENT_READ, on_agent_reply, d) < 0) {
        msg_warn("%s: watch transport %s connection: %m", m->id, tr->name);
        delivery_end(d, false, UNKNOWN_ERROR);
        return false;
    }
    d->pickup_timer = event_timer_add(qmgr.loop, qmgr.ipc_timeout_ms, 0, on_pickup_check, d);
    return true;
}

void qmgr_schedule(void)
{
    if (qmgr.exiting)
        return;
    int64_t now = event_time_ms();
    for (struct qmgr_transport *tr = qmgr.transports; tr; tr = tr->next) {
        if (tr->throttle_until && tr->throttle_until <= now)
            qmgr_transport_unthrottle(tr);
        if (tr->throttle_until) {
            if (tr->npending)
                defer_transport(tr);
            continue;
        }
        bool progress = true;
        while (progress && tr->npending && !tr->throttle_until) {
            progress = false;
            for (struct qmgr_queue *q = tr->queues; q && !tr->throttle_until; q = q->next) {
                if (q->fb.dead) {
                    if (q->npending)
                        defer_dead_queue(q);
                    continue;
                }
                if (!q->npending
                    || !qmgr_can_start(q->busy, q->fb.window, tr->busy, tr->cap, qmgr.busy,
                                       qmgr.total_cap))
                    continue;
                if (!start_delivery(tr, q))
                    break;
                progress = true;
            }
        }
        if (tr->throttle_until && tr->npending)
            defer_transport(tr);
    }
    qmgr_queue_gc();
}
