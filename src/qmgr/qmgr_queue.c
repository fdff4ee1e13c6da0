/*
 * qmgr_queue.c - transports and destination queues.
 *
 * A transport is a master.cf service name ("smtp", "local", "error");
 * its limits come from <transport>_destination_concurrency_limit and
 * <transport>_destination_recipient_limit, else the default_ ones. A
 * destination queue is (transport, name): name is the next hop, or the
 * recipient itself when the transport's recipient limit is 1 (so that
 * local_destination_concurrency_limit = 2 means two deliveries per
 * recipient, as in Postfix). Queues hold pending recipients in arrival
 * order and are found through one hash table.
 *
 * A throttled transport (its agent could not be reached or died) takes no
 * deliveries until transport_retry_time has passed or a flush arrives;
 * the scheduler defers what is pending for it meanwhile.
 *
 * Each destination queue has a concurrency window fed back by the
 * results of its deliveries (qmgr_feedback.h, with the transport's
 * <transport>_initial_destination_concurrency, _destination_concurrency_
 * limit, _positive_feedback, _negative_feedback and _failed_cohort_limit,
 * else the default_ ones). A destination whose failed pseudo-cohorts
 * reach the limit is dead: it keeps its reason and stays in memory,
 * without deliveries, for minimal_backoff_time or until a flush; the
 * scheduler defers what arrives for it meanwhile.
 *
 * Not here: starting deliveries (qmgr_deliver.c).
 */
#include <stdio.h>
#include <string.h>

#include "mail/mail_conf.h"
#include "qmgr/qmgr.h"
#include "util/mem.h"
#include "util/msg.h"

#define QUEUE_HASH_SIZE 4096

static struct qmgr_queue *queue_hash[QUEUE_HASH_SIZE];

static size_t hash(const struct qmgr_transport *tr, const char *name)
{
    size_t h = (size_t) (uintptr_t) tr;
    for (const unsigned char *p = (const unsigned char *) name; *p; p++)
        h = h * 31 + *p;
    return h % QUEUE_HASH_SIZE;
}

/* The name <transport>_<suffix> when it is set (main.cf, -o, or a table
 * entry such as local_destination_recipient_limit), else def_name. */
static const char *per_transport_name(const char *transport, const char *suffix,
                                      const char *def_name, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s_%s", transport, suffix);
    if (n > 0 && (size_t) n < size && mail_conf_raw(buf))
        return buf;
    return def_name;
}

static long per_transport(const char *transport, const char *suffix, const char *def_name)
{
    char name[300];
    return mail_conf_int(per_transport_name(transport, suffix, def_name, name, sizeof(name)));
}

/* A feedback value; a bad one is a warning and the default 1 (as when the
 * administrator had not set it). */
static void per_transport_fb(const char *transport, const char *suffix, const char *def_name,
                             struct qmgr_fb *fb)
{
    char name[300];
    const char *pname = per_transport_name(transport, suffix, def_name, name, sizeof(name));
    const char *v = mail_conf_str(pname);
    if (qmgr_fb_parse(v, fb) < 0) {
        msg_warn("%s: bad feedback value \"%.100s\" (want a number in 0..1, "
                 "\"number/number\" or \"number/concurrency\"): using 1", pname, v);
        fb->kind = QMGR_FB_CONST;
        fb->value = 1;
    }
}

struct qmgr_transport *qmgr_transport_get(const char *name)
{
    for (struct qmgr_transport *tr = qmgr.transports; tr; tr = tr->next)
        if (strcmp(tr->name, name) == 0)
            return tr;
    struct qmgr_transport *tr = xcalloc(1, sizeof(*tr));
    tr->name = xstrdup(name);
    tr->dest_limit = (int) per_transport(name, "destination_concurrency_limit",
                                         "default_destination_concurrency_limit");
    tr->rcpt_limit = per_transport(name, "destination_recipient_limit",
                                   "default_destination_recipient_limit");
    tr->fb.limit = tr->dest_limit;
    long initial = per_transport(name, "initial_destination_concurrency",
                                 "initial_destination_concurrency");
    tr->fb.initial = initial < 1 ? 1 : (int) initial;
    per_transport_fb(name, "destination_concurrency_positive_feedback",
                     "default_destination_concurrency_positive_feedback", &tr->fb.pos);
    per_transport_fb(name, "destination_concurrency_negative_feedback",
                     "default_destination_concurrency_negative_feedback", &tr->fb.neg);
    long cohorts = per_transport(name, "destination_concurrency_failed_cohort_limit",
                                 "default_destination_concurrency_failed_cohort_limit");
    tr->fb.cohort_limit = cohorts < 0 ? 0 : (int) cohorts;
    tr->cap = qmgr.process_limit > 0 ? qmgr.process_limit : 100;
    tr->next = qmgr.transports;
    qmgr.transports = tr;
    return tr;
}

struct qmgr_queue *qmgr_queue_get(struct qmgr_transport *tr, const char *name,
                                  const char *nexthop)
{
    size_t h = hash(tr, name);
    for (struct qmgr_queue *q = queue_hash[h]; q; q = q->hnext)
        if (q->tr == tr && strcmp(q->name, name) == 0)
            return q;
    struct qmgr_queue *q = xcalloc(1, sizeof(*q));
    q->name = xstrdup(name);
    q->nexthop = xstrdup(nexthop);
    q->tr = tr;
    qmgr_fb_init(&q->fb, &tr->fb);
    q->hnext = queue_hash[h];
    queue_hash[h] = q;
    q->next = tr->queues;
    tr->queues = q;
    return q;
}

void qmgr_queue_append(struct qmgr_queue *q, struct qmgr_rcpt *r)
{
    r->queue = q;
    r->qnext = 0;
    r->state = QR_PENDING;
    if (q->tail)
        q->tail->qnext = r;
    else
        q->head = r;
    q->tail = r;
    q->npending++;
    q->tr->npending++;
}

size_t qmgr_queue_take(struct qmgr_queue *q, struct qmgr_rcpt **out, size_t max)
{
    if (!q->head || max == 0)
        return 0;
    struct qmgr_message *m = q->head->msg;
    struct qmgr_rcpt *prev = 0, *r = q->head;
    size_t n = 0;
    while (r && n < max) {
        struct qmgr_rcpt *next = r->qnext;
        if (r->msg == m) {
            if (prev)
                prev->qnext = next;
            else
                q->head = next;
            if (q->tail == r)
                q->tail = prev;
            r->qnext = 0;
            r->queue = 0;
            out[n++] = r;
        } else {
            prev = r;
        }
        r = next;
    }
    q->npending -= n;
    q->tr->npending -= n;
    return n;
}

size_t qmgr_transport_take_all(struct qmgr_transport *tr, struct qmgr_rcpt ***out)
{
    struct qmgr_rcpt **v = xcalloc(tr->npending ? tr->npending : 1, sizeof(*v));
    size_t n = 0;
    for (struct qmgr_queue *q = tr->queues; q; q = q->next) {
        for (struct qmgr_rcpt *r = q->head, *next; r; r = next) {
            next = r->qnext;
            r->qnext = 0;
            r->queue = 0;
            v[n++] = r;
        }
        q->head = q->tail = 0;
        q->npending = 0;
    }
    tr->npending = 0;
    *out = v;
    return n;
}

size_t qmgr_queue_take_all(struct qmgr_queue *q, struct qmgr_rcpt ***out)
{
    struct qmgr_rcpt **v = xcalloc(q->npending ? q->npending : 1, sizeof(*v));
    size_t n = 0;
    for (struct qmgr_rcpt *r = q->head, *next; r && n < q->npending; r = next) {
        next = r->qnext;
        r->qnext = 0;
        r->queue = 0;
        v[n++] = r;
    }
    q->head = q->tail = 0;
    q->tr->npending -= q->npending;
    q->npending = 0;
    *out = v;
    return n;
}

/* ---- destination feedback and death ---- */

static void log_feedback(const struct qmgr_queue *q, const char *what, double amount)
{
    if (!qmgr.feedback_debug)
        return;
    msg_info("queue %s/%s: %s feedback %.3f: window %d success %.3f failure %.3f "
             "fail_cohorts %.3f%s", q->tr->name, q->name, what, amount, q->fb.window,
             q->fb.success, q->fb.failure, q->fb.fail_cohorts, q->fb.dead ? " (dead)" : "");
}

static void on_revive(event_loop *loop, void *ctx)
{
    (void) loop;
    struct qmgr_queue *q = ctx;
    q->dead_timer = 0;
    qmgr_queue_revive(q);
}

void qmgr_queue_feedback(struct qmgr_queue *q, bool hop_fail, const char *dsn,
                         const char *reason)
{
    if (q->fb.dead)
        return;                 /* results still in flight when it died */
    if (!hop_fail) {
        qmgr_fb_positive(&q->fb, &q->tr->fb, q->busy + 1);
        log_feedback(q, "positive", qmgr_fb_amount(&q->tr->fb.pos, q->fb.window));
        return;
    }
    double amount = qmgr_fb_amount(&q->tr->fb.neg, q->fb.window);
    if (!qmgr_fb_negative(&q->fb, &q->tr->fb)) {
        log_feedback(q, "negative", amount);
        return;
    }
    /* Dead: keep the reason for everything deferred meanwhile. */
    long secs = qmgr.min_backoff > 0 ? qmgr.min_backoff : 300;
    if (secs > 86400)
        secs = 86400;
    snprintf(q->dead_dsn, sizeof(q->dead_dsn), "%s", dsn && dsn[0] == '4' ? dsn : "4.0.0");
    xfree(q->dead_reason);
    q->dead_reason = xstrdup(reason && *reason ? reason : "destination unavailable");
    log_feedback(q, "negative", amount);
    if (qmgr.feedback_debug || msg_verbose)
        msg_info("queue %s/%s: destination marked dead for %lds: %s", q->tr->name, q->name,
                 secs, q->dead_reason);
    if (q->dead_timer)
        event_timer_cancel(qmgr.loop, q->dead_timer);
    q->dead_timer = event_timer_add(qmgr.loop, (int) secs * 1000, 0, on_revive, q);
    qmgr_want_schedule();
}

void qmgr_queue_revive(struct qmgr_queue *q)
{
    if (q->dead_timer) {
        event_timer_cancel(qmgr.loop, q->dead_timer);
        q->dead_timer = 0;
    }
    if (!q->fb.dead)
        return;
    qmgr_fb_revive(&q->fb, &q->tr->fb, q->busy);
    xfree(q->dead_reason);
    q->dead_reason = 0;
    q->dead_dsn[0] = 0;
    if (qmgr.feedback_debug || msg_verbose)
        msg_info("queue %s/%s: destination revived: window %d", q->tr->name, q->name,
                 q->fb.window);
    qmgr_want_schedule();
}

/* ---- transport throttling ---- */

static void on_unthrottle(event_loop *loop, void *ctx)
{
    (void) loop;
    struct qmgr_transport *tr = ctx;
    tr->throttle_timer = 0;
    qmgr_transport_unthrottle(tr);
}

void qmgr_transport_throttle(struct qmgr_transport *tr, const char *reason)
{
    long secs = qmgr.transport_retry > 0 ? qmgr.transport_retry : 60;
    if (secs > 86400)
        secs = 86400;
    if (!tr->throttle_until)
        msg_warn("transport %s failure: %s -- suspending deliveries for %lds", tr->name, reason,
                 secs);
    tr->throttle_until = event_time_ms() + secs * 1000;
    xfree(tr->throttle_reason);
    tr->throttle_reason = xstrdup(reason);
    if (tr->throttle_timer)
        event_timer_cancel(qmgr.loop, tr->throttle_timer);
    tr->throttle_timer = event_timer_add(qmgr.loop, (int) secs * 1000, 0, on_unthrottle, tr);
}

void qmgr_transport_unthrottle(struct qmgr_transport *tr)
{
    if (tr->throttle_timer) {
        event_timer_cancel(qmgr.loop, tr->throttle_timer);
        tr->throttle_timer = 0;
    }
    if (tr->throttle_until && msg_verbose)
        msg_info("transport %s: deliveries resumed", tr->name);
    tr->throttle_until = 0;
    xfree(tr->throttle_reason);
    tr->throttle_reason = 0;
    qmgr_want_schedule();
}

void qmgr_unthrottle_all(void)
{
    for (struct qmgr_transport *tr = qmgr.transports; tr; tr = tr->next) {
        if (tr->throttle_until)
            qmgr_transport_unthrottle(tr);
        for (struct qmgr_queue *q = tr->queues; q; q = q->next)
            if (q->fb.dead)
                qmgr_queue_revive(q);
    }
}

void qmgr_queue_gc(void)
{
    for (struct qmgr_transport *tr = qmgr.transports; tr; tr = tr->next) {
        struct qmgr_queue **pp = &tr->queues;
        while (*pp) {
            struct qmgr_queue *q = *pp;
            if (q->npending || q->busy || q->fb.dead) {
                pp = &q->next;
                continue;
            }
            *pp = q->next;
            struct qmgr_queue **hp = &queue_hash[hash(tr, q->name)];
            while (*hp && *hp != q)
                hp = &(*hp)->hnext;
            if (*hp)
                *hp = q->hnext;
            if (q->dead_timer)
                event_timer_cancel(qmgr.loop, q->dead_timer);
            xfree(q->dead_reason);
            xfree(q->name);
            xfree(q->nexthop);
            xfree(q);
        }
    }
}
