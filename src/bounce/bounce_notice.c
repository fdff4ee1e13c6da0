/*
 * bounce_notice.c - compose one RFC 3464 delivery status notification.
 *
 * Layout (RFC 3462 multipart/report, RFC 3464 message/delivery-status):
 *   headers: From MAILER-DAEMON@myhostname, To, Subject, Date,
 *            Message-Id, Auto-Submitted (RFC 3834), MIME headers
 *   part 1:  text/plain, a short explanation and one line per recipient
 *   part 2:  message/delivery-status: per-message fields (Reporting-MTA,
 *            X-Postfix-Queue-ID, X-Postfix-Sender, Arrival-Date), then
 *            per-recipient fields (Final-Recipient, Original-Recipient,
 *            Action, Status, Remote-MTA, Diagnostic-Code)
 *   part 3:  the original message (message/rfc822) or only its headers
 *            (text/rfc822-headers)
 * Every text that came from outside (reasons, addresses) has its control
 * characters replaced, so it cannot break a header or the MIME layout.
 *
 * Not here: who gets a notice, or submitting it (bounce.c).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bounce/bounce.h"
#include "mail/address.h"
#include "mail/mail_date.h"

struct writer {
    bounce_out_fn out;
    void   *ctx;
    int     rc;
    sbuf    line;
};

/* Control characters (CR, LF, ...) become blanks. */
static void add_clean(sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char) *s;
        sbuf_addc(b, (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : c);
    }
}

static void put(struct writer *w, const char *s, size_t n)
{
    if (w->rc == 0 && n && w->out(w->ctx, s, n) < 0)
        w->rc = -1;
}

static void putf(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct writer *w, const char *fmt, ...)
{
    va_list ap;
    sbuf_reset(&w->line);
    va_start(ap, fmt);
    sbuf_vprintf(&w->line, fmt, ap);
    va_end(ap);
    put(w, w->line.s, w->line.len);
}

/* "name: value\n" with the value cleaned. */
static void field(struct writer *w, const char *name, const char *prefix, const char *value)
{
    sbuf_reset(&w->line);
    sbuf_printf(&w->line, "%s: %s", name, prefix ? prefix : "");
    add_clean(&w->line, value);
    sbuf_addc(&w->line, '\n');
    put(w, w->line.s, w->line.len);
}

static void fmt_duration(long secs, sbuf *out)
{
    if (secs >= 86400 && secs % 86400 == 0)
        sbuf_printf(out, "%ld day%s", secs / 86400, secs == 86400 ? "" : "s");
    else if (secs >= 3600)
        sbuf_printf(out, "%ld hour%s", secs / 3600, secs / 3600 == 1 ? "" : "s");
    else if (secs >= 60)
        sbuf_printf(out, "%ld minute%s", secs / 60, secs / 60 == 1 ? "" : "s");
    else
        sbuf_printf(out, "%ld second%s", secs, secs == 1 ? "" : "s");
}

void bounce_remote_mta(const char *relay, sbuf *out)
{
    sbuf_reset(out);
    if (!relay)
        return;
    const char *br = strchr(relay, '[');
    if (!br || br == relay)
        return;
    sbuf_adds(out, "dns; ");
    sbuf tmp = SBUF_INIT;
    sbuf_add(&tmp, relay, (size_t) (br - relay));
    add_clean(out, sbuf_str(&tmp));
    sbuf_free(&tmp);
}

/* An SMTP reply inside a reason: "host x[1.2.3.4] said: 550 5.1.1 ... (in reply to ...)". */
static bool smtp_reply_in(const char *reason, sbuf *out)
{
    const char *p = strstr(reason, " said: ");
    if (!p)
        return false;
    p += 7;
    if (!(p[0] >= '4' && p[0] <= '5' && isdigit((unsigned char) p[1])
          && isdigit((unsigned char) p[2]) && (p[3] == ' ' || p[3] == '-' || !p[3])))
        return false;
    const char *end = strstr(p, " (in reply to ");
    size_t n = end ? (size_t) (end - p) : strlen(p);
    sbuf tmp = SBUF_INIT;
    sbuf_add(&tmp, p, n);
    sbuf_adds(out, "smtp; ");
    add_clean(out, sbuf_str(&tmp));
    sbuf_free(&tmp);
    return true;
}

void bounce_diagnostic(const struct dsn_rec *r, sbuf *out)
{
    sbuf_reset(out);
    if (r->diag_type && *r->diag_type && r->diag_text && *r->diag_text) {
        add_clean(out, r->diag_type);
        sbuf_adds(out, "; ");
        add_clean(out, r->diag_text);
        return;
    }
    if (smtp_reply_in(r->reason ? r->reason : "", out))
        return;
    sbuf_adds(out, "X-Postfix; ");     /* Postfix's type for its own texts */
    add_clean(out, r->reason);
}

/* "rfc822;a@b" (DSN ORCPT= as stored) -> "rfc822; a@b". */
static void orcpt_value(const char *orcpt, sbuf *out)
{
    sbuf_reset(out);
    const char *semi = strchr(orcpt, ';');
    if (!semi) {
        sbuf_adds(out, "rfc822; ");
        add_clean(out, orcpt);
        return;
    }
    sbuf tmp = SBUF_INIT;
    sbuf_add(&tmp, orcpt, (size_t) (semi - orcpt));
    add_clean(out, sbuf_str(&tmp));
    sbuf_adds(out, "; ");
    const char *v = semi + 1;
    while (*v == ' ')
        v++;
    add_clean(out, v);
    sbuf_free(&tmp);
}

static const char *subject(const struct bounce_notice *n)
{
    switch (n->kind) {
    case NOTICE_DELAY:
        return n->postmaster ? "Postmaster Warning: Delayed Mail"
                             : "Delayed Mail (still being retried)";
    case NOTICE_SUCCESS:
        return "Successful Mail Delivery Report";
    case NOTICE_FAILURE:
    default:
        return n->postmaster ? "Postmaster Copy: Undelivered Mail"
                             : "Undelivered Mail Returned to Sender";
    }
}

static const char *action(const struct bounce_notice *n)
{
    return n->kind == NOTICE_DELAY ? "delayed" : n->kind == NOTICE_SUCCESS ? "delivered"
                                                                            : "failed";
}

/* The human-readable part. Our own words. */
static void text_part(struct writer *w, const struct bounce_notice *n)
{
    const struct bounce_msg *m = n->msg;
    sbuf tmp = SBUF_INIT;
    putf(w, "This is the %s mail system at host %s.\n\n", n->mail_name, n->myhostname);
    switch (n->kind) {
    case NOTICE_FAILURE: {
        bool expired = false;
        for (size_t i = 0; i < n->nrecs; i++)
            if (n->recs[i]->status[0] == '4')
                expired = true;
        if (n->postmaster && n->double_bounce)
            putf(w, "A notification that this mail system sent could not be delivered\n"
                    "to its recipients listed below. Notifications are never returned\n"
                    "to their (empty) sender, so it comes to the postmaster instead.\n\n");
        else if (n->postmaster)
            putf(w, "This is a copy for the postmaster: a message from <%s> could\n"
                    "not be delivered to the recipients listed below, and the sender\n"
                    "has been told.\n\n", m->sender);
        else
            putf(w, "Your message could not be delivered to one or more of its\n"
                    "recipients. The mail system has given up on them; each one is\n"
                    "listed below with the reason.\n\n");
        if (expired) {
            fmt_duration(n->lifetime, &tmp);
            putf(w, "Some recipients could not be reached before the message had\n"
                    "been waiting in the queue for %s, the longest this system\n"
                    "keeps trying.\n\n", sbuf_str(&tmp));
        }
        if (!n->postmaster)
            putf(w, "%s is attached.\n\n"
                    "If you need help, write to the postmaster of this host and include\n"
                    "this report. You may remove your own text from the attached copy.\n\n",
                 n->headers_only ? "The header section of your message"
                                 : "A copy of your message");
        break;
    }
    case NOTICE_DELAY: {
        long age = n->now > m->arrival ? (long) (n->now - m->arrival) : 0;
        fmt_duration(age, &tmp);
        sbuf life = SBUF_INIT;
        fmt_duration(n->lifetime, &life);
        putf(w, "This is a warning only: you do not need to send your message again.\n\n"
                "Your message has been in the queue for %s and has not yet been\n"
                "delivered to the recipients listed below. The mail system keeps\n"
                "trying for up to %s after the message arrived, and will tell\n"
                "you if it has to give up.\n\n", sbuf_str(&tmp), sbuf_str(&life));
        sbuf_free(&life);
        break;
    }
    case NOTICE_SUCCESS:
        putf(w, "As you asked, this report tells you that your message reached the\n"
                "recipients listed below.\n\n");
        break;
    }
    putf(w, "%*s-- the %s mail system\n\n", 19, "", n->mail_name);
    for (size_t i = 0; i < n->nrecs; i++) {
        const struct dsn_rec *r = n->recs[i];
        sbuf_reset(&w->line);
        sbuf_addc(&w->line, '<');
        add_clean(&w->line, r->recipient);
        sbuf_addc(&w->line, '>');
        if (r->orig_recipient && *r->orig_recipient
            && strcasecmp(r->orig_recipient, r->recipient) != 0) {
            sbuf_adds(&w->line, " (expanded from <");
            add_clean(&w->line, r->orig_recipient);
            sbuf_adds(&w->line, ">)");
        }
        sbuf_adds(&w->line, ": ");
        add_clean(&w->line, r->reason);
        sbuf_adds(&w->line, "\n\n");
        put(w, w->line.s, w->line.len);
    }
    sbuf_free(&tmp);
}

static void status_part(struct writer *w, const struct bounce_notice *n)
{
    const struct bounce_msg *m = n->msg;
    sbuf v = SBUF_INIT;
    if (m->dsn_envid && *m->dsn_envid)
        field(w, "Original-Envelope-Id", 0, m->dsn_envid);
    field(w, "Reporting-MTA", "dns; ", n->myhostname);
    field(w, "X-Postfix-Queue-ID", 0, m->queue_id);
    field(w, "X-Postfix-Sender", "rfc822; ", m->sender);
    if (m->arrival) {
        mail_date(m->arrival, &v);
        field(w, "Arrival-Date", 0, sbuf_str(&v));
    }
    for (size_t i = 0; i < n->nrecs; i++) {
        const struct dsn_rec *r = n->recs[i];
        put(w, "\n", 1);
        field(w, "Final-Recipient", "rfc822; ", r->recipient);
        if (r->dsn_orcpt && *r->dsn_orcpt) {
            orcpt_value(r->dsn_orcpt, &v);
            field(w, "Original-Recipient", 0, sbuf_str(&v));
        } else if (r->orig_recipient && *r->orig_recipient
                   && strcasecmp(r->orig_recipient, r->recipient) != 0) {
            field(w, "Original-Recipient", "rfc822; ", r->orig_recipient);
        }
        field(w, "Action", 0, action(n));
        field(w, "Status", 0, r->status);
        bounce_remote_mta(r->relay, &v);
        if (v.len)
            field(w, "Remote-MTA", 0, sbuf_str(&v));
        if (n->kind != NOTICE_SUCCESS || (r->reason && *r->reason)) {
            bounce_diagnostic(r, &v);
            field(w, "Diagnostic-Code", 0, sbuf_str(&v));
        }
        if (r->time && n->kind != NOTICE_SUCCESS) {
            sbuf_reset(&v);
            mail_date(r->time, &v);
            field(w, "Last-Attempt-Date", 0, sbuf_str(&v));
        }
        if (n->kind == NOTICE_DELAY && m->arrival) {
            sbuf_reset(&v);
            mail_date(m->arrival + n->lifetime, &v);
            field(w, "Will-Retry-Until", 0, sbuf_str(&v));
        }
    }
    sbuf_free(&v);
}

static int writer_out(void *ctx, const void *buf, size_t len)
{
    struct writer *w = ctx;
    put(w, buf, len);
    return w->rc;
}

int bounce_notice_write(const struct bounce_notice *n, bounce_out_fn out, void *ctx, sbuf *why)
{
    struct writer w = {out, ctx, 0, SBUF_INIT};
    const struct bounce_msg *m = n->msg;
    sbuf date = SBUF_INIT, boundary = SBUF_INIT, to = SBUF_INIT;
    struct tm tm;
    localtime_r(&n->now, &tm);
    sbuf_printf(&boundary, "%s.%lld/%s", n->notice_id, (long long) n->now, n->myhostname);
    mail_date(n->now, &date);
    bool eight_bit = (m->sizes.flags & (QFILE_FL_8BITMIME | QFILE_FL_SMTPUTF8)) != 0;

    address_quote(n->to, &to);
    putf(&w, "From: MAILER-DAEMON@%s (Mail Delivery System)\n", n->myhostname);
    field(&w, "To", 0, sbuf_str(&to));
    putf(&w, "Subject: %s\n", subject(n));
    putf(&w, "Date: %s\n", sbuf_str(&date));
    putf(&w, "Message-Id: <%04d%02d%02d%02d%02d%02d.%s@%s>\n", tm.tm_year + 1900,
         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, n->notice_id,
         n->myhostname);
    putf(&w, "Auto-Submitted: auto-replied\n");     /* RFC 3834 */
    putf(&w, "MIME-Version: 1.0\n");
    putf(&w, "Content-Type: multipart/report; report-type=delivery-status;\n"
             "\tboundary=\"%s\"\n", sbuf_str(&boundary));
    if (eight_bit)
        putf(&w, "Content-Transfer-Encoding: 8bit\n");
    putf(&w, "\nThis is a MIME-encapsulated message.\n\n");

    putf(&w, "--%s\n", sbuf_str(&boundary));
    putf(&w, "Content-Description: Notification\n");
    putf(&w, "Content-Type: text/plain; charset=us-ascii\n\n");
    text_part(&w, n);

    putf(&w, "--%s\n", sbuf_str(&boundary));
    putf(&w, "Content-Description: %s\n",
         n->kind == NOTICE_DELAY ? "Delivery delay report"
         : n->kind == NOTICE_SUCCESS ? "Delivery report" : "Delivery report");
    putf(&w, "Content-Type: message/delivery-status\n\n");
    status_part(&w, n);
    put(&w, "\n", 1);

    putf(&w, "--%s\n", sbuf_str(&boundary));
    if (n->headers_only) {
        putf(&w, "Content-Description: %s\n",
             n->kind == NOTICE_FAILURE ? "Undelivered Message Headers" : "Message Headers");
        putf(&w, "Content-Type: text/rfc822-headers\n");
    } else {
        putf(&w, "Content-Description: Undelivered Message\n");
        putf(&w, "Content-Type: message/rfc822\n");
    }
    if (eight_bit)
        putf(&w, "Content-Transfer-Encoding: 8bit\n");
    put(&w, "\n", 1);
    /* A damaged original still gets its notice, with a note instead. */
    sbuf cwhy = SBUF_INIT;
    if (w.rc == 0 && bounce_copy_content(m, n->headers_only, writer_out, &w, &cwhy) < 0
        && w.rc == 0) {
        putf(&w, "\n[The original message could not be read: ");
        sbuf_reset(&w.line);
        add_clean(&w.line, sbuf_str(&cwhy));
        put(&w, w.line.s, w.line.len);
        putf(&w, "]\n");
    }
    sbuf_free(&cwhy);
    putf(&w, "\n--%s--\n", sbuf_str(&boundary));
    if (w.rc < 0 && why && !why->len)
        sbuf_set(why, "cannot write the notification");
    sbuf_free(&date);
    sbuf_free(&boundary);
    sbuf_free(&to);
    sbuf_free(&w.line);
    return w.rc;
}
