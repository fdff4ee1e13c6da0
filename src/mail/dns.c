/*
 * dns.c - DNS lookups through a private libresolv state; dns_resolver_conf.
 *
 * See dns.h. One resolver state per process, made on the first lookup
 * with res_ninit() (the system's /etc/resolv.conf) and, when
 * dns_resolver_conf is set, with its nameservers, ports and options put
 * in place of the system's. IPv4 servers go in nsaddr_list; IPv6 servers
 * in the state's extension table, the way res_ninit itself stores them,
 * so res_nsend() uses exactly the servers of the file. Queries are made
 * with res_nmkquery()/res_nsend() and the reply is read by
 * dns_parse_reply(), so NXDOMAIN, NODATA and SERVFAIL are told apart from
 * the reply itself rather than from h_errno.
 *
 * Not here: caching, DNSSEC, the smtp client's ordering rules.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/address.h"
#include "mail/dns.h"
#include "mail/mail_conf.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/safe_file.h"

#define DNS_REPLY_MAX 65535
#define DNS_CONF_MAX (1024 * 1024)

/* ---- dns_resolver_conf ---- */

int dns_conf_nameserver(const char *value, struct sockaddr_storage *ss)
{
    char host[INET6_ADDRSTRLEN + 8];
    const char *port = 0;
    size_t len = strlen(value);
    if (len == 0 || len >= sizeof(host) + 8)
        return -1;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (!close || (size_t) (close - value - 1) >= sizeof(host))
            return -1;
        memcpy(host, value + 1, (size_t) (close - value - 1));
        host[close - value - 1] = 0;
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != 0)
            return -1;
    } else {
        const char *colon = strchr(value, ':');
        if (colon && !strchr(colon + 1, ':')) {     /* one colon: IPv4 with a port */
            if ((size_t) (colon - value) >= sizeof(host))
                return -1;
            memcpy(host, value, (size_t) (colon - value));
            host[colon - value] = 0;
            port = colon + 1;
        } else {
            if (len >= sizeof(host))
                return -1;
            memcpy(host, value, len + 1);
        }
    }
    long pnum = 53;
    if (port) {
        char *end;
        if (!isdigit((unsigned char) *port))
            return -1;
        errno = 0;
        pnum = strtol(port, &end, 10);
        if (*end || errno || pnum < 1 || pnum > 65535)
            return -1;
    }
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t) pnum);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        /* Without brackets an IPv6 address has no port: "::1:53" is an address. */
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t) pnum);
        return 0;
    }
    memset(ss, 0, sizeof(*ss));
    return -1;
}

__attribute__((format(printf, 4, 5)))
static void conf_error(strv *errors, const char *file, int line, const char *fmt, ...)
{
    if (!errors)
        return;
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%s, line %d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    strv_add(errors, sbuf_str(&b));
    sbuf_free(&b);
}

/* "timeout:N" style option value; -1 when bad. */
static int option_value(const char *opt, size_t prefix)
{
    const char *v = opt + prefix;
    if (!isdigit((unsigned char) *v) || strlen(v) > 4)
        return -1;
    for (const char *p = v; *p; p++)
        if (!isdigit((unsigned char) *p))
            return -1;
    return atoi(v);
}

int dns_conf_parse(const char *text, size_t len, const char *file, struct dns_conf *conf,
                   strv *errors)
{
    memset(conf, 0, sizeof(*conf));
    int lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        lineno++;
        char *line = xstrndup(text + pos, end - pos);
        pos = end + 1;
        line[strcspn(line, "#;")] = 0;
        strv words = {0};
        strv_split(&words, line, " \t\r\f\v");
        xfree(line);
        if (words.n == 0) {
            strv_free(&words);
            continue;
        }
        const char *key = words.v[0];
        if (strcmp(key, "nameserver") == 0) {
            struct sockaddr_storage ss;
            if (words.n != 2)
                conf_error(errors, file, lineno, "%s: expected one address", key);
            else if (dns_conf_nameserver(words.v[1], &ss) < 0)
                conf_error(errors, file, lineno, "bad nameserver address \"%s\"", words.v[1]);
            else if (conf->nns >= DNS_MAX_NS)
                conf_error(errors, file, lineno, "nameserver %s ignored: at most 3 are used",
                           words.v[1]);
            else
                conf->ns[conf->nns++] = ss;
        } else if (strcmp(key, "options") == 0) {
            for (size_t i = 1; i < words.n; i++) {
                const char *o = words.v[i];
                int v;
                if (strncmp(o, "timeout:", 8) == 0) {
                    if ((v = option_value(o, 8)) < 1)
                        conf_error(errors, file, lineno, "bad option \"%s\"", o);
                    else
                        conf->timeout = v > 30 ? 30 : v;
                } else if (strncmp(o, "attempts:", 9) == 0) {
                    if ((v = option_value(o, 9)) < 1)
                        conf_error(errors, file, lineno, "bad option \"%s\"", o);
                    else
                        conf->attempts = v > 5 ? 5 : v;
                }
                /* other options (ndots, rotate, edns0, ...) do not matter here */
            }
        } else if (strcmp(key, "search") != 0 && strcmp(key, "domain") != 0
                   && strcmp(key, "sortlist") != 0) {
            conf_error(errors, file, lineno, "unknown keyword \"%s\"", key);
        }
        strv_free(&words);
    }
    return conf->nns;
}

/* ---- the resolver state ---- */

static struct {
    bool    ready;          /* state initialised for conf_value */
    bool    usable;         /* false: every lookup is DNS_RETRY */
    char   *conf_value;     /* dns_resolver_conf it was made for */
    struct __res_state res;
    unsigned char *answer;
} dns;

static void dns_apply_conf(const struct dns_conf *conf)
{
    res_state rs = &dns.res;
    for (int i = 0; i < conf->nns; i++) {
        const struct sockaddr_storage *ss = &conf->ns[i];
        if (ss->ss_family == AF_INET) {
            memcpy(&rs->nsaddr_list[i], ss, sizeof(struct sockaddr_in));
        } else {
            /* IPv6: nsaddr_list[i] unused (family 0), the address in _ext. */
            memset(&rs->nsaddr_list[i], 0, sizeof(rs->nsaddr_list[i]));
            struct sockaddr_in6 *s6 = rs->_u._ext.nsaddrs[i];
            if (!s6) {
                s6 = malloc(sizeof(*s6));   /* freed by res_nclose() */
                if (!s6)
                    msg_fatal("out of memory");
                rs->_u._ext.nsaddrs[i] = s6;
            }
            memcpy(s6, ss, sizeof(*s6));
        }
    }
    rs->nscount = conf->nns;
    /* The file stands alone: the system file's timeout and attempts do not apply. */
    rs->retrans = conf->timeout ? conf->timeout : RES_TIMEOUT;
    rs->retry = conf->attempts ? conf->attempts : RES_DFLRETRY;
}

static void dns_setup(void)
{
    const char *file = mail_conf_str("dns_resolver_conf");
    if (dns.ready && strcmp(dns.conf_value, file) == 0)
        return;
    if (dns.ready)
        res_nclose(&dns.res);
    xfree(dns.conf_value);
    dns.conf_value = xstrdup(file);
    dns.ready = true;
    dns.usable = false;
    if (!dns.answer)
        dns.answer = xmalloc(DNS_REPLY_MAX);
    memset(&dns.res, 0, sizeof(dns.res));
    if (res_ninit(&dns.res) < 0) {
        msg_warn("cannot initialise the DNS resolver");
        return;
    }
    /* Names are asked as given: no search list, no default domain. */
    dns.res.options &= ~(unsigned long) (RES_DEFNAMES | RES_DNSRCH);
    if (!*file) {
        dns.usable = true;
        return;
    }
    size_t len = 0;
    char *text = read_file(file, DNS_CONF_MAX, &len);
    if (!text) {
        msg_warn("dns_resolver_conf: cannot read %s: %m; DNS lookups will be deferred", file);
        return;
    }
    struct dns_conf conf;
    strv errors = {0};
    int n = dns_conf_parse(text, len, file, &conf, &errors);
    for (size_t i = 0; i < errors.n; i++)
        msg_warn("%s", errors.v[i]);
    strv_free(&errors);
    xfree(text);
    if (n == 0) {
        msg_warn("dns_resolver_conf: %s names no usable nameserver; DNS lookups will be deferred",
                 file);
        return;
    }
    dns_apply_conf(&conf);
    dns.usable = true;
}

static int lookup_error(sbuf *why, const char *name, int type, int status)
{
    sbuf_reset(why);
    if (status == DNS_INVAL)
        sbuf_printf(why, "Name service error for name=%s type=%s: %s", name,
                    dns_type_name(type), dns_status_text(status));
    else
        sbuf_printf(why, "Host or domain name not found. Name service error for name=%s "
                    "type=%s: %s", name, dns_type_name(type), dns_status_text(status));
    return status;
}

int dns_lookup(const char *name, int type, struct dns_rrset *out, sbuf *why)
{
    char qname[DNS_NAME_SIZE];
    size_t len = strnlen(name, sizeof(qname));
    if (len >= sizeof(qname) - 1)
        return lookup_error(why, "(too long)", type, DNS_INVAL);
    memcpy(qname, name, len + 1);
    if (len > 1 && qname[len - 1] == '.')
        qname[--len] = 0;
    if (!address_valid_hostname(qname))
        return lookup_error(why, qname, type, DNS_INVAL);

    dns_setup();
    if (!dns.usable)
        return lookup_error(why, qname, type, DNS_RETRY);

    unsigned char query[NS_PACKETSZ + 16];
    int qlen = res_nmkquery(&dns.res, ns_o_query, qname, ns_c_in, type, 0, 0, 0, query,
                            (int) sizeof(query));
    if (qlen < 0)
        return lookup_error(why, qname, type, DNS_INVAL);
    int alen = res_nsend(&dns.res, query, qlen, dns.answer, DNS_REPLY_MAX);
    if (alen < 0) {
        if (msg_verbose)
            msg_info("dns: %s/%s: no answer: %m", qname, dns_type_name(type));
        return lookup_error(why, qname, type, DNS_RETRY);
    }
    size_t before = out->n;
    int status = dns_parse_reply(dns.answer, (size_t) alen, type, out);
    if (status != DNS_OK)
        return lookup_error(why, qname, type, status);
    if (type == DNS_T_MX) {
        /* RFC 7505: an MX of "." means no mail; next to real MX it is dropped. */
        size_t real = 0;
        for (size_t i = before; i < out->n; i++)
            if (out->rr[i].host[0])
                out->rr[before + real++] = out->rr[i];
        if (real == 0) {
            out->n = before;
            sbuf_reset(why);
            sbuf_printf(why, "Domain %s does not accept mail (nullMX)", qname);
            return DNS_NULLMX;
        }
        out->n = before + real;
    }
    return DNS_OK;
}
