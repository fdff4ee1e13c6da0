/*
 * dns.h - DNS lookups for mail routing: MX, A and AAAA records.
 *
 * Queries go through the C library's resolver (libresolv: res_nmkquery,
 * res_nsend, ns_initparse) with a private resolver state, so nothing here
 * disturbs the process-wide _res. Names are looked up as given (fully
 * qualified: no search list, no default domain, as Postfix does by
 * default); CNAME chains are followed by the recursive server, and the
 * records of the asked type are taken from the answer whatever their
 * owner name.
 *
 * CHOOSING THE RESOLVER. By default the servers of /etc/resolv.conf are
 * used. main.cf's dns_resolver_conf names another resolv.conf-format file
 * (Hikyaku's own parameter; tests use it to reach a DNS server on the
 * loopback address). In that file:
 *     nameserver 192.0.2.53            port 53
 *     nameserver 127.0.0.1:5353        IPv4 with a port
 *     nameserver [127.0.0.1]:5353      the same
 *     nameserver ::1                   IPv6, port 53
 *     nameserver [::1]:5353            IPv6 with a port (brackets required)
 *     options timeout:2 attempts:1     per-try timeout (s) and tries
 *     # or ; start a comment
 * Without an options line the library defaults apply (5 seconds, 2
 * tries), not those of /etc/resolv.conf. At most 3 nameservers (later
 * ones are ignored with a warning); search,
 * domain, sortlist and other options are accepted and ignored. A file
 * that cannot be read, or names no usable nameserver, makes every lookup
 * fail with DNS_RETRY (mail is deferred, never routed through another
 * resolver by surprise); the problem is logged with the file name and
 * line. The file is read on the first lookup and again whenever the
 * parameter's value changes.
 *
 * RESULTS. dns_lookup() returns a DNS_* status; on anything but DNS_OK
 * the why buffer gets Postfix's text, which ends up in bounces and logs:
 *   "Host or domain name not found. Name service error for name=example.com
 *    type=MX: Host not found"            (DNS_NOTFOUND, NXDOMAIN)
 *   "...: Host not found, try again"    (DNS_RETRY: SERVFAIL, REFUSED, timeout)
 *   "...: Host found but no data record of requested type"   (DNS_NODATA)
 *   "...: Non-recoverable error"        (DNS_FAIL: FORMERR, NOTIMP, bad reply)
 *   "Name service error for name=X type=MX: invalid host or domain name"
 *                                        (DNS_INVAL)
 *   "Domain example.com does not accept mail (nullMX)"   (DNS_NULLMX, RFC 7505:
 *    every MX record of the domain has the root "." as its exchange)
 * An MX record whose exchange is "." next to real MX records is dropped.
 *
 * The reply parser (dns_parse_reply) is separate and pure, for tests and
 * the fuzz target: every length is checked against the message, names
 * are expanded with bounds checks, records with a wrong length are
 * skipped.
 *
 * NS, PTR and TXT records are looked up the same way (DNSBL checks and
 * client names in smtpd); their data is in rr->host.
 *
 * NOT HERE: no caching, no DNSSEC, no policy (which
 * address family, MX ordering, own-address checks: the smtp client).
 */
#ifndef HK_MAIL_DNS_H
#define HK_MAIL_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/sbuf.h"
#include "util/strv.h"

#define DNS_NAME_SIZE 1025      /* a name in text form, escapes included, and a NUL */
#define DNS_MAX_NS 3            /* nameservers used from dns_resolver_conf */

enum dns_type { DNS_T_A = 1, DNS_T_NS = 2, DNS_T_PTR = 12, DNS_T_MX = 15, DNS_T_TXT = 16,
                DNS_T_AAAA = 28 };

enum dns_status {
    DNS_OK = 0,
    DNS_NOTFOUND,       /* the name does not exist (NXDOMAIN) */
    DNS_NODATA,         /* the name exists, without records of the type */
    DNS_RETRY,          /* temporary: SERVFAIL, REFUSED, timeout, no server */
    DNS_FAIL,           /* permanent: FORMERR, NOTIMP, malformed reply */
    DNS_INVAL,          /* not a valid domain name: nothing was asked */
    DNS_NULLMX,         /* RFC 7505 null MX: the domain accepts no mail */
};

struct dns_rr {
    char     name[DNS_NAME_SIZE];   /* owner name, no trailing dot */
    int      type;                  /* DNS_T_* */
    uint32_t ttl;
    unsigned pref;                  /* MX preference */
    char     host[DNS_NAME_SIZE];   /* MX exchange, NS or PTR target, no trailing dot;
                                     * "" is the root. TXT: the character-strings
                                     * joined, bytes outside printable ASCII as '?',
                                     * cut at DNS_NAME_SIZE - 1 bytes */
    unsigned char addr[16];         /* A: 4 bytes, AAAA: 16 */
};

struct dns_rrset {
    struct dns_rr *rr;
    size_t  n, cap;
};

void dns_rrset_free(struct dns_rrset *set);

/*
 * Look up name (one trailing dot allowed) for type. DNS_OK fills out
 * (records appended, in answer order); otherwise why (reset first) says
 * what went wrong, in the texts above. MX: DNS_NULLMX for a null MX.
 */
int dns_lookup(const char *name, int type, struct dns_rrset *out, sbuf *why);

/*
 * Parse one reply message for records of type in its answer section
 * (class IN). Returns DNS_OK (at least one record appended), DNS_NODATA,
 * DNS_NOTFOUND, DNS_RETRY (SERVFAIL/REFUSED) or DNS_FAIL (anything else,
 * including a message that is not a well-formed reply). No null-MX
 * interpretation: an MX exchange "." comes back as host "".
 */
int dns_parse_reply(const unsigned char *msg, size_t len, int type, struct dns_rrset *out);

/* "MX", "A", "AAAA", or "TYPE%d" in a static buffer. */
const char *dns_type_name(int type);
/* "Host not found", "Host not found, try again", ... */
const char *dns_status_text(int status);

/* ---- resolver configuration (dns_resolver_conf) ---- */

struct dns_conf {
    struct sockaddr_storage ns[DNS_MAX_NS];
    int     nns;
    int     timeout;        /* seconds per try, 0 = library default */
    int     attempts;       /* tries, 0 = library default */
};

/*
 * Parse resolv.conf text. Problems ("FILE, line N: ...") are appended to
 * errors (may be NULL); the lines in error are skipped. Returns the number
 * of usable nameservers (0 means the configuration is unusable).
 */
int dns_conf_parse(const char *text, size_t len, const char *file, struct dns_conf *conf,
                   strv *errors);
/* One nameserver value: "1.2.3.4", "1.2.3.4:53", "[1.2.3.4]:53", "::1",
 * "[::1]:53". 0, or -1 when it is not a numeric address with a valid port. */
int dns_conf_nameserver(const char *value, struct sockaddr_storage *ss);

#endif
