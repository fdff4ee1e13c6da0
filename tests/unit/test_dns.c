/*
 * test_dns.c - the DNS reply parser, the dns_resolver_conf parser, and
 * dns_lookup()'s answers that need no DNS server (bad names, an unusable
 * resolver configuration, a server that does not answer). Replies are
 * built by hand here, compression pointers included; nothing queries the
 * machine's resolver.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "conf_fixture.h"
#include "mail/dns.h"
#include "mail/mail_conf.h"
#include "util/msg.h"

/* ---- building replies ---- */

struct pkt {
    unsigned char b[2048];
    size_t n;
};

static void put8(struct pkt *p, unsigned v) { p->b[p->n++] = (unsigned char) v; }
static void put16(struct pkt *p, unsigned v) { put8(p, v >> 8); put8(p, v & 255); }
static void put32(struct pkt *p, uint32_t v) { put16(p, v >> 16); put16(p, v & 0xffff); }

static void put_name(struct pkt *p, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t) (dot - name) : strlen(name);
        put8(p, (unsigned) len);
        memcpy(p->b + p->n, name, len);
        p->n += len;
        name += len + (dot ? 1 : 0);
    }
    put8(p, 0);
}

/* Header and one question; flags: QR set, RD/RA, rcode. */
static void start(struct pkt *p, int rcode, unsigned ancount, const char *qname, int qtype)
{
    memset(p, 0, sizeof(*p));
    put16(p, 0x1234);
    put16(p, 0x8180 | (unsigned) rcode);
    put16(p, 1);
    put16(p, ancount);
    put16(p, 0);
    put16(p, 0);
    put_name(p, qname);             /* at offset 12: a target for pointers */
    put16(p, (unsigned) qtype);
    put16(p, 1);
}

/* Answer header with the owner as a pointer to offset 12 (the question). */
static void rr_head(struct pkt *p, int type, unsigned rdlen)
{
    put16(p, 0xC00C);
    put16(p, (unsigned) type);
    put16(p, 1);
    put32(p, 3600);
    put16(p, rdlen);
}

static void add_mx(struct pkt *p, unsigned pref, const char *label)
{
    /* exchange = label + pointer to the question name */
    size_t len = strlen(label);
    rr_head(p, DNS_T_MX, (unsigned) (2 + 1 + len + 2));
    put16(p, pref);
    put8(p, (unsigned) len);
    memcpy(p->b + p->n, label, len);
    p->n += len;
    put16(p, 0xC00C);
}

static void add_a(struct pkt *p, const char *ip)
{
    rr_head(p, DNS_T_A, 4);
    inet_pton(AF_INET, ip, p->b + p->n);
    p->n += 4;
}

/* ---- the parser ---- */

static void test_mx_reply(void **state)
{
    (void) state;
    struct pkt p;
    start(&p, 0, 2, "example.com", DNS_T_MX);
    add_mx(&p, 20, "mx2");
    add_mx(&p, 10, "mx1");
    struct dns_rrset set = {0};
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_OK);
    assert_int_equal(set.n, 2);
    assert_int_equal(set.rr[0].pref, 20);
    assert_string_equal(set.rr[0].host, "mx2.example.com");
    assert_string_equal(set.rr[0].name, "example.com");
    assert_int_equal(set.rr[0].ttl, 3600);
    assert_int_equal(set.rr[1].pref, 10);
    assert_string_equal(set.rr[1].host, "mx1.example.com");
    dns_rrset_free(&set);
}

static void test_a_and_aaaa(void **state)
{
    (void) state;
    struct pkt p;
    start(&p, 0, 2, "h.example", DNS_T_A);
    add_a(&p, "192.0.2.1");
    add_a(&p, "192.0.2.2");
    struct dns_rrset set = {0};
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_A, &set), DNS_OK);
    assert_int_equal(set.n, 2);
    assert_memory_equal(set.rr[1].addr, "\xc0\x00\x02\x02", 4);
    dns_rrset_free(&set);

    start(&p, 0, 1, "h.example", DNS_T_AAAA);
    rr_head(&p, DNS_T_AAAA, 16);
    inet_pton(AF_INET6, "2001:db8::5", p.b + p.n);
    p.n += 16;
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_AAAA, &set), DNS_OK);
    unsigned char want[16];
    inet_pton(AF_INET6, "2001:db8::5", want);
    assert_memory_equal(set.rr[0].addr, want, 16);
    /* Asked for A, the reply only has AAAA: no data. */
    dns_rrset_free(&set);
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_A, &set), DNS_NODATA);
    assert_int_equal(set.n, 0);
}

static void test_cname_chain(void **state)
{
    (void) state;
    struct pkt p;
    start(&p, 0, 2, "alias.example", DNS_T_A);
    /* alias.example CNAME real.example; real.example A 192.0.2.9 */
    size_t rdstart;
    rr_head(&p, 5, 0);
    rdstart = p.n;
    put_name(&p, "real.example");
    p.b[rdstart - 2] = 0;
    p.b[rdstart - 1] = (unsigned char) (p.n - rdstart);
    size_t owner = rdstart;
    put16(&p, 0xC000 | (unsigned) owner);
    put16(&p, DNS_T_A);
    put16(&p, 1);
    put32(&p, 60);
    put16(&p, 4);
    put8(&p, 192); put8(&p, 0); put8(&p, 2); put8(&p, 9);
    struct dns_rrset set = {0};
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_A, &set), DNS_OK);
    assert_int_equal(set.n, 1);
    assert_string_equal(set.rr[0].name, "real.example");
    dns_rrset_free(&set);
}

static void test_rcodes(void **state)
{
    (void) state;
    struct pkt p;
    struct dns_rrset set = {0};
    start(&p, 3, 0, "nx.example", DNS_T_MX);
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_NOTFOUND);
    start(&p, 2, 0, "x.example", DNS_T_MX);
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_RETRY);
    start(&p, 5, 0, "x.example", DNS_T_MX);
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_RETRY);
    start(&p, 1, 0, "x.example", DNS_T_MX);
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_FAIL);
    start(&p, 4, 0, "x.example", DNS_T_MX);
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_FAIL);
    start(&p, 0, 0, "x.example", DNS_T_MX);
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_NODATA);
    assert_int_equal(set.n, 0);
}

static void test_null_mx_record(void **state)
{
    (void) state;
    struct pkt p;
    start(&p, 0, 1, "nomail.example", DNS_T_MX);
    rr_head(&p, DNS_T_MX, 3);
    put16(&p, 0);
    put8(&p, 0);                    /* the root */
    struct dns_rrset set = {0};
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_OK);
    assert_int_equal(set.n, 1);
    assert_string_equal(set.rr[0].host, "");
    dns_rrset_free(&set);
}

static void test_malformed(void **state)
{
    (void) state;
    struct pkt p;
    struct dns_rrset set = {0};
    assert_int_equal(dns_parse_reply(0, 0, DNS_T_MX, &set), DNS_FAIL);
    assert_int_equal(dns_parse_reply((const unsigned char *) "\x12\x34\x81", 3, DNS_T_MX, &set),
                     DNS_FAIL);

    /* Every truncation of a good reply: never a crash, never a record past the cut. */
    start(&p, 0, 2, "example.com", DNS_T_MX);
    add_mx(&p, 20, "mx2");
    add_mx(&p, 10, "mx1");
    for (size_t cut = 0; cut < p.n; cut++) {
        int rc = dns_parse_reply(p.b, cut, DNS_T_MX, &set);
        assert_true(rc == DNS_FAIL || (rc == DNS_OK && set.n == 1));
        dns_rrset_free(&set);
    }

    /* A query, not a reply. */
    start(&p, 0, 0, "x.example", DNS_T_A);
    p.b[2] &= 0x7f;
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_A, &set), DNS_FAIL);

    /* An A record of 5 bytes is skipped. */
    start(&p, 0, 1, "x.example", DNS_T_A);
    rr_head(&p, DNS_T_A, 5);
    memcpy(p.b + p.n, "\1\2\3\4\5", 5);
    p.n += 5;
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_A, &set), DNS_NODATA);

    /* An MX exchange that loops on itself is skipped. */
    start(&p, 0, 1, "x.example", DNS_T_MX);
    rr_head(&p, DNS_T_MX, 4);
    put16(&p, 10);
    size_t here = p.n;
    put16(&p, 0xC000 | (unsigned) here);
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_NODATA);

    /* An MX whose name runs past its record (rdlength too short) is skipped. */
    start(&p, 0, 1, "x.example", DNS_T_MX);
    rr_head(&p, DNS_T_MX, 3);
    put16(&p, 10);
    put8(&p, 3);
    memcpy(p.b + p.n, "abc", 3);
    p.n += 3;
    put8(&p, 0);
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_FAIL);

    /* A compression pointer out of the message. */
    start(&p, 0, 1, "x.example", DNS_T_MX);
    rr_head(&p, DNS_T_MX, 4);
    put16(&p, 10);
    put16(&p, 0xC000 | 2000);
    assert_int_equal(dns_parse_reply(p.b, p.n, DNS_T_MX, &set), DNS_NODATA);
    dns_rrset_free(&set);
}

static void test_names(void **state)
{
    (void) state;
    assert_string_equal(dns_type_name(DNS_T_MX), "MX");
    assert_string_equal(dns_type_name(DNS_T_AAAA), "AAAA");
    assert_string_equal(dns_type_name(99), "TYPE99");
    assert_string_equal(dns_status_text(DNS_NOTFOUND), "Host not found");
    assert_string_equal(dns_status_text(DNS_RETRY), "Host not found, try again");
}

/* ---- dns_resolver_conf ---- */

static void test_nameserver_syntax(void **state)
{
    (void) state;
    struct sockaddr_storage ss;
    assert_int_equal(dns_conf_nameserver("192.0.2.53", &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *) &ss)->sin_port), 53);
    assert_int_equal(dns_conf_nameserver("127.0.0.1:5353", &ss), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *) &ss)->sin_port), 5353);
    assert_int_equal(dns_conf_nameserver("[127.0.0.1]:5354", &ss), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *) &ss)->sin_port), 5354);
    assert_int_equal(dns_conf_nameserver("::1", &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *) &ss)->sin6_port), 53);
    assert_int_equal(dns_conf_nameserver("[::1]:5353", &ss), 0);
    assert_int_equal(ntohs(((struct sockaddr_in6 *) &ss)->sin6_port), 5353);
    const char *bad[] = { "", "ns.example", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:x", "[::1", "[::1]x", "[::1]:", "1.2.3", "[ns]:53",
                          "300.1.1.1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(dns_conf_nameserver(bad[i], &ss), -1);
}

static void test_conf_file(void **state)
{
    (void) state;
    const char *text =
        "# comment\n"
        "; another\n"
        "search example.com\n"
        "nameserver 127.0.0.1:5353   # trailing comment\n"
        "nameserver [::1]:5353\n"
        "nameserver bogus\n"
        "options timeout:2 attempts:3 ndots:1 rotate\n"
        "options timeout:x\n"
        "frobnicate yes\n"
        "nameserver 192.0.2.1\n"
        "nameserver 192.0.2.2\n"
        "nameserver\n";
    struct dns_conf c;
    strv errors = {0};
    int n = dns_conf_parse(text, strlen(text), "test.conf", &c, &errors);
    assert_int_equal(n, 3);
    assert_int_equal(c.nns, 3);
    assert_int_equal(c.ns[0].ss_family, AF_INET);
    assert_int_equal(c.ns[1].ss_family, AF_INET6);
    assert_int_equal(c.timeout, 2);
    assert_int_equal(c.attempts, 3);
    assert_int_equal(errors.n, 5);
    assert_string_equal(errors.v[0], "test.conf, line 6: bad nameserver address \"bogus\"");
    assert_string_equal(errors.v[1], "test.conf, line 8: bad option \"timeout:x\"");
    assert_string_equal(errors.v[2], "test.conf, line 9: unknown keyword \"frobnicate\"");
    assert_string_equal(errors.v[3],
                        "test.conf, line 11: nameserver 192.0.2.2 ignored: at most 3 are used");
    assert_string_equal(errors.v[4], "test.conf, line 12: nameserver: expected one address");
    strv_free(&errors);

    assert_int_equal(dns_conf_parse("", 0, "empty", &c, 0), 0);
    /* Bytes after a NUL or without a final newline are still lines. */
    assert_int_equal(dns_conf_parse("nameserver 10.0.0.1", 19, "x", &c, 0), 1);
}

/* ---- lookups without a server ---- */

static void test_lookup_errors(void **state)
{
    (void) state;
    struct dns_rrset set = {0};
    sbuf why = SBUF_INIT;
    fixture_main_cf("dns_resolver_conf = /nonexistent/resolv.conf", (char *) 0);

    assert_int_equal(dns_lookup("bad..name", DNS_T_MX, &set, &why), DNS_INVAL);
    assert_string_equal(sbuf_str(&why),
                        "Name service error for name=bad..name type=MX: invalid host or domain name");
    assert_int_equal(dns_lookup("1.2.3.4", DNS_T_A, &set, &why), DNS_INVAL);

    /* An unreadable resolver file: temporary failure, no query anywhere. */
    assert_int_equal(dns_lookup("example.com.", DNS_T_MX, &set, &why), DNS_RETRY);
    assert_string_equal(sbuf_str(&why), "Host or domain name not found. Name service error for "
                                        "name=example.com type=MX: Host not found, try again");

    /* A resolver that does not answer (a closed port on the loopback). */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    assert_int_equal(bind(fd, (struct sockaddr *) &sin, len), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    char conf[128];
    snprintf(conf, sizeof(conf), "nameserver 127.0.0.1:%d\noptions timeout:1 attempts:1\n",
             ntohs(sin.sin_port));
    close(fd);
    const char *path = fixture_write("resolv.conf", conf);
    mail_conf_override("dns_resolver_conf", path);
    assert_int_equal(dns_lookup("example.com", DNS_T_A, &set, &why), DNS_RETRY);
    assert_int_equal(set.n, 0);

    /* A file without any usable nameserver. */
    path = fixture_write("resolv2.conf", "nameserver nowhere\n");
    mail_conf_override("dns_resolver_conf", path);
    assert_int_equal(dns_lookup("example.com", DNS_T_A, &set, &why), DNS_RETRY);
    sbuf_free(&why);
}

int main(void)
{
    msg_init("test_dns", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mx_reply),
        cmocka_unit_test(test_a_and_aaaa),
        cmocka_unit_test(test_cname_chain),
        cmocka_unit_test(test_rcodes),
        cmocka_unit_test(test_null_mx_record),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_nameserver_syntax),
        cmocka_unit_test(test_conf_file),
        cmocka_unit_test(test_lookup_errors),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
