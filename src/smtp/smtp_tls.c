/*
 * smtp_tls.c - TLS in the SMTP/LMTP client: the policy of each
 * destination and the handshake (see docs/tls.md, "The SMTP client").
 *
 * LEVEL. The default comes from smtp_tls_security_level (lmtp_...), or
 * when that is empty from the old smtp_enforce_tls (verify, or encrypt
 * with smtp_tls_enforce_peername = no) and smtp_use_tls (may); else none.
 * smtp_tls_policy_maps overrides it per destination: the keys are the
 * destination as written ("[host]:port" with a non-default port,
 * "[host]", "domain", then ".parent" domains for a bare domain; see
 * smtp_keys.c), the value a level with attributes (tls_policy.h). A
 * bad value, a bad default level, or wrapper mode below encrypt defers
 * the destination with "client TLS configuration problem" (4.7.0) and a
 * warning that says what is wrong.
 *
 * SETTINGS per level: at may the smtp_tls_protocols, _ciphers and
 * _exclude_ciphers; at encrypt and above the mandatory_ ones (and
 * mandatory_exclude_ciphers too); policy attributes replace them. Names
 * for verify come from smtp_tls_verify_cert_match, for secure from
 * smtp_tls_secure_cert_match (strategies hostname, nexthop, dot-nexthop,
 * or literal names; ".domain" for subdomains), for fingerprint from
 * smtp_tls_fingerprint_cert_match; match= replaces them. SNI:
 * smtp_tls_servername (or servername=): a name, "hostname" or "nexthop".
 *
 * THE CONTEXT is made once per process, as root (a client certificate's
 * key may be readable by root only), when TLS can be used at all: a level
 * above none, a policy table, or wrapper mode. When it cannot be made,
 * level may goes on in plaintext and higher levels defer with "TLS is
 * required, but our TLS engine is unavailable".
 *
 * THE HANDSHAKE (smtp_tls_start): its failure defers with 4.7.5 "Cannot
 * start TLS: handshake failure"; at level may the same server is then
 * tried once more without TLS (not when SASL credentials exist for it: a
 * password must not go out in plaintext, and the server may not offer
 * AUTH without TLS). Verification: "Server certificate not trusted"
 * (verify, secure: no chain to smtp_tls_CAfile/CApath) and "Server
 * certificate not verified" (no name or fingerprint matched), both 4.7.5.
 *
 * Not here: STARTTLS and the EHLO that follows (smtp_proto.c).
 */
#include <stdio.h>
#include <string.h>

#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/tls.h"
#include "mail/tls_policy.h"
#include "smtp/smtp.h"
#include "util/mem.h"
#include "util/msg.h"

static tls_ctx *client_ctx;
static maps *policy_maps;
static int default_level = TLS_LEV_NONE;
static bool default_bad;

static const char *prefix(void)
{
    return smtp_lmtp ? "lmtp" : "smtp";
}

bool smtp_tls_available(void)
{
    return client_ctx != 0;
}

void smtp_tls_pre_init(void)
{
    sbuf err = SBUF_INIT;

    default_level = tls_policy_default_level(smtp_param_str("tls_security_level"),
                                             smtp_param_bool("use_tls"),
                                             smtp_param_bool("enforce_tls"),
                                             smtp_param_bool("tls_enforce_peername"), &err);
    if (default_level < 0) {
        msg_warn("%s: %s: TLS deliveries are deferred", smtp_pname("tls_security_level"),
                 sbuf_str(&err));
        default_bad = true;
        default_level = TLS_LEV_NONE;
    }
    const char *spec = smtp_param_str("tls_policy_maps");
    if (*spec)
        policy_maps = maps_open(smtp_pname("tls_policy_maps"), spec, DICT_FLAG_DEFAULT);
    bool wrapper = smtp_param_bool("tls_wrappermode");
    if (default_level == TLS_LEV_NONE && !default_bad && !policy_maps && !wrapper) {
        sbuf_free(&err);
        return;
    }
    sbuf_reset(&err);
    client_ctx = tls_client_ctx(prefix(), default_level >= TLS_LEV_ENCRYPT || wrapper, &err);
    if (!client_ctx)
        msg_warn("%s: TLS is not available to the %s client", sbuf_str(&err),
                 smtp_lmtp ? "LMTP" : "SMTP");
    sbuf_free(&err);
}

void smtp_tls_dest_free(struct smtp_tls_dest *td)
{
    xfree(td->protocols);
    xfree(td->grade);
    xfree(td->servername);
    xfree(td->nexthop);
    strv_free(&td->exclude);
    strv_free(&td->match);
    memset(td, 0, sizeof(*td));
}

static int config_problem(struct smtp_why *why)
{
    smtp_why_set(why, "4.7.0", 0, "client TLS configuration problem");
    return -1;
}

/* Find the policy table entry of d, if any. 1 found (p filled), 0 none,
 * -1 with why. */
static int policy_lookup(const struct smtp_dest *d, struct tls_policy *p, struct smtp_why *why)
{
    strv keys;
    int ret = 0;

    if (!policy_maps)
        return 0;
    strv_init(&keys);
    smtp_tls_policy_keys(d, smtp_param_str("tcp_port"), &keys);
    for (size_t i = 0; i < keys.n && ret == 0; i++) {
        int error = 0;
        const char *v = maps_find(policy_maps, keys.v[i], &error);
        if (!v && error) {
            msg_warn("%s: table lookup error for \"%s\"", maps_title(policy_maps), keys.v[i]);
            smtp_why_set(why, "4.3.0", 0, "TLS policy lookup error for %s", keys.v[i]);
            ret = -1;
        } else if (v) {
            sbuf err = SBUF_INIT;
            if (tls_policy_parse(v, p, &err) < 0) {
                msg_warn("%s: \"%s\": %s", maps_title(policy_maps), keys.v[i], sbuf_str(&err));
                ret = config_problem(why);
            } else {
                ret = 1;
            }
            sbuf_free(&err);
        }
    }
    strv_free(&keys);
    return ret;
}

int smtp_tls_dest_init(const struct smtp_dest *d, struct smtp_tls_dest *td,
                       struct smtp_why *why)
{
    struct tls_policy p;

    memset(td, 0, sizeof(*td));
    strv_init(&td->exclude);
    strv_init(&td->match);
    tls_policy_init(&p);
    td->level = default_level;
    td->wrapper = smtp_param_bool("tls_wrappermode");
    int found = policy_lookup(d, &p, why);
    if (found < 0) {
        tls_policy_free(&p);
        return -1;
    }
    if (found) {
        td->level = p.level;
        if (p.dane)
            msg_warn("%s: \"%s\": level dane needs DNSSEC, which this client does not "
                     "validate: using level may", smtp_pname("tls_policy_maps"), d->text);
    } else if (default_bad) {
        tls_policy_free(&p);
        return config_problem(why);
    }
    if (td->wrapper && td->level < TLS_LEV_ENCRYPT) {
        msg_warn("%s_tls_wrappermode requires \"%s_tls_security_level = encrypt\" (or stronger)",
                 prefix(), prefix());
        tls_policy_free(&p);
        return config_problem(why);
    }

    bool mandatory = td->level >= TLS_LEV_ENCRYPT;
    td->protocols = xstrdup(p.protocols ? p.protocols
                            : smtp_param_str(mandatory ? "tls_mandatory_protocols"
                                                       : "tls_protocols"));
    td->grade = xstrdup(p.ciphers ? p.ciphers
                        : smtp_param_str(mandatory ? "tls_mandatory_ciphers" : "tls_ciphers"));
    if (p.exclude) {
        strv_split(&td->exclude, p.exclude, ":");
    } else {
        mail_conf_list(smtp_pname("tls_exclude_ciphers"), &td->exclude);
        if (mandatory)
            mail_conf_list(smtp_pname("tls_mandatory_exclude_ciphers"), &td->exclude);
    }
    if (p.match.n > 0) {
        for (size_t i = 0; i < p.match.n; i++)
            strv_add(&td->match, p.match.v[i]);
    } else if (td->level == TLS_LEV_VERIFY) {
        mail_conf_list(smtp_pname("tls_verify_cert_match"), &td->match);
    } else if (td->level == TLS_LEV_SECURE) {
        mail_conf_list(smtp_pname("tls_secure_cert_match"), &td->match);
    } else if (td->level == TLS_LEV_FPRINT) {
        mail_conf_list(smtp_pname("tls_fingerprint_cert_match"), &td->match);
    }
    td->servername = xstrdup(p.servername ? p.servername : smtp_param_str("tls_servername"));
    td->reuse = p.connection_reuse >= 0 ? p.connection_reuse != 0
                                        : smtp_param_bool("tls_connection_reuse") != 0;
    /* postconf(5): over a UNIX-domain socket the nexthop name is $myhostname. */
    td->nexthop = xstrdup(d->kind == SOCK_EP_UNIX ? mail_conf_str("myhostname") : d->host);
    tls_policy_free(&p);
    return 0;
}

int smtp_tls_start(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why)
{
    const struct smtp_tls_dest *td = s->tlsd;
    sbuf err = SBUF_INIT;
    strv names;
    int failure = 0;

    strv_init(&names);
    s->tls_retry_plain = false;
    if (!client_ctx || !td) {
        s->broken = true;
        smtp_why_set(why, "4.7.5", sbuf_str(&s->relay),
                     "TLS is required, but our TLS engine is unavailable");
        return -1;
    }
    const char *host = s->host;     /* $myhostname for a UNIX-domain socket */
    if (s->tls_level == TLS_LEV_VERIFY || s->tls_level == TLS_LEV_SECURE)
        smtp_tls_match_names(&td->match, host, td->nexthop, &names);
    struct tls_client_start p = {
        .namaddr = sbuf_str(&s->relay),
        .servername = smtp_tls_sni(td->servername, host, td->nexthop),
        .level = s->tls_level,
        .match = &names,
        .fingerprints = &td->match,
        .timeout_ms = smtp_param_ms("starttls_timeout"),
    };
    struct tls_client_opts o = {
        .protocols = td->protocols,
        .cipher_grade = td->grade,
        .cipher_exclude = &td->exclude,
    };
    /* RFC 3207 4.2: nothing the server sent before the handshake counts. */
    vstream_purge_input(s->stream);
    tls_sess *t = tls_client_start_opts(client_ctx, s->stream, &p, &o, &failure, &err);
    strv_free(&names);
    if (t) {
        s->tls = t;
        s->tls_verified = tls_sess_info(t)->peer_verified;
        sbuf_free(&err);
        return 0;
    }
    /* Whatever state the connection is in, it is not SMTP any more. */
    s->broken = true;
    switch (failure) {
    case TLS_CLIENT_FAIL_CONFIG:
        msg_warn("%s: TLS settings: %s", sbuf_str(&s->relay), sbuf_str(&err));
        smtp_why_set(why, "4.7.0", sbuf_str(&s->relay), "client TLS configuration problem");
        break;
    case TLS_CLIENT_FAIL_UNTRUSTED:
        smtp_why_set(why, "4.7.5", sbuf_str(&s->relay), "Server certificate not trusted");
        break;
    case TLS_CLIENT_FAIL_NOMATCH:
        smtp_why_set(why, "4.7.5", sbuf_str(&s->relay), "Server certificate not verified");
        break;
    default: {
        smtp_why_set(why, "4.7.5", sbuf_str(&s->relay), "Cannot start TLS: handshake failure");
        if (s->tls_level == TLS_LEV_MAY && !s->tlsd->wrapper) {
            /* As Postfix: no plaintext retry when we would log in. */
            struct smtp_why ignore;
            smtp_why_init(&ignore);
            s->tls_retry_plain = !smtp_sasl_enabled() || smtp_sasl_lookup(st, s, &ignore) == 0;
            smtp_why_free(&ignore);
        }
        break;
    }
    }
    sbuf_free(&err);
    return -1;
}
