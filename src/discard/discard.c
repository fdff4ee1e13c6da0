/*
 * discard.c - the discard delivery agent: pretend to deliver every recipient.
 *
 * The next-hop field of the request is the reason that is logged
 * ("discard:silently" logs "status=sent (silently)"); an optional leading
 * RFC 3463 code is used, else 2.0.0, as Postfix's discard(8) does. Every
 * recipient is reported to qmgr as sent, with relay=none.
 *
 * This program never reads or writes the queue file.
 */
#include <stdio.h>
#include <string.h>

#include "mail/deliver_request.h"
#include "mail/dsn_util.h"
#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "util/msg.h"

static void discard_serve(vstream *client, const char *service)
{
    struct deliver_request req;
    vstream_set_timeout(client, (int) mail_conf_time("ipc_timeout") * 1000);
    if (deliver_request_read(client, &req) < 0)
        return;
    char code[DSN_CODE_SIZE];
    const char *text = dsn_split(req.nexthop, "2.0.0", code, sizeof(code));
    dsn_set_class(code, '2');
    if (!*text)
        text = "discarded";
    struct deliver_result res;
    memset(&res, 0, sizeof(res));
    res.outcome = DELIVER_SENT;
    snprintf(res.dsn, sizeof(res.dsn), "%s", code);
    res.relay = "none";
    res.reason = (char *) text;
    for (size_t i = 0; i < req.nrcpt; i++) {
        deliver_log(&req, i, &res);
        if (deliver_status_write(client, i, &res) < 0)
            break;
    }
    if (deliver_request_done(client, &req) < 0)
        msg_warn("%s: cannot send the final reply to qmgr", req.queue_id);
    deliver_request_free(&req);
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "discard",
        .kind = MAIL_SERVER_STREAM,
        .serve = discard_serve,
    };
    return mail_server_main(argc, argv, &srv);
}
