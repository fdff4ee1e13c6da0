/*
 * smtpd_peer.c - who is the client: address, port, verified host name.
 *
 * The address comes from getpeername(2). An IPv4-mapped IPv6 address is
 * shown as plain IPv4, as Postfix does. With smtpd_peername_lookup = yes
 * the name is the reverse (PTR) name, kept only when a forward lookup of
 * that name gives the client address back; otherwise, or with the lookup
 * turned off, the name is "unknown".
 *
 * A connection that is not an internet socket (a UNIX-domain service, or
 * stand-alone -S on a pipe or socketpair) is "localhost[127.0.0.1]".
 * TEST ONLY: in stand-alone mode the environment variable
 * HK_TEST_CLIENT_ADDR (a numeric IPv4/IPv6 address) replaces that, so the
 * system tests can play a remote client "unknown[ADDR]" without the
 * network. It is ignored when smtpd runs under master.
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
#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "util/msg.h"

#include "smtpd/smtpd.h"

/* Reverse lookup with forward confirmation; 0 and the name, or -1. */
static int verified_name(const struct sockaddr *sa, socklen_t len, const char *addr,
                         char *name, size_t size)
{
    char host[NI_MAXHOST];
    struct addrinfo hints, *res = 0;
    int ok = -1;

    if (getnameinfo(sa, len, host, sizeof(host), 0, 0, NI_NAMEREQD) != 0)
        return -1;
    if (!address_valid_hostname(host))
        return -1;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, 0, &hints, &res) != 0)
        return -1;
    for (struct addrinfo *ai = res; ai && ok < 0; ai = ai->ai_next) {
        char buf[SOCK_ADDR_STRLEN];
        if (strcmp(sock_addr_str(ai->ai_addr, ai->ai_addrlen, buf), addr) == 0)
            ok = 0;
    }
    freeaddrinfo(res);
    if (ok == 0)
        snprintf(name, size, "%s", host);
    return ok;
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
    snprintf(st->addr, sizeof(st->addr), "127.0.0.1");
    snprintf(st->port, sizeof(st->port), "0");

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
        if (mail_conf_bool("smtpd_peername_lookup")
            && verified_name(sa, len, st->addr, st->name, sizeof(st->name)) < 0)
            snprintf(st->name, sizeof(st->name), "unknown");
    } else if (mail_server_standalone()) {
        const char *test_addr = getenv("HK_TEST_CLIENT_ADDR");
        if (test_addr && *test_addr) {
            if (numeric_addr(test_addr) && strlen(test_addr) < sizeof(st->addr)) {
                snprintf(st->addr, sizeof(st->addr), "%s", test_addr);
                snprintf(st->name, sizeof(st->name), "unknown");
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
