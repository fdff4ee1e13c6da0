/*
 * cleanup_client.c - the client side of the cleanup protocol (see cleanup_client.h).
 *
 * One connection to public/cleanup per message. open is a round trip
 * (the queue file exists when it returns, so the caller can log the
 * queue ID); sender, attr, rcpt and data requests are encoded into the
 * stream's output buffer and leave without waiting for anything; finish
 * flushes and waits for the verdict. The server answers nothing in
 * between, so neither side can block the other with unread replies.
 * Once the stream fails, later calls do nothing and finish reports
 * CLEANUP_STAT_WRITE -- unless the queue file shows that cleanup died
 * after the message was complete (cleanup_orphan.h): then it is queued.
 *
 * NOT HERE: no retries, no SMTP reply formatting beyond the code map.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mail/cleanup_client.h"
#include "mail/cleanup_orphan.h"
#include "mail/mail_conf.h"
#include "util/attr.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sock.h"

struct cleanup_client {
    vstream *s;
    bool    failed;
    char    queue_id[64];       /* for cleanup_orphan_settle() */
    attr_list req;              /* reused for every request */
};

/* The encoded request, kept from message to message: a data request is
 * 64 KiB, and a buffer made anew for every message costs fresh pages
 * each time. Only send_buffered() uses it, from encoding to writing. */
static sbuf enc;
#define ENC_KEEP_MAX (2 * CLEANUP_DATA_MAX + 4096)

static const struct {
    int     bit;
    int     code;
    const char *text;
} stat_map[] = {
    /* Most important first: a temporary problem wins, so the client retries. */
    {CLEANUP_STAT_DEFER, 451, "4.7.1 Error: service unavailable, try again later"},
    {CLEANUP_STAT_BAD, 451, "4.3.0 Error: internal protocol error"},
    {CLEANUP_STAT_NOSPACE, 452, "4.3.1 Insufficient system storage"},
    {CLEANUP_STAT_WRITE, 451, "4.3.0 Error: queue file write error"},
    {CLEANUP_STAT_RCPT, 554, "5.5.1 Error: no recipients specified"},
    {CLEANUP_STAT_HOPS, 554, "5.4.0 Error: too many hops"},
    {CLEANUP_STAT_SIZE, 552, "5.3.4 Error: message file too big"},
    {CLEANUP_STAT_CONT, 550, "5.7.1 Error: message content rejected"},
    {CLEANUP_STAT_DISCARD, 250, "2.0.0 Ok: discarded"},
};

const char *cleanup_stat_text(int status)
{
    for (size_t i = 0; i < sizeof(stat_map) / sizeof(stat_map[0]); i++)
        if (status & stat_map[i].bit)
            return stat_map[i].text;
    return status ? "4.3.0 Error: internal protocol error" : "2.0.0 Ok";
}

int cleanup_stat_smtp_code(int status)
{
    for (size_t i = 0; i < sizeof(stat_map) / sizeof(stat_map[0]); i++)
        if (status & stat_map[i].bit)
            return stat_map[i].code;
    return status ? 451 : 250;
}

static void client_free(cleanup_client *cc)
{
    if (cc->s)
        vstream_close(cc->s);
    attr_list_free(&cc->req);
    xfree(cc);
}

/* Encode cc->req into the output buffer; no flush, no reply. */
static void send_buffered(cleanup_client *cc)
{
    if (cc->failed)
        return;
    sbuf_reset(&enc);
    attr_encode(&enc, &cc->req);
    if (vstream_write(cc->s, enc.s, enc.len) < 0) {
        cc->failed = true;
        msg_warn("cleanup: write request: %s", strerror(vstream_errno(cc->s)));
    }
    if (enc.cap > ENC_KEEP_MAX)
        sbuf_free(&enc);
}

static void start_request(cleanup_client *cc, const char *name)
{
    attr_list_reset(&cc->req);
    attr_add_str(&cc->req, "request", name);
}

cleanup_client *cleanup_open_stream(vstream *s, int flags, char *queue_id, size_t id_size,
                                    sbuf *err)
{
    cleanup_client *cc = xcalloc(1, sizeof(*cc));
    cc->s = s;
    attr_list reply = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    int32_t status = 0;
    const char *id = 0, *reason = 0;

    if (attr_print(s, ATTR_SEND_STR("request", CLEANUP_REQ_OPEN),
                   ATTR_SEND_INT("flags", flags), ATTR_END) < 0) {
        msg_warn("cleanup: send open request: %s", strerror(vstream_errno(s)));
        goto fail;
    }
    if (attr_read(s, &reply, 0, &why) != ATTR_OK
        || attr_scan(&reply, &why, ATTR_RECV_INT("status", &status), ATTR_END) < 0) {
        msg_warn("cleanup: open reply: %s", why.len ? sbuf_str(&why) : "connection closed");
        goto fail;
    }
    if (attr_get_str(&reply, "reason", &reason) < 0)
        reason = 0;
    if (status != CLEANUP_STAT_OK) {
        sbuf_set(err, reason && *reason ? reason : cleanup_stat_text(status));
        goto out_fail;
    }
    if (attr_get_str(&reply, "queue_id", &id) < 0 || !*id || strlen(id) >= id_size) {
        msg_warn("cleanup: open reply without a usable queue_id");
        goto fail;
    }
    snprintf(queue_id, id_size, "%s", id);
    snprintf(cc->queue_id, sizeof(cc->queue_id), "%s", id);
    attr_list_free(&reply);
    sbuf_free(&why);
    return cc;

fail:
    sbuf_set(err, cleanup_stat_text(CLEANUP_STAT_WRITE));
out_fail:
    attr_list_free(&reply);
    sbuf_free(&why);
    client_free(cc);
    return 0;
}

cleanup_client *cleanup_open(int flags, char *queue_id, size_t id_size, sbuf *err)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/public/%s", mail_conf_str("queue_directory"),
                     mail_conf_str("cleanup_service_name"));
    long timeout = mail_conf_time("ipc_timeout");
    int timeout_ms = timeout > 0 && timeout < 86400 ? (int) (timeout * 1000) : 3600000;
    int fd = n < 0 || (size_t) n >= sizeof(path) ? -1 : sock_connect_unix(path, timeout_ms);
    if (fd < 0) {
        msg_warn("connect to %s: %s", path, strerror(errno));
        sbuf_set(err, cleanup_stat_text(CLEANUP_STAT_WRITE));
        return 0;
    }
    vstream *s = vstream_open(fd);
    vstream_set_timeout(s, timeout_ms);
    return cleanup_open_stream(s, flags, queue_id, id_size, err);
}

void cleanup_sender(cleanup_client *cc, const char *sender)
{
    start_request(cc, CLEANUP_REQ_SENDER);
    attr_add_str(&cc->req, "address", sender);
    send_buffered(cc);
}

void cleanup_attr(cleanup_client *cc, const char *name, const char *value)
{
    start_request(cc, CLEANUP_REQ_ATTR);
    attr_add_str(&cc->req, "name", name);
    attr_add_str(&cc->req, "value", value);
    send_buffered(cc);
}

void cleanup_rcpt(cleanup_client *cc, const char *rcpt, const char *orig, int notify,
                  const char *dsn_orcpt)
{
    start_request(cc, CLEANUP_REQ_RCPT);
    attr_add_str(&cc->req, "address", rcpt);
    if (orig)
        attr_add_str(&cc->req, "orig", orig);
    if (notify)
        attr_add_int(&cc->req, "notify", notify);
    if (dsn_orcpt)
        attr_add_str(&cc->req, "dsn_orcpt", dsn_orcpt);
    send_buffered(cc);
}

int cleanup_data(cleanup_client *cc, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0 && !cc->failed) {
        size_t n = len > CLEANUP_DATA_MAX ? CLEANUP_DATA_MAX : len;
        start_request(cc, CLEANUP_REQ_DATA);
        attr_add_data(&cc->req, "data", p, n);
        send_buffered(cc);
        p += n;
        len -= n;
    }
    return cc->failed ? -1 : 0;
}

int cleanup_finish(cleanup_client *cc, sbuf *reason)
{
    attr_list reply = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    int32_t status = CLEANUP_STAT_WRITE;
    const char *text = 0;

    start_request(cc, CLEANUP_REQ_FINISH);
    send_buffered(cc);
    if (!cc->failed && vstream_flush(cc->s) < 0) {
        msg_warn("cleanup: send finish: %s", strerror(vstream_errno(cc->s)));
        cc->failed = true;
    }
    bool answered = false;
    if (!cc->failed) {
        if (attr_read(cc->s, &reply, 0, &why) != ATTR_OK
            || attr_scan(&reply, &why, ATTR_RECV_INT("status", &status), ATTR_END) < 0) {
            msg_warn("cleanup: finish reply: %s",
                     why.len ? sbuf_str(&why) : "connection closed");
            status = CLEANUP_STAT_WRITE;
        } else {
            answered = true;
            if (attr_get_str(&reply, "reason", &text) < 0)
                text = 0;
        }
    }
    /* No verdict: the queue file says whether the message is queued. */
    if (!answered && cleanup_orphan_settle(cc->queue_id))
        status = CLEANUP_STAT_OK;
    sbuf_set(reason, text && *text ? text : status ? cleanup_stat_text(status) : "");
    attr_list_free(&reply);
    sbuf_free(&why);
    client_free(cc);
    return status;
}

void cleanup_abort(cleanup_client *cc)
{
    if (!cc)
        return;
    /* Best effort: closing the connection alone also drops the message. */
    start_request(cc, CLEANUP_REQ_ABORT);
    send_buffered(cc);
    bool broken = cc->failed;
    char id[sizeof(cc->queue_id)];
    memcpy(id, cc->queue_id, sizeof(id));
    client_free(cc);
    /* cleanup is gone: nobody else would remove its unfinished file. */
    if (broken)
        (void) cleanup_orphan_settle(id);
}

vstream *cleanup_client_stream(cleanup_client *cc)
{
    return cc->failed ? 0 : cc->s;
}
