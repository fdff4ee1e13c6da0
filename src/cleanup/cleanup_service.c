/*
 * cleanup_service.c - the cleanup protocol loop: requests, replies, qmgr wake-up.
 *
 * A client connected to public/cleanup sends attribute-list requests
 * (docs/ipc.md, "cleanup"): open -> reply {status, queue_id, reason};
 * then sender, attr, rcpt and data without replies; then finish ->
 * reply {status, reason}. One connection may carry several messages in
 * turn. A connection that closes (or breaks the protocol) before finish
 * loses its message: the incomplete queue file is removed.
 *
 * The order that makes "250 Ok: queued" true: cleanup_commit_message()
 * returns only after the file is complete and synced; then the reply
 * goes out; then qmgr is woken with "A" on public/qmgr (a failed wake-up
 * is harmless: qmgr scans incoming/ on its timer).
 *
 * NOT HERE: what happens to the content (the other cleanup_*.c files).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup/cleanup.h"
#include "cleanup/cleanup_checks.h"
#include "cleanup/cleanup_map.h"
#include "cleanup/cleanup_milter.h"
#include "mail/mail_conf.h"
#include "mail/mail_trigger.h"
#include "mail/milter_send.h"
#include "util/attr.h"
#include "util/msg.h"

/* A data request is at most CLEANUP_DATA_MAX content bytes plus framing. */
#define REQUEST_SIZE_LIMIT (CLEANUP_DATA_MAX + 16 * 1024)

static int reply(vstream *client, int status, const char *queue_id, const char *reason)
{
    if (queue_id)
        return attr_print(client, ATTR_SEND_INT("status", status),
                          ATTR_SEND_STR("queue_id", queue_id),
                          ATTR_SEND_STR("reason", reason ? reason : ""), ATTR_END);
    return attr_print(client, ATTR_SEND_INT("status", status),
                      ATTR_SEND_STR("reason", reason ? reason : ""), ATTR_END);
}

static void wake_qmgr(const char *queue_id)
{
    if (mail_trigger("public", mail_conf_str("queue_service_name"), "A", 1) < 0 && msg_verbose)
        msg_info("%s: qmgr wake-up failed: %m (qmgr will find the file on its own)",
                 queue_id);
}

/* One request of an open message. Returns false when the session must end. */
static bool message_request(vstream *client, struct cleanup_state **stp, const char *name,
                            const attr_list *req)
{
    struct cleanup_state *st = *stp;
    const char *a = 0, *b = 0, *c = 0;
    int32_t notify = 0;
    size_t len = 0;

    if (strcmp(name, CLEANUP_REQ_DATA) == 0) {
        if (attr_get_data(req, "data", &a, &len) < 0 || len > CLEANUP_DATA_MAX)
            cleanup_error(st, CLEANUP_STAT_BAD, 0);
        else
            cleanup_content_data(st, a, len);
    } else if (strcmp(name, CLEANUP_REQ_RCPT) == 0) {
        if (attr_get_str(req, "address", &a) < 0) {
            cleanup_error(st, CLEANUP_STAT_BAD, 0);
        } else {
            if (attr_get_str(req, "orig", &b) < 0)
                b = 0;
            if (attr_get_int(req, "notify", &notify) < 0)
                notify = 0;
            if (attr_get_str(req, "dsn_orcpt", &c) < 0)
                c = 0;
            cleanup_env_rcpt(st, a, b, notify, c);
        }
    } else if (strcmp(name, CLEANUP_REQ_SENDER) == 0) {
        if (attr_get_str(req, "address", &a) < 0)
            cleanup_error(st, CLEANUP_STAT_BAD, 0);
        else
            cleanup_env_sender(st, a);
    } else if (strcmp(name, CLEANUP_REQ_ATTR) == 0) {
        if (attr_get_str(req, "name", &a) < 0 || attr_get_str(req, "value", &b) < 0)
            cleanup_error(st, CLEANUP_STAT_BAD, 0);
        else
            cleanup_env_attr(st, a, b);
    } else if (strcmp(name, CLEANUP_REQ_FINISH) == 0) {
        int status = cleanup_commit_message(st);
        const char *reason = status == CLEANUP_STAT_OK ? "" : status == CLEANUP_STAT_DISCARD
                                 ? cleanup_stat_text(status) : sbuf_str(&st->reason);
        /* The file is safe (or gone) before the client hears about it. */
        int sent = reply(client, status, 0, reason);
        if (status == CLEANUP_STAT_OK && !st->hold)
            wake_qmgr(st->queue_id);
        cleanup_state_free(st);
        *stp = 0;
        return sent == 0;
    } else if (strcmp(name, MILTER_REQ_MILTERS) == 0) {
        /* smtpd's mail filters for the content (cleanup_milter.h). */
        return cleanup_milter_receive(st, client, req);
    } else if (strcmp(name, CLEANUP_REQ_ABORT) == 0) {
        if (msg_verbose)
            msg_info("%s: aborted by the client", st->queue_id);
        cleanup_state_free(st);
        *stp = 0;
    } else {
        msg_warn("%s: unknown request \"%.64s\"", st->queue_id, name);
        cleanup_error(st, CLEANUP_STAT_BAD, 0);
    }
    return true;
}

void cleanup_service(vstream *client, const char *service)
{
    (void) service;
    long timeout = mail_conf_time("ipc_timeout");
    vstream_set_timeout(client, timeout > 0 && timeout < 86400 ? (int) (timeout * 1000) : -1);
    struct cleanup_state *st = 0;
    attr_list req = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;

    for (;;) {
        int rc = attr_read(client, &req, REQUEST_SIZE_LIMIT, &why);
        if (rc == ATTR_CLOSED) {
            if (st && msg_verbose)
                msg_info("%s: client went away before finish", st->queue_id);
            break;
        }
        if (rc != ATTR_OK) {
            msg_warn("%s: bad request: %s", st ? st->queue_id : "cleanup", sbuf_str(&why));
            break;
        }
        const char *name;
        if (attr_get_str(&req, "request", &name) < 0) {
            msg_warn("%s: request without a name", st ? st->queue_id : "cleanup");
            break;
        }
        if (strcmp(name, CLEANUP_REQ_OPEN) == 0) {
            if (st) {
                msg_warn("%s: open request inside a message", st->queue_id);
                break;
            }
            int32_t flags = 0;
            if (attr_get_int(&req, "flags", &flags) < 0)
                flags = 0;
            st = cleanup_state_open(flags);
            int status = st->errs;
            if (reply(client, status, st->queue_id, status ? sbuf_str(&st->reason) : "") < 0
                || status) {
                cleanup_state_free(st);
                st = 0;
                if (status)
                    continue;
                break;
            }
            continue;
        }
        if (!st) {
            msg_warn("cleanup: request \"%.64s\" without open", name);
            break;
        }
        if (!message_request(client, &st, name, &req))
            break;
    }
    cleanup_state_free(st);         /* unfinished: the file is removed */
    attr_list_free(&req);
    sbuf_free(&why);
    if (cleanup_map_changed() || cleanup_checks_changed()) {
        msg_info("lookup table has changed -- restarting");
        exit(0);
    }
}

