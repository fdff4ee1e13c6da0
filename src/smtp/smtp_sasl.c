/*
 * smtp_sasl.c - SMTP AUTH in the SMTP/LMTP client (see docs/sasl.md,
 * "The SMTP client").
 *
 * With smtp_sasl_auth_enable = yes, after the last EHLO (the one after
 * STARTTLS, when TLS is used) and when the server offers AUTH, the client
 * looks up credentials "user:password" in smtp_sasl_password_maps (opened
 * as root, so the table may be readable by root only). Keys, first hit
 * wins: with smtp_sender_dependent_authentication (SMTP only) the sender
 * (user@domain, then @domain); then "[host]:port", "host:port", "[host]",
 * "host" of the server, then the destination as written (the relayhost
 * "[relay]:submission", the recipient domain). No entry: no AUTH.
 *
 * The server's mechanisms (AUTH and the old AUTH= form) are narrowed by
 * smtp_sasl_mechanism_filter (names, "!name", /file/name, type:table) and
 * Cyrus picks one allowed by the security options: smtp_sasl_security_
 * options in plaintext, smtp_sasl_tls_security_options under TLS,
 * smtp_sasl_tls_verified_security_options when the server certificate was
 * verified. Results:
 *   235                 authenticated
 *   other replies       "SASL authentication failed; server host[addr] said:
 *                       535 ..." (5xx becomes 4xx with smtp_sasl_auth_soft_bounce)
 *   local failure       "SASL authentication failed; cannot authenticate to
 *                       server host[addr]: no mechanism available" (4.7.0)
 *   table failure       4.3.0, deferred
 * each a site failure: the pending recipients keep the reason and the next
 * server is tried. Nothing secret is ever logged.
 *
 * Not here: the Cyrus glue (src/mail/sasl_client.c), the key order
 * (smtp_keys.c).
 */
#include <stdio.h>
#include <string.h>

#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/match_list.h"
#include "mail/sasl_client.h"
#include "smtp/smtp.h"
#include "util/mem.h"
#include "util/msg.h"

#define SASL_MAX_STEPS 100

static bool ready;
static maps *passwd_maps;
static match_list *mech_filter;

bool smtp_sasl_enabled(void)
{
    return ready;
}

bool smtp_sasl_no_cache(void)
{
    return ready && !smtp_lmtp && smtp_param_bool("sender_dependent_authentication");
}

void smtp_sasl_pre_init(void)
{
    sbuf err = SBUF_INIT;

    if (!smtp_param_bool("sasl_auth_enable"))
        return;
    const char *spec = smtp_param_str("sasl_password_maps");
    if (!*spec) {
        msg_warn("%s is empty: SASL authentication is disabled",
                 smtp_pname("sasl_password_maps"));
        return;
    }
    passwd_maps = maps_open(smtp_pname("sasl_password_maps"), spec, DICT_FLAG_DEFAULT);
    if (sasl_client_lib_init(smtp_param_str("sasl_type"), smtp_param_str("sasl_path"),
                             &err) < 0) {
        msg_warn("%s: SASL authentication is disabled", sbuf_str(&err));
        sbuf_free(&err);
        return;
    }
    const char *filter = smtp_param_str("sasl_mechanism_filter");
    if (*filter)
        mech_filter = match_list_open(smtp_pname("sasl_mechanism_filter"), filter);
    ready = true;
    sbuf_free(&err);
}

/* "user:password" into the session. */
static void set_credentials(struct smtp_session *s, const char *value)
{
    const char *colon = strchr(value, ':');
    xfree(s->sasl_user);
    xfree(s->sasl_pass);
    if (colon) {
        s->sasl_user = xstrndup(value, (size_t) (colon - value));
        s->sasl_pass = xstrdup(colon + 1);
    } else {
        s->sasl_user = xstrdup(value);
        s->sasl_pass = xstrdup("");
    }
    s->sasl_found = 1;
}

static int lookup_failed(struct smtp_session *s, const char *key, struct smtp_why *why)
{
    msg_warn("%s: table lookup error for \"%s\"", maps_title(passwd_maps), key);
    smtp_why_set(why, "4.3.0", sbuf_str(&s->relay),
                 "SASL authentication failed; password table lookup error for server %s",
                 sbuf_str(&s->namaddr));
    return -1;
}

int smtp_sasl_lookup(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why)
{
    int error = 0;
    const char *v = 0;

    if (!ready)
        return 0;
    if (s->sasl_found >= 0)
        return s->sasl_found;
    const char *sender = st->req->sender ? st->req->sender : "";
    if (!smtp_lmtp && *sender && smtp_param_bool("sender_dependent_authentication")) {
        v = maps_find_addr(passwd_maps, sender, 0, &error, 0);
        if (!v && error)
            return lookup_failed(s, sender, why);
    }
    if (!v) {
        strv keys;
        strv_init(&keys);
        smtp_sasl_passwd_keys(s->port > 0 ? s->host : 0, s->port, s->dest_text, &keys);
        for (size_t i = 0; i < keys.n && !v; i++) {
            v = maps_find(passwd_maps, keys.v[i], &error);
            if (!v && error) {
                int r = lookup_failed(s, keys.v[i], why);
                strv_free(&keys);
                return r;
            }
        }
        strv_free(&keys);
    }
    if (!v) {
        if (msg_verbose)
            msg_info("no SASL credentials for %s", sbuf_str(&s->relay));
        s->sasl_found = 0;
        return 0;
    }
    set_credentials(s, v);
    return 1;
}

/* The server's mechanisms that pass smtp_sasl_mechanism_filter. */
static void filter_mechs(const strv *offered, sbuf *out)
{
    for (size_t i = 0; i < offered->n; i++) {
        if (mech_filter && match_domain(mech_filter, offered->v[i]) <= 0)
            continue;
        if (out->len)
            sbuf_addc(out, ' ');
        sbuf_adds(out, offered->v[i]);
    }
}

static void local_failure(struct smtp_session *s, const char *text, struct smtp_why *why)
{
    smtp_why_set(why, "4.7.0", sbuf_str(&s->relay),
                 "SASL authentication failed; cannot authenticate to server %s: %s",
                 sbuf_str(&s->namaddr), text);
}

int smtp_sasl_helo(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why)
{
    sbuf mechs = SBUF_INIT, out = SBUF_INIT, err = SBUF_INIT;
    struct smtp_reply r;
    sasl_client *c = 0;
    int rc = -1;

    if (!ready || s->sasl_mechs.n == 0 || s->authenticated)
        return 0;
    smtp_reply_init(&r);
    filter_mechs(&s->sasl_mechs, &mechs);
    if (mechs.len == 0) {
        char *all = strv_join(&s->sasl_mechs, " ");
        msg_warn("%s offered no supported AUTH mechanisms: '%s'", sbuf_str(&s->relay), all);
        xfree(all);
        rc = 0;
        goto out;
    }
    int found = smtp_sasl_lookup(st, s, why);
    if (found <= 0) {
        rc = found;
        goto out;
    }
    const char *opts = smtp_param_str(!s->tls ? "sasl_security_options"
                                      : s->tls_verified ? "sasl_tls_verified_security_options"
                                                        : "sasl_tls_security_options");
    struct sasl_client_params p = {
        .service = smtp_lmtp ? "lmtp" : "smtp",
        .server_name = s->host,
        .security_options = opts,
        .username = s->sasl_user,
        .password = s->sasl_pass,
    };
    if ((c = sasl_client_create(&p, &err)) == 0) {
        msg_warn("%s: %s", sbuf_str(&s->relay), sbuf_str(&err));
        local_failure(s, sbuf_str(&err), why);
        goto out;
    }
    const char *mech = 0;
    bool has_initial = false;
    if (sasl_client_first(c, sbuf_str(&mechs), &mech, &out, &has_initial, &err) != SASL_CLNT_OK) {
        local_failure(s, sbuf_str(&err), why);
        goto out;
    }
    /* RFC 4954 4: "=" is an empty initial response. */
    if (has_initial)
        smtp_cmd(s, "AUTH %s %s", mech, out.len ? sbuf_str(&out) : "=");
    else
        smtp_cmd(s, "AUTH %s", mech);
    int timeout = smtp_param_ms("helo_timeout");
    const char *doing = "performing the SASL authentication";
    int steps = 0;
    for (;;) {
        if (smtp_reply_read(s, timeout, doing, &r, why) < 0)
            goto out;
        if (r.code != 334)
            break;
        if (++steps > SASL_MAX_STEPS) {
            s->broken = true;
            smtp_why_set(why, "4.3.0", sbuf_str(&s->relay),
                         "SASL authentication failed; authentication protocol loop with "
                         "server %s", sbuf_str(&s->namaddr));
            goto out;
        }
        const char *challenge = r.lines.n > 0 ? r.lines.v[0] : "";
        if (sasl_client_next(c, challenge, &out, &err) != SASL_CLNT_OK) {
            /* RFC 4954 4: "*" cancels the exchange; the server answers 501. */
            smtp_cmd(s, "*");
            (void) smtp_reply_read(s, timeout, doing, &r, why);
            local_failure(s, sbuf_str(&err), why);
            goto out;
        }
        smtp_cmd(s, "%s", sbuf_str(&out));
    }
    if (r.code / 100 == 2) {
        s->authenticated = true;
        if (msg_verbose)
            msg_info("%s: SASL %s authentication succeeded", sbuf_str(&s->relay), mech);
        rc = 0;
        goto out;
    }
    if (r.code == 0)
        s->broken = true;
    char dsn[DSN_CODE_SIZE];
    snprintf(dsn, sizeof(dsn), "%s", r.dsn[0] ? r.dsn : "4.7.0");
    if (dsn[0] == '5' && smtp_param_bool("sasl_auth_soft_bounce"))
        dsn[0] = '4';
    smtp_why_set(why, dsn, sbuf_str(&s->relay), "SASL authentication failed; server %s said: %s",
                 sbuf_str(&s->namaddr), sbuf_str(&r.text));
    sbuf_set(&why->diag, sbuf_str(&r.text));
out:
    sasl_client_free(c);
    smtp_reply_free(&r);
    /* The buffers held base64 of the password. */
    if (out.s)
        memset(out.s, 0, out.cap);
    sbuf_free(&out);
    sbuf_free(&mechs);
    sbuf_free(&err);
    return rc;
}
