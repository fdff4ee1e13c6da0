/*
 * smtpd_tls.c - TLS in the SMTP server: STARTTLS (RFC 3207), wrapper mode
 * (smtps, port 465), the "Must issue a STARTTLS command first" rule of
 * level encrypt, client certificates and the Received: clause.
 *
 * Level (per service, so master.cf -o works): smtpd_tls_security_level
 * (none, may, encrypt) or, when it is empty, the old smtpd_enforce_tls
 * (encrypt) and smtpd_use_tls (may). The OpenSSL context is made once per
 * process in pre_init (as root, so root-only key files work).
 *
 * When the context cannot be made (missing certificate, bad key, no
 * usable protocol): with level may STARTTLS is simply not offered and a
 * warning says why ("... : disabling TLS support"); with level encrypt
 * STARTTLS is still offered and answered "454 4.7.0 TLS not available
 * due to local problem", so no mail is accepted in plaintext; in wrapper
 * mode the connection is dropped with a warning.
 *
 * STARTTLS: "220 2.0.0 Ready to start TLS", then everything the client
 * pipelined after STARTTLS in plaintext is thrown away before the
 * handshake (CVE-2011-0411: such text must never be read as if it came
 * through TLS), and the session starts over as RFC 3207 4.2 requires
 * (HELO forgotten, a new SASL connection with the TLS security options).
 *
 * Client certificates: smtpd_tls_ask_ccert asks for one;
 * smtpd_tls_req_ccert (with level encrypt) requires a trusted one
 * ("421 4.7.1 host Error: No client certificate presented").
 * permit_tls_clientcerts permits a trusted certificate whose fingerprint
 * (smtpd_tls_fingerprint_digest, certificate or public key) is a key in
 * relay_clientcerts; permit_tls_all_clientcerts permits any trusted one.
 * check_ccert_access (smtpd_access.c) looks up the fingerprints of any
 * certificate the client presented, trusted or not.
 *
 * Does not: OpenSSL itself (src/mail/tls_*.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/tls.h"
#include "util/mem.h"
#include "util/msg.h"

#include "smtpd/smtpd.h"

static tls_ctx *server_ctx;         /* NULL: TLS unavailable (see why_not) */
static int proc_level;              /* the level this process was set up for */
static bool proc_wrapper;
static maps *relay_certs;           /* relay_clientcerts, NULL when empty */

static int configured_level(void)
{
    const char *v = mail_conf_str("smtpd_tls_security_level");
    if (*v) {
        int lev = tls_level_parse(v);
        if (lev == TLS_LEV_NONE || lev == TLS_LEV_MAY || lev == TLS_LEV_ENCRYPT)
            return lev;
        if (lev > TLS_LEV_ENCRYPT) {
            /* As Postfix: the client-only levels mean encrypt here. */
            msg_warn("smtpd_tls_security_level: \"%s\" is not supported by the SMTP server; "
                     "using \"encrypt\"", v);
            return TLS_LEV_ENCRYPT;
        }
        msg_warn("smtpd_tls_security_level: invalid value \"%s\"; using \"none\"", v);
        return TLS_LEV_NONE;
    }
    if (mail_conf_bool("smtpd_enforce_tls"))
        return TLS_LEV_ENCRYPT;
    return mail_conf_bool("smtpd_use_tls") ? TLS_LEV_MAY : TLS_LEV_NONE;
}

/* ---- restrictions ---- */

static int r_tls_clientcerts(struct smtpd_check *c, const char *name, const char *arg)
{
    SMTPD_STATE *st = c->ops_ctx;
    (void) arg;
    if (!st || !st->tls)
        return SMTPD_CHECK_DUNNO;
    const struct tls_info *i = tls_sess_info(st->tls);
    if (!i->peer_cert || !i->peer_trusted)
        return SMTPD_CHECK_DUNNO;
    if (strcasecmp(name, "permit_tls_all_clientcerts") == 0)
        return SMTPD_CHECK_OK;
    if (!relay_certs)
        return SMTPD_CHECK_DUNNO;
    const char *keys[] = {i->peer_cert_fprint, i->peer_pkey_fprint};
    for (size_t k = 0; k < 2; k++) {
        int err = 0;
        if (keys[k][0] && maps_find(relay_certs, keys[k], &err)) {
            msg_info("%s: relay access granted to client certificate %s (CN=%s)",
                     st->namaddr, keys[k], i->peer_CN);
            return SMTPD_CHECK_OK;
        }
        if (err)
            return smtpd_check_reject(c, 451, "4.3.0", "<%s>: Temporary lookup failure",
                                      st->namaddr);
    }
    return SMTPD_CHECK_DUNNO;
}

static const struct smtpd_restriction tls_restrictions[] = {
    {"permit_tls_clientcerts", 0, r_tls_clientcerts},
    {"permit_tls_all_clientcerts", 0, r_tls_clientcerts},
    {0, 0, 0},
};

/* ---- process and session set-up ---- */

void smtpd_tls_pre_init(void)
{
    smtpd_check_register(tls_restrictions);
    if (*mail_conf_str("relay_clientcerts"))
        relay_certs = maps_open("relay_clientcerts", mail_conf_str("relay_clientcerts"),
                                DICT_FLAG_DEFAULT);
    proc_level = configured_level();
    proc_wrapper = mail_conf_bool("smtpd_tls_wrappermode");
    if (proc_level == TLS_LEV_NONE && !proc_wrapper)
        return;

    sbuf err = SBUF_INIT;
    bool mandatory = proc_wrapper || proc_level == TLS_LEV_ENCRYPT;
    server_ctx = tls_server_ctx("smtpd", mandatory, &err);
    if (!server_ctx) {
        if (proc_wrapper)
            msg_warn("%s: TLS is not available to this wrapper-mode service", sbuf_str(&err));
        else if (proc_level == TLS_LEV_ENCRYPT)
            msg_warn("%s: TLS is required here but not available: STARTTLS will be answered "
                     "with 454 and no mail is accepted", sbuf_str(&err));
        else
            msg_warn("%s: disabling TLS support", sbuf_str(&err));
    } else {
        /* Problems that do not stop TLS but that the administrator must
         * hear about (a private key readable by other users). */
        strv errs, warns;
        strv_init(&errs);
        strv_init(&warns);
        tls_check_config("smtpd", &errs, &warns);
        for (size_t i = 0; i < errs.n; i++)
            msg_warn("%s", errs.v[i]);
        strv_free(&errs);
        strv_free(&warns);
    }
    sbuf_free(&err);
}

void smtpd_tls_session_init(SMTPD_STATE *st)
{
    st->tls_level = proc_level;
    st->tls_wrapper = proc_wrapper;
    /* Level encrypt implies smtpd_tls_auth_only (postconf(5)). */
    st->tls_auth_only = mail_conf_bool("smtpd_tls_auth_only") || st->tls_level == TLS_LEV_ENCRYPT;
    /* Level may with a broken context: as if TLS were off. Level encrypt:
     * still offered, so the client learns why nothing works (454). */
    st->tls_offer = !st->tls_wrapper
                    && ((st->tls_level == TLS_LEV_MAY && server_ctx)
                        || st->tls_level == TLS_LEV_ENCRYPT);
}

bool smtpd_tls_required(const SMTPD_STATE *st)
{
    return st->tls_level == TLS_LEV_ENCRYPT && !st->tls && !st->tls_wrapper;
}

/* After the handshake: smtpd_tls_req_ccert. 0, or -1 after replying. */
static int check_required_cert(SMTPD_STATE *st)
{
    if (!mail_conf_bool("smtpd_tls_req_ccert") || st->tls_level != TLS_LEV_ENCRYPT)
        return 0;
    const struct tls_info *i = tls_sess_info(st->tls);
    if (i->peer_cert && i->peer_trusted)
        return 0;
    const char *why = i->peer_cert ? "Client certificate not trusted"
                                   : "No client certificate presented";
    msg_info("NOQUEUE: abort: TLS from %s: %s", st->namaddr, why);
    smtpd_reply(st, "421 4.7.1 %s Error: %s", st->myhostname, why);
    st->done = true;
    return -1;
}

/* After the handshake: smtpd_client_new_tls_session_rate_limit. */
static int count_new_session(SMTPD_STATE *st, bool say)
{
    if (smtpd_anvil_newtls_count(st, tls_sess_info(st->tls)->resumed) == 0)
        return 0;
    if (say)
        smtpd_reply(st, "421 4.7.0 %s Error: too many new TLS sessions from %s", st->myhostname,
                    st->namaddr);
    st->done = true;
    return -1;
}

static int starttls_timeout_ms(void)
{
    long t = mail_conf_time("smtpd_starttls_timeout");
    return t > 2000000 ? 2000000000 : (int) (t * 1000);
}

int smtpd_tls_wrapper_start(SMTPD_STATE *st)
{
    sbuf err = SBUF_INIT;

    if (!st->tls_wrapper)
        return 0;
    if (!server_ctx) {
        msg_warn("Wrapper-mode request dropped from %s for service %s. TLS context "
                 "initialization failed. For details see earlier warnings in your logs.",
                 st->namaddr, st->service);
        st->done = true;
        return -1;
    }
    st->tls = tls_server_start(server_ctx, st->client, st->namaddr, starttls_timeout_ms(), &err);
    sbuf_free(&err);
    if (!st->tls) {
        st->done = true;
        return -1;
    }
    if (count_new_session(st, false) < 0)
        return -1;
    return check_required_cert(st);
}

int smtpd_starttls_cmd(SMTPD_STATE *st, const char *args)
{
    sbuf err = SBUF_INIT;

    if (*args) {
        smtpd_reply(st, "501 5.5.4 Syntax: STARTTLS");
        return -1;
    }
    if (st->tls) {
        smtpd_reply(st, "554 5.5.1 Error: TLS already active");
        return -1;
    }
    if (!st->tls_offer) {
        smtpd_reply(st, "502 5.5.1 Error: command not implemented");
        return -1;
    }
    if (!server_ctx) {
        smtpd_reply(st, "454 4.7.0 TLS not available due to local problem");
        return -1;
    }
    if (smtpd_anvil_newtls_check(st) < 0)
        return -1;
    smtpd_reply(st, "220 2.0.0 Ready to start TLS");
    if (vstream_flush(st->client) < 0) {
        msg_info("lost connection after STARTTLS from %s", st->namaddr);
        st->done = true;
        return -1;
    }
    /* CVE-2011-0411: plaintext sent after STARTTLS is not a command. */
    size_t dropped = vstream_purge_input(st->client);
    if (dropped && msg_verbose)
        msg_info("%s: discarded %zu bytes of plaintext pipelined after STARTTLS", st->namaddr,
                 dropped);
    st->tls = tls_server_start(server_ctx, st->client, st->namaddr, starttls_timeout_ms(), &err);
    sbuf_free(&err);
    if (!st->tls) {
        msg_info("lost connection after STARTTLS from %s", st->namaddr);
        st->done = true;
        return -1;
    }
    /* RFC 3207 4.2: forget what the client said before TLS. */
    smtpd_mail_reset(st);
    xfree(st->helo_name);
    st->helo_name = 0;
    st->protocol = "SMTP";
    st->pipelining = false;
    smtpd_sasl_session_end(st);
    smtpd_sasl_session_init(st);
    if (count_new_session(st, true) < 0)
        return -1;
    if (check_required_cert(st) < 0)
        return -1;
    return 0;
}

void smtpd_tls_check_facts(const SMTPD_STATE *st, struct smtpd_check *c)
{
    if (!st->tls)
        return;
    const struct tls_info *i = tls_sess_info(st->tls);
    c->tls = true;
    c->tls_protocol = i->protocol;
    c->tls_cipher = i->cipher;
    c->tls_keysize = i->cipher_usebits;
    if (i->peer_cert) {
        c->peer_CN = i->peer_CN;
        c->peer_cert_fprint = i->peer_cert_fprint;
        c->peer_pkey_fprint = i->peer_pkey_fprint;
    }
    /* As Postfix: certificate facts only for a trusted certificate. */
    if (i->peer_cert && i->peer_trusted) {
        c->ccert_subject = i->peer_CN;
        c->ccert_issuer = i->issuer_CN;
        c->ccert_fingerprint = i->peer_cert_fprint;
        c->ccert_pkey_fingerprint = i->peer_pkey_fprint;
    }
}

void smtpd_tls_session_end(SMTPD_STATE *st)
{
    if (!st->tls)
        return;
    tls_sess_stop(st->tls, st->client, vstream_error(st->client) != 0);
    st->tls = 0;
}

void smtpd_tls_received(const SMTPD_STATE *st, sbuf *out)
{
    if (!st->tls || !mail_conf_bool("smtpd_tls_received_header"))
        return;
    const struct tls_info *i = tls_sess_info(st->tls);
    sbuf_printf(out, "\t(using %s with cipher %s (%d/%d bits)", i->protocol, i->cipher,
                i->cipher_usebits, i->cipher_algbits);
    if (i->kex[0] || i->srv_sig[0]) {
        /* The details go on their own line, indented one more space. */
        sbuf line = SBUF_INIT;
        if (i->kex[0])
            sbuf_printf(&line, " key-exchange %s", i->kex);
        if (i->srv_sig[0]) {
            sbuf_printf(&line, " server-signature %s", i->srv_sig);
            if (i->srv_sig_curve[0])
                sbuf_printf(&line, " (%s)", i->srv_sig_curve);
            else if (i->srv_sig_bits > 0)
                sbuf_printf(&line, " (%d bits)", i->srv_sig_bits);
            if (i->srv_sig_dgst[0])
                sbuf_printf(&line, " server-digest %s", i->srv_sig_dgst);
        }
        if (i->clnt_sig[0]) {
            sbuf_printf(&line, " client-signature %s", i->clnt_sig);
            if (i->clnt_sig_curve[0])
                sbuf_printf(&line, " (%s)", i->clnt_sig_curve);
            else if (i->clnt_sig_bits > 0)
                sbuf_printf(&line, " (%d bits)", i->clnt_sig_bits);
            if (i->clnt_sig_dgst[0])
                sbuf_printf(&line, " client-digest %s", i->clnt_sig_dgst);
        }
        sbuf_printf(out, "\n\t%s)\n", sbuf_str(&line));
        sbuf_free(&line);
    } else {
        sbuf_adds(out, ")\n");
    }
    if (i->peer_cert)
        sbuf_printf(out, "\t(Client CN \"%s\", Issuer \"%s\" (%s))\n", i->peer_CN, i->issuer_CN,
                    i->peer_trusted ? "verified OK" : "not verified");
    else if (mail_conf_bool("smtpd_tls_ask_ccert"))
        sbuf_adds(out, "\t(Client did not present a certificate)\n");
    else
        sbuf_adds(out, "\t(No client certificate requested)\n");
}
