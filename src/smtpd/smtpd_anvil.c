/*
 * smtpd_anvil.c - connection and rate limits per client, kept by the
 * anvil service (anvil_client.h).
 *
 *   smtpd_client_connection_count_limit   simultaneous connections
 *   smtpd_client_connection_rate_limit    connections per anvil_rate_time_unit
 *   smtpd_client_message_rate_limit       MAIL commands per time unit
 *   smtpd_client_recipient_rate_limit     RCPT commands per time unit
 *   smtpd_client_auth_rate_limit          AUTH commands per time unit
 *   smtpd_client_new_tls_session_rate_limit  new TLS sessions per time unit
 * When any limit is set, each session registers with anvil (ident
 * "service:address") unless the client matches
 * smtpd_client_event_limit_exceptions (default $mynetworks), and
 * unregisters at the end. Over a limit, as Postfix:
 *   connect  "warning: Connection concurrency limit exceeded: 51 from
 *            name[addr] for service smtp", "421 4.7.0 host Error: too many
 *            connections from addr" (rate: "Connection rate limit
 *            exceeded"), and the session ends
 *   MAIL     "Message delivery request rate limit exceeded", "450 4.7.1
 *            Error: too much mail from addr"
 *   RCPT     "Recipient address rate limit exceeded", "452 4.7.1 Error:
 *            too many recipients from addr"
 *   AUTH     "AUTH command rate limit exceeded", "450 4.7.1 Error: too many
 *            AUTH commands from addr"
 *   STARTTLS "New TLS session rate limit exceeded": before the handshake
 *            (the limit already reached) "454 4.7.0 Error: too many new TLS
 *            sessions from name[addr]"; after a handshake that made a new
 *            session (not resumed) over the limit, "421 4.7.0 host Error: too
 *            many new TLS sessions from name[addr]" and the session ends
 *            (smtps: the connection is closed)
 * Events are counted whether or not the command then succeeds. When anvil
 * cannot be reached the limits are skipped (with a warning). A stand-alone
 * smtpd (-S, no master) does not use anvil, like Postfix's "sendmail -bs".
 *
 * The session state lives here: smtpd serves one session at a time.
 *
 * Does not: count anything itself (src/anvil/ does).
 */
#include <stdio.h>
#include <string.h>

#include "mail/anvil_client.h"
#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "mail/match_list.h"
#include "util/msg.h"

#include "smtpd/smtpd.h"

static match_list *exceptions;
static struct {
    bool    active;                 /* registered with anvil */
    sbuf    ident;
} sess;

void smtpd_anvil_init(void)
{
    if (!exceptions)
        exceptions = match_list_open("smtpd_client_event_limit_exceptions",
                                     mail_conf_str("smtpd_client_event_limit_exceptions"));
}

static bool any_limit(void)
{
    static const char *const limits[] = {
        "smtpd_client_connection_count_limit", "smtpd_client_connection_rate_limit",
        "smtpd_client_message_rate_limit", "smtpd_client_recipient_rate_limit",
        "smtpd_client_auth_rate_limit", "smtpd_client_new_tls_session_rate_limit", 0};
    for (int i = 0; limits[i]; i++)
        if (mail_conf_int(limits[i]) > 0)
            return true;
    return false;
}

int smtpd_anvil_connect(SMTPD_STATE *st)
{
    int count = 0, rate = 0;

    sess.active = false;
    if (mail_server_standalone() || !any_limit())
        return 0;
    smtpd_anvil_init();
    if (match_host(exceptions, st->name, st->addr) != 0)
        return 0;                   /* exempt (or the list failed: do not punish) */
    anvil_ident(&sess.ident, st->service ? st->service : mail_server_service(), st->addr);
    if (anvil_connect(sbuf_str(&sess.ident), &count, &rate) < 0)
        return 0;
    sess.active = true;

    long count_limit = mail_conf_int("smtpd_client_connection_count_limit");
    long rate_limit = mail_conf_int("smtpd_client_connection_rate_limit");
    const char *what = 0;
    int value = 0;
    if (count_limit > 0 && count > count_limit) {
        what = "Connection concurrency limit exceeded";
        value = count;
    } else if (rate_limit > 0 && rate > rate_limit) {
        what = "Connection rate limit exceeded";
        value = rate;
    }
    if (!what)
        return 0;
    msg_warn("%s: %d from %s for service %s", what, value, st->namaddr, st->service);
    smtpd_reply(st, "421 4.7.0 %s Error: too many connections from %s", st->myhostname,
                st->addr);
    return -1;
}

void smtpd_anvil_disconnect(SMTPD_STATE *st)
{
    (void) st;
    if (sess.active)
        (void) anvil_disconnect(sbuf_str(&sess.ident));
    sess.active = false;
}

int smtpd_anvil_command(SMTPD_STATE *st, int cmd_id)
{
    const char *request, *param, *what, *reply;
    int code, rate = 0;

    if (!sess.active)
        return 0;
    switch (cmd_id) {
    case SMTPD_CMD_MAIL:
        if (st->sender)             /* nested MAIL: not a new message */
            return 0;
        request = ANVIL_REQ_MESSAGE;
        param = "smtpd_client_message_rate_limit";
        what = "Message delivery request rate limit exceeded";
        code = 450;
        reply = "Error: too much mail from";
        break;
    case SMTPD_CMD_RCPT:
        if (!st->sender)
            return 0;
        request = ANVIL_REQ_RECIPIENT;
        param = "smtpd_client_recipient_rate_limit";
        what = "Recipient address rate limit exceeded";
        code = 452;
        reply = "Error: too many recipients from";
        break;
    case SMTPD_CMD_AUTH:
        request = ANVIL_REQ_AUTH;
        param = "smtpd_client_auth_rate_limit";
        what = "AUTH command rate limit exceeded";
        code = 450;
        reply = "Error: too many AUTH commands from";
        break;
    default:
        return 0;
    }
    long limit = mail_conf_int(param);
    if (limit <= 0 || anvil_event(request, sbuf_str(&sess.ident), &rate) < 0 || rate <= limit)
        return 0;
    msg_warn("%s: %d from %s for service %s", what, rate, st->namaddr, st->service);
    smtpd_reply(st, "%d 4.7.1 %s %s", code, reply, st->addr);
    return -1;
}

int smtpd_anvil_newtls_check(SMTPD_STATE *st)
{
    int rate = 0;
    long limit = mail_conf_int("smtpd_client_new_tls_session_rate_limit");

    if (!sess.active || limit <= 0
        || anvil_event(ANVIL_REQ_NEWTLS_REPORT, sbuf_str(&sess.ident), &rate) < 0
        || rate < limit)
        return 0;
    msg_warn("New TLS session rate limit exceeded: %d from %s for service %s", rate,
             st->namaddr, st->service);
    smtpd_reply(st, "454 4.7.0 Error: too many new TLS sessions from %s", st->namaddr);
    return -1;
}

int smtpd_anvil_newtls_count(SMTPD_STATE *st, bool resumed)
{
    int rate = 0;
    long limit = mail_conf_int("smtpd_client_new_tls_session_rate_limit");

    if (!sess.active || limit <= 0 || resumed
        || anvil_event(ANVIL_REQ_NEWTLS, sbuf_str(&sess.ident), &rate) < 0 || rate <= limit)
        return 0;
    msg_warn("New TLS session rate limit exceeded: %d from %s for service %s", rate,
             st->namaddr, st->service);
    return -1;
}
