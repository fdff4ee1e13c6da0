/*
 * local_pass.c - hand one recipient to another delivery transport.
 *
 * mailbox_transport(_maps) and fallback_transport(_maps) name a master.cf
 * service, optionally with a next hop ("lmtp:unix:/var/imap/socket",
 * "smtp:[relay]:25", "cyrus"). Like qmgr, this connects to
 * $queue_directory/private/<transport>, sends a delivery request for the
 * same queue file with this one recipient, and reads its status. That
 * agent logs the delivery itself; its outcome becomes this recipient's
 * outcome. An agent that cannot be reached defers ("mail transport
 * unavailable").
 *
 * NOT HERE: choosing the transport (local_mailbox.c, local_recipient.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "local/local.h"
#include "mail/mail_conf.h"
#include "util/msg.h"
#include "util/sock.h"
#include "util/vstream.h"

struct pass_result {
    bool    got;
    enum deliver_outcome outcome;
    char    dsn[16];
    sbuf    reason;
};

static void on_status(size_t index, const struct deliver_result *res, void *ctx)
{
    struct pass_result *p = ctx;
    (void) index;
    p->got = true;
    p->outcome = res->outcome;
    snprintf(p->dsn, sizeof(p->dsn), "%s", res->dsn);
    sbuf_set(&p->reason, res->reason ? res->reason : "");
}

int local_deliver_pass(const struct msg_attr *a, const char *spec)
{
    const struct deliver_request *req = a->st->req;
    sbuf transport = SBUF_INIT, path = SBUF_INIT;
    const char *colon = strchr(spec, ':');
    const char *nexthop = colon && colon[1] ? colon + 1 : req->nexthop;
    sbuf_add(&transport, spec, colon ? (size_t) (colon - spec) : strlen(spec));
    if (transport.len == 0 || strchr(sbuf_str(&transport), '/')) {
        msg_warn("bad transport name in \"%s\"", spec);
        sbuf_free(&transport);
        return local_defer(a, "4.3.5", "mail system configuration error");
    }
    if (local_verify_only(a)) {
        sbuf_free(&transport);
        return local_sent(a, "delivers via transport %s", spec);
    }
    sbuf_printf(&path, "%s/private/%s", mail_conf_str("queue_directory"), sbuf_str(&transport));

    long timeout = mail_conf_time("ipc_timeout");
    int timeout_ms = timeout > 0 && timeout < 86400 ? (int) (timeout * 1000) : 3600000;
    struct pass_result pr = {false, DELIVER_DEFER, "4.3.0", SBUF_INIT};
    int fd = sock_connect_unix(sbuf_str(&path), timeout_ms);
    if (fd < 0) {
        msg_warn("connect to transport %s: %s", sbuf_str(&transport), strerror(errno));
    } else {
        vstream *s = vstream_open(fd);
        vstream_set_timeout(s, timeout_ms);
        struct deliver_request one = *req;
        struct deliver_rcpt rcpt = req->rcpt[a->st->index];
        rcpt.address = (char *) a->address;
        rcpt.orig_address = (char *) (a->orig && *a->orig ? a->orig : a->address);
        rcpt.dsn_orcpt = (char *) (a->dsn_orcpt ? a->dsn_orcpt : "");
        rcpt.notify = a->notify;
        one.transport = transport.s;
        one.nexthop = (char *) (nexthop ? nexthop : "");
        one.sender = (char *) a->sender;
        one.rcpt = &rcpt;
        one.nrcpt = 1;
        if (deliver_request_write(s, &one) == 0)
            (void) deliver_status_read_all(s, 1, on_status, &pr);
        vstream_close(s);
    }
    int status;
    if (pr.got)
        status = local_status_quiet(a->st, pr.outcome, pr.dsn, sbuf_str(&pr.reason));
    else
        status = local_defer(a, "4.3.0", "mail transport unavailable");
    sbuf_free(&pr.reason);
    sbuf_free(&transport);
    sbuf_free(&path);
    return status;
}
