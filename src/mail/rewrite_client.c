/*
 * rewrite_client.c - client side of the trivial-rewrite requests (see
 * rewrite_client.h). Builds one request, reads one reply; no retries, no
 * connection management.
 */
#include <stdint.h>

#include "mail/rewrite_client.h"
#include "util/attr.h"

static int read_reply(vstream *s, attr_list *reply, sbuf *why)
{
    int32_t status;
    const char *reason;
    int rc = attr_read(s, reply, 0, why);
    if (rc == ATTR_CLOSED) {
        if (why)
            sbuf_set(why, "trivial-rewrite closed the connection");
        return -1;
    }
    if (rc != ATTR_OK)
        return -1;
    if (attr_get_int(reply, "status", &status) < 0) {
        if (why)
            sbuf_set(why, "reply without status");
        return -1;
    }
    if (status != 0) {
        if (why)
            sbuf_set(why, attr_get_str(reply, "reason", &reason) == 0 ? reason : "failed");
        return -1;
    }
    return 0;
}

int rewrite_client_rewrite(vstream *s, const char *rule, const char *addr, sbuf *out,
                           sbuf *why)
{
    attr_list reply = ATTR_LIST_INIT;
    const char *a;
    int32_t flags;
    int rc = -1;
    if (attr_print(s, ATTR_SEND_STR("request", REWRITE_REQ_REWRITE),
                   ATTR_SEND_STR("rule", rule), ATTR_SEND_STR("address", addr), ATTR_END) < 0) {
        if (why)
            sbuf_set(why, "cannot send request");
    } else if (read_reply(s, &reply, why) == 0
               && attr_scan(&reply, why, ATTR_RECV_INT("flags", &flags),
                            ATTR_RECV_STR("address", &a), ATTR_END) == 0) {
        sbuf_set(out, a);
        rc = 0;
    }
    attr_list_free(&reply);
    return rc;
}

int rewrite_client_resolve(vstream *s, const char *sender, const char *addr,
                           struct resolve_reply *r, sbuf *why)
{
    attr_list reply = ATTR_LIST_INIT;
    const char *t, *n, *rcpt;
    int32_t flags;
    int rc = -1;
    if (attr_print(s, ATTR_SEND_STR("request", REWRITE_REQ_RESOLVE),
                   ATTR_SEND_STR("sender", sender ? sender : ""),
                   ATTR_SEND_STR("address", addr), ATTR_END) < 0) {
        if (why)
            sbuf_set(why, "cannot send request");
    } else if (read_reply(s, &reply, why) == 0
               && attr_scan(&reply, why, ATTR_RECV_INT("flags", &flags),
                            ATTR_RECV_STR("transport", &t), ATTR_RECV_STR("nexthop", &n),
                            ATTR_RECV_STR("recipient", &rcpt), ATTR_END) == 0) {
        sbuf_set(&r->transport, t);
        sbuf_set(&r->nexthop, n);
        sbuf_set(&r->recipient, rcpt);
        r->flags = flags;
        rc = 0;
    }
    attr_list_free(&reply);
    return rc;
}
