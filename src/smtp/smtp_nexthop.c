/*
 * smtp_nexthop.c - the syntax of SMTP and LMTP destinations.
 *
 * A nexthop (from the request: transport_maps, relayhost, the recipient
 * domain) or a relay list (relayhost with several hosts,
 * smtp_fallback_relay) is a comma or space separated list; each element
 * is one destination:
 *   SMTP  domain            MX lookup, port smtp_tcp_port
 *         domain:port       MX lookup, this port (a number or a service)
 *         [host] [addr]     no MX lookup; [ipv6:2001:db8::1] for IPv6
 *         [host]:port       no MX lookup, this port
 *         inet:...          the same forms with an explicit prefix
 *         1.2.3.4           a bare IP address is taken as [1.2.3.4]
 *   LMTP  unix:/path /path  a UNIX-domain socket (a relative path is under
 *                           queue_directory, as in Postfix's chroot)
 *         inet:host[:port], host[:port], [host]:port
 *                           never an MX lookup; port lmtp_tcp_port (24)
 * Parsing only: no lookups, no connections.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/address.h"
#include "smtp/smtp.h"
#include "util/strv.h"

void smtp_dest_split(const char *list, strv *out)
{
    strv_split(out, list ? list : "", STRV_LIST_DELIMS);
}

static int dest_fail(sbuf *why, const char *text, const char *what)
{
    if (why) {
        sbuf_reset(why);
        sbuf_printf(why, "bad destination syntax \"%s\": %s", text, what);
    }
    return -1;
}

static bool numeric(const char *host)
{
    unsigned char bin[16];
    return inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1;
}

int smtp_dest_parse(const char *text, bool lmtp, const char *def_port, struct smtp_dest *d,
                    sbuf *why)
{
    memset(d, 0, sizeof(*d));
    if (!text || !*text)
        return dest_fail(why, "", "empty");
    if (strlen(text) >= sizeof(d->text))
        return dest_fail(why, "(too long)", "too long");
    snprintf(d->text, sizeof(d->text), "%s", text);

    const char *t = text;
    if (lmtp && t[0] == '/') {
        if (strlen(t) > SOCK_PATH_MAX)
            return dest_fail(why, text, "path too long");
        d->kind = SOCK_EP_UNIX;
        snprintf(d->path, sizeof(d->path), "%s", t);
        return 0;
    }
    sock_endpoint ep;
    sbuf err = SBUF_INIT;
    if (sock_parse_endpoint(t, def_port, &ep, &err) < 0) {
        dest_fail(why, text, sbuf_str(&err));
        sbuf_free(&err);
        return -1;
    }
    sbuf_free(&err);
    if (ep.kind == SOCK_EP_UNIX) {
        d->kind = SOCK_EP_UNIX;
        snprintf(d->path, sizeof(d->path), "%s", ep.path);
        return 0;
    }
    d->kind = SOCK_EP_INET;
    snprintf(d->port, sizeof(d->port), "%s", ep.port);
    const char *host = ep.host;
    if (ep.bracketed && strncasecmp(host, "ipv6:", 5) == 0)
        host += 5;
    if (!*host)
        return dest_fail(why, text, "empty host");
    snprintf(d->host, sizeof(d->host), "%s", host);
    size_t n = strlen(d->host);
    if (n > 1 && d->host[n - 1] == '.')
        d->host[n - 1] = 0;
    if (ep.bracketed || numeric(d->host)) {
        if (!numeric(d->host) && !address_valid_hostname(d->host))
            return dest_fail(why, text, "bad host name");
        d->mx = false;
        return 0;
    }
    if (!address_valid_hostname(d->host))
        return dest_fail(why, text, "bad host or domain name");
    d->mx = !lmtp;
    return 0;
}
