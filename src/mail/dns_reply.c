/*
 * dns_reply.c - parse a DNS reply message into MX, A, AAAA, NS, PTR or TXT records.
 *
 * See dns.h (dns_parse_reply). The message is walked with libresolv's
 * ns_initparse/ns_parserr, which check every section count and record
 * length against the message; MX exchange names are expanded with
 * dn_expand against the end of the message and must end exactly at the
 * end of their record. A record of the asked type with a wrong data length
 * is skipped, not trusted. Pure: no I/O, no configuration, no logging.
 */
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#include "mail/dns.h"
#include "util/mem.h"

void dns_rrset_free(struct dns_rrset *set)
{
    xfree(set->rr);
    memset(set, 0, sizeof(*set));
}

static struct dns_rr *rrset_add(struct dns_rrset *set)
{
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 4;
        set->rr = xreallocarray(set->rr, set->cap, sizeof(*set->rr));
    }
    struct dns_rr *rr = &set->rr[set->n++];
    memset(rr, 0, sizeof(*rr));
    return rr;
}

/* Copy a name without its trailing dot (the root stays ""). */
static void copy_name(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    if (n > 0 && src[n - 1] == '.' && !(n > 1 && src[n - 2] == '\\'))
        n--;
    memcpy(dst, src, n);
    dst[n] = 0;
}

const char *dns_type_name(int type)
{
    static char buf[24];
    switch (type) {
    case DNS_T_A: return "A";
    case DNS_T_MX: return "MX";
    case DNS_T_AAAA: return "AAAA";
    case DNS_T_NS: return "NS";
    case DNS_T_PTR: return "PTR";
    case DNS_T_TXT: return "TXT";
    }
    snprintf(buf, sizeof(buf), "TYPE%d", type);
    return buf;
}

const char *dns_status_text(int status)
{
    switch (status) {
    case DNS_OK: return "Success";
    case DNS_NOTFOUND: return "Host not found";
    case DNS_NODATA: return "Host found but no data record of requested type";
    case DNS_RETRY: return "Host not found, try again";
    case DNS_INVAL: return "invalid host or domain name";
    case DNS_NULLMX: return "Domain does not accept mail (nullMX)";
    case DNS_FAIL:
    default: return "Non-recoverable error";
    }
}

int dns_parse_reply(const unsigned char *msg, size_t len, int type, struct dns_rrset *out)
{
    ns_msg handle;
    if (!msg || len < NS_HFIXEDSZ || len > 65535
        || ns_initparse(msg, (int) len, &handle) < 0)
        return DNS_FAIL;
    if (!ns_msg_getflag(handle, ns_f_qr) || ns_msg_getflag(handle, ns_f_opcode) != ns_o_query)
        return DNS_FAIL;
    switch (ns_msg_getflag(handle, ns_f_rcode)) {
    case ns_r_noerror: break;
    case ns_r_nxdomain: return DNS_NOTFOUND;
    case ns_r_servfail:
    case ns_r_refused: return DNS_RETRY;
    default: return DNS_FAIL;
    }
    const unsigned char *eom = msg + len;
    int count = ns_msg_count(handle, ns_s_an);
    size_t found = 0;
    for (int i = 0; i < count; i++) {
        ns_rr rr;
        if (ns_parserr(&handle, ns_s_an, i, &rr) < 0)
            return found ? DNS_OK : DNS_FAIL;
        if (ns_rr_class(rr) != ns_c_in || (int) ns_rr_type(rr) != type)
            continue;
        const unsigned char *rd = ns_rr_rdata(rr);
        size_t rdlen = ns_rr_rdlen(rr);
        if (rd < msg || rd > eom || rdlen > (size_t) (eom - rd))
            continue;
        char host[DNS_NAME_SIZE];
        unsigned pref = 0;
        switch (type) {
        case DNS_T_A:
            if (rdlen != 4)
                continue;
            break;
        case DNS_T_AAAA:
            if (rdlen != 16)
                continue;
            break;
        case DNS_T_MX: {
            if (rdlen < 3)
                continue;
            pref = ((unsigned) rd[0] << 8) | rd[1];
            int n = dn_expand(msg, eom, rd + 2, host, sizeof(host));
            if (n < 0 || (size_t) n != rdlen - 2)
                continue;
            break;
        }
        case DNS_T_NS:
        case DNS_T_PTR: {
            int n = dn_expand(msg, eom, rd, host, sizeof(host));
            if (n < 0 || (size_t) n != rdlen)
                continue;
            break;
        }
        case DNS_T_TXT: {
            /* RFC 1035 3.3.14: one or more <character-string>s. */
            size_t pos = 0, used = 0;
            while (pos < rdlen) {
                size_t n = rd[pos++];
                if (n > rdlen - pos)
                    break;
                for (size_t k = 0; k < n && used < sizeof(host) - 1; k++) {
                    unsigned char ch = rd[pos + k];
                    host[used++] = ch >= 0x20 && ch < 0x7f ? (char) ch : '?';
                }
                pos += n;
            }
            if (pos != rdlen)
                continue;
            host[used] = 0;
            break;
        }
        default:
            continue;
        }
        struct dns_rr *r = rrset_add(out);
        copy_name(r->name, sizeof(r->name), ns_rr_name(rr));
        r->type = type;
        r->ttl = ns_rr_ttl(rr);
        r->pref = pref;
        if (type == DNS_T_MX || type == DNS_T_NS || type == DNS_T_PTR)
            copy_name(r->host, sizeof(r->host), host);
        else if (type == DNS_T_TXT)
            memcpy(r->host, host, strlen(host) + 1);
        else
            memcpy(r->addr, rd, rdlen);
        found++;
    }
    return found ? DNS_OK : DNS_NODATA;
}
