/*
 * fuzz_dns_reply.c - libFuzzer target for the DNS reply parser
 * (dns_parse_reply in src/mail/dns_reply.c) and the dns_resolver_conf
 * parser (dns_conf_parse in src/mail/dns.c).
 *
 * Input: byte 0 picks what is parsed (bit 7 set: the rest is resolv.conf
 * text; otherwise the rest is a DNS message and byte 0 % 3 picks the type
 * asked: MX, A, AAAA). Checks for a message: the status is one of the
 * parser's; records come back only with DNS_OK, all of the asked type,
 * with NUL-terminated names that fit their buffers and an MX preference
 * that fits 16 bits; a failed parse leaves the set empty. For a
 * configuration: at most DNS_MAX_NS servers, each IPv4 or IPv6 with a
 * non-zero port. Nothing here sends a query.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "mail/dns.h"
#include "util/strv.h"

#define MAX_INPUT 65536

static void check_conf(const uint8_t *data, size_t size)
{
    struct dns_conf conf;
    strv errors = {0};
    int n = dns_conf_parse((const char *) data, size, "fuzz.conf", &conf, &errors);
    if (n != conf.nns || n < 0 || n > DNS_MAX_NS)
        abort();
    for (int i = 0; i < n; i++) {
        const struct sockaddr_storage *ss = &conf.ns[i];
        if (ss->ss_family == AF_INET) {
            if (((const struct sockaddr_in *) ss)->sin_port == 0)
                abort();
        } else if (ss->ss_family == AF_INET6) {
            if (((const struct sockaddr_in6 *) ss)->sin6_port == 0)
                abort();
        } else {
            abort();
        }
    }
    for (size_t i = 0; i < errors.n; i++)
        if (strncmp(errors.v[i], "fuzz.conf, line ", 16) != 0)
            abort();
    strv_free(&errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    if (size < 1 || size > MAX_INPUT)
        return 0;
    if (data[0] & 0x80) {
        check_conf(data + 1, size - 1);
        return 0;
    }
    static const int types[] = { DNS_T_MX, DNS_T_A, DNS_T_AAAA, DNS_T_NS, DNS_T_PTR,
                                 DNS_T_TXT };
    int type = types[data[0] % 6];
    struct dns_rrset set = {0};
    int rc = dns_parse_reply(data + 1, size - 1, type, &set);
    switch (rc) {
    case DNS_OK:
        if (set.n == 0)
            abort();
        break;
    case DNS_NODATA:
    case DNS_NOTFOUND:
    case DNS_RETRY:
    case DNS_FAIL:
        if (set.n != 0)
            abort();
        break;
    default:
        abort();
    }
    for (size_t i = 0; i < set.n; i++) {
        const struct dns_rr *rr = &set.rr[i];
        if (rr->type != type || rr->pref > 65535)
            abort();
        if (strnlen(rr->name, sizeof(rr->name)) >= sizeof(rr->name)
            || strnlen(rr->host, sizeof(rr->host)) >= sizeof(rr->host))
            abort();
        if ((type == DNS_T_A || type == DNS_T_AAAA) && rr->host[0])
            abort();
    }
    dns_rrset_free(&set);
    return 0;
}
