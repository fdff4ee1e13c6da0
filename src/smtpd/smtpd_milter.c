/*
 * smtpd_milter.c - smtpd_milters during the SMTP dialogue (see
 * smtpd_milter.h): events, verdicts, log lines, macro values, and the
 * hand-over to cleanup at the end of data.
 *
 * NOT HERE: the protocol (src/mail/milter*.c), the content part
 * (src/cleanup/cleanup_milter.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "mail/mail_conf.h"
#include "mail/milter.h"
#include "mail/milter_send.h"
#include "mail/receive_override.h"
#include "mail/resolve.h"
#include "util/mem.h"
#include "util/msg.h"

#include "smtpd/smtpd.h"
#include "smtpd/smtpd_milter.h"

#define HOLD_TEXT    "milter triggers HOLD action"
#define DISCARD_TEXT "milter triggers DISCARD action"
#define SHUTDOWN_REPLY "421 4.7.0 Server closing connection"

static milters *session;        /* this session's filters; NULL: none */
static bool session_hold;       /* a quarantine outside a transaction: every message */
static sbuf macbuf;

/* ---- macros ---- */

static const char *resolved(SMTPD_STATE *st, const char *addr, bool host)
{
    if (!addr || !*addr)
        return 0;
    struct resolve_reply r;
    resolve_init(&r);
    resolve_address(st->sender ? st->sender : "", addr, &r);
    sbuf_set(&macbuf, sbuf_str(host ? &r.nexthop : &r.transport));
    resolve_free(&r);
    return sbuf_str(&macbuf);
}

static const char *server_end(SMTPD_STATE *st, bool port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char buf[SOCK_ADDR_STRLEN];
    if (getsockname(vstream_fd(st->client), (struct sockaddr *) &ss, &len) < 0
        || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
        return 0;
    sbuf_reset(&macbuf);
    if (port)
        sbuf_printf(&macbuf, "%d", sock_addr_port((struct sockaddr *) &ss));
    else
        sbuf_adds(&macbuf, sock_addr_str((struct sockaddr *) &ss, len, buf));
    return sbuf_str(&macbuf);
}

/* {tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer} */
static const char *tls_macro(SMTPD_STATE *st, const char *name)
{
    struct smtpd_check chk;
    const char *v = 0;
    if (!st->tls)
        return 0;
    smtpd_check_setup(st, &chk);
    sbuf_reset(&macbuf);
    if (strcmp(name, "tls_version") == 0)
        v = chk.tls_protocol;
    else if (strcmp(name, "cipher") == 0)
        v = chk.tls_cipher;
    else if (strcmp(name, "cipher_bits") == 0 && chk.tls_keysize > 0)
        sbuf_printf(&macbuf, "%d", chk.tls_keysize);
    else if (strcmp(name, "cert_subject") == 0)
        v = chk.ccert_subject;
    else if (strcmp(name, "cert_issuer") == 0)
        v = chk.ccert_issuer;
    if (v)
        sbuf_set(&macbuf, v);
    smtpd_check_free(&chk);
    return macbuf.len ? sbuf_str(&macbuf) : 0;
}

static const char *macro(void *ctx, const char *name)
{
    SMTPD_STATE *st = ctx;

    if (strcmp(name, "i") == 0)
        return st->queue_id[0] ? st->queue_id : 0;
    if (strcmp(name, "j") == 0)
        return st->myhostname;
    if (strcmp(name, "_") == 0) {
        sbuf_reset(&macbuf);
        sbuf_printf(&macbuf, "%s [%s]", st->name, st->addr);
        return sbuf_str(&macbuf);
    }
    if (strcmp(name, "v") == 0)
        return mail_conf_str("milter_macro_v");
    if (strcmp(name, "daemon_name") == 0)
        return mail_conf_str("milter_macro_daemon_name");
    if (strcmp(name, "daemon_addr") == 0 || strcmp(name, "daemon_port") == 0)
        return server_end(st, name[7] == 'p');
    if (strcmp(name, "client_addr") == 0)
        return st->addr;
    if (strcmp(name, "client_name") == 0)
        return st->name;
    if (strcmp(name, "client_port") == 0)
        return st->port;
    if (strcmp(name, "client_ptr") == 0)
        return st->reverse_name;
    if (strcmp(name, "client_resolve") == 0)
        return st->name_status == SMTPD_PEER_OK ? "OK"
               : st->name_status == SMTPD_PEER_TEMP ? "TEMP"
               : st->reverse_name_status == SMTPD_PEER_OK ? "FORGED" : "FAIL";
    if (strcmp(name, "auth_type") == 0)
        return st->sasl_method;
    if (strcmp(name, "auth_authen") == 0)
        return st->sasl_username;
    if (strcmp(name, "auth_author") == 0)
        return st->sasl_sender;
    if (strcmp(name, "mail_addr") == 0)
        return st->sender;
    if (strcmp(name, "mail_host") == 0 || strcmp(name, "mail_mailer") == 0)
        return resolved(st, st->sender, name[5] == 'h');
    if (strcmp(name, "rcpt_addr") == 0)
        return st->recipient;
    if (strcmp(name, "rcpt_host") == 0 || strcmp(name, "rcpt_mailer") == 0)
        return resolved(st, st->recipient, name[5] == 'h');
    return tls_macro(st, name);
}

/* ---- verdicts ---- */

/* Log a verdict and do what hold and discard mean; the SMTP reply to
 * give instead of the normal one, or NULL. */
static const char *verdict(SMTPD_STATE *st, const char *resp)
{
    if (!resp)
        return 0;
    switch (resp[0]) {
    case 'H':
        smtpd_log_whatsup(st, "milter-hold", HOLD_TEXT);
        if (st->sender) {
            xfree(st->actions.hold);
            st->actions.hold = xstrdup(HOLD_TEXT);
        } else {
            session_hold = true;
        }
        return 0;
    case 'D':
        smtpd_log_whatsup(st, "milter-discard", DISCARD_TEXT);
        if (st->sender) {
            xfree(st->actions.discard);
            st->actions.discard = xstrdup(DISCARD_TEXT);
        }
        return 0;
    case 'S':
        smtpd_log_whatsup(st, "milter-reject", SHUTDOWN_REPLY);
        return SHUTDOWN_REPLY;
    case '4':
    case '5':
        smtpd_log_whatsup(st, "milter-reject", resp);
        return resp;
    default:
        smtpd_log_whatsup(st, "reject", "421 4.3.5 Server configuration error");
        return "421 4.3.5 Server configuration error";
    }
}

/* A filter's reply may have several lines ("550-...\r\n550 ..."). */
static void reply(SMTPD_STATE *st, const char *text)
{
    for (;;) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t) (nl - text) : strlen(text);
        while (n && text[n - 1] == '\r')
            n--;
        if (n)
            smtpd_reply(st, "%.*s", (int) n, text);
        if (!nl)
            break;
        text = nl + 1;
    }
    if (strncmp(text, "421", 3) == 0)
        st->done = true;
}

/* ---- events ---- */

int smtpd_milter_connect(SMTPD_STATE *st)
{
    session_hold = false;
    if (session) {
        milters_free(session);
        session = 0;
    }
    if (receive_override() & RECV_NO_MILTERS)
        return 0;
    session = milters_create(mail_conf_str("smtpd_milters"));
    if (!session)
        return 0;
    milters_set_macros(session, macro, st);
    unsigned char bin[16];
    int family = inet_pton(AF_INET, st->addr, bin) == 1    ? AF_INET
                 : inet_pton(AF_INET6, st->addr, bin) == 1 ? AF_INET6 : AF_UNSPEC;
    const char *r = verdict(st, milters_connect(session, st->name, st->addr, st->port, family));
    if (!r)
        return 0;
    if (strncmp(r, "421", 3) == 0) {
        smtpd_reply(st, "421 %s Service unavailable - try again later", st->myhostname);
        st->done = true;
        return -1;
    }
    if (r[0] == '5') {
        smtpd_reply(st, "554 %s ESMTP not accepting connections", st->myhostname);
        st->error_count++;
        return 1;
    }
    return 0;
}

int smtpd_milter_helo(SMTPD_STATE *st, const char *name)
{
    if (!session)
        return 0;
    const char *r = milters_helo(session, name);
    if (!r)
        return 0;
    /* Log with the name the client just gave. */
    char *saved = st->helo_name;
    st->helo_name = (char *) name;
    r = verdict(st, r);
    st->helo_name = saved;
    /* Sendmail compatible: HELO is answered 250 unless the filter ends
     * the session; the refusal sticks and answers MAIL. */
    if (r && strncmp(r, "421", 3) == 0) {
        reply(st, r);
        return -1;
    }
    return 0;
}

int smtpd_milter_mail(SMTPD_STATE *st, const char *params)
{
    if (!session)
        return 0;
    if (session_hold && !st->actions.hold)
        st->actions.hold = xstrdup(HOLD_TEXT);
    strv argv;
    strv_init(&argv);
    sbuf first = SBUF_INIT;
    sbuf_printf(&first, "<%s>", st->sender ? st->sender : "");
    strv_add(&argv, sbuf_str(&first));
    strv_split(&argv, params ? params : "", " \t");
    const char *r = verdict(st, milters_mail(session, (const char *const *) argv.v));
    strv_free(&argv);
    sbuf_free(&first);
    if (!r)
        return 0;
    reply(st, r);
    return -1;
}

int smtpd_milter_rcpt(SMTPD_STATE *st)
{
    if (!session)
        return 0;
    sbuf first = SBUF_INIT;
    sbuf_printf(&first, "<%s>", st->recipient ? st->recipient : "");
    const char *argv[] = {sbuf_str(&first), 0};
    const char *r = verdict(st, milters_rcpt(session, argv));
    sbuf_free(&first);
    if (!r)
        return 0;
    reply(st, r);
    return -1;
}

int smtpd_milter_data(SMTPD_STATE *st)
{
    if (!session)
        return 0;
    const char *r = verdict(st, milters_data(session));
    if (!r)
        return 0;
    reply(st, r);
    return -1;
}

const char *smtpd_milter_unknown(SMTPD_STATE *st, const char *command)
{
    if (!session)
        return 0;
    const char *r = verdict(st, milters_unknown(session, command));
    if (r && strncmp(r, "421", 3) == 0)
        st->done = true;
    return r;
}

void smtpd_milter_end_of_data(SMTPD_STATE *st)
{
    if (!session || !st->cleanup || !milters_want_message(session))
        return;
    vstream *s = cleanup_client_stream(st->cleanup);
    /* A failed hand-over breaks the cleanup connection: cleanup_finish()
     * then reports it and the client gets a 4xx. */
    if (s && milters_send(session, s, macro, st) < 0)
        msg_warn("%s: cannot pass the mail filters to cleanup", smtpd_queue_id(st));
}

void smtpd_milter_reset(SMTPD_STATE *st)
{
    (void) st;
    if (session)
        milters_abort(session);
}

void smtpd_milter_disconnect(SMTPD_STATE *st)
{
    (void) st;
    if (session) {
        milters_quit(session);
        milters_free(session);
        session = 0;
    }
    session_hold = false;
}
