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
 * Not here: starting deliveries (qmgr_deliver.c).
 */
#include <stdio.h>
#include <string.h>

#include "mail/mail_conf.h"
#include "qmgr/qmgr.h"
#include "qmgr/qmgr_calc.h"
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

/* <transport>_<suffix> when set (main.cf, -o, or a table entry such as
 * local_destination_recipient_limit), else the default_ parameter. */
static long per_transport(const char *transport, const char *suffix, const char *def_name)
{
    char name[300];
    int n = snprintf(name, sizeof(name), "%s_%s", transport, suffix);
    if (n > 0 && (size_t) n < sizeof(name) && mail_conf_raw(name))
        return mail_conf_int(name);
    return mail_conf_int(def_name);
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
    q->window = qmgr_window_init(qmgr.initial_concurrency, tr->dest_limit);
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
    for (struct qmgr_transport *tr = qmgr.transports; tr; tr = tr->next)
        if (tr->throttle_until)
            qmgr_transport_unthrottle(tr);
}

void qmgr_queue_gc(void)
{
    for (struct qmgr_transport *tr = qmgr.transports; tr; tr = tr->next) {
        struct qmgr_queue **pp = &tr->queues;
        while (*pp) {
            struct qmgr_queue *q = *pp;
            if (q->npending || q->busy) {
                pp = &q->next;
                continue;
            }
            *pp = q->next;
            struct qmgr_queue **hp = &queue_hash[hash(tr, q->name)];
            while (*hp && *hp != q)
                hp = &(*hp)->hnext;
            if (*hp)
                *hp = q->hnext;
            xfree(q->name);
            xfree(q->nexthop);
            xfree(q);
        }
    }
}
