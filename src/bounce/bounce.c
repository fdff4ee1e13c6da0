/*
 * bounce.c - the bounce service: turn delivery status logs into notifications.
 *
 * master.cf runs this program as services bounce, defer and trace; all
 * three answer the same requests (bounce_client.h). For each request:
 *
 *   1. read the original message's envelope (queue_name/queue_id) and the
 *      log of the request's kind: bounce/ID (failure), defer/ID (delay),
 *      trace/ID (success); the last record per recipient counts;
 *   2. a message from the null sender (or the double-bounce sender) never
 *      gets a notice: a failure goes to 2bounce_notice_recipient when
 *      notify_classes has 2bounce, otherwise it is logged and dropped;
 *   3. otherwise the sender gets one notice naming the recipients whose
 *      DSN NOTIFY allows it (failure: unless NOTIFY=NEVER or without
 *      FAILURE; delay: likewise with DELAY; success: only NOTIFY=SUCCESS),
 *      from the null sender, submitted through cleanup with
 *      CLEANUP_FLAG_NOTIFICATION ("ID: sender non-delivery notification:
 *      NEWID");
 *   4. notify_classes bounce (delay) adds a copy with the headers only for
 *      bounce_notice_recipient (delay_notice_recipient), from the
 *      double-bounce sender;
 *   5. the reply says OK only once the sender's notice is queued; qmgr
 *      keeps the message and asks again otherwise.
 *
 * The service never changes the queue file or the logs: qmgr removes
 * them once it has the OK.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bounce/bounce.h"
#include "mail/bounce_client.h"
#include "mail/cleanup_client.h"
#include "mail/dsn_log.h"
#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

static bool has_class(const char *name)
{
    strv classes = {0};
    bool found = false;
    mail_conf_list("notify_classes", &classes);
    for (size_t i = 0; i < classes.n && !found; i++)
        found = strcasecmp(classes.v[i], name) == 0;
    strv_free(&classes);
    return found;
}

/* Null sender or the double-bounce address: never send it a notice. */
static bool sender_is_null(const struct bounce_msg *m)
{
    if (!*m->sender || (m->sizes.flags & QFILE_FL_BOUNCE))
        return true;
    const char *db = mail_conf_str("double_bounce_sender");
    const char *at = strrchr(m->sender, '@');
    size_t n = strlen(db);
    return strcasecmp(m->sender, db) == 0
           || (at && (size_t) (at - m->sender) == n && strncasecmp(m->sender, db, n) == 0);
}

static void qualify(const char *addr, sbuf *out)
{
    sbuf_set(out, addr);
    if (!strchr(addr, '@'))
        sbuf_printf(out, "@%s", mail_conf_str("myorigin"));
}

/* Keep the last record per recipient, in the order recipients first appear. */
static size_t latest_records(const dsn_log *l, const struct dsn_rec **out)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct dsn_rec *r = &l->rec[i];
        size_t j;
        for (j = 0; j < n; j++)
            if (out[j]->offset == r->offset && strcmp(out[j]->recipient, r->recipient) == 0)
                break;
        out[j] = r;
        if (j == n)
            n++;
    }
    return n;
}

static bool wants(enum bounce_notice_kind kind, int notify)
{
    switch (kind) {
    case NOTICE_FAILURE:
        return notify == 0 || (notify & DSN_NOTIFY_FAILURE);
    case NOTICE_DELAY:
        return notify == 0 || (notify & DSN_NOTIFY_DELAY);
    case NOTICE_SUCCESS:
        return (notify & DSN_NOTIFY_SUCCESS) != 0;
    }
    return false;
}

static int to_cleanup(void *ctx, const void *buf, size_t len)
{
    return cleanup_data(ctx, buf, len);
}

/* Queue one notice; 0 with its ID in nid, or -1 with reason. */
static int submit(struct bounce_notice *n, const char *env_sender, sbuf *nid, sbuf *reason)
{
    char id[64];
    sbuf err = SBUF_INIT;
    cleanup_client *cc = cleanup_open(CLEANUP_FLAG_NOTIFICATION | CLEANUP_FLAG_MAP_OK, id,
                                      sizeof(id), &err);
    if (!cc) {
        sbuf_printf(reason, "cleanup service: %s", err.len ? sbuf_str(&err) : "unavailable");
        sbuf_free(&err);
        return -1;
    }
    cleanup_sender(cc, env_sender);
    cleanup_rcpt(cc, n->to, n->to, 0, 0);
    n->notice_id = id;
    sbuf why = SBUF_INIT;
    if (bounce_notice_write(n, to_cleanup, cc, &why) < 0 && why.len)
        msg_warn("%s: notification: %s", n->msg->queue_id, sbuf_str(&why));
    int status = cleanup_finish(cc, &err);
    int rc = 0;
    if (status != CLEANUP_STAT_OK) {
        sbuf_printf(reason, "cleanup service: %s", err.len ? sbuf_str(&err) : "queue file write error");
        rc = -1;
    } else {
        sbuf_set(nid, id);
    }
    n->notice_id = 0;
    sbuf_free(&why);
    sbuf_free(&err);
    return rc;
}

static const char *log_name(const char *kind)
{
    return strcmp(kind, BOUNCE_KIND_FAILURE) == 0 ? DSN_LOG_BOUNCE
           : strcmp(kind, BOUNCE_KIND_DELAY) == 0 ? DSN_LOG_DEFER : DSN_LOG_TRACE;
}

static enum bounce_notice_kind notice_kind(const char *kind)
{
    return strcmp(kind, BOUNCE_KIND_FAILURE) == 0 ? NOTICE_FAILURE
           : strcmp(kind, BOUNCE_KIND_DELAY) == 0 ? NOTICE_DELAY : NOTICE_SUCCESS;
}

static const char *notice_word(enum bounce_notice_kind k)
{
    return k == NOTICE_FAILURE ? "non-delivery" : k == NOTICE_DELAY ? "delay"
                                                                    : "delivery status";
}

static int handle(const struct bounce_req *req, sbuf *reason, sbuf *nid)
{
    struct bounce_msg m;
    dsn_log log = DSN_LOG_INIT;
    sbuf why = SBUF_INIT, db = SBUF_INIT;
    const struct dsn_rec **recs = 0, **sel = 0;
    int status = BOUNCE_STAT_RETRY;
    enum bounce_notice_kind kind = notice_kind(req->kind);

    if (bounce_msg_read(req->queue_name, req->queue_id, &m, &why) < 0) {
        sbuf_set(reason, sbuf_str(&why));
        goto out;
    }
    if (dsn_log_read(log_name(req->kind), req->queue_id, &log, &why) < 0) {
        sbuf_set(reason, sbuf_str(&why));
        goto out;
    }
    recs = xcalloc(log.n ? log.n : 1, sizeof(*recs));
    sel = xcalloc(log.n ? log.n : 1, sizeof(*sel));
    size_t nrecs = latest_records(&log, recs);
    time_t now = time(0);
    struct bounce_notice n = {
        .kind = kind,
        .myhostname = mail_conf_str("myhostname"),
        .mail_name = mail_conf_str("mail_name"),
        .now = now,
        .lifetime = mail_conf_time("maximal_queue_lifetime"),
        .msg = &m,
    };
    long long limit = mail_conf_long("bounce_size_limit");
    bool too_big = (long long) m.sizes.content_size > limit;
    qualify(mail_conf_str("double_bounce_sender"), &db);

    if (nrecs == 0) {
        status = BOUNCE_STAT_OK;
        goto out;
    }
    if (sender_is_null(&m)) {
        /* Never bounce a bounce. */
        if (kind == NOTICE_FAILURE) {
            if (!has_class("2bounce")) {
                msg_info("%s: undeliverable postmaster notification discarded", m.queue_id);
            } else {
                n.postmaster = true;
                n.double_bounce = true;
                n.to = mail_conf_str("2bounce_notice_recipient");
                n.headers_only = too_big;
                n.recs = recs;
                n.nrecs = nrecs;
                if (submit(&n, sbuf_str(&db), nid, reason) < 0)
                    goto out;
                msg_info("%s: postmaster non-delivery notification: %s", m.queue_id,
                         sbuf_str(nid));
            }
        }
        status = BOUNCE_STAT_OK;
        goto out;
    }

    size_t nsel = 0;
    for (size_t i = 0; i < nrecs; i++)
        if (wants(kind, recs[i]->notify))
            sel[nsel++] = recs[i];
    if (nsel) {
        n.to = m.sender;
        n.recs = sel;
        n.nrecs = nsel;
        n.headers_only = kind != NOTICE_FAILURE || m.dsn_ret == 2 || too_big;
        if (submit(&n, "", nid, reason) < 0)
            goto out;
        msg_info("%s: sender %s notification: %s", m.queue_id, notice_word(kind),
                 sbuf_str(nid));
    }
    status = BOUNCE_STAT_OK;

    /* Copies for the postmaster: best effort, never a reason to retry. */
    const char *class = kind == NOTICE_FAILURE ? "bounce" : kind == NOTICE_DELAY ? "delay" : 0;
    if (class && has_class(class)) {
        sbuf pnid = SBUF_INIT, preason = SBUF_INIT;
        n.postmaster = true;
        n.to = mail_conf_str(kind == NOTICE_FAILURE ? "bounce_notice_recipient"
                                                    : "delay_notice_recipient");
        n.recs = recs;
        n.nrecs = nrecs;
        n.headers_only = true;
        if (submit(&n, sbuf_str(&db), &pnid, &preason) < 0)
            msg_warn("%s: postmaster %s notification: %s", m.queue_id, notice_word(kind),
                     sbuf_str(&preason));
        else
            msg_info("%s: postmaster %s notification: %s", m.queue_id, notice_word(kind),
                     sbuf_str(&pnid));
        sbuf_free(&pnid);
        sbuf_free(&preason);
    }
out:
    if (status != BOUNCE_STAT_OK)
        msg_warn("%s: %s notification not sent: %s", req->queue_id, notice_word(kind),
                 sbuf_str(reason));
    xfree(recs);
    xfree(sel);
    dsn_log_free(&log);
    bounce_msg_free(&m);
    sbuf_free(&why);
    sbuf_free(&db);
    return status;
}

static void bounce_serve(vstream *client, const char *service)
{
    (void) service;
    vstream_set_timeout(client, (int) mail_conf_time("ipc_timeout") * 1000);
    struct bounce_req req;
    sbuf why = SBUF_INIT, reason = SBUF_INIT, nid = SBUF_INIT;
    while (bounce_request_read(client, &req, &why) == 0) {
        sbuf_reset(&reason);
        sbuf_reset(&nid);
        int status = handle(&req, &reason, &nid);
        if (bounce_reply_write(client, status, sbuf_str(&reason), sbuf_str(&nid)) < 0)
            break;
    }
    if (why.len)
        msg_warn("bad bounce request: %s", sbuf_str(&why));
    sbuf_free(&why);
    sbuf_free(&reason);
    sbuf_free(&nid);
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "bounce",
        .kind = MAIL_SERVER_STREAM,
        .serve = bounce_serve,
    };
    return mail_server_main(argc, argv, &srv);
}
