/*
 * master_inet.c - where an inet service listens: its name, inet_interfaces, inet_protocols.
 *
 * An inet service name is "port", "host:port" or "[address]:port"; the
 * port is a number, a known_tcp_ports name (smtp=25, submission=587,
 * smtps=submissions=465, lmtp=24) or a services(5) name. Without a host
 * the service listens on every inet_interfaces address: "all" (the
 * wildcard of each enabled protocol), "loopback-only" (127.0.0.1 and/or
 * ::1), or a list of addresses and host names. inet_protocols (ipv4,
 * ipv6, all) filters everything; "all" means IPv4 plus IPv6 when the
 * kernel has IPv6. Host names are looked up with the system resolver
 * (/etc/hosts first, as configured) because the administrator wrote
 * one; numeric addresses never are. Nothing is opened here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>

#include "master/master.h"
#include "util/mem.h"
#include "util/sbuf.h"
#include "util/sock.h"

#define MAX_ADDRS 64

static bool ipv6_supported(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* Which families inet_protocols enables; 0 on error. */
static int enabled_families(const struct master_params *p, bool *v4, bool *v6, sbuf *err)
{
    *v4 = *v6 = false;
    for (size_t i = 0; i < p->protocols.n; i++) {
        const char *w = p->protocols.v[i];
        if (strcasecmp(w, "all") == 0)
            *v4 = *v6 = true;
        else if (strcasecmp(w, "ipv4") == 0)
            *v4 = true;
        else if (strcasecmp(w, "ipv6") == 0)
            *v6 = true;
        else {
            sbuf_printf(err, "inet_protocols: unknown protocol \"%s\" (use ipv4, ipv6 or all)", w);
            return 0;
        }
    }
    if (*v6 && !ipv6_supported()) {
        *v6 = false;
        if (!*v4) {
            sbuf_adds(err, "inet_protocols: IPv6 is not supported by this system");
            return 0;
        }
    }
    if (!*v4 && !*v6) {
        sbuf_adds(err, "inet_protocols: no protocol enabled");
        return 0;
    }
    return 1;
}

int inet_port_of(const struct master_params *p, const char *port)
{
    if (!port || !*port)
        return -1;
    if (port[0] >= '0' && port[0] <= '9')
        return sock_port_number(port);
    /* known_tcp_ports: "name=name=...=number" */
    for (size_t i = 0; i < p->known_ports.n; i++) {
        char *item = xstrdup(p->known_ports.v[i]);
        char *num = strrchr(item, '=');
        int found = -1;
        if (num) {
            *num++ = 0;
            for (char *name = strtok(item, "= \t"); name; name = strtok(0, "= \t"))
                if (strcmp(name, port) == 0)
                    found = sock_port_number(num);
        }
        xfree(item);
        if (found > 0)
            return found;
    }
    return sock_port_number(port);
}

static void add_addr(struct inet_addr *v, size_t *n, const struct sockaddr *sa, socklen_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i].len == len && memcmp(&v[i].ss, sa, len) == 0)
            return;
    if (*n >= MAX_ADDRS)
        return;
    struct inet_addr *a = &v[(*n)++];
    memset(a, 0, sizeof(*a));
    memcpy(&a->ss, sa, len);
    a->len = len;
    char host[SOCK_ADDR_STRLEN];
    sock_addr_str(sa, len, host);
    if (sa->sa_family == AF_INET6)
        snprintf(a->text, sizeof(a->text), "[%s]:%d", host, sock_addr_port(sa));
    else
        snprintf(a->text, sizeof(a->text), "%s:%d", host, sock_addr_port(sa));
}

static bool family_ok(int family, bool v4, bool v6)
{
    return (family == AF_INET && v4) || (family == AF_INET6 && v6);
}

/* One host (literal or name) into addresses of the enabled families. */
static int add_host(const char *host, const char *port, bool v4, bool v6, struct inet_addr *v,
                    size_t *n, sbuf *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (sock_addr_numeric(host, port, AF_UNSPEC, &ss, &len) == 0) {
        if (!family_ok(ss.ss_family, v4, v6)) {
            sbuf_printf(err, "address %s: its protocol is not enabled by inet_protocols", host);
            return -1;
        }
        add_addr(v, n, (struct sockaddr *) &ss, len);
        return 0;
    }
    struct sockaddr_storage found[16];
    int family = v4 && v6 ? AF_UNSPEC : v4 ? AF_INET : AF_INET6;
    int k = sock_lookup(host, port, family, found, 16);
    if (k < 0) {
        sbuf_printf(err, "host %s: %s", host,
                    errno == EAGAIN ? "temporary lookup failure" : "host not found");
        return -1;
    }
    for (int i = 0; i < k; i++)
        if (family_ok(found[i].ss_family, v4, v6))
            add_addr(v, n, (struct sockaddr *) &found[i],
                     sock_addr_len((struct sockaddr *) &found[i]));
    return 0;
}

static void add_wildcards(const char *host4, const char *host6, const char *port, bool v4,
                          bool v6, struct inet_addr *v, size_t *n)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (v4 && sock_addr_numeric(host4, port, AF_INET, &ss, &len) == 0)
        add_addr(v, n, (struct sockaddr *) &ss, len);
    if (v6 && sock_addr_numeric(host6, port, AF_INET6, &ss, &len) == 0)
        add_addr(v, n, (struct sockaddr *) &ss, len);
}

/* Split "host:port", "[addr]:port" or "port"; host is "" when absent. */
static int split_name(const char *name, char *host, size_t hsize, char *port, size_t psize)
{
    const char *colon;
    host[0] = 0;
    if (name[0] == '[') {
        const char *close = strchr(name, ']');
        if (!close || close[1] != ':')
            return -1;
        if ((size_t) (close - name - 1) >= hsize)
            return -1;
        memcpy(host, name + 1, (size_t) (close - name - 1));
        host[close - name - 1] = 0;
        colon = close + 1;
    } else if ((colon = strrchr(name, ':')) != 0) {
        if ((size_t) (colon - name) >= hsize)
            return -1;
        memcpy(host, name, (size_t) (colon - name));
        host[colon - name] = 0;
        if (strchr(host, ':'))
            return -1;      /* an IPv6 address needs brackets */
    } else {
        colon = name - 1;
    }
    if (strlen(colon + 1) >= psize || !colon[1])
        return -1;
    snprintf(port, psize, "%s", colon + 1);
    return 0;
}

int inet_service_addrs(const struct master_params *p, const char *name, struct inet_addr **out,
                       size_t *count, char **err)
{
    char host[SOCK_HOST_MAX + 1], port[SOCK_PORT_MAX + 1], portnum[16];
    sbuf e = SBUF_INIT;
    bool v4, v6;
    struct inet_addr *v = xcalloc(MAX_ADDRS, sizeof(*v));
    size_t n = 0;

    if (split_name(name, host, sizeof(host), port, sizeof(port)) < 0) {
        sbuf_printf(&e, "bad inet service name \"%s\" (expected port, host:port or "
                        "[address]:port)", name);
        goto fail;
    }
    int pn = inet_port_of(p, port);
    if (pn <= 0) {
        sbuf_printf(&e, "unknown service port \"%s\" in service name \"%s\"", port, name);
        goto fail;
    }
    snprintf(portnum, sizeof(portnum), "%d", pn);
    if (!enabled_families(p, &v4, &v6, &e))
        goto fail;

    if (*host && strcmp(host, "*") != 0) {
        if (add_host(host, portnum, v4, v6, v, &n, &e) < 0)
            goto fail;
    } else {
        bool all = p->interfaces.n == 0;
        for (size_t i = 0; i < p->interfaces.n; i++)
            if (strcasecmp(p->interfaces.v[i], "all") == 0)
                all = true;
        if (all) {
            add_wildcards("0.0.0.0", "::", portnum, v4, v6, v, &n);
        } else {
            for (size_t i = 0; i < p->interfaces.n; i++) {
                const char *w = p->interfaces.v[i];
                if (strcasecmp(w, "loopback-only") == 0) {
                    add_wildcards("127.0.0.1", "::1", portnum, v4, v6, v, &n);
                    continue;
                }
                char h[SOCK_HOST_MAX + 1];
                size_t wl = strlen(w);
                if (wl >= sizeof(h)) {
                    sbuf_printf(&e, "inet_interfaces: address too long: %.80s...", w);
                    goto fail;
                }
                if (w[0] == '[' && wl > 2 && w[wl - 1] == ']') {
                    memcpy(h, w + 1, wl - 2);
                    h[wl - 2] = 0;
                } else {
                    memcpy(h, w, wl + 1);
                }
                sbuf s = SBUF_INIT;
                if (add_host(h, portnum, v4, v6, v, &n, &s) < 0) {
                    sbuf_printf(&e, "inet_interfaces: %s", sbuf_str(&s));
                    sbuf_free(&s);
                    goto fail;
                }
                sbuf_free(&s);
            }
        }
    }
    if (n == 0) {
        sbuf_printf(&e, "service %s: no address to listen on (check inet_interfaces and "
                        "inet_protocols)", name);
        goto fail;
    }
    *out = v;
    *count = n;
    sbuf_free(&e);
    return 0;
fail:
    xfree(v);
    *err = sbuf_steal(&e);
    return -1;
}
