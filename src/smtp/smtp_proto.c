/*
 * smtp_proto.c - the SMTP and LMTP conversation of the client.
 *
 * smtp_helo(): the greeting (RFC 5321 4.3.1), then EHLO with
 * smtp_helo_name (HELO when EHLO is refused with 5xx, or with
 * smtp_never_send_ehlo; HELO also when smtp_always_send_ehlo = no and the
 * greeting does not say ESMTP), or LHLO with lmtp_lhlo_name. The EHLO
 * keywords kept are PIPELINING, SIZE, 8BITMIME, DSN, SMTPUTF8, STARTTLS and
 * ENHANCEDSTATUSCODES, minus those named in smtp_discard_ehlo_keywords. A
 * greeting or EHLO reply that names our own myhostname means the mail
 * "loops back to myself" (SMTP to port 25 only): 5.4.6 from a best MX or a host
 * without MX, else 4.4.6 and the next MX host is tried. A non-2xx greeting
 * is "host X refused to talk to me: ..."; with smtp_skip_5xx_greeting a
 * 5xx greeting counts as a 4xx one, so the next host is tried.
 *
 * smtp_transaction(): MAIL FROM (SIZE, BODY=8BITMIME, SMTPUTF8, RET,
 * ENVID as the server allows), one RCPT TO per recipient (NOTIFY, ORCPT
 * when the server offers DSN), DATA; with PIPELINING all of them in one
 * write and the replies read in order (RFC 2920), otherwise one at a time.
 * Then the content and ".", and the reply: one for the whole message
 * (SMTP) or one per accepted recipient, in RCPT order (LMTP, RFC 2033).
 * 2xx is sent, 5xx bounced, 4xx kept for the next host (deferred when
 * there is none). A message larger than the
 * server's SIZE is bounced before MAIL FROM (5.3.4).
 *
 * TLS (RFC 3207): after EHLO, when the session's level is may or above,
 * the server offers STARTTLS and a client context exists, STARTTLS; on
 * 220 the handshake (smtp_tls.c), then EHLO again: the keywords of the
 * plaintext EHLO are forgotten. At encrypt and above a server that does
 * not offer STARTTLS ("TLS is required, but was not offered by host X",
 * 4.7.4) or refuses it ("TLS is required, but host X refused to start
 * TLS: <reply>") is a site failure; at may the session goes on in
 * plaintext. With smtp_tls_wrappermode the handshake comes before the
 * greeting and STARTTLS is never sent. smtp_tls_note_starttls_offer logs
 * "Host offered STARTTLS: [host]" at level none.
 *
 * AUTH (RFC 4954): after the last EHLO, smtp_sasl_helo() (smtp_sasl.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/address.h"
#include "mail/cleanup_client.h"
#include "mail/mail_conf.h"
#include "mail/tls.h"
#include "smtp/smtp.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

/* ---- helpers ---- */

/* RFC 3461 4: xtext. */
static void xtext(sbuf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p < 33 || *p > 126 || *p == '+' || *p == '=') {
            sbuf_addc(out, '+');
            sbuf_addc(out, hex[*p >> 4]);
            sbuf_addc(out, hex[*p & 15]);
        } else {
            sbuf_addc(out, *p);
        }
    }
}

static void envelope_addr(sbuf *out, const char *addr)
{
    if (!*addr) {
        sbuf_reset(out);
        return;
    }
    if (smtp_param_bool("quote_rfc821_envelope"))
        address_quote(addr, out);
    else
        sbuf_set(out, addr);
}

static bool has_8bit(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s >= 0x80)
            return true;
    return false;
}

/* First word of a reply line after its code: the server's name. */
static void reply_name(const struct smtp_reply *r, char *out, size_t size)
{
    const char *p = sbuf_str(&r->first);
    p += strlen(p) > 4 ? 4 : strlen(p);
    size_t n = strcspn(p, " \t");
    if (n >= size)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

static int loops_back(struct smtp_state *st, struct smtp_session *s, const struct smtp_reply *r,
                      const char *what, struct smtp_why *why)
{
    if (!s->loop_detect)
        return 0;
    char name[256];
    reply_name(r, name, sizeof(name));
    const char *me = mail_conf_str("myhostname");
    if (!*name || strcasecmp(name, me) != 0)
        return 0;
    msg_warn("host %s %s my own hostname %s", sbuf_str(&s->namaddr), what, me);
    smtp_why_set(why, s->best ? "5.4.6" : "4.4.6", sbuf_str(&s->relay),
                 "mail for %s loops back to myself", st->req->nexthop);
    return 1;
}

static void refused(struct smtp_session *s, const struct smtp_reply *r, struct smtp_why *why)
{
    smtp_why_set(why, r->dsn, sbuf_str(&s->relay), "host %s refused to talk to me: %s",
                 sbuf_str(&s->namaddr), sbuf_str(&r->text));
    sbuf_set(&why->diag, sbuf_str(&r->text));
}

static bool discarded(const strv *discard, const char *kw)
{
    for (size_t i = 0; i < discard->n; i++)
        if (strcasecmp(discard->v[i], kw) == 0)
            return true;
    return false;
}

static void ehlo_features(struct smtp_session *s, const struct smtp_reply *r)
{
    strv discard = {0};
    mail_conf_list(smtp_pname("discard_ehlo_keywords"), &discard);
    s->features = SMTP_FEAT_ESMTP;
    s->size_limit = 0;
    bool auth = false;
    for (size_t i = 1; i < r->lines.n; i++) {
        strv w = {0};
        strv_split(&w, r->lines.v[i], " \t=");
        if (w.n > 0 && !discarded(&discard, w.v[0])) {
            const char *kw = w.v[0];
            if (strcasecmp(kw, "PIPELINING") == 0)
                s->features |= SMTP_FEAT_PIPELINING;
            else if (strcasecmp(kw, "8BITMIME") == 0)
                s->features |= SMTP_FEAT_8BITMIME;
            else if (strcasecmp(kw, "DSN") == 0)
                s->features |= SMTP_FEAT_DSN;
            else if (strcasecmp(kw, "SMTPUTF8") == 0)
                s->features |= SMTP_FEAT_SMTPUTF8;
            else if (strcasecmp(kw, "STARTTLS") == 0)
                s->features |= SMTP_FEAT_STARTTLS;
            else if (strcasecmp(kw, "ENHANCEDSTATUSCODES") == 0)
                s->features |= SMTP_FEAT_ENHANCED;
            else if (strcasecmp(kw, "AUTH") == 0)
                auth = true;
            else if (strcasecmp(kw, "SIZE") == 0) {
                s->features |= SMTP_FEAT_SIZE;
                if (w.n > 1) {
                    char *end;
                    unsigned long long v = strtoull(w.v[1], &end, 10);
                    if (!*end && isdigit((unsigned char) w.v[1][0]))
                        s->size_limit = (unsigned long) v;
                }
            }
        }
        strv_free(&w);
    }
    strv_free(&discard);
    strv_free(&s->sasl_mechs);
    strv_init(&s->sasl_mechs);
    if (auth)
        smtp_auth_mechs(&r->lines, &s->sasl_mechs);
}

/* STARTTLS and what the TLS level demands, after a plaintext EHLO.
 * 1: TLS is now active (send EHLO again); 0: go on as is; -1 with why. */
static int starttls(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why)
{
    int rc = 0;

    if (s->tls)
        return 0;
    if ((s->features & SMTP_FEAT_STARTTLS) && s->tls_level <= TLS_LEV_NONE
        && smtp_param_bool("tls_note_starttls_offer"))
        msg_info("Host offered STARTTLS: [%s]", s->host);
    if ((s->features & SMTP_FEAT_STARTTLS) && s->tls_level >= TLS_LEV_MAY
        && smtp_tls_available()) {
        struct smtp_reply r;
        smtp_reply_init(&r);
        smtp_cmd(s, "STARTTLS");
        if (smtp_reply_read(s, smtp_param_ms("starttls_timeout"),
                            "receiving the STARTTLS response", &r, why) < 0) {
            rc = -1;
        } else if (r.code / 100 == 2) {
            rc = smtp_tls_start(st, s, why) < 0 ? -1 : 1;
        } else {
            if (r.code == 0)
                s->broken = true;
            s->features &= ~SMTP_FEAT_STARTTLS;
            if (s->tls_level >= TLS_LEV_ENCRYPT) {
                smtp_why_set(why, r.dsn, sbuf_str(&s->relay),
                             "TLS is required, but host %s refused to start TLS: %s",
                             sbuf_str(&s->namaddr), sbuf_str(&r.text));
                sbuf_set(&why->diag, sbuf_str(&r.text));
                rc = -1;
            }
        }
        smtp_reply_free(&r);
        if (rc != 0)
            return rc;
    }
    /* Never plaintext when TLS is required. */
    if (s->tls_level >= TLS_LEV_ENCRYPT) {
        if (!(s->features & SMTP_FEAT_STARTTLS))
            smtp_why_set(why, "4.7.4", sbuf_str(&s->relay),
                         "TLS is required, but was not offered by host %s",
                         sbuf_str(&s->namaddr));
        else if (!smtp_tls_available())
            smtp_why_set(why, "4.7.5", sbuf_str(&s->relay),
                         "TLS is required, but our TLS engine is unavailable");
        else
            smtp_why_set(why, "4.7.0", sbuf_str(&s->relay), "TLS is required, but unavailable");
        return -1;
    }
    return 0;
}

/* ---- greeting and HELO ---- */

int smtp_helo(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why)
{
    struct smtp_reply r;
    smtp_reply_init(&r);
    int timeout = smtp_param_ms("helo_timeout");
    int rc = -1;

    /* smtps: TLS from the first byte. */
    if (s->tlsd && s->tlsd->wrapper && !s->tls && smtp_tls_start(st, s, why) < 0)
        goto out;
    if (smtp_reply_read(s, timeout, "receiving the initial server greeting", &r, why) < 0)
        goto out;
    if (r.code / 100 != 2) {
        if (r.code / 100 == 5 && smtp_param_bool("skip_5xx_greeting"))
            r.dsn[0] = '4';
        if (r.code == 0)
            r.dsn[0] = '4';
        refused(s, &r, why);
        goto out;
    }
    if (loops_back(st, s, &r, "greeted me with", why))
        goto out;
    bool esmtp_greeting = strstr(sbuf_str(&r.text), "ESMTP") != 0;

    const char *name = smtp_param_str("helo_name");
    const char *verb, *doing;
    if (smtp_lmtp) {
        verb = "LHLO";
        doing = "performing the LHLO handshake";
    } else if (smtp_param_bool("never_send_ehlo")
               || (!smtp_param_bool("always_send_ehlo") && !esmtp_greeting)) {
        verb = "HELO";
        doing = "performing the HELO handshake";
    } else {
        verb = "EHLO";
        doing = "performing the EHLO handshake";
    }
again:
    smtp_cmd(s, "%s %s", verb, name);
    if (smtp_reply_read(s, timeout, doing, &r, why) < 0)
        goto out;
    if (r.code / 100 == 5 && strcmp(verb, "EHLO") == 0) {
        /* RFC 5321 4.1.4: a server that does not know EHLO gets HELO. */
        verb = "HELO";
        smtp_cmd(s, "HELO %s", name);
        if (smtp_reply_read(s, timeout, "performing the HELO handshake", &r, why) < 0)
            goto out;
    }
    if (r.code / 100 != 2) {
        if (r.code == 0)
            s->broken = true;
        refused(s, &r, why);
        goto out;
    }
    if (loops_back(st, s, &r, "replied to HELO/EHLO with", why))
        goto out;
    if (strcmp(verb, "HELO") == 0) {
        s->features = 0;
        strv_free(&s->sasl_mechs);
        strv_init(&s->sasl_mechs);
    } else {
        ehlo_features(s, &r);
    }
    switch (starttls(st, s, why)) {
    case 1:
        /* RFC 3207 4.2: forget what the server said before TLS. */
        s->features = 0;
        goto again;
    case -1:
        goto out;
    }
    if (smtp_sasl_helo(st, s, why) < 0)
        goto out;
    rc = 0;
out:
    smtp_reply_free(&r);
    return rc;
}

/* ---- one transaction ---- */

/* A failure for one recipient: 5xx is final; 4xx is kept for the next host
 * (smtp_finish_pending defers it when there is none). */
static void rcpt_fail(struct smtp_state *st, size_t i, const struct smtp_why *why)
{
    if (st->rcpt[i].done)
        return;
    st->rcpt[i].accepted = false;
    if (!smtp_why_soft(why))
        smtp_rcpt_done(st, i, why);
    else
        smtp_why_copy(&st->rcpt[i].why, why);
}

static void notify_param(sbuf *cmd, int notify)
{
    if (notify & DSN_NOTIFY_NEVER) {
        sbuf_adds(cmd, " NOTIFY=NEVER");
        return;
    }
    const char *sep = " NOTIFY=";
    static const struct { int bit; const char *word; } words[] = {
        { DSN_NOTIFY_SUCCESS, "SUCCESS" }, { DSN_NOTIFY_FAILURE, "FAILURE" },
        { DSN_NOTIFY_DELAY, "DELAY" },
    };
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
        if (notify & words[k].bit) {
            sbuf_adds(cmd, sep);
            sbuf_adds(cmd, words[k].word);
            sep = ",";
        }
    }
}

static void orcpt_param(sbuf *cmd, const struct deliver_rcpt *rc)
{
    const char *orcpt = rc->dsn_orcpt ? rc->dsn_orcpt : "";
    const char *semi = strchr(orcpt, ';');
    if (*orcpt && semi && semi > orcpt) {
        sbuf_adds(cmd, " ORCPT=");
        sbuf_add(cmd, orcpt, (size_t) (semi - orcpt + 1));
        xtext(cmd, semi + 1);
    } else if (rc->orig_address && *rc->orig_address) {
        sbuf q = SBUF_INIT;
        address_quote(rc->orig_address, &q);
        sbuf_adds(cmd, " ORCPT=rfc822;");
        xtext(cmd, sbuf_str(&q));
        sbuf_free(&q);
    }
}

static void mail_command(struct smtp_state *st, struct smtp_session *s, bool utf8)
{
    const struct deliver_request *req = st->req;
    sbuf addr = SBUF_INIT, cmd = SBUF_INIT;
    envelope_addr(&addr, req->sender);
    sbuf_printf(&cmd, "MAIL FROM:<%s>", sbuf_str(&addr));
    if (s->features & SMTP_FEAT_SIZE)
        sbuf_printf(&cmd, " SIZE=%lld", (long long) req->content_size);
    if ((st->qflags & QFILE_FL_8BITMIME) && (s->features & SMTP_FEAT_8BITMIME))
        sbuf_adds(&cmd, " BODY=8BITMIME");
    if (utf8)
        sbuf_adds(&cmd, " SMTPUTF8");
    if (s->authenticated && smtp_param_bool("send_dummy_mail_auth"))
        sbuf_adds(&cmd, " AUTH=<>");
    if (s->features & SMTP_FEAT_DSN) {
        if (req->dsn_ret == 1)
            sbuf_adds(&cmd, " RET=FULL");
        else if (req->dsn_ret == 2)
            sbuf_adds(&cmd, " RET=HDRS");
        if (req->dsn_envid && *req->dsn_envid) {
            sbuf_adds(&cmd, " ENVID=");
            xtext(&cmd, req->dsn_envid);
        }
    }
    smtp_cmd(s, "%s", sbuf_str(&cmd));
    sbuf_free(&addr);
    sbuf_free(&cmd);
}

static void rcpt_command(struct smtp_state *st, struct smtp_session *s, size_t i)
{
    const struct deliver_rcpt *rc = &st->req->rcpt[i];
    sbuf addr = SBUF_INIT, cmd = SBUF_INIT;
    envelope_addr(&addr, rc->address);
    sbuf_printf(&cmd, "RCPT TO:<%s>", sbuf_str(&addr));
    if (s->features & SMTP_FEAT_DSN) {
        if (rc->notify)
            notify_param(&cmd, rc->notify);
        orcpt_param(&cmd, rc);
    }
    smtp_cmd(s, "%s", sbuf_str(&cmd));
    sbuf_free(&addr);
    sbuf_free(&cmd);
}

/* Every recipient of the transaction (or only the accepted ones) gets why. */
static void fail_list(struct smtp_state *st, const size_t *idx, size_t n, bool accepted_only,
                      const struct smtp_why *why)
{
    for (size_t k = 0; k < n; k++)
        if (!accepted_only || st->rcpt[idx[k]].accepted)
            rcpt_fail(st, idx[k], why);
}

/* The session failed: every recipient of the transaction keeps a soft why. */
static int broken(struct smtp_state *st, const size_t *idx, size_t n, const struct smtp_why *why)
{
    for (size_t k = 0; k < n; k++)
        rcpt_fail(st, idx[k], why);
    smtp_why_copy(&st->last, why);
    return -1;
}

static bool reply_broken(struct smtp_session *s, const struct smtp_reply *r)
{
    if (r->code == 0 || r->code == 421)
        s->broken = true;
    return s->broken;
}

int smtp_transaction(struct smtp_state *st, struct smtp_session *s, size_t limit)
{
    const struct deliver_request *req = st->req;
    size_t *idx = xcalloc(req->nrcpt ? req->nrcpt : 1, sizeof(*idx));
    size_t n = 0;
    for (size_t i = 0; i < req->nrcpt && (limit == 0 || n < limit); i++) {
        if (!st->rcpt[i].done && !st->rcpt[i].tried) {
            st->rcpt[i].tried = true;
            st->rcpt[i].accepted = false;
            idx[n++] = i;
        }
    }
    struct smtp_why why;
    struct smtp_reply r;
    smtp_why_init(&why);
    smtp_reply_init(&r);
    int rc = 0;
    if (n == 0)
        goto out;

    /* Refuse early what the server said it will not take. */
    if ((s->features & SMTP_FEAT_SIZE) && s->size_limit > 0
        && (unsigned long long) req->content_size > s->size_limit) {
        smtp_why_set(&why, "5.3.4", sbuf_str(&s->relay),
                     "message size %lld exceeds size limit %lu of server %s",
                     (long long) req->content_size, s->size_limit, sbuf_str(&s->namaddr));
        fail_list(st, idx, n, false, &why);
        goto out;
    }
    bool utf8 = false;
    if (st->qflags & QFILE_FL_SMTPUTF8) {
        bool needed = has_8bit(req->sender);
        for (size_t k = 0; k < n && !needed; k++)
            needed = has_8bit(req->rcpt[idx[k]].address);
        if (s->features & SMTP_FEAT_SMTPUTF8) {
            utf8 = true;
        } else if (needed) {
            smtp_why_set(&why, "5.6.7", sbuf_str(&s->relay),
                         "SMTPUTF8 is required, but was not offered by host %s",
                         sbuf_str(&s->namaddr));
            fail_list(st, idx, n, false, &why);
            goto out;
        }
    }
    bool verify = (req->flags & DEL_REQ_FLAG_VERIFY) != 0;
    bool pipe = (s->features & SMTP_FEAT_PIPELINING) != 0;
    int t_mail = smtp_param_ms("mail_timeout"), t_rcpt = smtp_param_ms("rcpt_timeout");
    int t_data = smtp_param_ms("data_init_timeout");

    /* MAIL FROM */
    mail_command(st, s, utf8);
    if (pipe) {
        for (size_t k = 0; k < n; k++)
            rcpt_command(st, s, idx[k]);
        if (!verify)
            smtp_cmd(s, "DATA");
        if (smtp_flush(s, t_mail, "sending MAIL FROM", &why) < 0) {
            rc = broken(st, idx, n, &why);
            goto out;
        }
    }
    if (smtp_reply_read(s, t_mail, "sending MAIL FROM", &r, &why) < 0) {
        rc = broken(st, idx, n, &why);
        goto out;
    }
    bool mail_ok = r.code / 100 == 2;
    if (!mail_ok) {
        smtp_reply_why(s, &r, "MAIL FROM", &why);
        fail_list(st, idx, n, false, &why);
        smtp_why_copy(&st->last, &why);
        if (reply_broken(s, &r)) {
            rc = -1;
            goto out;
        }
        if (!pipe)
            goto out;
    }

    /* RCPT TO */
    size_t accepted = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = idx[k];
        if (!pipe)
            rcpt_command(st, s, i);
        if (smtp_reply_read(s, t_rcpt, "sending RCPT TO", &r, &why) < 0) {
            rc = broken(st, idx, n, &why);
            goto out;
        }
        if (!mail_ok)
            continue;
        if (r.code / 100 == 2) {
            st->rcpt[i].accepted = true;
            accepted++;
            if (verify)
                smtp_rcpt_sent(st, i, r.dsn, sbuf_str(&s->relay), sbuf_str(&r.text));
            continue;
        }
        smtp_reply_why(s, &r, "RCPT TO", &why);
        rcpt_fail(st, i, &why);
        if (reply_broken(s, &r)) {
            rc = broken(st, idx, n, &why);
            goto out;
        }
    }
    if (verify)
        goto out;

    /* DATA */
    if (!pipe) {
        if (!mail_ok || accepted == 0)
            goto out;
        smtp_cmd(s, "DATA");
    }
    if (smtp_reply_read(s, t_data, "sending DATA command", &r, &why) < 0) {
        rc = broken(st, idx, n, &why);
        goto out;
    }
    if (!mail_ok || accepted == 0) {
        if (r.code == 354) {
            /* The server wants a message nobody will receive: end it empty. */
            smtp_cmd(s, ".");
            if (smtp_reply_read(s, smtp_param_ms("data_done_timeout"), "sending end of data",
                                &r, &why) < 0)
                rc = -1;
        }
        if (reply_broken(s, &r))
            rc = -1;
        goto out;
    }
    if (r.code != 354) {
        smtp_reply_why(s, &r, "DATA", &why);
        fail_list(st, idx, n, true, &why);
        smtp_why_copy(&st->last, &why);
        rc = reply_broken(s, &r) ? -1 : 0;
        goto out;
    }
    if (smtp_send_content(st, s, &why) < 0) {
        rc = broken(st, idx, n, &why);
        goto out;
    }

    /* The end of data reply: one (SMTP), or one per accepted recipient (LMTP). */
    int t_done = smtp_param_ms("data_done_timeout");
    const char *doing = "sending end of data -- message may be sent more than once";
    bool have_reply = false;
    for (size_t k = 0; k < n; k++) {
        size_t i = idx[k];
        if (!st->rcpt[i].accepted)
            continue;
        if (smtp_lmtp || !have_reply) {
            if (smtp_reply_read(s, t_done, doing, &r, &why) < 0) {
                rc = broken(st, idx, n, &why);
                goto out;
            }
            have_reply = true;
            if (r.code / 100 != 2)
                smtp_reply_why(s, &r, "end of DATA", &why);
        }
        if (r.code / 100 == 2) {
            smtp_rcpt_sent(st, i, r.dsn, sbuf_str(&s->relay), sbuf_str(&r.text));
            continue;
        }
        rcpt_fail(st, i, &why);
        smtp_why_copy(&st->last, &why);
        if (reply_broken(s, &r)) {
            rc = broken(st, idx, n, &why);
            goto out;
        }
    }

out:
    smtp_reply_free(&r);
    smtp_why_free(&why);
    xfree(idx);
    return rc;
}

/* ---- between and after transactions ---- */

int smtp_rset(struct smtp_session *s)
{
    struct smtp_why why;
    struct smtp_reply r;
    smtp_why_init(&why);
    smtp_reply_init(&r);
    smtp_cmd(s, "RSET");
    int rc = smtp_reply_read(s, smtp_param_ms("rset_timeout"), "sending RSET", &r, &why) == 0
             && r.code / 100 == 2 ? 0 : -1;
    if (rc < 0)
        s->broken = true;
    smtp_reply_free(&r);
    smtp_why_free(&why);
    return rc;
}

void smtp_quit(struct smtp_session *s)
{
    if (!s)
        return;
    if (!s->broken) {
        struct smtp_why why;
        smtp_why_init(&why);
        smtp_cmd(s, "QUIT");
        int t = smtp_param_ms("quit_timeout");
        if (smtp_flush(s, t, "sending QUIT", &why) == 0 && !smtp_param_bool("skip_quit_response")) {
            struct smtp_reply r;
            smtp_reply_init(&r);
            (void) smtp_reply_read(s, t, "sending QUIT", &r, &why);
            smtp_reply_free(&r);
        }
        smtp_why_free(&why);
    }
    smtp_session_free(s);
}
