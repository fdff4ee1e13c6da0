/*
 * smtpd_chat.c - SMTP replies and the log lines every command shares.
 *
 * smtpd_reply() buffers one reply line (CR LF added); vstream sends
 * buffered replies when smtpd next waits for input, so a pipelined group
 * of commands is answered with one write, in order (RFC 2920 3.1).
 * After smtpd_soft_error_limit errors every 4xx/5xx reply is delayed by
 * smtpd_error_sleep_time, as Postfix does to slow down bad clients.
 *
 * Also: the "reject:" log line format, printable renderings of client
 * input for logs, and the restriction request built from the session.
 * Does not: decide replies (the command files do).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/msg.h"
#include "smtpd/smtpd.h"

void smtpd_reply(SMTPD_STATE *st, const char *fmt, ...)
{
    sbuf text = SBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    sbuf_vprintf(&text, fmt, ap);
    va_end(ap);
    /* Never let text from elsewhere (cleanup reasons) break the framing. */
    for (size_t i = 0; i < text.len; i++)
        if (text.s[i] == '\r' || text.s[i] == '\n' || text.s[i] == 0)
            text.s[i] = ' ';
    if ((text.s && (text.s[0] == '4' || text.s[0] == '5'))
        && st->error_count >= st->soft_error_limit && st->error_sleep > 0) {
        vstream_flush(st->client);
        sleep((unsigned) st->error_sleep);
    }
    if (msg_verbose)
        msg_info("> %s: %s", st->namaddr, sbuf_str(&text));
    vstream_write(st->client, text.s ? text.s : "", text.len);
    vstream_write(st->client, "\r\n", 2);
    sbuf_free(&text);
}

const char *smtpd_queue_id(const SMTPD_STATE *st)
{
    return st->queue_id[0] ? st->queue_id : "NOQUEUE";
}

void smtpd_log_whatsup(SMTPD_STATE *st, const char *whatsup, const char *reply)
{
    sbuf line = SBUF_INIT;

    sbuf_printf(&line, "%s: %s: %s from %s: %s;", smtpd_queue_id(st), whatsup, st->where,
                st->namaddr, reply);
    if (st->sender)
        sbuf_printf(&line, " from=<%s>", st->sender);
    if (st->recipient)
        sbuf_printf(&line, " to=<%s>", st->recipient);
    sbuf_printf(&line, " proto=%s", st->protocol);
    if (st->helo_name)
        sbuf_printf(&line, " helo=<%s>", st->helo_name);
    msg_info("%s", sbuf_str(&line));
    sbuf_free(&line);
}

/* max bounds what is appended (a CR or LF takes two bytes), so a reply
 * that shows client text stays within RFC 5321's 512 bytes. */
void smtpd_printable(sbuf *out, const char *buf, size_t len, size_t max)
{
    size_t room = max;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char) buf[i];
        size_t width = ch == '\r' || ch == '\n' ? 2 : 1;
        if (width > room)
            break;
        room -= width;
        if (ch == '\r')
            sbuf_adds(out, "\\r");
        else if (ch == '\n')
            sbuf_adds(out, "\\n");
        else if (ch < 0x20 || ch >= 0x7f)
            sbuf_addc(out, '?');
        else
            sbuf_addc(out, ch);
    }
}

static void check_log(void *ctx, const char *whatsup, const char *reply)
{
    SMTPD_STATE *st = ctx;

    smtpd_log_whatsup(st, whatsup, reply);
    /* access(5): 421 and 521 end the session after the reply (at CONNECT
     * with smtpd_delay_reject = no the reply only comes later). */
    if (strcmp(whatsup, "reject") == 0 && (strncmp(reply, "421 ", 4) == 0
                                           || strncmp(reply, "521 ", 4) == 0)
        && strcmp(st->where, "CONNECT") != 0)
        st->done = true;
}

void smtpd_check_setup(SMTPD_STATE *st, struct smtpd_check *c)
{
    static struct smtpd_check_ops ops;

    ops = smtpd_lookup_ops;
    ops.log = check_log;
    smtpd_check_init(c, &ops, st);     /* the ops' context is the session */
    c->namaddr = st->namaddr;
    c->helo = st->helo_name;
    c->sender = st->sender;
    c->recipient = st->recipient;
    /* permit_sasl_authenticated: a login other than ANONYMOUS. */
    c->sasl_authenticated = st->sasl_username && st->sasl_method
                            && strcasecmp(st->sasl_method, "ANONYMOUS") != 0;
    c->sasl_method = st->sasl_method;
    c->sasl_username = st->sasl_username;
    c->sasl_sender = st->sasl_sender;
    smtpd_tls_check_facts(st, c);

    /* The facts the restrictions outside the evaluator use. */
    static char server_addr[SOCK_ADDR_STRLEN], server_port[8];
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    snprintf(server_addr, sizeof(server_addr), "%s", "");
    snprintf(server_port, sizeof(server_port), "0");
    if (getsockname(vstream_fd(st->client), (struct sockaddr *) &ss, &len) == 0
        && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
        sock_addr_str((struct sockaddr *) &ss, len, server_addr);
        snprintf(server_port, sizeof(server_port), "%d", sock_addr_port((struct sockaddr *) &ss));
    }
    c->client_name = st->name;
    c->client_addr = st->addr;
    c->client_port = st->port;
    c->reverse_name = st->reverse_name;
    c->name_status = st->name_status;
    c->reverse_name_status = st->reverse_name_status;
    c->server_addr = server_addr;
    c->server_port = server_port;
    c->protocol = st->protocol;
    c->stage = st->where;
    c->queue_id = st->queue_id;
    c->instance = st->instance;
    c->rcpt_count = st->rcpt_count;
    c->size = st->decl_size;
    c->unauth_pipelining = st->unauth_pipelining;
    c->actions = st->sender ? &st->actions : 0;
}
