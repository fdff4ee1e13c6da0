/*
 * smtp.c - the SMTP/LMTP client delivery agent: main, requests, results.
 *
 * master runs this program for the smtp, relay (and other SMTP) services
 * and, under the name lmtp, for LMTP. A connection from qmgr carries one
 * delivery request (several are served in turn if qmgr sends more before
 * closing, which tests use to see connection reuse). For each request the
 * recipients are delivered by smtp_deliver() (smtp_connect.c); each gets
 * exactly one "to=<...>, relay=..., status=..." log line and one status
 * for qmgr, then the final reply is sent.
 *
 * Not here: the protocol (smtp_proto.c), addresses (smtp_addr.c), the
 * connection cache (smtp_connect.c).
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "smtp/smtp.h"
#include "util/mem.h"
#include "util/msg.h"

/* ---- results ---- */

static double tv_sub(const struct timeval *a, const struct timeval *b)
{
    return (double) (a->tv_sec - b->tv_sec) + (double) (a->tv_usec - b->tv_usec) / 1e6;
}

static void finish(struct smtp_state *st, size_t i, struct deliver_result *res)
{
    struct timeval now;
    gettimeofday(&now, 0);
    if (st->ready.tv_sec) {
        res->conn_time = tv_sub(&st->ready, &st->start);
        res->xfer_time = tv_sub(&now, &st->ready);
    } else {
        res->conn_time = tv_sub(&now, &st->start);
    }
    if (res->conn_time < 0)
        res->conn_time = 0;
    if (res->xfer_time < 0)
        res->xfer_time = 0;
    if (res->outcome == DELIVER_DEFER && !st->ready.tv_sec)
        res->flags |= DELIVER_RES_FLAG_HOP; /* no server got past HELO: a site failure (qmgr) */
    deliver_log(st->req, i, res);
    if (st->qmgr && deliver_status_write(st->qmgr, i, res) < 0)
        msg_warn("%s: cannot send the delivery status to the queue manager", st->req->queue_id);
    st->rcpt[i].done = true;
    st->rcpt[i].accepted = false;
    st->pending--;
}

void smtp_rcpt_done(struct smtp_state *st, size_t i, const struct smtp_why *why)
{
    if (st->rcpt[i].done)
        return;
    struct deliver_result res;
    memset(&res, 0, sizeof(res));
    res.outcome = why->dsn[0] == '5' ? DELIVER_BOUNCE : DELIVER_DEFER;
    snprintf(res.dsn, sizeof(res.dsn), "%s", why->dsn[0] ? why->dsn : "4.3.0");
    res.relay = (char *) (why->relay.len ? sbuf_str(&why->relay) : "none");
    res.reason = (char *) sbuf_str(&why->reason);
    if (why->diag.len) {
        res.diag_type = (char *) "smtp";
        res.diag_text = (char *) sbuf_str(&why->diag);
    }
    finish(st, i, &res);
}

void smtp_rcpt_sent(struct smtp_state *st, size_t i, const char *dsn, const char *relay,
                    const char *reply)
{
    if (st->rcpt[i].done)
        return;
    struct deliver_result res;
    memset(&res, 0, sizeof(res));
    res.outcome = DELIVER_SENT;
    snprintf(res.dsn, sizeof(res.dsn), "%s", dsn);
    res.relay = (char *) relay;
    res.reason = (char *) reply;
    res.diag_type = (char *) "smtp";
    res.diag_text = (char *) reply;
    finish(st, i, &res);
}

void smtp_why_pending(struct smtp_state *st, const struct smtp_why *why)
{
    for (size_t i = 0; i < st->req->nrcpt; i++)
        if (!st->rcpt[i].done)
            smtp_why_copy(&st->rcpt[i].why, why);
    smtp_why_copy(&st->last, why);
}

void smtp_finish_pending(struct smtp_state *st)
{
    for (size_t i = 0; i < st->req->nrcpt; i++) {
        if (st->rcpt[i].done)
            continue;
        struct smtp_why *w = st->rcpt[i].why.set ? &st->rcpt[i].why : &st->last;
        if (!w->set)
            smtp_why_set(w, "4.3.0", 0, "unknown mail transport error");
        smtp_rcpt_done(st, i, w);
    }
}

/* ---- one request ---- */

/* Open the queue file and read the message flags from the size record. */
static int open_message(struct smtp_state *st, struct smtp_why *why)
{
    const struct deliver_request *req = st->req;
    st->qf = qfile_open(req->queue_name, req->queue_id, false);
    if (!st->qf) {
        msg_warn("%s: open queue file %s/%s: %m", req->queue_id, req->queue_name,
                 req->queue_id);
        smtp_why_set(why, "4.3.0", 0, "queue file unavailable");
        return -1;
    }
    sbuf data = SBUF_INIT;
    int type;
    while ((type = qfile_get(st->qf, &data, 0)) > 0 && type != QREC_SIZE
           && type != QREC_CONTENT)
        ;
    struct qfile_sizes sz;
    int rc = 0;
    if (type == QREC_SIZE && qfile_parse_sizes(data.s, data.len, &sz) == 0) {
        st->qflags = sz.flags;
        st->content_offset = req->content_offset > 0 ? req->content_offset
                                                     : (off_t) sz.content_offset;
    } else {
        msg_warn("%s: queue file %s/%s: no valid size record", req->queue_id,
                 req->queue_name, req->queue_id);
        smtp_why_set(why, "4.3.0", 0, "queue file read error");
        rc = -1;
    }
    sbuf_free(&data);
    return rc;
}

static void smtp_request(vstream *client, const struct deliver_request *req)
{
    struct smtp_state st;
    memset(&st, 0, sizeof(st));
    st.req = req;
    st.qmgr = client;
    st.pending = req->nrcpt;
    st.rcpt = xcalloc(req->nrcpt ? req->nrcpt : 1, sizeof(*st.rcpt));
    gettimeofday(&st.start, 0);
    smtp_why_init(&st.last);

    struct smtp_why why;
    smtp_why_init(&why);
    if (req->nrcpt == 0) {
        /* nothing to do */
    } else if (open_message(&st, &why) < 0) {
        smtp_why_pending(&st, &why);
    } else {
        smtp_deliver(&st);
    }
    smtp_finish_pending(&st);

    smtp_why_free(&why);
    smtp_why_free(&st.last);
    for (size_t i = 0; i < req->nrcpt; i++)
        smtp_why_free(&st.rcpt[i].why);
    xfree(st.rcpt);
    if (st.qf)
        qfile_close(st.qf);
}

static void smtp_serve(vstream *client, const char *service)
{
    (void) service;
    long timeout = mail_conf_time("ipc_timeout");
    vstream_set_timeout(client, timeout > 0 && timeout < 86400 ? (int) (timeout * 1000)
                                                               : 3600000);
    for (;;) {
        struct deliver_request req;
        if (deliver_request_read(client, &req) < 0)
            break;
        smtp_cache_expire(false);
        smtp_request(client, &req);
        int rc = deliver_request_done(client, &req);
        deliver_request_free(&req);
        smtp_cache_idle();
        if (rc < 0) {
            msg_warn("cannot send the final reply to the queue manager");
            break;
        }
    }
}

/* As root: tables and keys that only root may read (the password table,
 * a client certificate's key), the Cyrus plug-ins. */
static void smtp_pre_init(void)
{
    smtp_tls_pre_init();
    smtp_sasl_pre_init();
}

static void smtp_pre_exit(void)
{
    smtp_cache_expire(true);
}

int main(int argc, char **argv)
{
    const char *base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : 0;
    base = base ? base + 1 : (argc > 0 && argv[0] ? argv[0] : "smtp");
    smtp_lmtp = strcmp(base, "lmtp") == 0;
    struct mail_server srv = {
        .program = smtp_lmtp ? "lmtp" : "smtp",
        .kind = MAIL_SERVER_STREAM,
        .pre_init = smtp_pre_init,
        .serve = smtp_serve,
        .pre_exit = smtp_pre_exit,
    };
    return mail_server_main(argc, argv, &srv);
}
