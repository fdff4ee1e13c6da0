/*
 * error.c - the error and retry delivery agents: fail every recipient of a request.
 *
 * master.cf runs this program as service "error" (every recipient
 * bounces) and as service "retry" (every recipient is deferred). The
 * next-hop field of the request is the reason, as transport_maps wrote
 * it ("error:5.7.1 mail for this domain is not accepted"); an optional
 * leading RFC 3463 code is used, else 5.0.0 (4.0.0 for retry). The class
 * digit always follows the service. Each recipient gets the usual
 * "to=<...>, relay=none, ... status=bounced (text)" log line and a
 * status for qmgr; soft_bounce is applied by deliver_request.c.
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

static void error_serve(vstream *client, const char *service)
{
    struct deliver_request req;
    vstream_set_timeout(client, (int) mail_conf_time("ipc_timeout") * 1000);
    if (deliver_request_read(client, &req) < 0)
        return;
    bool retry = strcmp(service, "retry") == 0;
    char code[DSN_CODE_SIZE];
    const char *text = dsn_split(req.nexthop, retry ? "4.0.0" : "5.0.0", code, sizeof(code));
    dsn_set_class(code, retry ? '4' : '5');
    if (!*text)
        text = retry ? "delivery temporarily suspended" : "mail for this address is not accepted";
    struct deliver_result res;
    memset(&res, 0, sizeof(res));
    res.outcome = retry ? DELIVER_DEFER : DELIVER_BOUNCE;
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
        .program = "error",
        .kind = MAIL_SERVER_STREAM,
        .serve = error_serve,
    };
    return mail_server_main(argc, argv, &srv);
}
