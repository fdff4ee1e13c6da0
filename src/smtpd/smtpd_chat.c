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

void smtpd_printable(sbuf *out, const char *buf, size_t len, size_t max)
{
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char ch = (unsigned char) buf[i];
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
    smtpd_log_whatsup((SMTPD_STATE *) ctx, whatsup, reply);
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
    c->sasl_authenticated = false;
}
