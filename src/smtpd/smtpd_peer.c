/*
 * smtpd_peer.c - who is the client: address, port, host names.
 *
 * The address comes from getpeername(2). An IPv4-mapped IPv6 address is
 * shown as plain IPv4, as Postfix does. With smtpd_peername_lookup = yes:
 *   reverse_name  the PTR name of the address ("unknown" when there is
 *                 none, or it is not a valid host name), unverified;
 *   name          reverse_name when a forward lookup of it gives the
 *                 client address back, else "unknown".
 * Each has a status (SMTPD_PEER_OK, _TEMP when the lookup failed
 * temporarily, _PERM otherwise) for reject_unknown_client_hostname and
 * reject_unknown_reverse_client_hostname. A name that does not map back
 * is logged as Postfix does ("warning: hostname X does not resolve to
 * address Y"). With smtpd_peername_lookup = no both names are "unknown".
 *
 * The lookups use the system resolver (getnameinfo, getaddrinfo: DNS and
 * /etc/hosts), or, when dns_resolver_conf is set, the DNS module (PTR,
 * then A and AAAA) with that resolver, like every other DNS lookup.
 *
 * A connection that is not an internet socket (a UNIX-domain service, or
 * stand-alone -S on a pipe or socketpair) is "localhost[127.0.0.1]".
 * TEST ONLY: in stand-alone mode the environment variable
 * HK_TEST_CLIENT_ADDR (a numeric IPv4/IPv6 address) replaces that, so the
 * system tests can play a remote client without the network; its names
 * are looked up only with smtpd_peername_lookup = yes and
 * dns_resolver_conf set (a test DNS server, never the machine's). It is
 * ignored when smtpd runs under master.
 *
 * Does not: apply any policy to the client.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mail/address.h"
#include "mail/dns.h"
#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "util/msg.h"

#include "smtpd/smtpd.h"

/* The reverse name of sa through the system resolver: SMTPD_PEER_*. */
static int system_reverse(const struct sockaddr *sa, socklen_t len, char *name, size_t size)
{
    char host[NI_MAXHOST];
    int err = getnameinfo(sa, len, host, sizeof(host), 0, 0, NI_NAMEREQD);
    if (err == EAI_AGAIN)
        return SMTPD_PEER_TEMP;
    if (err != 0 || !address_valid_hostname(host))
        return SMTPD_PEER_PERM;
    snprintf(name, size, "%s", host);
    return SMTPD_PEER_OK;
}

/* Does name map back to addr (system resolver)? SMTPD_PEER_*. */
static int system_forward(const char *name, const char *addr, sbuf *why)
{
    struct addrinfo hints, *res = 0;
    int status = SMTPD_PEER_PERM;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int err = getaddrinfo(name, 0, &hints, &res);
    if (err != 0) {
        sbuf_set(why, gai_strerror(err));
        return err == EAI_AGAIN ? SMTPD_PEER_TEMP : SMTPD_PEER_PERM;
    }
    for (struct addrinfo *ai = res; ai && status != SMTPD_PEER_OK; ai = ai->ai_next) {
        char buf[SOCK_ADDR_STRLEN];
        if (strcmp(sock_addr_str(ai->ai_addr, ai->ai_addrlen, buf), addr) == 0)
            status = SMTPD_PEER_OK;
    }
    freeaddrinfo(res);
    return status;
}

static int dns_status_peer(int dns_status)
{
    return dns_status == DNS_RETRY ? SMTPD_PEER_TEMP : SMTPD_PEER_PERM;
}

/* The same two through the DNS module (dns_resolver_conf). */
static int dns_reverse(const char *addr, char *name, size_t size)
{
    unsigned char b[16];
    sbuf q = SBUF_INIT, why = SBUF_INIT;
    struct dns_rrset rrs = {0};
    int status = SMTPD_PEER_PERM;

    if (inet_pton(AF_INET, addr, b) == 1) {
        sbuf_printf(&q, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
    } else if (inet_pton(AF_INET6, addr, b) == 1) {
        for (int i = 15; i >= 0; i--)
            sbuf_printf(&q, "%x.%x.", b[i] & 0xf, b[i] >> 4);
        sbuf_adds(&q, "ip6.arpa");
    } else {
        goto out;
    }
    int d = dns_lookup(sbuf_str(&q), DNS_T_PTR, &rrs, &why);
    if (d != DNS_OK) {
        status = dns_status_peer(d);
        goto out;
    }
    for (size_t i = 0; i < rrs.n; i++) {
        if (address_valid_hostname(rrs.rr[i].host)) {
            snprintf(name, size, "%s", rrs.rr[i].host);
            status = SMTPD_PEER_OK;
            break;
        }
    }
out:
    dns_rrset_free(&rrs);
    sbuf_free(&q);
    sbuf_free(&why);
    return status;
}

static int dns_forward(const char *name, const char *addr, sbuf *why)
{
    static const int types[] = {DNS_T_A, DNS_T_AAAA};
    bool temp = false, any = false;

    for (size_t t = 0; t < 2; t++) {
        struct dns_rrset rrs = {0};
        sbuf err = SBUF_INIT;
        int d = dns_lookup(name, types[t], &rrs, &err);
        if (d == DNS_OK) {
            any = true;
            for (size_t i = 0; i < rrs.n; i++) {
                char buf[INET6_ADDRSTRLEN];
                if (inet_ntop(types[t] == DNS_T_A ? AF_INET : AF_INET6, rrs.rr[i].addr, buf,
                              sizeof(buf)) && strcmp(buf, addr) == 0) {
                    dns_rrset_free(&rrs);
                    sbuf_free(&err);
                    return SMTPD_PEER_OK;
                }
            }
        } else if (d == DNS_RETRY) {
            temp = true;
            sbuf_set(why, sbuf_str(&err));
        } else if (!why->len && d != DNS_NODATA) {
            sbuf_set(why, dns_status_text(d));
        }
        dns_rrset_free(&rrs);
        sbuf_free(&err);
    }
    if (!any && !why->len)
        sbuf_set(why, "Name or service not known");
    return temp && !any ? SMTPD_PEER_TEMP : SMTPD_PEER_PERM;
}

/* Fill name, reverse_name and their statuses for a client address. */
static void lookup_names(SMTPD_STATE *st, const struct sockaddr *sa, socklen_t len)
{
    bool dns = *mail_conf_str("dns_resolver_conf") != 0;
    sbuf why = SBUF_INIT;

    snprintf(st->name, sizeof(st->name), "unknown");
    snprintf(st->reverse_name, sizeof(st->reverse_name), "unknown");
    st->reverse_name_status = dns || !sa ? dns_reverse(st->addr, st->reverse_name,
                                                        sizeof(st->reverse_name))
                                         : system_reverse(sa, len, st->reverse_name,
                                                          sizeof(st->reverse_name));
    if (st->reverse_name_status != SMTPD_PEER_OK) {
        snprintf(st->reverse_name, sizeof(st->reverse_name), "unknown");
        st->name_status = st->reverse_name_status;
        return;
    }
    st->name_status = dns || !sa ? dns_forward(st->reverse_name, st->addr, &why)
                                 : system_forward(st->reverse_name, st->addr, &why);
    if (st->name_status == SMTPD_PEER_OK) {
        snprintf(st->name, sizeof(st->name), "%s", st->reverse_name);
    } else if (!why.len) {
        msg_warn("hostname %s does not resolve to address %s", st->reverse_name, st->addr);
    } else {
        msg_warn("hostname %s does not resolve to address %s: %s", st->reverse_name, st->addr,
                 sbuf_str(&why));
    }
    sbuf_free(&why);
}

static bool numeric_addr(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

void smtpd_peer_init(SMTPD_STATE *st, int fd, bool port_logging)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    snprintf(st->name, sizeof(st->name), "localhost");
    snprintf(st->reverse_name, sizeof(st->reverse_name), "localhost");
    snprintf(st->addr, sizeof(st->addr), "127.0.0.1");
    snprintf(st->port, sizeof(st->port), "0");
    st->name_status = st->reverse_name_status = SMTPD_PEER_OK;

    memset(&ss, 0, sizeof(ss));
    if (getpeername(fd, (struct sockaddr *) &ss, &len) == 0
        && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
        struct sockaddr_in v4;
        struct sockaddr *sa = (struct sockaddr *) &ss;
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) &ss;
            if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
                memset(&v4, 0, sizeof(v4));
                v4.sin_family = AF_INET;
                v4.sin_port = v6->sin6_port;
                memcpy(&v4.sin_addr, &v6->sin6_addr.s6_addr[12], 4);
                sa = (struct sockaddr *) &v4;
                len = sizeof(v4);
            }
        }
        sock_addr_str(sa, len, st->addr);
        snprintf(st->port, sizeof(st->port), "%d", sock_addr_port(sa));
        snprintf(st->name, sizeof(st->name), "unknown");
        snprintf(st->reverse_name, sizeof(st->reverse_name), "unknown");
        st->name_status = st->reverse_name_status = SMTPD_PEER_PERM;
        if (mail_conf_bool("smtpd_peername_lookup"))
            lookup_names(st, sa, len);
    } else if (mail_server_standalone()) {
        const char *test_addr = getenv("HK_TEST_CLIENT_ADDR");
        if (test_addr && *test_addr) {
            if (numeric_addr(test_addr) && strlen(test_addr) < sizeof(st->addr)) {
                snprintf(st->addr, sizeof(st->addr), "%s", test_addr);
                snprintf(st->name, sizeof(st->name), "unknown");
                snprintf(st->reverse_name, sizeof(st->reverse_name), "unknown");
                st->name_status = st->reverse_name_status = SMTPD_PEER_PERM;
                if (mail_conf_bool("smtpd_peername_lookup")
                    && *mail_conf_str("dns_resolver_conf"))
                    lookup_names(st, 0, 0);
            } else {
                msg_warn("ignoring HK_TEST_CLIENT_ADDR: not a numeric address: %.100s",
                         test_addr);
            }
        }
    }
    if (strchr(st->addr, ':'))
        snprintf(st->rfc_addr, sizeof(st->rfc_addr), "IPv6:%s", st->addr);
    else
        snprintf(st->rfc_addr, sizeof(st->rfc_addr), "%s", st->addr);
    if (port_logging)
        snprintf(st->namaddr, sizeof(st->namaddr), "%s[%s]:%s", st->name, st->addr, st->port);
    else
        snprintf(st->namaddr, sizeof(st->namaddr), "%s[%s]", st->name, st->addr);
}
