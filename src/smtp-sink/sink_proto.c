/*
 * sink_proto.c - the server side of one smtp-sink conversation. See sink_proto.h.
 *
 * Each command is checked against the session state first (a DATA
 * without RCPT is a 503 whatever the rules say), then against the rules
 * of -f/-r/-q/-Q/-W, then answered.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtp-sink/sink_proto.h"

void sink_session_init(sink_session *s, const sink_opts *o, const char *client)
{
    memset(s, 0, sizeof(*s));
    s->o = o;
    snprintf(s->client, sizeof(s->client), "%s", client ? client : "unknown");
    s->proto = o->lmtp ? "LMTP" : "SMTP";
    sbuf_init(&s->helo);
    sbuf_init(&s->mail);
    strv_init(&s->rcpts);
    sbuf_init(&s->data);
}

void sink_session_free(sink_session *s)
{
    sbuf_free(&s->helo);
    sbuf_free(&s->mail);
    strv_free(&s->rcpts);
    sbuf_free(&s->data);
}

static void reset_tx(sink_session *s)
{
    s->in_tx = 0;
    s->tx_done = 0;
    sbuf_reset(&s->mail);
    strv_free(&s->rcpts);
    strv_init(&s->rcpts);
    sbuf_reset(&s->data);
    s->data_bytes = 0;
}

static void reply(sbuf *out, const char *text)
{
    sbuf_adds(out, text);
    sbuf_add(out, "\r\n", 2);
}

/* The rule for cmd: 1 when it decided the answer (reject, drop, 421). */
static int apply_rule(sink_session *s, int cmd, sbuf *out, int *flags, int *delay_ms)
{
    const sink_rule *r = &s->o->rules[cmd];
    if (r->delay_ms > 0) {
        *flags |= SINK_R_DELAY;
        *delay_ms = r->delay_ms;
    }
    switch (r->action) {
    case SINK_ACT_REJECT:
        sink_reject_text(s->o, r, out);
        sbuf_add(out, "\r\n", 2);
        return 1;
    case SINK_ACT_DROP:
        *flags |= SINK_R_CLOSE;
        return 1;
    case SINK_ACT_421:
        sbuf_printf(out, "421 4.3.0 %s Error: closing the connection\r\n", s->o->hostname);
        *flags |= SINK_R_CLOSE;
        return 1;
    default:
        return 0;
    }
}

int sink_greet(sink_session *s, sbuf *out, int *delay_ms)
{
    int     flags = 0;
    if (apply_rule(s, SC_CONNECT, out, &flags, delay_ms))
        return flags;
    sbuf_printf(out, "220 %s %s\r\n", s->o->hostname,
                s->o->lmtp ? "LMTP" : s->o->no_esmtp ? "Service ready" : "ESMTP");
    return flags;
}

static void ehlo_reply(sink_session *s, sbuf *out)
{
    const sink_opts *o = s->o;
    const char *ext[6];
    int     n = 0;
    if (!o->no_pipelining)
        ext[n++] = "PIPELINING";
    if (!o->no_8bitmime)
        ext[n++] = "8BITMIME";
    if (!o->no_enhanced)
        ext[n++] = "ENHANCEDSTATUSCODES";
    if (!o->no_dsn)
        ext[n++] = "DSN";
    sbuf_printf(out, "250%c%s\r\n", n ? '-' : ' ', o->hostname);
    for (int i = 0; i < n; i++)
        sbuf_printf(out, "250%c%s\r\n", i == n - 1 ? ' ' : '-', ext[i]);
}

/* "." ends the data: accept (or reject) the message. */
static int end_of_data(sink_session *s, sbuf *out, int *delay_ms)
{
    int     flags = 0;
    size_t  replies = s->o->lmtp ? s->rcpts.n : 1;
    s->in_data = 0;
    s->tx_done = 1;
    size_t  before = out->len;
    if (apply_rule(s, SC_DOT, out, &flags, delay_ms)) {
        if (s->o->lmtp && !(flags & SINK_R_CLOSE) && out->len > before) {
            /* One reply per recipient. */
            size_t  one = out->len - before;
            sbuf_reserve(out, one * replies);   /* out->s stays put below */
            for (size_t i = 1; i < replies; i++)
                sbuf_add(out, out->s + before, one);
        }
        return flags;
    }
    static unsigned long long counter;
    snprintf(s->queue_id, sizeof(s->queue_id), "%lX%07llX", (unsigned long) getpid() & 0xfff,
             ++counter & 0xfffffffULL);
    s->seq++;
    for (size_t i = 0; i < replies; i++)
        sbuf_printf(out, "250 2.0.0 Ok: queued as %s\r\n", s->queue_id);
    return flags | SINK_R_MESSAGE;
}

static int data_line(sink_session *s, const char *line, size_t len, int eol, sbuf *out,
                     int *delay_ms)
{
    if (!s->midline && eol && len == 1 && line[0] == '.')
        return end_of_data(s, out, delay_ms);
    if (!s->midline && len > 0 && line[0] == '.') {
        line++;                             /* RFC 5321 4.5.2 */
        len--;
    }
    s->data_bytes += len + (eol ? 1 : 0);
    if (s->o->dump) {
        sbuf_add(&s->data, line, len);
        if (eol)
            sbuf_addc(&s->data, '\n');
    }
    s->midline = !eol;
    return 0;
}

int sink_input(sink_session *s, const char *line, size_t len, int eol, sbuf *out,
               int *delay_ms)
{
    const sink_opts *o = s->o;
    int     flags = 0;

    if (s->tx_done)
        reset_tx(s);
    if (s->in_data)
        return data_line(s, line, len, eol, out, delay_ms);
    if (!eol) {
        s->long_line = 1;
        return 0;
    }
    if (s->long_line || len > SINK_LINE_MAX) {
        s->long_line = 0;
        reply(out, "500 5.5.0 Error: line too long");
        return 0;
    }

    size_t  vlen = 0;
    while (vlen < len && line[vlen] != ' ')
        vlen++;
    const char *args = line + vlen;
    size_t  alen = len - vlen;
    while (alen > 0 && *args == ' ')
        args++, alen--;
    int     cmd = sink_cmd_lookup(line, vlen);
    if (cmd == SC_CONNECT || cmd == SC_DOT)
        cmd = -1;                           /* not commands a client sends */

    switch (cmd) {
    case SC_HELO:
    case SC_EHLO:
    case SC_LHLO:
        if (cmd == SC_EHLO && o->no_esmtp) {
            reply(out, "502 5.5.2 Error: command not recognized");
            return 0;
        }
        if (alen == 0) {
            sbuf_printf(out, "501 5.5.4 Syntax: %s hostname\r\n", sink_cmd_name(cmd));
            return 0;
        }
        if (apply_rule(s, cmd, out, &flags, delay_ms))
            return flags;
        reset_tx(s);
        sbuf_reset(&s->helo);
        sbuf_add(&s->helo, args, alen);
        if (cmd == SC_HELO) {
            s->proto = "SMTP";
            sbuf_printf(out, "250 %s\r\n", o->hostname);
        } else {
            s->proto = cmd == SC_LHLO ? "LMTP" : "ESMTP";
            ehlo_reply(s, out);
        }
        return flags;
    case SC_MAIL:
        if (s->in_tx) {
            reply(out, "503 5.5.1 Error: nested MAIL command");
            return 0;
        }
        if (apply_rule(s, cmd, out, &flags, delay_ms))
            return flags;
        s->in_tx = 1;
        sbuf_reset(&s->mail);
        sbuf_add(&s->mail, args, alen);
        reply(out, "250 2.1.0 Ok");
        return flags;
    case SC_RCPT:
        if (!s->in_tx) {
            reply(out, "503 5.5.1 Error: need MAIL command");
            return 0;
        }
        if (apply_rule(s, cmd, out, &flags, delay_ms))
            return flags;
        strv_addn(&s->rcpts, args, alen);
        reply(out, "250 2.1.5 Ok");
        return flags;
    case SC_DATA:
        if (!s->in_tx) {
            reply(out, "503 5.5.1 Error: need MAIL command");
            return 0;
        }
        if (s->rcpts.n == 0) {
            reply(out, "503 5.5.1 Error: need RCPT command");
            return 0;
        }
        if (apply_rule(s, cmd, out, &flags, delay_ms))
            return flags;
        s->in_data = 1;
        s->midline = 0;
        reply(out, "354 End data with <CR><LF>.<CR><LF>");
        return flags;
    case SC_RSET:
        if (apply_rule(s, cmd, out, &flags, delay_ms))
            return flags;
        reset_tx(s);
        reply(out, "250 2.0.0 Ok");
        return flags;
    case SC_NOOP:
    case SC_ETRN:
    case SC_XFORWARD:
        if (apply_rule(s, cmd, out, &flags, delay_ms))
            return flags;
        reply(out, "250 2.0.0 Ok");
        return flags;
    case SC_VRFY:
        if (apply_rule(s, cmd, out, &flags, delay_ms))
            return flags;
        reply(out, "252 2.0.0 Cannot verify; send some mail");
        return flags;
    case SC_XCLIENT:
        if (apply_rule(s, cmd, out, &flags, delay_ms))
            return flags;
        reset_tx(s);
        sbuf_printf(out, "220 %s ESMTP\r\n", o->hostname);
        return flags;
    case SC_QUIT:
        if (apply_rule(s, cmd, out, &flags, delay_ms))
            return flags;
        reply(out, "221 2.0.0 Bye");
        return flags | SINK_R_CLOSE;
    default:
        reply(out, "502 5.5.2 Error: command not recognized");
        return 0;
    }
}
