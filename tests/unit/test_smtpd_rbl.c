/*
 * test_smtpd_rbl.c - DNSBL pieces that need no DNS server
 * (src/smtpd/smtpd_rbl.c): reply templates and their expansion, the
 * "=d.d.d.d" reply filters, query names for addresses and domains; and
 * the TXT, PTR and NS records that src/mail/dns_reply.c parses for them.
 * The lookups themselves are covered by tests/system/test_restrictions.py
 * against dnsmasq.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/dns.h"
#include "mail/mail_conf.h"
#include "util/msg.h"

#include "smtpd/smtpd_rbl.c"
#include "smtpd/smtpd_check.c"

static char confdir[] = "/tmp/hk-test-rbl-XXXXXX";

static int setup(void **state)
{
    (void) state;
    mail_conf_load(confdir);
    return 0;
}

static const char *values(void *ctx, const char *name)
{
    (void) ctx;
    if (strcmp(name, "set") == 0)
        return "value";
    if (strcmp(name, "empty") == 0)
        return "";
    if (strcmp(name, "nasty") == 0)
        return "a\tb\001c\xff";
    return 0;
}

static const char *expand(const char *tmpl)
{
    static sbuf out, err;
    if (smtpd_rbl_expand(tmpl, values, 0, &out, &err) < 0)
        return sbuf_str(&err)[0] ? "ERROR" : "ERROR?";
    return sbuf_str(&out);
}

static void test_expand_forms(void **state)
{
    (void) state;
    assert_string_equal(expand("plain"), "plain");
    assert_string_equal(expand("$set ${set} $(set)"), "value value value");
    assert_string_equal(expand("[$unknown]"), "[]");
    assert_string_equal(expand("${set?yes}${empty?no}"), "yes");
    assert_string_equal(expand("${set:no}${empty:yes}${unknown:yes}"), "yesyes");
    assert_string_equal(expand("${set?{a}:{b}} ${empty?{a}:{b}}"), "a b");
    assert_string_equal(expand("${set?; $set}"), "; value");
    assert_string_equal(expand("${set?{with {braces}}}"), "with {braces}");
    assert_string_equal(expand("100$$"), "100$");
    /* Values are filtered (smtpd_expansion_filter): tab and space pass. */
    assert_string_equal(expand("$nasty"), "a\tb_c_");
    /* Errors. */
    assert_string_equal(expand("${set"), "ERROR");
    assert_string_equal(expand("$"), "ERROR");
    assert_string_equal(expand("${}"), "ERROR");
    assert_string_equal(expand("${set!x}"), "ERROR");
    assert_string_equal(expand("${set?{a}:b}"), "ERROR");
}

static void test_default_template(void **state)
{
    (void) state;
    struct reply_ctx r;
    sbuf out = SBUF_INIT, err = SBUF_INIT;
    struct smtpd_check c;

    memset(&c, 0, sizeof(c));
    memset(&r, 0, sizeof(r));
    sbuf_init(&r.tmp);
    c.client_addr = "127.0.0.2";
    c.sender = "";
    r.c = &c;
    r.domain = "zen.test";
    r.what = "127.0.0.2";
    r.rbl_class = "Client host";
    r.txt = "";
    snprintf(r.code, sizeof(r.code), "554");
    assert_int_equal(smtpd_rbl_expand(mail_conf_str("default_rbl_reply"), reply_lookup, &r,
                                      &out, &err), 0);
    assert_string_equal(sbuf_str(&out),
                        "554 Service unavailable; Client host [127.0.0.2] blocked using zen.test");
    r.txt = "see http://zen.test/";
    smtpd_rbl_expand(mail_conf_str("default_rbl_reply"), reply_lookup, &r, &out, &err);
    assert_string_equal(sbuf_str(&out), "554 Service unavailable; Client host [127.0.0.2] "
                        "blocked using zen.test; see http://zen.test/");
    /* The null sender is <>. */
    smtpd_rbl_expand("$sender/$sender_name/[$sender_domain]", reply_lookup, &r, &out, &err);
    assert_string_equal(sbuf_str(&out), "<>/<>/[]");
    c.sender = "user@example.com";
    smtpd_rbl_expand("$sender/$sender_name/$sender_domain", reply_lookup, &r, &out, &err);
    assert_string_equal(sbuf_str(&out), "user@example.com/user/example.com");
    sbuf_free(&out);
    sbuf_free(&err);
    sbuf_free(&r.tmp);
}

static void test_filters(void **state)
{
    (void) state;
    struct rbl_filter f;
    const unsigned char a2[4] = {127, 0, 0, 2}, a10[4] = {127, 0, 0, 10},
                        a12[4] = {127, 0, 0, 12}, b2[4] = {127, 0, 1, 2};

    assert_int_equal(filter_parse("127.0.0.2", &f), 0);
    assert_true(filter_match(&f, a2));
    assert_false(filter_match(&f, a10));
    assert_int_equal(filter_parse("127.0.0.[2..11]", &f), 0);
    assert_true(filter_match(&f, a2));
    assert_true(filter_match(&f, a10));
    assert_false(filter_match(&f, a12));
    assert_int_equal(filter_parse("127.0.[0;1].[2;12]", &f), 0);
    assert_true(filter_match(&f, b2));
    assert_true(filter_match(&f, a12));
    assert_false(filter_match(&f, a10));
    /* Bad filters. */
    assert_int_equal(filter_parse("127.0.0", &f), -1);
    assert_int_equal(filter_parse("127.0.0.256", &f), -1);
    assert_int_equal(filter_parse("127.0.0.[5..2]", &f), -1);
    assert_int_equal(filter_parse("127.0.0.[2", &f), -1);
    assert_int_equal(filter_parse("127.0.0.2.1", &f), -1);
    assert_int_equal(filter_parse("a.b.c.d", &f), -1);
    assert_int_equal(filter_parse("", &f), -1);

    sbuf dom = SBUF_INIT;
    bool filtered;
    assert_int_equal(split_arg("zen.test=127.0.0.[2..4]", &dom, &f, &filtered), 0);
    assert_string_equal(sbuf_str(&dom), "zen.test");
    assert_true(filtered);
    assert_int_equal(split_arg("zen.test", &dom, &f, &filtered), 0);
    assert_false(filtered);
    assert_int_equal(split_arg("zen.test=x", &dom, &f, &filtered), -1);
    assert_int_equal(split_arg("=127.0.0.2", &dom, &f, &filtered), -1);
    assert_int_equal(split_arg("bad domain!", &dom, &f, &filtered), -1);
    sbuf_free(&dom);
}

static void test_query_names(void **state)
{
    (void) state;
    sbuf q = SBUF_INIT;
    assert_int_equal(reverse_addr("192.0.2.1", &q), 0);
    assert_string_equal(sbuf_str(&q), "1.2.0.192");
    assert_int_equal(reverse_addr("2001:db8::1", &q), 0);
    assert_string_equal(sbuf_str(&q),
                        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
    assert_int_equal(reverse_addr("unknown", &q), -1);
    sbuf_free(&q);

    assert_string_equal(rhs_domain("user@example.com"), "example.com");
    assert_string_equal(rhs_domain("mail.example.com"), "mail.example.com");
    assert_null(rhs_domain("user@[192.0.2.1]"));
    assert_null(rhs_domain("user@"));
    assert_null(rhs_domain("1.2.3.4"));
    assert_null(rhs_domain("host.123"));        /* numeric last label */
    assert_null(rhs_domain("bad_-.example"));
}

/* ---- the records DNSBLs need (src/mail/dns_reply.c) ---- */

/* A reply for name/type with one answer whose rdata is given. */
static size_t make_reply(unsigned char *buf, const char *name, int type, const void *rdata,
                         size_t rdlen)
{
    size_t n = 0;
    static const unsigned char hdr[12] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
    memcpy(buf, hdr, 12);
    n = 12;
    size_t qname = n;
    for (const char *p = name; *p;) {
        size_t len = strcspn(p, ".");
        buf[n++] = (unsigned char) len;
        memcpy(buf + n, p, len);
        n += len;
        p += len;
        if (*p == '.')
            p++;
    }
    buf[n++] = 0;
    buf[n++] = 0; buf[n++] = (unsigned char) type; buf[n++] = 0; buf[n++] = 1;
    /* answer: a pointer to the question name */
    buf[n++] = 0xc0; buf[n++] = (unsigned char) qname;
    buf[n++] = 0; buf[n++] = (unsigned char) type; buf[n++] = 0; buf[n++] = 1;
    buf[n++] = 0; buf[n++] = 0; buf[n++] = 1; buf[n++] = 0;     /* ttl 256 */
    buf[n++] = (unsigned char) (rdlen >> 8); buf[n++] = (unsigned char) rdlen;
    memcpy(buf + n, rdata, rdlen);
    return n + rdlen;
}

static void test_dns_txt_ptr_ns(void **state)
{
    (void) state;
    unsigned char buf[600];
    struct dns_rrset rrs = {0};

    /* TXT: character-strings joined; control bytes shown as '?'. */
    static const unsigned char txt[] = "\x05Hello\x07 world\x01";
    size_t n = make_reply(buf, "2.0.0.127.zen.test", DNS_T_TXT, txt, sizeof(txt) - 1);
    assert_int_equal(dns_parse_reply(buf, n, DNS_T_TXT, &rrs), DNS_OK);
    assert_int_equal(rrs.n, 1);
    assert_string_equal(rrs.rr[0].host, "Hello world?");
    assert_string_equal(rrs.rr[0].name, "2.0.0.127.zen.test");
    dns_rrset_free(&rrs);
    /* A character-string longer than the record: skipped. */
    static const unsigned char bad_txt[] = "\x09short";
    n = make_reply(buf, "x.test", DNS_T_TXT, bad_txt, sizeof(bad_txt) - 1);
    assert_int_equal(dns_parse_reply(buf, n, DNS_T_TXT, &rrs), DNS_NODATA);
    dns_rrset_free(&rrs);

    /* PTR and NS: a domain name. */
    static const unsigned char ptr[] = "\x04good\x04test";
    n = make_reply(buf, "2.0.0.127.in-addr.arpa", DNS_T_PTR, ptr, sizeof(ptr));
    assert_int_equal(dns_parse_reply(buf, n, DNS_T_PTR, &rrs), DNS_OK);
    assert_string_equal(rrs.rr[0].host, "good.test");
    dns_rrset_free(&rrs);
    n = make_reply(buf, "example.test", DNS_T_NS, ptr, sizeof(ptr));
    assert_int_equal(dns_parse_reply(buf, n, DNS_T_NS, &rrs), DNS_OK);
    assert_string_equal(rrs.rr[0].host, "good.test");
    dns_rrset_free(&rrs);
    /* A name that runs past its record is not trusted. */
    n = make_reply(buf, "example.test", DNS_T_NS, ptr, 4);
    assert_int_equal(dns_parse_reply(buf, n, DNS_T_NS, &rrs), DNS_NODATA);
    dns_rrset_free(&rrs);
    assert_string_equal(dns_type_name(DNS_T_TXT), "TXT");
    assert_string_equal(dns_type_name(DNS_T_PTR), "PTR");
    assert_string_equal(dns_type_name(DNS_T_NS), "NS");
}

int main(void)
{
    if (!mkdtemp(confdir))
        return 1;
    msg_init("test_smtpd_rbl", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_expand_forms, setup),
        cmocka_unit_test_setup(test_default_template, setup),
        cmocka_unit_test_setup(test_filters, setup),
        cmocka_unit_test_setup(test_query_names, setup),
        cmocka_unit_test_setup(test_dns_txt_ptr_ns, setup),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    rmdir(confdir);
    return rc;
}
