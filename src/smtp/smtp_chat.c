/*
 * smtp_chat.c - SMTP client I/O: commands out, replies in, error texts.
 *
 * A reply is one or more lines "NNN-text" ending with "NNN text" (RFC
 * 5321 4.2). The lines are joined with single blanks into one text, code
 * included ("250-a 250 b" stays recognisable in logs, as Postfix shows
 * it). The enhanced status code (RFC 3463) is taken from the first line
 * when its class matches the reply code, else it is "C.0.0". A line
 * longer than SMTP_REPLY_LINE_MAX is cut (the rest is read and dropped);
 * a reply longer than SMTP_REPLY_MAX keeps its first part. A line that
 * does not start with three digits ends the reply with code 0: the caller
 * treats it as a protocol error.
 *
 * Failures of the stream are described the way Postfix does:
 *   "lost connection with host[addr] while sending RCPT TO"
 *   "conversation with host[addr] timed out while receiving the initial
 *    server greeting"
 * both with status 4.4.2; the session is then marked broken.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/tls.h"
#include "smtp/smtp.h"
#include "util/mem.h"

#define SMTP_REPLY_LINE_MAX 4096
#define SMTP_REPLY_MAX (64 * 1024)
#define SMTP_REPLY_LINES 1000

void smtp_reply_init(struct smtp_reply *r)
{
    memset(r, 0, sizeof(*r));
}

void smtp_reply_free(struct smtp_reply *r)
{
    sbuf_free(&r->text);
    sbuf_free(&r->first);
    strv_free(&r->lines);
    memset(r, 0, sizeof(*r));
}

static void reply_reset(struct smtp_reply *r)
{
    r->code = 0;
    r->dsn[0] = 0;
    sbuf_reset(&r->text);
    sbuf_reset(&r->first);
    strv_free(&r->lines);
}

int smtp_reply_parse_line(const char *line, size_t len, int *code, bool *last)
{
    if (len < 3 || !isdigit((unsigned char) line[0]) || !isdigit((unsigned char) line[1])
        || !isdigit((unsigned char) line[2]))
        return -1;
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return -1;
    if (line[0] < '1' || line[0] > '5')
        return -1;
    *code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    *last = len == 3 || line[3] == ' ';
    return 0;
}

void smtp_reply_dsn(int code, const char *text, char *dsn, size_t size)
{
    char cls = (char) ('0' + code / 100);
    size_t n = text ? dsn_valid(text) : 0;
    if (n > 0 && n < size && text[0] == cls) {
        memcpy(dsn, text, n);
        dsn[n] = 0;
        return;
    }
    if (cls != '2' && cls != '4' && cls != '5')
        cls = '4';
    snprintf(dsn, size, "%c.0.0", cls);
}

/* Control characters in a reply would reach logs and bounces: make them '?'. */
static void add_clean(sbuf *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) p[i];
        sbuf_addc(out, (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (int) c);
    }
}

int smtp_reply_read(struct smtp_session *s, int timeout_ms, const char *doing,
                    struct smtp_reply *r, struct smtp_why *why)
{
    sbuf line = SBUF_INIT;
    reply_reset(r);
    vstream_set_timeout(s->stream, timeout_ms);
    int nlines = 0;
    for (;;) {
        int how = vstream_get_line(s->stream, &line, SMTP_REPLY_LINE_MAX);
        if (how == VSTREAM_LINE_ERR || how == VSTREAM_LINE_EOF) {
            smtp_stream_why(s, doing, why);
            sbuf_free(&line);
            return -1;
        }
        if (how == VSTREAM_LINE_LONG && vstream_skip_line(s->stream) < 0) {
            smtp_stream_why(s, doing, why);
            sbuf_free(&line);
            return -1;
        }
        int code = 0;
        bool last = true;
        const char *l = sbuf_str(&line);
        if (smtp_reply_parse_line(l, line.len, &code, &last) < 0) {
            /* Garbage: end the reply here; the caller sees code 0. */
            r->code = 0;
            if (r->text.len)
                sbuf_addc(&r->text, ' ');
            add_clean(&r->text, l, line.len > 512 ? 512 : line.len);
            if (!r->first.len)
                add_clean(&r->first, l, line.len);
            s->broken = true;
            snprintf(r->dsn, sizeof(r->dsn), "4.5.0");
            sbuf_free(&line);
            return 0;
        }
        if (nlines == 0) {
            r->code = code;
            add_clean(&r->first, l, line.len);
        }
        if (++nlines <= SMTP_REPLY_LINES && r->text.len < SMTP_REPLY_MAX) {
            if (r->text.len)
                sbuf_addc(&r->text, ' ');
            add_clean(&r->text, l, line.len);
            sbuf tail = SBUF_INIT;
            add_clean(&tail, l + (line.len > 4 ? 4 : line.len),
                      line.len > 4 ? line.len - 4 : 0);
            strv_add(&r->lines, sbuf_str(&tail));
            sbuf_free(&tail);
        }
        if (last)
            break;
    }
    sbuf_free(&line);
    smtp_reply_dsn(r->code, r->first.len > 4 ? sbuf_str(&r->first) + 4 : "", r->dsn,
                   sizeof(r->dsn));
    return 0;
}

void smtp_cmd(struct smtp_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vstream_vprintf(s->stream, fmt, ap);
    va_end(ap);
    vstream_write(s->stream, "\r\n", 2);
}

int smtp_flush(struct smtp_session *s, int timeout_ms, const char *doing, struct smtp_why *why)
{
    vstream_set_timeout(s->stream, timeout_ms);
    if (vstream_flush(s->stream) < 0) {
        smtp_stream_why(s, doing, why);
        return -1;
    }
    return 0;
}

void smtp_stream_why(struct smtp_session *s, const char *doing, struct smtp_why *why)
{
    s->broken = true;
    if (vstream_timed_out(s->stream))
        smtp_why_set(why, "4.4.2", sbuf_str(&s->relay), "conversation with %s timed out while %s",
                     sbuf_str(&s->namaddr), doing);
    else
        smtp_why_set(why, "4.4.2", sbuf_str(&s->relay), "lost connection with %s while %s",
                     sbuf_str(&s->namaddr), doing);
}

void smtp_reply_why(struct smtp_session *s, const struct smtp_reply *r, const char *cmd,
                    struct smtp_why *why)
{
    smtp_why_set(why, r->dsn[0] ? r->dsn : "4.0.0", sbuf_str(&s->relay),
                 "host %s said: %s (in reply to %s command)", sbuf_str(&s->namaddr),
                 sbuf_str(&r->text), cmd);
    sbuf_set(&why->diag, sbuf_str(&r->text));
}

struct smtp_session *smtp_session_new(vstream *stream, const char *dest, const char *host,
                                      const char *addr, int port)
{
    struct smtp_session *s = xcalloc(1, sizeof(*s));
    s->stream = stream;
    s->dest = xstrdup(dest);
    sbuf_printf(&s->namaddr, "%s[%s]", host, addr);
    if (port > 0)
        sbuf_printf(&s->relay, "%s[%s]:%d", host, addr, port);
    else
        sbuf_printf(&s->relay, "%s[%s]", host, addr);
    s->created = time(0);
    s->host = xstrdup(host);
    s->port = port;
    s->dest_text = xstrdup("");
    s->sasl_found = -1;
    strv_init(&s->sasl_mechs);
    return s;
}

void smtp_session_free(struct smtp_session *s)
{
    if (!s)
        return;
    if (s->stream) {
        /* close_notify only when the session is in step. */
        if (s->tls)
            tls_sess_stop(s->tls, s->stream, s->broken);
        /* Whatever is still buffered is not worth waiting for: QUIT, when
         * it is sent at all, was flushed by smtp_quit(). */
        int fd = vstream_detach(s->stream);
        if (fd >= 0)
            close(fd);
    }
    if (s->sasl_pass) {
        volatile char *p = s->sasl_pass;
        while (*p)
            *p++ = 0;
    }
    xfree(s->sasl_pass);
    xfree(s->sasl_user);
    strv_free(&s->sasl_mechs);
    xfree(s->host);
    xfree(s->dest_text);
    xfree(s->dest);
    sbuf_free(&s->namaddr);
    sbuf_free(&s->relay);
    xfree(s);
}
