/*
 * smtp_addr.c - from a destination to the addresses to try, best first.
 *
 * A destination with MX lookup (SMTP "domain" or "domain:port"): the MX
 * records in preference order, each host's addresses (A and/or AAAA as
 * inet_protocols allows), equal preferences shuffled when
 * smtp_randomize_addresses = yes, and within a preference the family of
 * smtp_address_preference first. No MX record: the domain's own
 * addresses. A null MX (RFC 7505) bounces (5.1.0); NXDOMAIN bounces
 * (5.4.4); a temporary DNS failure defers (4.4.3; with
 * ignore_mx_lookup_error = yes the domain's addresses are tried instead).
 * When one of our own addresses (inet_interfaces, proxy_interfaces) is an
 * MX host and the port is 25, only better MX hosts are kept; if it is the
 * best one, the mail "loops back to myself" (5.4.6). At most smtp_mx_address_limit
 * addresses are kept.
 *
 * A destination without MX lookup ([host], LMTP hosts, or DNS disabled):
 * the host's addresses. Host names are looked up as smtp_host_lookup says:
 * "dns" (A/AAAA through src/mail/dns.c), "native" (getaddrinfo: the
 * hosts file and nsswitch), or both in that order. With DNS disabled
 * (smtp_dns_support_level = disabled, or disable_dns_lookups = yes when
 * that is empty) there is no MX lookup and every host lookup is native.
 *
 * Not here: connecting, the order of several destinations, fallback relays.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/dns.h"
#include "mail/mail_conf.h"
#include "mail/match_list.h"
#include "mail/resolve.h"
#include "smtp/smtp.h"
#include "util/mem.h"
#include "util/msg.h"

#define NATIVE_MAX 32

void smtp_addr_list_free(struct smtp_addr_list *l)
{
    xfree(l->a);
    memset(l, 0, sizeof(*l));
}

static struct smtp_addr *list_add(struct smtp_addr_list *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->a = xreallocarray(l->a, l->cap, sizeof(*l->a));
    }
    struct smtp_addr *a = &l->a[l->n++];
    memset(a, 0, sizeof(*a));
    return a;
}

static void add_addr(struct smtp_addr_list *l, const struct sockaddr *sa, socklen_t len,
                     const char *host, unsigned pref)
{
    /* The same address twice (two MX names for one host) is tried once. */
    for (size_t i = 0; i < l->n; i++)
        if (l->a[i].len == len && memcmp(&l->a[i].sa, sa, len) == 0)
            return;
    struct smtp_addr *a = list_add(l);
    memcpy(&a->sa, sa, len);
    a->len = len;
    snprintf(a->host, sizeof(a->host), "%s", host);
    a->pref = pref;
}

/* ---- ordering ---- */

static int family_rank(int family, const char *pref)
{
    if (strcasecmp(pref, "ipv4") == 0)
        return family == AF_INET ? 0 : 1;
    if (strcasecmp(pref, "ipv6") == 0)
        return family == AF_INET6 ? 0 : 1;
    return 0;
}

void smtp_addr_order(struct smtp_addr_list *l, bool randomize, const char *family_pref,
                     size_t limit)
{
    if (randomize && l->n > 1) {
        for (size_t i = l->n - 1; i > 0; i--) {
            size_t j = (size_t) arc4random_uniform((uint32_t) (i + 1));
            struct smtp_addr t = l->a[i];
            l->a[i] = l->a[j];
            l->a[j] = t;
        }
    }
    /* Stable insertion sort on (preference, family rank): lists are short. */
    for (size_t i = 1; i < l->n; i++) {
        struct smtp_addr t = l->a[i];
        int tr = family_rank(t.sa.ss_family, family_pref);
        size_t j = i;
        while (j > 0) {
            const struct smtp_addr *p = &l->a[j - 1];
            int pr = family_rank(p->sa.ss_family, family_pref);
            if (p->pref < t.pref || (p->pref == t.pref && pr <= tr))
                break;
            l->a[j] = l->a[j - 1];
            j--;
        }
        l->a[j] = t;
    }
    if (limit > 0 && l->n > limit)
        l->n = limit;
    for (size_t i = 0; i < l->n; i++)
        l->a[i].best = l->a[i].pref == l->a[0].pref;
}

/* ---- policy ---- */

struct lookup_policy {
    bool    dns;            /* DNS at all (MX lookups) */
    bool    host_dns;       /* host addresses from DNS */
    bool    host_native;    /* host addresses from getaddrinfo */
    bool    want4, want6;
    int     port;
};

static void policy_read(struct lookup_policy *p)
{
    const char *level = smtp_param_str("dns_support_level");
    if (*level)
        p->dns = strcasecmp(level, "disabled") != 0;
    else
        p->dns = !mail_conf_bool("disable_dns_lookups");
    strv items = {0};
    p->host_dns = p->host_native = false;
    mail_conf_list(smtp_pname("host_lookup"), &items);
    for (size_t i = 0; i < items.n; i++) {
        if (strcasecmp(items.v[i], "dns") == 0)
            p->host_dns = true;
        else if (strcasecmp(items.v[i], "native") == 0)
            p->host_native = true;
    }
    strv_free(&items);
    if (!p->dns) {
        p->host_dns = false;
        p->host_native = true;
    } else if (!p->host_dns && !p->host_native) {
        p->host_dns = true;
    }
    p->want4 = p->want6 = false;
    mail_conf_list("inet_protocols", &items);
    for (size_t i = 0; i < items.n; i++) {
        if (strcasecmp(items.v[i], "all") == 0)
            p->want4 = p->want6 = true;
        else if (strcasecmp(items.v[i], "ipv4") == 0)
            p->want4 = true;
        else if (strcasecmp(items.v[i], "ipv6") == 0)
            p->want6 = true;
    }
    strv_free(&items);
    if (!p->want4 && !p->want6)
        p->want4 = p->want6 = true;
}

/* ---- host lookups ---- */

enum { FOUND = 0, SOFT = 1, HARD = 2 };

static void set_sockaddr(struct sockaddr_storage *ss, socklen_t *len, int family,
                         const void *bin, int port)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *) ss;
        s->sin_family = AF_INET;
        s->sin_port = htons((uint16_t) port);
        memcpy(&s->sin_addr, bin, 4);
        *len = sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *) ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons((uint16_t) port);
        memcpy(&s->sin6_addr, bin, 16);
        *len = sizeof(*s);
    }
}

static int host_dns(const struct lookup_policy *p, const char *host, unsigned pref,
                    struct smtp_addr_list *out, sbuf *why)
{
    int types[2], nt = 0;
    if (p->want4)
        types[nt++] = DNS_T_A;
    if (p->want6)
        types[nt++] = DNS_T_AAAA;
    int result = HARD;
    bool have_why = false;
    sbuf err = SBUF_INIT;
    for (int t = 0; t < nt; t++) {
        struct dns_rrset rrs = {0};
        int status = dns_lookup(host, types[t], &rrs, &err);
        if (status == DNS_OK) {
            for (size_t i = 0; i < rrs.n; i++) {
                struct sockaddr_storage ss;
                socklen_t len;
                set_sockaddr(&ss, &len, types[t] == DNS_T_A ? AF_INET : AF_INET6,
                             rrs.rr[i].addr, p->port);
                add_addr(out, (struct sockaddr *) &ss, len, host, pref);
            }
            result = FOUND;
        } else if (status == DNS_RETRY) {
            if (result != FOUND)
                result = SOFT;
            sbuf_set(why, sbuf_str(&err));
            have_why = true;
        } else if (!have_why) {
            sbuf_set(why, sbuf_str(&err));
            have_why = true;
        }
        dns_rrset_free(&rrs);
    }
    sbuf_free(&err);
    return result;
}

static int host_native(const struct lookup_policy *p, const char *host, unsigned pref,
                       struct smtp_addr_list *out, sbuf *why)
{
    struct sockaddr_storage ss[NATIVE_MAX];
    int family = p->want4 && p->want6 ? AF_UNSPEC : p->want4 ? AF_INET : AF_INET6;
    char port[16];
    snprintf(port, sizeof(port), "%d", p->port);
    int n = sock_lookup(host, port, family, ss, NATIVE_MAX);
    if (n < 0) {
        int soft = errno == EAGAIN;
        sbuf_reset(why);
        sbuf_printf(why, "unable to look up host %s: %s", host,
                    errno == ENOENT ? "Name or service not known" : strerror(errno));
        return soft ? SOFT : HARD;
    }
    for (int i = 0; i < n; i++) {
        int fam = ss[i].ss_family;
        if (fam != AF_INET && fam != AF_INET6)
            continue;
        add_addr(out, (struct sockaddr *) &ss[i], sock_addr_len((struct sockaddr *) &ss[i]),
                 host, pref);
    }
    return FOUND;
}

/* Addresses of one host name, appended with pref. */
static int host_addrs(const struct lookup_policy *p, const char *host, unsigned pref,
                      struct smtp_addr_list *out, sbuf *why)
{
    int r = HARD;
    if (p->host_dns) {
        r = host_dns(p, host, pref, out, why);
        if (r != HARD || !p->host_native)
            return r;
    }
    sbuf native_why = SBUF_INIT;
    int rn = host_native(p, host, pref, out, &native_why);
    if (rn == FOUND || !p->host_dns)
        sbuf_set(why, sbuf_str(&native_why));
    sbuf_free(&native_why);
    return rn;
}

/* ---- own addresses ---- */

static bool addr_is_ours(const struct sockaddr_storage *ss)
{
    char buf[SOCK_ADDR_STRLEN], lit[SOCK_ADDR_STRLEN + 8];
    sock_addr_str((const struct sockaddr *) ss, sock_addr_len((const struct sockaddr *) ss), buf);
    if (ss->ss_family == AF_INET6)
        snprintf(lit, sizeof(lit), "[ipv6:%s]", buf);
    else
        snprintf(lit, sizeof(lit), "[%s]", buf);
    return resolve_local_domain(lit) == 1;
}

/* ---- the entry point ---- */

int smtp_addr_find(const struct smtp_dest *d, struct smtp_addr_list *out, struct smtp_why *why)
{
    out->n = 0;
    out->self_mx = false;
    struct lookup_policy p;
    policy_read(&p);
    p.port = sock_port_number(d->port);
    if (p.port < 0 && strcasecmp(d->port, "smtp") == 0)
        p.port = 25;            /* no /etc/services: the well-known ports still work */
    else if (p.port < 0 && strcasecmp(d->port, "lmtp") == 0)
        p.port = 24;
    if (p.port < 0) {
        smtp_why_set(why, "4.3.5", 0, "unknown service: %s/tcp", d->port);
        return -1;
    }

    /* A numeric address: nothing to look up. */
    unsigned char bin[16];
    if (inet_pton(AF_INET, d->host, bin) == 1 || inet_pton(AF_INET6, d->host, bin) == 1) {
        int fam = strchr(d->host, ':') ? AF_INET6 : AF_INET;
        if ((fam == AF_INET && !p.want4) || (fam == AF_INET6 && !p.want6)) {
            smtp_why_set(why, "5.4.4", 0, "%s: address family disabled by inet_protocols",
                         d->host);
            return -1;
        }
        struct sockaddr_storage ss;
        socklen_t len;
        set_sockaddr(&ss, &len, fam, bin, p.port);
        add_addr(out, (struct sockaddr *) &ss, len, d->host, 0);
        out->a[0].best = true;
        return 0;
    }

    sbuf err = SBUF_INIT;
    int soft = 0;
    bool by_mx = false;
    if (d->mx && p.dns) {
        struct dns_rrset mx = {0};
        bool failed = false;
        int status = dns_lookup(d->host, DNS_T_MX, &mx, &err);
        switch (status) {
        case DNS_OK: {
            by_mx = true;
            /* Preference order first, so that the limit keeps the best. */
            for (size_t i = 1; i < mx.n; i++) {
                struct dns_rr t = mx.rr[i];
                size_t j = i;
                for (; j > 0 && mx.rr[j - 1].pref > t.pref; j--)
                    mx.rr[j] = mx.rr[j - 1];
                mx.rr[j] = t;
            }
            sbuf herr = SBUF_INIT;
            for (size_t i = 0; i < mx.n; i++) {
                int r = host_addrs(&p, mx.rr[i].host, mx.rr[i].pref, out, &herr);
                if (r == SOFT)
                    soft++;
                if (r != FOUND)
                    sbuf_set(&err, sbuf_str(&herr));
            }
            sbuf_free(&herr);
            break;
        }
        case DNS_NULLMX:
            smtp_why_set(why, "5.1.0", 0, "%s", sbuf_str(&err));
            failed = true;
            break;
        case DNS_NOTFOUND:
        case DNS_INVAL:
            smtp_why_set(why, "5.4.4", 0, "%s", sbuf_str(&err));
            failed = true;
            break;
        case DNS_NODATA:
            break;
        case DNS_RETRY:
        case DNS_FAIL:
        default:
            if (!mail_conf_bool("ignore_mx_lookup_error")) {
                smtp_why_set(why, "4.4.3", 0, "%s", sbuf_str(&err));
                failed = true;
            }
            break;
        }
        dns_rrset_free(&mx);
        if (failed)
            goto fail;
    }
    if (!by_mx) {
        if (host_addrs(&p, d->host, 0, out, &err) == SOFT)
            soft++;
    }

    smtp_addr_order(out, smtp_param_bool("randomize_addresses"),
                    smtp_param_str("address_preference"), 0);
    if (by_mx && p.port == 25 && !smtp_lmtp) {
        /* Never relay to ourselves, nor to MX hosts that are worse than us
         * (SMTP port only, as Postfix: see smtp_proto.c loops_back()). */
        for (size_t i = 0; i < out->n; i++) {
            if (!addr_is_ours(&out->a[i].sa))
                continue;
            out->self_mx = true;
            if (out->a[i].pref == out->a[0].pref) {
                smtp_why_set(why, "5.4.6", 0, "mail for %s loops back to myself", d->text);
                goto fail;
            }
            unsigned cut = out->a[i].pref;
            size_t keep = 0;
            while (keep < out->n && out->a[keep].pref < cut)
                keep++;
            out->n = keep;
            break;
        }
    }
    long limit = smtp_param_int("mx_address_limit");
    if (limit > 0 && out->n > (size_t) limit)
        out->n = (size_t) limit;
    if (out->n == 0) {
        if (soft)
            smtp_why_set(why, "4.4.3", 0, "%s", sbuf_str(&err));
        else if (by_mx && smtp_param_bool("defer_if_no_mx_address_found"))
            smtp_why_set(why, "4.4.4", 0, "%s", sbuf_str(&err));
        else
            smtp_why_set(why, "5.4.4", 0, "%s", err.len ? sbuf_str(&err)
                         : "no address found for the destination");
        goto fail;
    }
    sbuf_free(&err);
    return 0;

fail:
    sbuf_free(&err);
    out->n = 0;
    return -1;
}
