/*
 * smtpd_access.c - access(5) tables in restrictions, and the access(5)
 * result language (shared with the policy service).
 *
 * Restrictions (each takes a type:table argument):
 *   check_client_access       client name and its parent domains (when the
 *                             name is known), then the client address and
 *                             its networks (1.2.3.4, 1.2.3, 1.2, 1; IPv6 by
 *                             ":" groups); reply subject "name[addr]",
 *                             "Client host"
 *   check_reverse_client_hostname_access   the same with the unverified
 *                             reverse name ("Unverified Client host"; OK is
 *                             not allowed)
 *   check_helo_access         the HELO name and parents ("Helo command")
 *   check_sender_access       the resolved sender: user+ext@domain,
 *                             user@domain, domain and parents, user+ext@,
 *                             user@ (maps.h MAPS_FIND_ACCESS); the null
 *                             sender as $smtpd_null_access_lookup_key
 *   check_recipient_access    the same for the recipient
 *   check_etrn_access         the ETRN domain and parents
 *   check_sasl_access         the SASL login name (user@$smtpd_sasl_local_domain
 *                             when that is set), whole
 *   check_ccert_access        the client certificate's fingerprint, then its
 *                             public key's (smtpd_tls_fingerprint_digest);
 *                             needs smtpd_tls_ask_ccert = yes
 *   check_{client,reverse_client_hostname,helo,sender,recipient}_{mx,ns,a}_access
 *                             the MX hosts (or the domain itself when it has
 *                             no MX), the DNS servers (NS, walking up to the
 *                             parent that has some), or the addresses (A,
 *                             AAAA) of the name or domain: host names and
 *                             their addresses are looked up as for
 *                             check_client_access; OK is not allowed
 * Partial keys (parents, networks) only go to fixed-string tables; regexp,
 * pcre and cidr tables see each whole string once. A key that is found
 * ends the search, even with DUNNO. Parent domains are "example.com" keys
 * when smtpd_access_maps is in parent_domain_matches_subdomains, else
 * ".example.com". A table that cannot be read answers 451 4.3.0
 * ("Temporary lookup failure"), a table that did not open 451 4.3.5.
 *
 * Results (smtpd_access_result) follow access(5): see the table there;
 * reply codes come from access_map_reject_code / access_map_defer_code,
 * enhanced status codes from the text when it starts with one (fixed up
 * for the reply class, smtpd_check_dsn_fix), 421 and 521 end the session
 * after the reply. HOLD, DISCARD, FILTER, REDIRECT, BCC and PREPEND are
 * recorded in c->actions (and logged as Postfix does: "hold: RCPT from
 * ...: <x>: Recipient address triggers HOLD action"); without a mail
 * transaction they are skipped with a warning.
 *
 * Does not: open tables for other modules, or talk to the client.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/address.h"
#include "mail/dns.h"
#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/match_list.h"
#include "mail/resolve.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#include "smtpd/smtpd_restrict.h"

/* ---- the tables ---- */

struct access_table {
    char   *spec;
    maps   *m;
};
static struct access_table *tables;
static size_t ntables;

maps *smtpd_access_table(const char *spec)
{
    for (size_t i = 0; i < ntables; i++)
        if (strcmp(tables[i].spec, spec) == 0)
            return tables[i].m;
    tables = xreallocarray(tables, ntables + 1, sizeof(*tables));
    tables[ntables].spec = xstrdup(spec);
    tables[ntables].m = maps_open(spec, spec, DICT_FLAG_DEFAULT);
    return tables[ntables++].m;
}

bool smtpd_access_changed(void)
{
    for (size_t i = 0; i < ntables; i++)
        if (maps_changed(tables[i].m))
            return true;
    return false;
}

/* ---- search orders ---- */

static bool parent_style(void)
{
    strv items;
    bool found = false;

    strv_init(&items);
    mail_conf_list("parent_domain_matches_subdomains", &items);
    for (size_t i = 0; i < items.n && !found; i++)
        found = strcmp(items.v[i], "smtpd_access_maps") == 0;
    strv_free(&items);
    return found;
}

/* A name and its parent domains; NULL with *err 0 when not found. */
static const char *find_domain(maps *m, const char *name, int *err)
{
    const char *v = maps_find(m, name, err);
    if (v || *err || *name == '[')
        return v;
    bool bare = parent_style();
    for (const char *dot = strchr(name, '.'); dot && dot[1]; dot = strchr(dot + 1, '.')) {
        v = maps_find_fixed(m, bare ? dot + 1 : dot, err);
        if (v || *err)
            return v;
    }
    return 0;
}

/* An address, then its networks by dropping the last octet (group). */
static const char *find_addr(maps *m, const char *addr, int *err)
{
    const char *v = maps_find(m, addr, err);
    if (v || *err)
        return v;
    char buf[64];
    if (strlen(addr) >= sizeof(buf))
        return 0;
    snprintf(buf, sizeof(buf), "%s", addr);
    int delim = strchr(buf, ':') ? ':' : '.';
    char *p;
    while ((p = strrchr(buf, delim)) != 0 && p != buf) {
        *p = 0;
        v = maps_find_fixed(m, buf, err);
        if (v || *err)
            return v;
    }
    return 0;
}

/* A failed lookup: 451 4.3.0 (temporary), or 4.3.5 for a broken table. */
static int lookup_failed(struct smtpd_check *c, int err, const char *what)
{
    if (err == DICT_ERR_CONFIG)
        return smtpd_check_config_error(c);
    return smtpd_check_reject(c, 451, "4.3.0", "<%s>: Temporary lookup failure", what);
}

/* The common end of a lookup: act on a hit, or report a failure.
 * *found tells the caller to stop searching. */
static int lookup_done(struct smtpd_check *c, const char *value, int err, const char *spec,
                       const char *reply_name, const char *reply_class, int flags,
                       bool *found)
{
    if (err) {
        *found = true;
        return lookup_failed(c, err, reply_name);
    }
    if (!value)
        return SMTPD_CHECK_DUNNO;
    *found = true;
    /* The value belongs to the table; the action may look things up again. */
    char *copy = xstrdup(value);
    int status = smtpd_access_result(c, copy, spec, reply_name, reply_class, flags);
    xfree(copy);
    return status;
}

/* Name (unless "unknown" or empty) then address (unless NULL). */
static int check_namaddr(struct smtpd_check *c, const char *spec, const char *name,
                         const char *addr, const char *reply_name, const char *reply_class,
                         int flags, bool *found)
{
    maps *m = smtpd_access_table(spec);
    int err = 0, status;
    const char *v;

    *found = false;
    if (name && *name && strcmp(name, "unknown") != 0) {
        v = find_domain(m, name, &err);
        status = lookup_done(c, v, err, spec, reply_name, reply_class, flags, found);
        if (*found)
            return status;
    }
    if (addr && *addr) {
        v = find_addr(m, addr, &err);
        status = lookup_done(c, v, err, spec, reply_name, reply_class, flags, found);
        if (*found)
            return status;
    }
    return SMTPD_CHECK_DUNNO;
}

static int resolved_flags(struct smtpd_check *c, const char *addr, sbuf *canon)
{
    if (c->ops && c->ops->resolved)
        return c->ops->resolved(c->ops_ctx, addr, canon);
    sbuf_set(canon, addr);
    return 0;
}

/* An envelope address: the resolved form, with the access(5) search order. */
static int check_mail_addr(struct smtpd_check *c, const char *spec, const char *addr,
                           const char *reply_name, const char *reply_class)
{
    maps *m = smtpd_access_table(spec);
    int err = 0;
    bool found;
    const char *v;

    if (!*addr) {
        v = maps_find(m, mail_conf_str("smtpd_null_access_lookup_key"), &err);
        return lookup_done(c, v, err, spec, reply_name, reply_class, 0, &found);
    }
    sbuf canon = SBUF_INIT;
    int rflags = resolved_flags(c, addr, &canon);
    if (rflags & RESOLVE_FLAG_FAIL) {
        sbuf_free(&canon);
        return lookup_failed(c, DICT_ERR_RETRY, addr);
    }
    int strategy = MAPS_FIND_ACCESS | (parent_style() ? MAPS_FIND_PARENT_SELF : 0);
    v = maps_find_addr_opt(m, sbuf_str(&canon), strategy, 0, &err, 0, 0);
    int status = lookup_done(c, v, err, spec, reply_name, reply_class, 0, &found);
    sbuf_free(&canon);
    return status;
}

/* ---- check_*_access ---- */

static int r_client_access(struct smtpd_check *c, const char *n, const char *spec)
{
    bool found;
    (void) n;
    return check_namaddr(c, spec, c->client_name, c->client_addr, c->namaddr ? c->namaddr
                         : "unknown", SMTPD_NAME_CLIENT, 0, &found);
}

static int r_reverse_client_access(struct smtpd_check *c, const char *n, const char *spec)
{
    bool found;
    char subject[600];
    (void) n;
    snprintf(subject, sizeof(subject), "%s[%s]", c->reverse_name ? c->reverse_name : "unknown",
             c->client_addr ? c->client_addr : "unknown");
    return check_namaddr(c, spec, c->reverse_name, c->client_addr, subject,
                         SMTPD_NAME_REV_CLIENT, SMTPD_ACCESS_NO_OK, &found);
}

static int r_helo_access(struct smtpd_check *c, const char *n, const char *spec)
{
    bool found;
    (void) n;
    if (!c->helo || !*c->helo)
        return SMTPD_CHECK_DUNNO;
    return check_namaddr(c, spec, c->helo, 0, c->helo, SMTPD_NAME_HELO, 0, &found);
}

static int r_sender_access(struct smtpd_check *c, const char *n, const char *spec)
{
    (void) n;
    if (!c->sender)
        return SMTPD_CHECK_DUNNO;
    return check_mail_addr(c, spec, c->sender, c->sender, SMTPD_NAME_SENDER);
}

static int r_recipient_access(struct smtpd_check *c, const char *n, const char *spec)
{
    (void) n;
    if (!c->recipient)
        return SMTPD_CHECK_DUNNO;
    return check_mail_addr(c, spec, c->recipient, c->recipient, SMTPD_NAME_RECIPIENT);
}

static int r_etrn_access(struct smtpd_check *c, const char *n, const char *spec)
{
    bool found;
    (void) n;
    if (!c->etrn_domain || !*c->etrn_domain)
        return SMTPD_CHECK_DUNNO;
    return check_namaddr(c, spec, c->etrn_domain, 0, c->etrn_domain, SMTPD_NAME_ETRN, 0,
                         &found);
}

static int r_sasl_access(struct smtpd_check *c, const char *n, const char *spec)
{
    int err = 0;
    bool found;
    (void) n;
    if (!c->sasl_username || !*c->sasl_username)
        return SMTPD_CHECK_DUNNO;
    sbuf key = SBUF_INIT;
    const char *realm = mail_conf_str("smtpd_sasl_local_domain");
    sbuf_set(&key, c->sasl_username);
    if (*realm && !strchr(c->sasl_username, '@'))
        sbuf_printf(&key, "@%s", realm);
    const char *v = maps_find(smtpd_access_table(spec), sbuf_str(&key), &err);
    int status = lookup_done(c, v, err, spec, c->namaddr ? c->namaddr : "unknown",
                             SMTPD_NAME_CLIENT, 0, &found);
    sbuf_free(&key);
    return status;
}

/* The client certificate's fingerprint, then its public key's (both made
 * with smtpd_tls_fingerprint_digest); any presented certificate, trusted
 * or not, since the fingerprint itself is the identity. */
static int r_ccert_access(struct smtpd_check *c, const char *n, const char *spec)
{
    (void) n;
    if (!c->peer_cert_fprint || !*c->peer_cert_fprint)
        return SMTPD_CHECK_DUNNO;
    const char *keys[] = {c->peer_cert_fprint, c->peer_pkey_fprint};
    const char *name = c->peer_CN && *c->peer_CN ? c->peer_CN : "unknown";
    maps *m = smtpd_access_table(spec);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        int err = 0;
        bool found = false;
        if (!keys[i] || !*keys[i])
            continue;
        const char *v = maps_find(m, keys[i], &err);
        int status = lookup_done(c, v, err, spec, name, SMTPD_NAME_CCERT, 0, &found);
        if (found)
            return status;
    }
    return SMTPD_CHECK_DUNNO;
}

/* ---- the _mx, _ns and _a forms ---- */

enum server_kind { SRV_MX, SRV_NS, SRV_A };

/* Look up one host: its name (MX and NS), then each of its addresses. */
static int check_server_host(struct smtpd_check *c, const char *spec, const char *host,
                             bool by_name, const char *reply_name, const char *reply_class,
                             bool *found)
{
    int status = SMTPD_CHECK_DUNNO;
    char buf[64];

    *found = false;
    if (by_name) {
        status = check_namaddr(c, spec, host, 0, reply_name, reply_class, SMTPD_ACCESS_NO_OK,
                               found);
        if (*found)
            return status;
    }
    static const int types[] = {DNS_T_A, DNS_T_AAAA};
    for (size_t t = 0; t < 2; t++) {
        struct dns_rrset rrs = {0};
        sbuf why = SBUF_INIT;
        if (dns_lookup(host, types[t], &rrs, &why) == DNS_OK) {
            for (size_t i = 0; i < rrs.n && !*found; i++) {
                if (!inet_ntop(types[t] == DNS_T_A ? AF_INET : AF_INET6, rrs.rr[i].addr, buf,
                               sizeof(buf)))
                    continue;
                status = check_namaddr(c, spec, 0, buf, reply_name, reply_class,
                                       SMTPD_ACCESS_NO_OK, found);
            }
        }
        dns_rrset_free(&rrs);
        sbuf_free(&why);
        if (*found)
            return status;
    }
    return SMTPD_CHECK_DUNNO;
}

static int check_server_access(struct smtpd_check *c, const char *spec, const char *domain,
                               enum server_kind kind, const char *reply_name,
                               const char *reply_class)
{
    struct dns_rrset rrs = {0};
    sbuf why = SBUF_INIT;
    int status = SMTPD_CHECK_DUNNO;
    bool found = false;
    const char *type_name = kind == SRV_MX ? "MX" : kind == SRV_NS ? "NS" : "A";

    if (!domain || !*domain || *domain == '[' || !address_valid_hostname(domain))
        return SMTPD_CHECK_DUNNO;
    if (kind == SRV_A) {
        status = check_server_host(c, spec, domain, false, reply_name, reply_class, &found);
        return status;
    }
    int dstat;
    const char *name = domain;
    for (;;) {
        dstat = dns_lookup(name, kind == SRV_MX ? DNS_T_MX : DNS_T_NS, &rrs, &why);
        /* A domain without NS records: its parent's servers answer for it. */
        if (kind == SRV_NS && (dstat == DNS_NODATA || dstat == DNS_NOTFOUND)
            && strchr(name, '.') && strchr(strchr(name, '.') + 1, '.')) {
            name = strchr(name, '.') + 1;
            continue;
        }
        break;
    }
    if (dstat == DNS_RETRY) {
        status = smtpd_check_defer_if_permit(c, 450, "4.4.3", "<%s>: %s rejected: Unable to "
                                             "look up %s host for %s", reply_name,
                                             reply_class, type_name, domain);
    } else if (dstat == DNS_OK) {
        for (size_t i = 0; i < rrs.n && !found; i++)
            if (rrs.rr[i].host[0])
                status = check_server_host(c, spec, rrs.rr[i].host, true, reply_name,
                                           reply_class, &found);
    } else if (kind == SRV_MX && dstat == DNS_NODATA) {
        /* No MX: the domain itself is the mail host, as for the smtp client. */
        status = check_server_host(c, spec, domain, true, reply_name, reply_class, &found);
    }
    dns_rrset_free(&rrs);
    sbuf_free(&why);
    return status;
}

static const char *addr_domain(const char *addr)
{
    const char *d = addr ? address_domain(addr) : 0;
    return d && *d ? d : 0;
}

static int server_check(struct smtpd_check *c, const char *n, const char *spec)
{
    enum server_kind kind = strstr(n, "_mx_access") ? SRV_MX : strstr(n, "_ns_access") ? SRV_NS
                            : SRV_A;
    char subject[600];

    if (strncasecmp(n, "check_client_", 13) == 0)
        return check_server_access(c, spec, c->client_name, kind, c->namaddr ? c->namaddr
                                   : "unknown", SMTPD_NAME_CLIENT);
    if (strncasecmp(n, "check_reverse_client_hostname_", 30) == 0) {
        snprintf(subject, sizeof(subject), "%s[%s]", c->reverse_name ? c->reverse_name
                 : "unknown", c->client_addr ? c->client_addr : "unknown");
        return check_server_access(c, spec, c->reverse_name, kind, subject,
                                   SMTPD_NAME_REV_CLIENT);
    }
    if (strncasecmp(n, "check_helo_", 11) == 0)
        return c->helo ? check_server_access(c, spec, c->helo, kind, c->helo, SMTPD_NAME_HELO)
                       : SMTPD_CHECK_DUNNO;
    if (strncasecmp(n, "check_sender_", 13) == 0)
        return c->sender ? check_server_access(c, spec, addr_domain(c->sender), kind,
                                               c->sender, SMTPD_NAME_SENDER)
                         : SMTPD_CHECK_DUNNO;
    return c->recipient ? check_server_access(c, spec, addr_domain(c->recipient), kind,
                                              c->recipient, SMTPD_NAME_RECIPIENT)
                        : SMTPD_CHECK_DUNNO;
}

/* ---- the result language ---- */

/* Digits at p, at most max of them; returns how many. */
static size_t digits(const char *p, size_t max)
{
    size_t n = 0;
    while (n < max && isdigit((unsigned char) p[n]))
        n++;
    return n;
}

/* "5.7.1 text" -> dsn "5.7.1" and "text"; otherwise the default dsn and the
 * whole text. RFC 3463: class "." 1*3digit "." 1*3digit. */
static const char *split_dsn(const char *text, const char *def, char dsn[16])
{
    const char *p = text;
    size_t a, b;
    if ((p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.'
        && (a = digits(p + 2, 3)) > 0 && p[2 + a] == '.'
        && (b = digits(p + 3 + a, 3)) > 0
        && (p[3 + a + b] == ' ' || p[3 + a + b] == '\t' || p[3 + a + b] == 0)) {
        size_t n = 3 + a + b;
        memcpy(dsn, p, n);
        dsn[n] = 0;
        p += n;
        while (*p == ' ' || *p == '\t')
            p++;
        return p;
    }
    snprintf(dsn, 16, "%s", def);
    return text;
}

/* Refuse with code and "[D.D.D] text" from a table: "<name>: Class rejected: text". */
static int table_reject(struct smtpd_check *c, int code, const char *text, const char *dflt,
                        const char *reply_name, const char *reply_class)
{
    char dsn[16], fixed[16];
    const char *msg = split_dsn(text, code >= 500 ? "5.7.1" : "4.7.1", dsn);
    smtpd_check_dsn_fix(dsn, reply_class, fixed);
    return smtpd_check_reject(c, code, fixed, "<%s>: %s rejected: %s", reply_name,
                              reply_class, *msg ? msg : dflt);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char) *s))
            return false;
    return true;
}

/* A header line for PREPEND: "Name: value", printable, no line breaks. */
static bool header_ok(const char *text)
{
    size_t n = strcspn(text, ":");
    if (n == 0 || text[n] != ':' || strlen(text) > 990)
        return false;
    for (size_t i = 0; i < n; i++)
        if (text[i] <= ' ' || text[i] >= 0x7f)
            return false;
    for (const char *p = text; *p; p++)
        if (*p == '\r' || *p == '\n')
            return false;
    return true;
}

/* HOLD and friends need a mail transaction to act on. */
static bool can_act(struct smtpd_check *c, const char *table, const char *action)
{
    if (c->stage && strcmp(c->stage, "ETRN") == 0) {
        msg_warn("access table %s: action %s is unavailable in smtpd_etrn_restrictions",
                 table, action);
        return false;
    }
    if (!c->actions) {
        msg_warn("access table %s: with smtpd_delay_reject=no, action %s is always skipped "
                 "in %s or %s restrictions", table, action, SMTPD_NAME_CLIENT,
                 SMTPD_NAME_HELO);
        return false;
    }
    return true;
}

static bool is(const char *cmd, const char *name)
{
    return strcasecmp(cmd, name) == 0;
}

int smtpd_access_result(struct smtpd_check *c, const char *value, const char *table,
                        const char *reply_name, const char *reply_class, int flags)
{
    char cmd[32];
    sbuf buf = SBUF_INIT;
    int status;

    while (*value == ' ' || *value == '\t')
        value++;
    size_t cmd_len = strcspn(value, " \t");
    const char *text = value + cmd_len;
    while (*text == ' ' || *text == '\t')
        text++;
    /* A word longer than any action is no action: it falls through to
     * the restriction names at the end. */
    snprintf(cmd, sizeof(cmd), "%.*s", (int) (cmd_len < sizeof(cmd) ? cmd_len : 0), value);

    if (is(cmd, "DUNNO"))
        return SMTPD_CHECK_DUNNO;
    if (is(cmd, "REJECT"))
        return table_reject(c, (int) mail_conf_int("access_map_reject_code"), text,
                            "Access denied", reply_name, reply_class);
    if (is(cmd, "DEFER"))
        return table_reject(c, (int) mail_conf_int("access_map_defer_code"), text,
                            "Access denied", reply_name, reply_class);
    if (is(cmd, "INFO") || is(cmd, "WARN")) {
        smtpd_check_log(c, is(cmd, "WARN") ? "warn" : "info", text);
        return SMTPD_CHECK_DUNNO;
    }
    if (is(cmd, "FILTER")) {
        if (!can_act(c, table, "FILTER"))
            return SMTPD_CHECK_DUNNO;
        if (!*text || !strchr(text, ':')) {
            msg_warn("access table %s entry \"%.100s\" requires transport:destination", table,
                     value);
            return SMTPD_CHECK_DUNNO;
        }
        sbuf_printf(&buf, "<%s>: %s triggers FILTER %s", reply_name, reply_class, text);
        smtpd_check_log(c, "filter", sbuf_str(&buf));
        xfree(c->actions->filter);
        c->actions->filter = xstrdup(text);
        sbuf_free(&buf);
        return SMTPD_CHECK_DUNNO;
    }
    if (is(cmd, "HOLD") || is(cmd, "DISCARD")) {
        bool hold = is(cmd, "HOLD");
        if (!can_act(c, table, hold ? "HOLD" : "DISCARD"))
            return SMTPD_CHECK_DUNNO;
        if (hold && c->actions->hold)
            return SMTPD_CHECK_DUNNO;       /* on hold already */
        sbuf_printf(&buf, "<%s>: %s %s", reply_name, reply_class,
                    *text ? text : hold ? "triggers HOLD action" : "triggers DISCARD action");
        smtpd_check_log(c, hold ? "hold" : "discard", sbuf_str(&buf));
        char **slot = hold ? &c->actions->hold : &c->actions->discard;
        xfree(*slot);
        *slot = sbuf_steal(&buf);
        /* DISCARD claims success: it permits, and nothing later matters. */
        return hold ? SMTPD_CHECK_DUNNO : SMTPD_CHECK_OK;
    }
    if (is(cmd, "REDIRECT") || is(cmd, "BCC")) {
        bool redirect = is(cmd, "REDIRECT");
        if (!can_act(c, table, redirect ? "REDIRECT" : "BCC"))
            return SMTPD_CHECK_DUNNO;
        if (!strchr(text, '@') || strpbrk(text, " \t")) {
            msg_warn("access table %s entry \"%.100s\" requires user@domain target", table,
                     value);
            return SMTPD_CHECK_DUNNO;
        }
        sbuf_printf(&buf, "<%s>: %s triggers %s %s", reply_name, reply_class,
                    redirect ? "REDIRECT" : "BCC", text);
        smtpd_check_log(c, redirect ? "redirect" : "bcc", sbuf_str(&buf));
        if (redirect) {
            xfree(c->actions->redirect);
            c->actions->redirect = xstrdup(text);
        } else {
            strv_add(&c->actions->bcc, text);
        }
        sbuf_free(&buf);
        return SMTPD_CHECK_DUNNO;
    }
    if (is(cmd, "DEFER_IF_PERMIT") || is(cmd, "DEFER_IF_REJECT")) {
        char dsn[16], fixed[16];
        const char *msg = split_dsn(text, "4.7.1", dsn);
        smtpd_check_dsn_fix(dsn, reply_class, fixed);
        int code = (int) mail_conf_int("access_map_defer_code");
        if (is(cmd, "DEFER_IF_REJECT"))
            return smtpd_check_defer_if_reject(c, code, fixed, "<%s>: %s rejected: %s",
                                               reply_name, reply_class,
                                               *msg ? msg : "Service unavailable");
        return smtpd_check_defer_if_permit(c, code, fixed, "<%s>: %s rejected: %s",
                                           reply_name, reply_class,
                                           *msg ? msg : "Service unavailable");
    }
    if (is(cmd, "PREPEND")) {
        if (!can_act(c, table, "PREPEND"))
            return SMTPD_CHECK_DUNNO;
        if (c->stage && strcmp(c->stage, "END-OF-MESSAGE") == 0) {
            msg_warn("access table %s: action PREPEND must be used before "
                     "smtpd_end_of_data_restrictions", table);
            return SMTPD_CHECK_DUNNO;
        }
        if (!header_ok(text)) {
            msg_warn("access table %s entry \"%.100s\" requires header: text", table, value);
            return SMTPD_CHECK_DUNNO;
        }
        strv_add(&c->actions->prepend, text);
        return SMTPD_CHECK_DUNNO;
    }
    /* All-numerical (pop-before-smtp time stamps), OK, RELAY: permit. */
    bool permit = all_digits(value) || is(cmd, "OK") || is(cmd, "RELAY");
    /* 4NN text, 5NN text; 421 and 521 end the session after the reply
     * (the session sees the code). */
    if (!permit && cmd_len == 3 && *text && (value[0] == '4' || value[0] == '5')
        && isdigit((unsigned char) value[1]) && isdigit((unsigned char) value[2]))
        return table_reject(c, atoi(value), text, "Access denied", reply_name, reply_class);
    if (permit) {
        if (flags & SMTPD_ACCESS_NO_OK) {
            msg_warn("access table %s: action %s is not allowed with this restriction "
                     "(use DUNNO to exclude a host from a denylist) -- ignored", table, cmd);
            return SMTPD_CHECK_DUNNO;
        }
        return SMTPD_CHECK_OK;
    }

    /* Anything else: restriction names ("permit_mynetworks reject", a class).
     * Tables must be opened before privileges are dropped: none here. */
    if (strchr(value, ':')) {
        msg_warn("access table %s has entry with lookup table: %.100s", table, value);
        msg_warn("do not specify lookup tables inside SMTPD access maps");
        msg_warn("define a restriction class and specify its name instead.");
        return smtpd_check_config_error(c);
    }
    strv items;
    strv_init(&items);
    match_list_split(value, &items);
    if (items.n == 0) {
        msg_warn("access table %s entry has empty value", table);
        strv_free(&items);
        return (flags & SMTPD_ACCESS_NO_OK) ? SMTPD_CHECK_DUNNO : SMTPD_CHECK_OK;
    }
    const char *saved_name = c->reply_name, *saved_class = c->reply_class;
    c->reply_name = reply_name;
    c->reply_class = reply_class;
    sbuf_printf(&buf, "access table %s", table);
    status = smtpd_check_items(c, &items, sbuf_str(&buf));
    c->reply_name = saved_name;
    c->reply_class = saved_class;
    strv_free(&items);
    sbuf_free(&buf);
    if (status == SMTPD_CHECK_OK && (flags & SMTPD_ACCESS_NO_OK)) {
        msg_warn("access table %s: a permit is not allowed with this restriction -- ignored",
                 table);
        status = SMTPD_CHECK_DUNNO;
    }
    return status;
}

static const struct smtpd_restriction access_restrictions[] = {
    {"check_client_access", SMTPD_R_ARG, r_client_access},
    {"check_reverse_client_hostname_access", SMTPD_R_ARG, r_reverse_client_access},
    {"check_helo_access", SMTPD_R_ARG, r_helo_access},
    {"check_sender_access", SMTPD_R_ARG, r_sender_access},
    {"check_recipient_access", SMTPD_R_ARG, r_recipient_access},
    {"check_etrn_access", SMTPD_R_ARG, r_etrn_access},
    {"check_sasl_access", SMTPD_R_ARG, r_sasl_access},
    {"check_ccert_access", SMTPD_R_ARG, r_ccert_access},
    {"check_client_mx_access", SMTPD_R_ARG, server_check},
    {"check_client_ns_access", SMTPD_R_ARG, server_check},
    {"check_client_a_access", SMTPD_R_ARG, server_check},
    {"check_reverse_client_hostname_mx_access", SMTPD_R_ARG, server_check},
    {"check_reverse_client_hostname_ns_access", SMTPD_R_ARG, server_check},
    {"check_reverse_client_hostname_a_access", SMTPD_R_ARG, server_check},
    {"check_helo_mx_access", SMTPD_R_ARG, server_check},
    {"check_helo_ns_access", SMTPD_R_ARG, server_check},
    {"check_helo_a_access", SMTPD_R_ARG, server_check},
    {"check_sender_mx_access", SMTPD_R_ARG, server_check},
    {"check_sender_ns_access", SMTPD_R_ARG, server_check},
    {"check_sender_a_access", SMTPD_R_ARG, server_check},
    {"check_recipient_mx_access", SMTPD_R_ARG, server_check},
    {"check_recipient_ns_access", SMTPD_R_ARG, server_check},
    {"check_recipient_a_access", SMTPD_R_ARG, server_check},
    {0, 0, 0},
};

void smtpd_access_register(void)
{
    smtpd_check_register(access_restrictions);
}
