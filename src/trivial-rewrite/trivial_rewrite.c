/*
 * trivial_rewrite.c - the trivial-rewrite daemon: rewrite and resolve
 * requests over IPC, answered by the in-process library (rewrite.c,
 * resolve.c) that cleanup, qmgr and smtpd call directly.
 *
 * Requests (docs/ipc.md, "trivial-rewrite"; client in rewrite_client.h):
 *   request=rewrite rule=local|remote address  -> status=0 flags=0 address
 *   request=resolve sender address             -> status=0 flags transport nexthop recipient
 * A bad request (unknown name, missing or mistyped attribute, unknown
 * rule) gets status=-1 and a reason, and the session goes on; a malformed
 * message ends the session. Rebuilt tables are picked up by the library
 * (resolve.c checks them), so the daemon need not restart for them.
 *
 * Not here: address verification (verify(8)), relocated_maps, chroot.
 */
#include <stdint.h>
#include <string.h>

#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "mail/resolve.h"
#include "mail/rewrite.h"
#include "mail/rewrite_client.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/sbuf.h"

#define REQUEST_SIZE_LIMIT (64 * 1024)     /* one address and a few names */

static int reply_error(vstream *client, const char *reason)
{
    return attr_print(client, ATTR_SEND_INT("status", -1), ATTR_SEND_STR("reason", reason),
                      ATTR_END);
}

static int do_rewrite(vstream *client, const attr_list *req)
{
    const char *rule, *addr;
    sbuf why = SBUF_INIT, out = SBUF_INIT;
    int rc;
    if (attr_scan(req, &why, ATTR_RECV_STR("rule", &rule), ATTR_RECV_STR("address", &addr),
                  ATTR_END) < 0) {
        rc = reply_error(client, sbuf_str(&why));
    } else if (strcmp(rule, REWRITE_LOCAL) != 0 && strcmp(rule, REWRITE_REMOTE) != 0) {
        rc = reply_error(client, "unknown rewrite rule");
    } else {
        rewrite_address(rule, addr, &out);
        if (msg_verbose)
            msg_info("rewrite %s: <%s> -> <%s>", rule, addr, sbuf_str(&out));
        rc = attr_print(client, ATTR_SEND_INT("status", 0), ATTR_SEND_INT("flags", 0),
                        ATTR_SEND_STR("address", sbuf_str(&out)), ATTR_END);
    }
    sbuf_free(&why);
    sbuf_free(&out);
    return rc;
}

static int do_resolve(vstream *client, const attr_list *req)
{
    const char *sender, *addr;
    sbuf why = SBUF_INIT;
    int rc;
    if (attr_scan(req, &why, ATTR_RECV_STR("address", &addr), ATTR_END) < 0) {
        rc = reply_error(client, sbuf_str(&why));
    } else {
        if (attr_get_str(req, "sender", &sender) < 0)
            sender = "";
        struct resolve_reply r;
        resolve_init(&r);
        resolve_address(sender, addr, &r);
        if (msg_verbose)
            msg_info("resolve <%s>: flags=%#x %s:%s <%s>", addr, (unsigned) r.flags,
                     sbuf_str(&r.transport), sbuf_str(&r.nexthop), sbuf_str(&r.recipient));
        rc = attr_print(client, ATTR_SEND_INT("status", 0), ATTR_SEND_INT("flags", r.flags),
                        ATTR_SEND_STR("transport", sbuf_str(&r.transport)),
                        ATTR_SEND_STR("nexthop", sbuf_str(&r.nexthop)),
                        ATTR_SEND_STR("recipient", sbuf_str(&r.recipient)), ATTR_END);
        resolve_free(&r);
    }
    sbuf_free(&why);
    return rc;
}

static void rewrite_service(vstream *client, const char *service)
{
    long timeout = mail_conf_time("ipc_timeout");
    vstream_set_timeout(client, timeout > 0 && timeout < 86400 ? (int) (timeout * 1000) : -1);
    attr_list req = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    for (;;) {
        int rc = attr_read(client, &req, REQUEST_SIZE_LIMIT, &why);
        if (rc == ATTR_CLOSED)
            break;
        if (rc != ATTR_OK) {
            msg_warn("%s: bad request: %s", service, sbuf_str(&why));
            break;
        }
        const char *name;
        if (attr_get_str(&req, "request", &name) < 0)
            rc = reply_error(client, "request without a name");
        else if (strcmp(name, REWRITE_REQ_REWRITE) == 0)
            rc = do_rewrite(client, &req);
        else if (strcmp(name, REWRITE_REQ_RESOLVE) == 0)
            rc = do_resolve(client, &req);
        else
            rc = reply_error(client, "unknown request");
        if (rc < 0) {
            msg_warn("%s: cannot send reply", service);
            break;
        }
    }
    attr_list_free(&req);
    sbuf_free(&why);
}

/* Open the tables as root: transport_maps and friends may be root-only. */
static void preload(void)
{
    resolve_preload();
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "trivial-rewrite",
        .kind = MAIL_SERVER_STREAM,
        .pre_init = preload,
        .serve = rewrite_service,
    };
    return mail_server_main(argc, argv, &srv);
}
