/*
 * qmgr_message.c - one message in the active queue: read it, record its
 * recipients' results, and finish it.
 *
 * Loading: the envelope records up to QREC_CONTENT, then (skipping the
 * content by the size record's offsets) the records after
 * QREC_EXTRACTED. Every recipient still QREC_RCPT is resolved
 * (resolve_address) and queued for its transport and destination; a
 * resolver failure defers it, bad syntax bounces it. A message with a
 * content filter (QREC_FILTER "transport:nexthop", from content_filter or
 * a FILTER action) sends every recipient, unresolved, to that transport
 * and next hop instead (an empty next hop: default_filter_nexthop, else
 * the recipient's domain, as Postfix 2.7 and later do). The queue file is
 * not kept open: it is opened again for a moment to mark recipients done.
 *
 * Results (qmgr_message_results): sent -> marked done; bounced ->
 * appended to bounce/ID (fsynced) and then marked done; deferred ->
 * appended to defer/ID. A sent recipient that asked for NOTIFY=SUCCESS is
 * appended to trace/ID. soft_bounce turns bounces into deferrals.
 *
 * Finishing (qmgr_message_finish), when no recipient is pending or busy:
 * expire (older than maximal_queue_lifetime, or bounce_queue_lifetime
 * for notifications: deferred recipients are returned to the sender),
 * then the failure notice (bounce/ID), the delay warning, the success
 * notice (trace/ID), each through the bounce service; then the file is
 * removed ("ID: removed") or, with deferred recipients left or a notice
 * that could not be queued, moved to deferred/ with its next attempt time
 * as modification time.
 *
 * A notification that bounces (null sender, or the double-bounce sender)
 * is never bounced: the failure goes to 2bounce_notice_recipient when
 * notify_classes has 2bounce, otherwise it is logged and dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "mail/bounce_client.h"
#include "mail/cleanup_client.h"
#include "mail/dsn_log.h"
#include "mail/mail_conf.h"
#include "mail/queue_dirs.h"
#include "mail/resolve.h"
#include "qmgr/qmgr.h"
#include "qmgr/qmgr_calc.h"
#include "util/mem.h"
#include "util/msg.h"

/* ---- memory ---- */

static void message_link(struct qmgr_message *m)
{
    m->next = qmgr.messages;
    if (qmgr.messages)
        qmgr.messages->prev = m;
    qmgr.messages = m;
    qmgr.nmessages++;
}

static void message_free(struct qmgr_message *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else if (qmgr.messages == m)
        qmgr.messages = m->next;
    if (m->next)
        m->next->prev = m->prev;
    qmgr.nmessages--;
    qmgr.nrcpts -= m->nrcpt;
    for (size_t i = 0; i < m->nrcpt; i++) {
        struct qmgr_rcpt *r = &m->rcpt[i];
        xfree(r->address);
        xfree(r->orig);
        xfree(r->dsn_orcpt);
        xfree(r->defer_reason);
        xfree(r->defer_relay);
    }
    xfree(m->rcpt);
    xfree(m->sender);
    xfree(m->dsn_envid);
    xfree(m->client_name);
    xfree(m->client_addr);
    xfree(m->filter);
    xfree(m);
    if (qmgr.more_incoming || qmgr.more_deferred)
        qmgr_resume_scans();
}

/* ---- loading ---- */

struct rcpt_prefix {
    char   *orig;
    char   *dsn_orcpt;
    int     notify;
};

static void prefix_reset(struct rcpt_prefix *p)
{
    xfree(p->orig);
    xfree(p->dsn_orcpt);
    memset(p, 0, sizeof(*p));
}

static size_t rcpt_cap;

static void add_rcpt(struct qmgr_message *m, const sbuf *addr, off_t offset,
                     struct rcpt_prefix *p)
{
    if (m->nrcpt == rcpt_cap) {
        rcpt_cap = rcpt_cap ? rcpt_cap * 2 : 8;
        m->rcpt = xreallocarray(m->rcpt, rcpt_cap, sizeof(*m->rcpt));
    }
    struct qmgr_rcpt *r = &m->rcpt[m->nrcpt++];
    memset(r, 0, sizeof(*r));
    r->address = xstrdup(sbuf_str(addr));
    r->orig = p->orig ? p->orig : xstrdup("");
    r->dsn_orcpt = p->dsn_orcpt ? p->dsn_orcpt : xstrdup("");
    r->notify = p->notify;
    r->offset = offset;
    r->state = QR_PENDING;
    p->orig = p->dsn_orcpt = 0;
    p->notify = 0;
}

static void set_attr(struct qmgr_message *m, const sbuf *data)
{
    const char *s = sbuf_str(data);
    const char *eq = strchr(s, '=');
    if (!eq)
        return;
    size_t n = (size_t) (eq - s);
    const char *v = eq + 1;
    if (n == 9 && strncmp(s, "dsn_envid", n) == 0) {
        xfree(m->dsn_envid);
        m->dsn_envid = xstrdup(v);
    } else if (n == 7 && strncmp(s, "dsn_ret", n) == 0) {
        m->dsn_ret = qmgr_parse_ret(v);
    } else if (n == 11 && strncmp(s, "client_name", n) == 0) {
        xfree(m->client_name);
        m->client_name = xstrdup(v);
    } else if (n == 14 && strncmp(s, "client_address", n) == 0) {
        xfree(m->client_addr);
        m->client_addr = xstrdup(v);
    }
}

/* Read the envelope; 0, or -1 with why. */
static int read_envelope(qfile *qf, struct qmgr_message *m, sbuf *why)
{
    sbuf data = SBUF_INIT;
    struct rcpt_prefix p = {0, 0, 0};
    bool have_sizes = false, have_sender = false, in_content = false, done = false;
    int type;
    off_t off;
    rcpt_cap = 0;
    while (!done && (type = qfile_get(qf, &data, &off)) > 0) {
        if (in_content && type != QREC_EXTRACTED && type != QREC_END)
            continue;           /* no extracted offset known: walk the content */
        switch (type) {
        case QREC_SIZE:
            if (qfile_parse_sizes(data.s, data.len, &m->sizes) < 0) {
                sbuf_set(why, "malformed size record");
                goto bad;
            }
            have_sizes = true;
            break;
        case QREC_TIME:
            if (qmgr_parse_time(data.s, data.len, &m->arrival) < 0) {
                sbuf_set(why, "malformed time record");
                goto bad;
            }
            break;
        case QREC_SENDER:
            xfree(m->sender);
            m->sender = xstrdup(sbuf_str(&data));
            have_sender = true;
            break;
        case QREC_ATTR:
            set_attr(m, &data);
            break;
        case QREC_ORCPT:
            xfree(p.orig);
            p.orig = xstrdup(sbuf_str(&data));
            break;
        case QREC_NOTIFY:
            p.notify = qmgr_parse_notify(sbuf_str(&data));
            break;
        case QREC_DSN_ORCPT:
            xfree(p.dsn_orcpt);
            p.dsn_orcpt = xstrdup(sbuf_str(&data));
            break;
        case QREC_RCPT:
            add_rcpt(m, &data, off, &p);
            break;
        case QREC_DONE:
            prefix_reset(&p);
            break;
        case QREC_WARN: {
            m->warn_offset = off;
            char buf[32];
            size_t n = data.len < sizeof(buf) - 1 ? data.len : sizeof(buf) - 1;
            memcpy(buf, data.s ? data.s : "", n);
            buf[n] = 0;
            m->warn_time = (time_t) strtoll(buf, 0, 10);
            break;
        }
        case QREC_CONTENT:
            if (!have_sizes) {
                sbuf_set(why, "no size record before the content");
                goto bad;
            }
            if (m->sizes.extracted_offset > (uint64_t) off) {
                if (qfile_seek(qf, (off_t) m->sizes.extracted_offset) < 0) {
                    sbuf_set(why, "cannot seek to the extracted records");
                    goto bad;
                }
            } else {
                in_content = true;
            }
            break;
        case QREC_EXTRACTED:
            in_content = false;
            break;
        case QREC_FILTER:
            xfree(m->filter);
            m->filter = data.len ? xstrdup(sbuf_str(&data)) : 0;
            break;
        case QREC_END:
            done = true;
            break;
        default:
            break;
        }
    }
    if (!done) {
        sbuf_set(why, type < 0 ? "damaged record" : "no end record");
        goto bad;
    }
    if (!have_sizes || !have_sender) {
        sbuf_set(why, !have_sizes ? "no size record" : "no sender record");
        goto bad;
    }
    prefix_reset(&p);
    sbuf_free(&data);
    return 0;
bad:
    prefix_reset(&p);
    sbuf_free(&data);
    return -1;
}

/* Log a result qmgr made itself, in the delivery agents' format. */
static void log_result(struct qmgr_message *m, struct qmgr_rcpt *r,
                       const struct deliver_result *res)
{
    struct deliver_rcpt dr = {r->address, r->orig, r->dsn_orcpt, r->notify, r->offset};
    struct deliver_request req;
    memset(&req, 0, sizeof(req));
    req.queue_id = m->id;
    req.sender = m->sender;
    req.arrival = m->arrival;
    req.active = m->active;
    gettimeofday(&req.handed, 0);
    req.rcpt = &dr;
    req.nrcpt = 1;
    deliver_log(&req, 0, res);
}

static void make_result(struct deliver_result *res, enum deliver_outcome o, const char *dsn,
                        const char *reason)
{
    memset(res, 0, sizeof(*res));
    res->outcome = o;
    snprintf(res->dsn, sizeof(res->dsn), "%s", dsn);
    res->relay = "none";
    res->reason = (char *) reason;
}

void qmgr_rcpt_defer(struct qmgr_rcpt *r, const char *dsn, const char *reason)
{
    struct deliver_result res;
    make_result(&res, DELIVER_DEFER, dsn, reason);
    qmgr_message_results(r->msg, &r, &res, 1, true);
    qmgr_rcpt_finished(&r, 1);
}

static void rcpt_bounce(struct qmgr_rcpt *r, const char *dsn, const char *reason)
{
    struct deliver_result res;
    make_result(&res, DELIVER_BOUNCE, dsn, reason);
    qmgr_message_results(r->msg, &r, &res, 1, true);
    qmgr_rcpt_finished(&r, 1);
}

/*
 * The content filter decides transport and next hop; the recipient is
 * not resolved (the filter hands the mail back, and it is resolved then).
 */
static void filter_route(const struct qmgr_message *m, const struct qmgr_rcpt *r,
                         struct resolve_reply *rr)
{
    const char *colon = strchr(m->filter, ':');
    size_t tlen = colon ? (size_t) (colon - m->filter) : strlen(m->filter);
    const char *nexthop = colon ? colon + 1 : "";
    rr->flags = 0;
    sbuf_reset(&rr->transport);
    sbuf_add(&rr->transport, m->filter, tlen);
    sbuf_set(&rr->recipient, r->address);
    if (!*nexthop)
        nexthop = mail_conf_str("default_filter_nexthop");
    if (!*nexthop) {
        const char *at = strrchr(r->address, '@');
        nexthop = at && at[1] ? at + 1 : mail_conf_str("myhostname");
    }
    sbuf_set(&rr->nexthop, nexthop);
}

/* defer_transports: mail for these waits for a flush (sendmail -q,
 * postqueue -f, postfix flush), as with Postfix's dial-up setups. */
static bool deferred_transport(const char *transport)
{
    for (size_t i = 0; i < qmgr.defer_transports.n; i++)
        if (strcmp(qmgr.defer_transports.v[i], transport) == 0)
            return true;
    return false;
}

/* Resolve and queue every pending recipient. */
static void queue_recipients(struct qmgr_message *m)
{
    struct resolve_reply rr;
    resolve_init(&rr);
    for (size_t i = 0; i < m->nrcpt; i++) {
        struct qmgr_rcpt *r = &m->rcpt[i];
        if (m->filter)
            filter_route(m, r, &rr);
        else
            resolve_address(m->sender, r->address, &rr);
        if (rr.flags & RESOLVE_FLAG_FAIL) {
            qmgr_rcpt_defer(r, "4.3.0", "address resolver failure");
            continue;
        }
        if (rr.flags & RESOLVE_FLAG_ERROR) {
            rcpt_bounce(r, "5.1.3", "bad address syntax");
            continue;
        }
        if (rr.recipient.len && strcmp(sbuf_str(&rr.recipient), r->address) != 0) {
            xfree(r->address);
            r->address = xstrdup(sbuf_str(&rr.recipient));
        }
        const char *transport = sbuf_str(&rr.transport);
        if (!*transport) {
            qmgr_rcpt_defer(r, "4.3.5", "mail transport unavailable");
            continue;
        }
        if (!m->flushed && deferred_transport(transport)) {
            qmgr_rcpt_defer(r, "4.3.2", "deferred transport");
            continue;
        }
        struct qmgr_transport *tr = qmgr_transport_get(transport);
        const char *name = tr->rcpt_limit == 1 ? r->address : sbuf_str(&rr.nexthop);
        struct qmgr_queue *q = qmgr_queue_get(tr, name, sbuf_str(&rr.nexthop));
        qmgr_queue_append(q, r);
    }
    resolve_free(&rr);
}

int qmgr_message_load(const char *id)
{
    qfile *qf = qfile_open(QUEUE_ACTIVE, id, false);
    if (!qf) {
        if (errno != ENOENT)
            msg_warn("%s: open %s/%s: %m", id, QUEUE_ACTIVE, id);
        return -1;
    }
    struct qmgr_message *m = xcalloc(1, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", id);
    m->warn_offset = -1;
    m->flushed = qmgr.scan_flushed;
    gettimeofday(&m->active, 0);
    sbuf why = SBUF_INIT;
    int rc = read_envelope(qf, m, &why);
    if (rc == 0 && !m->arrival.tv_sec) {
        struct stat st;
        m->arrival.tv_sec = fstat(qfile_fd(qf), &st) == 0 ? st.st_ctime : m->active.tv_sec;
    }
    qfile_close(qf);
    message_link(m);
    qmgr.nrcpts += m->nrcpt;
    for (size_t i = 0; i < m->nrcpt; i++)
        m->rcpt[i].msg = m;
    if (rc < 0) {
        qmgr_save_corrupt(QUEUE_ACTIVE, id, sbuf_str(&why));
        sbuf_free(&why);
        message_free(m);
        return -1;
    }
    sbuf_free(&why);
    m->no_bounce = (m->sizes.flags & QFILE_FL_BOUNCE)
                   || qmgr_sender_is_null(m->sender, qmgr.double_bounce);
    msg_info("%s: from=<%s>, size=%llu, nrcpt=%u (queue active)", m->id, m->sender,
             (unsigned long long) m->sizes.content_size, m->sizes.nrcpt);
    /* Hold a reference while queueing: recipients may finish at once. */
    m->unfinished = m->nrcpt + 1;
    queue_recipients(m);
    m->unfinished--;
    if (m->unfinished == 0 && !m->finish_queued)
        qmgr_message_finish(m);
    else
        qmgr_want_schedule();
    return 0;
}

/* ---- results ---- */

static void dsn_from(struct dsn_rec *d, const struct qmgr_rcpt *r,
                     const struct deliver_result *res, const char *action, time_t now)
{
    memset(d, 0, sizeof(*d));
    d->recipient = r->address;
    d->orig_recipient = r->orig;
    d->dsn_orcpt = r->dsn_orcpt;
    d->notify = r->notify;
    d->offset = r->offset;
    snprintf(d->status, sizeof(d->status), "%s", res->dsn);
    d->action = action;
    d->reason = res->reason;
    d->relay = res->relay;
    d->diag_type = res->diag_type;
    d->diag_text = res->diag_text;
    d->time = now;
}

/* Mark done in the queue file: opened once per batch. */
static void mark_done(struct qmgr_message *m, struct qmgr_rcpt **rcpts, const bool *which,
                      size_t n)
{
    qfile *qf = 0;
    for (size_t i = 0; i < n; i++) {
        if (!which[i])
            continue;
        if (!qf && !(qf = qfile_open(QUEUE_ACTIVE, m->id, true))) {
            msg_warn("%s: open %s/%s to mark recipients done: %m", m->id, QUEUE_ACTIVE, m->id);
            return;
        }
        if (qfile_mark_done(qf, rcpts[i]->offset) < 0)
            msg_warn("%s: mark recipient <%s> done: %m", m->id, rcpts[i]->address);
    }
    if (qf)
        qfile_close(qf);
}

void qmgr_message_results(struct qmgr_message *m, struct qmgr_rcpt **rcpts,
                          struct deliver_result *res, size_t n, bool log)
{
    time_t now = time(0);
    struct dsn_rec *defer = xcalloc(n, sizeof(*defer));
    struct dsn_rec *bounce = xcalloc(n, sizeof(*bounce));
    struct dsn_rec *trace = xcalloc(n, sizeof(*trace));
    bool *done = xcalloc(n, sizeof(*done));
    size_t nd = 0, nb = 0, nt = 0;
    for (size_t i = 0; i < n; i++) {
        struct qmgr_rcpt *r = rcpts[i];
        /* soft_bounce: the agents apply it to what they report (and log);
         * qmgr only to results it makes and logs itself (log), so an agent
         * and qmgr never disagree, even across a reload. */
        if (log) {
            deliver_result_soften(&res[i]);
            log_result(m, r, &res[i]);
        }
        switch (res[i].outcome) {
        case DELIVER_SENT:
            if (r->notify & DSN_NOTIFY_SUCCESS)
                dsn_from(&trace[nt++], r, &res[i], "delivered", now);
            break;
        case DELIVER_BOUNCE:
            dsn_from(&bounce[nb++], r, &res[i], "failed", now);
            break;
        case DELIVER_DEFER:
            dsn_from(&defer[nd++], r, &res[i], "delayed", now);
            break;
        }
    }
    if (nd && dsn_log_append(DSN_LOG_DEFER, m->id, defer, nd, false) < 0)
        msg_warn("%s: append to %s log: %m", m->id, DSN_LOG_DEFER);
    bool bounce_ok = true;
    if (nb && dsn_log_append(DSN_LOG_BOUNCE, m->id, bounce, nb, true) < 0) {
        msg_warn("%s: append to %s log: %m -- recipients stay queued", m->id, DSN_LOG_BOUNCE);
        bounce_ok = false;
    }
    if (nt && dsn_log_append(DSN_LOG_TRACE, m->id, trace, nt, false) < 0)
        msg_warn("%s: append to %s log: %m", m->id, DSN_LOG_TRACE);
    for (size_t i = 0; i < n; i++) {
        struct qmgr_rcpt *r = rcpts[i];
        enum deliver_outcome o = res[i].outcome;
        if (o == DELIVER_SENT || (o == DELIVER_BOUNCE && bounce_ok)) {
            done[i] = true;
            r->state = QR_DONE;
        } else {
            r->state = QR_DEFER;
            m->ndeferred++;
            snprintf(r->defer_dsn, sizeof(r->defer_dsn), "%s", res[i].dsn);
            if (o == DELIVER_BOUNCE)        /* could not record the bounce */
                r->defer_dsn[0] = '4';
            xfree(r->defer_reason);
            xfree(r->defer_relay);
            r->defer_reason = xstrdup(res[i].reason ? res[i].reason : "");
            r->defer_relay = xstrdup(res[i].relay ? res[i].relay : "none");
        }
    }
    mark_done(m, rcpts, done, n);
    xfree(defer);
    xfree(bounce);
    xfree(trace);
    xfree(done);
}

static void finish_deferred(event_loop *loop, void *ctx)
{
    (void) loop;
    struct qmgr_message *m = ctx;
    m->finish_queued = false;
    qmgr_message_finish(m);
}

void qmgr_rcpt_finished(struct qmgr_rcpt **rcpts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct qmgr_message *m = rcpts[i]->msg;
        if (m->unfinished == 0)
            msg_panic("%s: recipient count underflow", m->id);
        if (--m->unfinished == 0 && !m->finish_queued) {
            m->finish_queued = true;
            event_defer(qmgr.loop, finish_deferred, m);
        }
    }
}

/* ---- finishing ---- */

/* Return every deferred recipient to the sender with its last reason. */
static void expire(struct qmgr_message *m)
{
    msg_info("%s: from=<%s>, status=expired, returned to sender", m->id, m->sender);
    time_t now = time(0);
    struct dsn_rec *recs = xcalloc(m->ndeferred ? m->ndeferred : 1, sizeof(*recs));
    struct qmgr_rcpt **which = xcalloc(m->ndeferred ? m->ndeferred : 1, sizeof(*which));
    size_t n = 0;
    for (size_t i = 0; i < m->nrcpt && n < m->ndeferred; i++) {
        struct qmgr_rcpt *r = &m->rcpt[i];
        if (r->state != QR_DEFER)
            continue;
        struct deliver_result res;
        make_result(&res, DELIVER_BOUNCE, r->defer_dsn, r->defer_reason ? r->defer_reason : "");
        res.relay = r->defer_relay ? r->defer_relay : "none";
        dsn_from(&recs[n], r, &res, "failed", now);
        which[n++] = r;
    }
    if (dsn_log_append(DSN_LOG_BOUNCE, m->id, recs, n, true) < 0) {
        msg_warn("%s: append to %s log: %m -- recipients stay queued", m->id, DSN_LOG_BOUNCE);
    } else {
        bool *all = xcalloc(n ? n : 1, sizeof(*all));
        for (size_t i = 0; i < n; i++) {
            all[i] = true;
            which[i]->state = QR_DONE;
        }
        mark_done(m, which, all, n);
        m->ndeferred -= n;
        xfree(all);
    }
    xfree(recs);
    xfree(which);
}

static void remove_message(struct qmgr_message *m)
{
    static const char *const logs[] = {DSN_LOG_DEFER, DSN_LOG_BOUNCE, DSN_LOG_TRACE};
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++)
        if (dsn_log_delete(logs[i], m->id) < 0)
            msg_warn("%s: remove %s log: %m", m->id, logs[i]);
    char path[4200];
    if (qfile_path(path, sizeof(path), QUEUE_ACTIVE, m->id) == 0 && unlink(path) < 0
        && errno != ENOENT) {
        msg_warn("%s: remove %s: %m", m->id, path);
        return;
    }
    msg_info("%s: removed", m->id);
}

static void defer_message(struct qmgr_message *m)
{
    char from[4200], to[4200];
    time_t now = time(0);
    long wait = qmgr_backoff(now, m->arrival.tv_sec, qmgr.min_backoff, qmgr.max_backoff);
    if (qfile_path(from, sizeof(from), QUEUE_ACTIVE, m->id) < 0
        || qfile_path(to, sizeof(to), QUEUE_DEFERRED, m->id) < 0)
        return;
    /* The modification time is the next attempt time; set it before the
     * rename so a scan of deferred/ never sees the old one. */
    struct timeval tv[2] = {{now, 0}, {now + wait, 0}};
    if (utimes(from, tv) < 0 && errno != ENOENT)
        msg_warn("%s: set retry time: %m", from);
    if (rename(from, to) < 0 && errno != ENOENT)
        msg_warn("%s: move to %s: %m", m->id, QUEUE_DEFERRED);
}

void qmgr_message_finish(struct qmgr_message *m)
{
    time_t now = time(0);
    for (;;) {
        switch (m->step) {
        case QF_NONE:
            m->step = QF_EXPIRE;
            break;
        case QF_EXPIRE:
            m->step = QF_BOUNCE;
            if (m->ndeferred > 0
                && qmgr_expired(now, m->arrival.tv_sec,
                                m->no_bounce ? qmgr.bounce_lifetime : qmgr.max_lifetime))
                expire(m);
            break;
        case QF_BOUNCE:
            m->step = QF_DELAY;
            if (!dsn_log_exists(DSN_LOG_BOUNCE, m->id))
                break;
            if (m->no_bounce && !qmgr.notify_2bounce) {
                msg_info("%s: undeliverable postmaster notification discarded", m->id);
                dsn_log_delete(DSN_LOG_BOUNCE, m->id);
                break;
            }
            qmgr_notify(m, BOUNCE_KIND_FAILURE);
            return;
        case QF_DELAY:
            m->step = QF_SUCCESS;
            if (m->ndeferred > 0 && qmgr.delay_warning > 0 && !m->no_bounce
                && m->warn_offset >= 0 && m->warn_time > 0 && now >= m->warn_time) {
                qmgr_notify(m, BOUNCE_KIND_DELAY);
                return;
            }
            break;
        case QF_SUCCESS:
            m->step = QF_MOVE;
            if (!dsn_log_exists(DSN_LOG_TRACE, m->id))
                break;
            if (m->no_bounce) {
                dsn_log_delete(DSN_LOG_TRACE, m->id);
                break;
            }
            qmgr_notify(m, BOUNCE_KIND_SUCCESS);
            return;
        case QF_MOVE:
            if (m->ndeferred > 0 || m->notify_failed)
                defer_message(m);
            else
                remove_message(m);
            message_free(m);
            qmgr_want_schedule();
            return;
        }
    }
}
