/*
 * smtpd_dnscheck.c - restrictions that ask the DNS whether a name exists.
 *
 *   reject_unknown_client_hostname (old: reject_unknown_client)
 *       the client address has no PTR name, the name has no address, or
 *       none of its addresses is the client's (smtpd_peer.c found that
 *       out: c->name_status). "450 4.7.1 Client host rejected: cannot
 *       find your hostname, [addr]" with unknown_client_reject_code, or
 *       always 450 when the lookup failed temporarily.
 *   reject_unknown_reverse_client_hostname
 *       only the first condition (c->reverse_name_status): "... cannot
 *       find your reverse hostname, [addr]".
 *   reject_unknown_helo_hostname (old: reject_unknown_hostname)
 *       the HELO name has no A, AAAA or MX record: "450 4.7.1 <name>: Helo
 *       command rejected: Host not found" (unknown_hostname_reject_code;
 *       a temporary failure per unknown_helo_hostname_tempfail_action).
 *       Address literals are not checked.
 *   reject_unknown_sender_domain, reject_unknown_recipient_domain
 *       the resolved address is not for one of our final destinations
 *       (local, virtual alias, virtual mailbox) and its domain has no MX,
 *       A or AAAA record: "450 4.1.8 <a@b>: Sender address rejected:
 *       Domain not found" (4.1.2 and "Recipient address" for recipients;
 *       unknown_address_reject_code; unknown_address_tempfail_action for
 *       temporary failures). A null MX (RFC 7505) is refused with 550
 *       5.7.27 (sender) or 556 5.1.10 (recipient): "Domain d does not
 *       accept mail (nullMX)". Address literals and the null sender pass.
 * Lookups use the DNS module (mail/dns.h), so dns_resolver_conf applies.
 *
 * Does not: look up the client name itself (smtpd_peer.c does, once).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/address.h"
#include "mail/dns.h"
#include "mail/mail_conf.h"
#include "mail/resolve.h"
#include "util/msg.h"

#include "smtpd/smtpd_restrict.h"

#ifndef RESOLVE_CLASS_FINAL
#define RESOLVE_CLASS_FINAL (RESOLVE_CLASS_LOCAL | RESOLVE_CLASS_ALIAS | RESOLVE_CLASS_VIRTUAL)
#endif

/* "4.7.1" with the class digit of code. */
static const char *dsn_for(int code, const char *dsn, char out[16])
{
    snprintf(out, 16, "%s", dsn);
    out[0] = code >= 500 ? '5' : '4';
    return out;
}

static int unknown_client(struct smtpd_check *c, int status, const char *what)
{
    char dsn[16];
    const char *addr = c->client_addr ? c->client_addr : "unknown";

    if (status == SMTPD_PEER_OK)
        return SMTPD_CHECK_DUNNO;
    int code = status == SMTPD_PEER_TEMP ? 450 : (int) mail_conf_int("unknown_client_reject_code");
    return smtpd_check_reject(c, code, dsn_for(code, "4.7.1", dsn),
                              "Client host rejected: cannot find your %s, [%s]", what, addr);
}

static int r_unknown_client(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return unknown_client(c, c->name_status, "hostname");
}

static int r_unknown_reverse_client(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return unknown_client(c, c->reverse_name_status, "reverse hostname");
}

/*
 * Does name have mail-relevant records? Tries the types in order and
 * stops at the first that has records. Returns DNS_OK, DNS_NULLMX,
 * DNS_RETRY or DNS_NOTFOUND (nothing at all, or an invalid name).
 */
static int name_exists(const char *name, const int *types, size_t ntypes)
{
    bool retry = false;

    if (!address_valid_hostname(name))
        return DNS_NOTFOUND;
    for (size_t i = 0; i < ntypes; i++) {
        struct dns_rrset rrs = {0};
        sbuf why = SBUF_INIT;
        int status = dns_lookup(name, types[i], &rrs, &why);
        dns_rrset_free(&rrs);
        if (status != DNS_OK && status != DNS_NODATA && msg_verbose)
            msg_info("%s", sbuf_str(&why));
        sbuf_free(&why);
        if (status == DNS_OK || status == DNS_NULLMX)
            return status;
        if (status == DNS_NOTFOUND || status == DNS_INVAL)
            return retry ? DNS_RETRY : DNS_NOTFOUND;  /* NXDOMAIN: no other type either */
        if (status == DNS_RETRY)
            retry = true;
        /* DNS_NODATA, DNS_FAIL: try the next type */
    }
    return retry ? DNS_RETRY : DNS_NOTFOUND;
}

static int r_unknown_helo(struct smtpd_check *c, const char *n, const char *a)
{
    static const int types[] = {DNS_T_A, DNS_T_AAAA, DNS_T_MX};
    char dsn[16];
    (void) n; (void) a;

    if (!c->helo || !*c->helo || address_is_ip_literal(c->helo) || *c->helo == '[')
        return SMTPD_CHECK_DUNNO;
    int status = name_exists(c->helo, types, 3);
    if (status == DNS_OK)
        return SMTPD_CHECK_DUNNO;
    if (status == DNS_RETRY)
        return smtpd_check_tempfail(c, "unknown_helo_hostname_tempfail_action", 450, "4.7.1",
                                    "<%s>: %s rejected: Host not found", c->helo,
                                    SMTPD_NAME_HELO);
    if (status == DNS_NULLMX)
        return SMTPD_CHECK_DUNNO;   /* the host exists; it only takes no mail */
    int code = (int) mail_conf_int("unknown_hostname_reject_code");
    return smtpd_check_reject(c, code, dsn_for(code, "4.7.1", dsn),
                              "<%s>: %s rejected: Host not found", c->helo, SMTPD_NAME_HELO);
}

static int unknown_address(struct smtpd_check *c, const char *addr, bool sender)
{
    static const int types[] = {DNS_T_MX, DNS_T_A, DNS_T_AAAA};
    const char *reply_class = sender ? SMTPD_NAME_SENDER : SMTPD_NAME_RECIPIENT;
    sbuf canon = SBUF_INIT;
    char dsn[16];
    int flags, status = SMTPD_CHECK_DUNNO;

    if (!addr || !*addr)
        return SMTPD_CHECK_DUNNO;
    if (c->ops && c->ops->resolved) {
        flags = c->ops->resolved(c->ops_ctx, addr, &canon);
    } else {
        flags = c->ops && c->ops->resolve ? c->ops->resolve(c->ops_ctx, addr) : 0;
        sbuf_set(&canon, addr);
    }
    if (flags & RESOLVE_FLAG_FAIL) {
        status = smtpd_check_reject(c, 451, "4.3.0", "<%s>: Temporary lookup failure", addr);
        goto out;
    }
    const char *at = strrchr(sbuf_str(&canon), '@');
    if (!at || !at[1] || (flags & RESOLVE_CLASS_FINAL) || at[1] == '[')
        goto out;
    const char *domain = at + 1;
    int dns = name_exists(domain, types, 3);
    if (dns == DNS_OK)
        goto out;
    if (dns == DNS_NULLMX) {
        status = smtpd_check_reject(c, sender ? 550 : 556, sender ? "5.7.27" : "5.1.10",
                                    "<%s>: %s rejected: Domain %s does not accept mail "
                                    "(nullMX)", addr, reply_class, domain);
    } else if (dns == DNS_RETRY) {
        status = smtpd_check_tempfail(c, "unknown_address_tempfail_action", 450,
                                      sender ? "4.1.8" : "4.1.2",
                                      "<%s>: %s rejected: Domain not found", addr, reply_class);
    } else {
        int code = (int) mail_conf_int("unknown_address_reject_code");
        status = smtpd_check_reject(c, code, dsn_for(code, sender ? "4.1.8" : "4.1.2", dsn),
                                    "<%s>: %s rejected: Domain not found", addr, reply_class);
    }
out:
    sbuf_free(&canon);
    return status;
}

static int r_unknown_sender_domain(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return unknown_address(c, c->sender, true);
}

static int r_unknown_recipient_domain(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return unknown_address(c, c->recipient, false);
}

static const struct smtpd_restriction dns_restrictions[] = {
    {"reject_unknown_client_hostname", 0, r_unknown_client},
    {"reject_unknown_client", 0, r_unknown_client},
    {"reject_unknown_reverse_client_hostname", 0, r_unknown_reverse_client},
    {"reject_unknown_helo_hostname", 0, r_unknown_helo},
    {"reject_unknown_hostname", 0, r_unknown_helo},
    {"reject_unknown_sender_domain", 0, r_unknown_sender_domain},
    {"reject_unknown_recipient_domain", 0, r_unknown_recipient_domain},
    {0, 0, 0},
};

void smtpd_dnscheck_register(void)
{
    smtpd_check_register(dns_restrictions);
}
