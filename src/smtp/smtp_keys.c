/*
 * smtp_keys.c - lookup keys and names for the per-destination TLS and
 * SASL settings of the client (pure functions: no lookups, no I/O beyond
 * /etc/services for a port name).
 *
 *   smtp_tls_policy_keys()   smtp_tls_policy_maps keys for a destination:
 *                            "[host]:port", "domain:port", "[host]" or
 *                            "domain" (the port only when it is not the
 *                            default one), then for a bare domain its
 *                            parents as ".parent" (transport(5) style)
 *   smtp_sasl_passwd_keys()  smtp_sasl_password_maps keys for a server:
 *                            "[host]:port", "host:port", "[host]",
 *                            "host", then the destination as written
 *   smtp_tls_match_names()   the names a certificate must match, from
 *                            strategies (hostname, nexthop, dot-nexthop)
 *                            and literal patterns
 *   smtp_tls_sni()           the SNI name from smtp_tls_servername
 *   smtp_auth_mechs()        the SASL mechanisms of an EHLO reply
 *                            ("AUTH a b" and the old "AUTH=a b"), once each
 *
 * Not here: the tables (smtp_tls.c, smtp_sasl.c).
 */
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"
#include "util/sock.h"

static void add_unique(strv *out, const char *s)
{
    for (size_t i = 0; i < out->n; i++)
        if (strcasecmp(out->v[i], s) == 0)
            return;
    strv_add(out, s);
}

/* The host as written in a destination: "[host]" unless it was a bare
 * domain (MX lookup). */
static void host_form(sbuf *out, const struct smtp_dest *d)
{
    if (d->mx)
        sbuf_adds(out, d->host);
    else
        sbuf_printf(out, "[%s]", d->host);
}

static bool default_port(const char *port, const char *def_port)
{
    if (!def_port || !*def_port)
        return false;
    if (strcasecmp(port, def_port) == 0)
        return true;
    int a = sock_port_number(port), b = sock_port_number(def_port);
    return a > 0 && a == b;
}

void smtp_tls_policy_keys(const struct smtp_dest *d, const char *def_port, strv *keys)
{
    sbuf k = SBUF_INIT;

    if (d->kind == SOCK_EP_UNIX) {
        /* The socket type prefix is not part of the key. */
        add_unique(keys, d->path);
        return;
    }
    host_form(&k, d);
    bool with_port = d->port[0] && !default_port(d->port, def_port);
    if (with_port)
        sbuf_printf(&k, ":%s", d->port);
    add_unique(keys, sbuf_str(&k));
    /* A recipient domain (no brackets, no port) also matches ".parent". */
    if (d->mx && !with_port) {
        for (const char *p = strchr(d->host, '.'); p && p[1]; p = strchr(p + 1, '.'))
            add_unique(keys, p);
    }
    sbuf_free(&k);
}

void smtp_sasl_passwd_keys(const char *host, int port, const char *dest_text, strv *keys)
{
    sbuf k = SBUF_INIT;

    if (host && *host) {
        if (port > 0) {
            sbuf_printf(&k, "[%s]:%d", host, port);
            add_unique(keys, sbuf_str(&k));
            sbuf_reset(&k);
            sbuf_printf(&k, "%s:%d", host, port);
            add_unique(keys, sbuf_str(&k));
            sbuf_reset(&k);
        }
        sbuf_printf(&k, "[%s]", host);
        add_unique(keys, sbuf_str(&k));
        add_unique(keys, host);
    }
    if (dest_text && *dest_text) {
        const char *t = dest_text;
        if (strncasecmp(t, "inet:", 5) == 0)
            t += 5;
        if (*t)
            add_unique(keys, t);
    }
    sbuf_free(&k);
}

void smtp_tls_match_names(const strv *patterns, const char *hostname, const char *nexthop,
                          strv *out)
{
    sbuf k = SBUF_INIT;
    for (size_t i = 0; i < patterns->n; i++) {
        const char *p = patterns->v[i];
        if (strcasecmp(p, "hostname") == 0) {
            if (hostname && *hostname)
                add_unique(out, hostname);
        } else if (strcasecmp(p, "nexthop") == 0) {
            if (nexthop && *nexthop)
                add_unique(out, nexthop);
        } else if (strcasecmp(p, "dot-nexthop") == 0) {
            if (nexthop && *nexthop) {
                sbuf_reset(&k);
                sbuf_printf(&k, ".%s", nexthop);
                add_unique(out, sbuf_str(&k));
            }
        } else {
            add_unique(out, p);
        }
    }
    sbuf_free(&k);
}

const char *smtp_tls_sni(const char *setting, const char *hostname, const char *nexthop)
{
    if (!setting || !*setting)
        return 0;
    if (strcasecmp(setting, "hostname") == 0)
        return hostname && *hostname ? hostname : 0;
    if (strcasecmp(setting, "nexthop") == 0)
        return nexthop && *nexthop ? nexthop : 0;
    return setting;
}

void smtp_auth_mechs(const strv *ehlo_lines, strv *mechs)
{
    /* lines[0] is the greeting line of the EHLO reply. */
    for (size_t i = 1; i < ehlo_lines->n; i++) {
        const char *l = ehlo_lines->v[i];
        const char *rest;
        if (strncasecmp(l, "AUTH", 4) != 0 || (l[4] != ' ' && l[4] != '=' && l[4] != '\t'))
            continue;
        rest = l + 5;
        strv words;
        strv_init(&words);
        strv_split(&words, rest, " \t");
        for (size_t k = 0; k < words.n; k++) {
            /* A mechanism name: RFC 4422 3.1 (upper case letters, digits, - _). */
            const char *w = words.v[k];
            size_t n = strlen(w), j;
            for (j = 0; j < n; j++) {
                char c = w[j];
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                      || c == '-' || c == '_'))
                    break;
            }
            if (n > 0 && n <= 20 && j == n)
                add_unique(mechs, w);
        }
        strv_free(&words);
    }
}
