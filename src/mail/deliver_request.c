/*
 * deliver_request.c - encode/decode delivery requests and statuses; the delivery log line.
 *
 * Wire form (attr codec, docs/ipc.md "delivery"):
 *   request: request=deliver, queue_name, queue_id, transport, nexthop,
 *            sender, dsn_envid, dsn_ret, flags, content_offset,
 *            content_size, arrival/active/handed (_sec, _usec), client_name,
 *            client_addr, then one nested list "rcpt" per recipient
 *            {address, orig_address, dsn_orcpt, notify, offset}
 *   status:  request=status, index, outcome, dsn, relay, reason,
 *            conn_usec, xfer_usec, diag_type, diag_text, flags
 *            (one per recipient, any order; diag_* and flags are optional:
 *            a reader treats a missing one as "" or 0)
 *   done:    request=done, status=0
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "mail/deliver_request.h"
#include "mail/mail_conf.h"
#include "util/attr.h"
#include "util/mem.h"
#include "util/msg.h"

static void add_tv(attr_list *l, const char *name, const struct timeval *tv)
{
    char n[64];
    snprintf(n, sizeof(n), "%s_sec", name);
    attr_add_long(l, n, tv->tv_sec);
    snprintf(n, sizeof(n), "%s_usec", name);
    attr_add_int(l, n, (int32_t) tv->tv_usec);
}

static void get_tv(const attr_list *l, const char *name, struct timeval *tv)
{
    char n[64];
    int64_t s = 0;
    int32_t u = 0;
    snprintf(n, sizeof(n), "%s_sec", name);
    attr_get_long(l, n, &s);
    snprintf(n, sizeof(n), "%s_usec", name);
    attr_get_int(l, n, &u);
    tv->tv_sec = (time_t) s;
    tv->tv_usec = u;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

int deliver_request_write(vstream *s, const struct deliver_request *req)
{
    attr_list l = ATTR_LIST_INIT;
    attr_add_str(&l, "request", "deliver");
    attr_add_str(&l, "queue_name", nz(req->queue_name));
    attr_add_str(&l, "queue_id", nz(req->queue_id));
    attr_add_str(&l, "transport", nz(req->transport));
    attr_add_str(&l, "nexthop", nz(req->nexthop));
    attr_add_str(&l, "sender", nz(req->sender));
    attr_add_str(&l, "dsn_envid", nz(req->dsn_envid));
    attr_add_int(&l, "dsn_ret", req->dsn_ret);
    attr_add_int(&l, "flags", req->flags);
    attr_add_long(&l, "content_offset", req->content_offset);
    attr_add_long(&l, "content_size", req->content_size);
    add_tv(&l, "arrival", &req->arrival);
    add_tv(&l, "active", &req->active);
    add_tv(&l, "handed", &req->handed);
    attr_add_str(&l, "client_name", nz(req->client_name));
    attr_add_str(&l, "client_addr", nz(req->client_addr));
    for (size_t i = 0; i < req->nrcpt; i++) {
        attr_list *r = attr_add_list(&l, "rcpt");
        attr_add_str(r, "address", nz(req->rcpt[i].address));
        attr_add_str(r, "orig_address", nz(req->rcpt[i].orig_address));
        attr_add_str(r, "dsn_orcpt", nz(req->rcpt[i].dsn_orcpt));
        attr_add_int(r, "notify", req->rcpt[i].notify);
        attr_add_long(r, "offset", req->rcpt[i].offset);
    }
    int rc = attr_write(s, &l);
    attr_list_free(&l);
    return rc;
}

static char *dup_attr(const attr_list *l, const char *name)
{
    const char *v = "";
    attr_get_str(l, name, &v);
    return xstrdup(v);
}

int deliver_request_read(vstream *s, struct deliver_request *req)
{
    attr_list l = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    memset(req, 0, sizeof(*req));
    int rc = attr_read(s, &l, 0, &why);
    if (rc != ATTR_OK) {
        if (rc == ATTR_ERROR)
            msg_warn("read delivery request: %s", sbuf_str(&why));
        sbuf_free(&why);
        attr_list_free(&l);
        return -1;
    }
    const char *request = 0;
    if (attr_get_str(&l, "request", &request) < 0 || strcmp(request, "deliver") != 0
        || attr_get_str(&l, "queue_id", &request) < 0) {
        msg_warn("read delivery request: not a delivery request");
        sbuf_free(&why);
        attr_list_free(&l);
        return -1;
    }
    req->queue_name = dup_attr(&l, "queue_name");
    req->queue_id = dup_attr(&l, "queue_id");
    req->transport = dup_attr(&l, "transport");
    req->nexthop = dup_attr(&l, "nexthop");
    req->sender = dup_attr(&l, "sender");
    req->dsn_envid = dup_attr(&l, "dsn_envid");
    req->client_name = dup_attr(&l, "client_name");
    req->client_addr = dup_attr(&l, "client_addr");
    int32_t i32 = 0;
    int64_t i64 = 0;
    if (attr_get_int(&l, "dsn_ret", &i32) == 0)
        req->dsn_ret = i32;
    if (attr_get_int(&l, "flags", &i32) == 0)
        req->flags = i32;
    if (attr_get_long(&l, "content_offset", &i64) == 0)
        req->content_offset = (off_t) i64;
    if (attr_get_long(&l, "content_size", &i64) == 0)
        req->content_size = (off_t) i64;
    get_tv(&l, "arrival", &req->arrival);
    get_tv(&l, "active", &req->active);
    get_tv(&l, "handed", &req->handed);
    size_t n = 0;
    for (long i = attr_find(&l, "rcpt", 0); i >= 0; i = attr_find(&l, "rcpt", (size_t) i + 1))
        n++;
    req->rcpt = xcalloc(n ? n : 1, sizeof(*req->rcpt));
    for (long i = attr_find(&l, "rcpt", 0); i >= 0; i = attr_find(&l, "rcpt", (size_t) i + 1)) {
        if (l.a[i].type != ATTR_LIST)
            continue;
        const attr_list *r = l.a[i].v.list;
        struct deliver_rcpt *rc2 = &req->rcpt[req->nrcpt++];
        rc2->address = dup_attr(r, "address");
        rc2->orig_address = dup_attr(r, "orig_address");
        rc2->dsn_orcpt = dup_attr(r, "dsn_orcpt");
        if (attr_get_int(r, "notify", &i32) == 0)
            rc2->notify = i32;
        if (attr_get_long(r, "offset", &i64) == 0)
            rc2->offset = (off_t) i64;
    }
    sbuf_free(&why);
    attr_list_free(&l);
    return 0;
}

void deliver_request_free(struct deliver_request *req)
{
    xfree(req->queue_name);
    xfree(req->queue_id);
    xfree(req->transport);
    xfree(req->nexthop);
    xfree(req->sender);
    xfree(req->dsn_envid);
    xfree(req->client_name);
    xfree(req->client_addr);
    for (size_t i = 0; i < req->nrcpt; i++) {
        xfree(req->rcpt[i].address);
        xfree(req->rcpt[i].orig_address);
        xfree(req->rcpt[i].dsn_orcpt);
    }
    xfree(req->rcpt);
    memset(req, 0, sizeof(*req));
}

int deliver_status_write(vstream *s, size_t index, const struct deliver_result *res)
{
    struct deliver_result r = *res;
    deliver_result_soften(&r);
    return attr_print(s, ATTR_SEND_STR("request", "status"), ATTR_SEND_INT("index", index),
                      ATTR_SEND_INT("outcome", r.outcome), ATTR_SEND_STR("dsn", r.dsn),
                      ATTR_SEND_STR("relay", nz(r.relay)),
                      ATTR_SEND_STR("reason", nz(r.reason)),
                      ATTR_SEND_LONG("conn_usec", (int64_t) (r.conn_time * 1e6)),
                      ATTR_SEND_LONG("xfer_usec", (int64_t) (r.xfer_time * 1e6)),
                      ATTR_SEND_STR("diag_type", nz(r.diag_type)),
                      ATTR_SEND_STR("diag_text", nz(r.diag_text)),
                      ATTR_SEND_INT("flags", r.flags & DELIVER_RES_FLAG_HOP), ATTR_END);
}

int deliver_request_done(vstream *s, const struct deliver_request *req)
{
    (void) req;
    return attr_print(s, ATTR_SEND_STR("request", "done"), ATTR_SEND_INT("status", 0), ATTR_END);
}

int deliver_status_read(vstream *s, size_t nrcpt, size_t *index, struct deliver_result *res,
                        attr_list *buf)
{
    sbuf why = SBUF_INIT;
    int result = DELIVER_READ_ERROR;
    for (;;) {
        int rc = attr_read(s, buf, 0, &why);
        if (rc != ATTR_OK) {
            if (rc == ATTR_ERROR)
                msg_warn("read delivery status: %s", sbuf_str(&why));
            break;
        }
        const char *request = "";
        attr_get_str(buf, "request", &request);
        if (strcmp(request, "done") == 0) {
            result = DELIVER_READ_DONE;
            break;
        }
        if (strcmp(request, "status") != 0)
            continue;
        int32_t idx = -1, outcome = DELIVER_DEFER, flags = 0;
        int64_t cu = 0, xu = 0;
        const char *dsn = "4.3.0", *relay = "none", *reason = "", *dtype = "", *dtext = "";
        attr_get_int(buf, "index", &idx);
        attr_get_int(buf, "outcome", &outcome);
        attr_get_str(buf, "dsn", &dsn);
        attr_get_str(buf, "relay", &relay);
        attr_get_str(buf, "reason", &reason);
        attr_get_long(buf, "conn_usec", &cu);
        attr_get_long(buf, "xfer_usec", &xu);
        attr_get_str(buf, "diag_type", &dtype);
        attr_get_str(buf, "diag_text", &dtext);
        attr_get_int(buf, "flags", &flags);
        if (idx < 0 || (size_t) idx >= nrcpt) {
            msg_warn("delivery status for recipient %d of %zu: ignored", idx, nrcpt);
            continue;
        }
        if (outcome != DELIVER_SENT && outcome != DELIVER_DEFER && outcome != DELIVER_BOUNCE)
            outcome = DELIVER_DEFER;
        memset(res, 0, sizeof(*res));
        res->outcome = (enum deliver_outcome) outcome;
        snprintf(res->dsn, sizeof(res->dsn), "%s", dsn);
        res->relay = (char *) relay;
        res->reason = (char *) reason;
        res->conn_time = (double) cu / 1e6;
        res->xfer_time = (double) xu / 1e6;
        res->diag_type = (char *) dtype;
        res->diag_text = (char *) dtext;
        /* Only a deferral can be a site failure; unknown bits are dropped. */
        if (res->outcome == DELIVER_DEFER)
            res->flags = flags & DELIVER_RES_FLAG_HOP;
        *index = (size_t) idx;
        result = DELIVER_READ_STATUS;
        break;
    }
    sbuf_free(&why);
    return result;
}

int deliver_status_read_all(vstream *s, size_t nrcpt, deliver_status_fn fn, void *ctx)
{
    attr_list l = ATTR_LIST_INIT;
    int result = -1;
    for (;;) {
        size_t index;
        struct deliver_result res;
        int rc = deliver_status_read(s, nrcpt, &index, &res, &l);
        if (rc == DELIVER_READ_STATUS) {
            fn(index, &res, ctx);
            continue;
        }
        if (rc == DELIVER_READ_DONE)
            result = 0;
        break;
    }
    attr_list_free(&l);
    return result;
}

void deliver_result_soften(struct deliver_result *res)
{
    if (res->outcome != DELIVER_BOUNCE || !mail_conf_bool("soft_bounce"))
        return;
    res->outcome = DELIVER_DEFER;
    if (res->dsn[0] == '5')
        res->dsn[0] = '4';
}

const char *deliver_outcome_word(enum deliver_outcome o)
{
    switch (o) {
    case DELIVER_SENT: return "sent";
    case DELIVER_DEFER: return "deferred";
    case DELIVER_BOUNCE: return "bounced";
    }
    return "deferred";
}

/* Postfix-style delay: two significant digits, at most two decimals. */
static void fmt_delay(char *buf, size_t size, double v)
{
    if (v < 0)
        v = 0;
    if (v >= 10)
        snprintf(buf, size, "%.0f", v);
    else if (v >= 1)
        snprintf(buf, size, "%.1f", v);
    else
        snprintf(buf, size, "%.2f", v);
    if (strchr(buf, '.')) {
        size_t n = strlen(buf);
        while (n > 0 && buf[n - 1] == '0')
            buf[--n] = 0;
        if (n > 0 && buf[n - 1] == '.')
            buf[--n] = 0;
    }
}

static double tv_diff(const struct timeval *a, const struct timeval *b)
{
    if (!a->tv_sec || !b->tv_sec)
        return 0;
    return (double) (a->tv_sec - b->tv_sec) + (double) (a->tv_usec - b->tv_usec) / 1e6;
}

void deliver_log(const struct deliver_request *req, size_t index,
                 const struct deliver_result *result)
{
    struct deliver_result soft = *result;
    deliver_result_soften(&soft);
    const struct deliver_result *res = &soft;
    struct timeval now;
    gettimeofday(&now, 0);
    const struct deliver_rcpt *r = &req->rcpt[index];
    char delay[32], a[32], b[32], c[32], d[32];
    double total = tv_diff(&now, &req->arrival);
    double da = tv_diff(&req->active, &req->arrival);
    double db = tv_diff(&req->handed, &req->active);
    fmt_delay(delay, sizeof(delay), total);
    fmt_delay(a, sizeof(a), da);
    fmt_delay(b, sizeof(b), db);
    fmt_delay(c, sizeof(c), res->conn_time);
    double rest = total - da - db - res->conn_time;
    fmt_delay(d, sizeof(d), res->xfer_time > 0 ? res->xfer_time : rest);
    sbuf orig = SBUF_INIT;
    if (r->orig_address && *r->orig_address && strcmp(r->orig_address, r->address) != 0)
        sbuf_printf(&orig, ", orig_to=<%s>", r->orig_address);
    msg_info("%s: to=<%s>%s, relay=%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
             req->queue_id, r->address, sbuf_str(&orig), nz(res->relay), delay, a, b, c, d,
             res->dsn, deliver_outcome_word(res->outcome), nz(res->reason));
    sbuf_free(&orig);
}
