/* test_match_list.c - unit tests for mail/match_list: domain and host lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "conf_fixture.h"
#include "mail/match_list.h"
#include "util/strv.h"

static int setup(void **state)
{
    (void) state;
    fixture_main_cf("myhostname = mail.example.jp", "mydomain = example.jp", (char *) 0);
    return 0;
}

static int dom(const char *title, const char *patterns, const char *domain)
{
    match_list *l = match_list_open(title, patterns);
    int rc = match_domain(l, domain);
    match_list_free(l);
    return rc;
}

static int host(const char *title, const char *patterns, const char *name, const char *addr)
{
    match_list *l = match_list_open(title, patterns);
    int rc = match_host(l, name, addr);
    match_list_free(l);
    return rc;
}

static void test_split(void **state)
{
    (void) state;
    strv v = {0};
    match_list_split(" a, b\tc,,inline:{ x=1, y=2 } { d e } ,{f}", &v);
    assert_int_equal(v.n, 6);
    assert_string_equal(v.v[0], "a");
    assert_string_equal(v.v[2], "c");
    assert_string_equal(v.v[3], "inline:{ x=1, y=2 }");
    assert_string_equal(v.v[4], "d e");
    assert_string_equal(v.v[5], "f");
    strv_free(&v);
}

static void test_domain_literal_names(void **state)
{
    (void) state;
    /* mydestination is not in parent_domain_matches_subdomains. */
    const char *md = "mail.example.jp, localhost.example.jp, localhost, example.jp";
    assert_int_equal(dom("mydestination", md, "example.jp"), 1);
    assert_int_equal(dom("mydestination", md, "EXAMPLE.JP"), 1);
    assert_int_equal(dom("mydestination", md, "localhost"), 1);
    assert_int_equal(dom("mydestination", md, "Mail.Example.JP"), 1);
    assert_int_equal(dom("mydestination", md, "sub.example.jp"), 0);
    assert_int_equal(dom("mydestination", md, "example.com"), 0);
    assert_int_equal(dom("mydestination", md, "xexample.jp"), 0);
    assert_int_equal(dom("mydestination", "", "example.jp"), 0);
    /* .domain matches subdomains only */
    assert_int_equal(dom("mydestination", ".example.jp", "a.b.example.jp"), 1);
    assert_int_equal(dom("mydestination", ".example.jp", "example.jp"), 0);
}

static void test_parent_style(void **state)
{
    (void) state;
    /* relay_domains is in the default parent_domain_matches_subdomains. */
    assert_int_equal(dom("relay_domains", "example.org", "example.org"), 1);
    assert_int_equal(dom("relay_domains", "example.org", "mx.example.org"), 1);
    assert_int_equal(dom("relay_domains", "example.org", "a.b.example.org"), 1);
    assert_int_equal(dom("relay_domains", "example.org", "badexample.org"), 0);
    match_list *l = match_list_open("relay_domains", "x");
    assert_true(match_list_parent_style(l));
    assert_string_equal(match_list_title(l), "relay_domains");
    match_list_free(l);
    l = match_list_open("mydestination", "x");
    assert_false(match_list_parent_style(l));
    match_list_free(l);

    /* Without relay_domains in the feature list, subdomains need ".domain". */
    fixture_main_cf("parent_domain_matches_subdomains = mynetworks", (char *) 0);
    assert_int_equal(dom("relay_domains", "example.org", "mx.example.org"), 0);
    assert_int_equal(dom("relay_domains", "example.org .example.org", "mx.example.org"), 1);
    setup(0);
}

static void test_negation_order(void **state)
{
    (void) state;
    const char *p = "!bad.example.org, example.org";
    assert_int_equal(dom("relay_domains", p, "bad.example.org"), 0);
    assert_int_equal(dom("relay_domains", p, "good.example.org"), 1);
    assert_int_equal(dom("relay_domains", "example.org, !bad.example.org", "bad.example.org"), 1);
    assert_int_equal(dom("relay_domains", "!!example.org", "example.org"), 1);
    assert_int_equal(dom("relay_domains", "!", "example.org"), -1);
}

static void test_tables(void **state)
{
    (void) state;
    fixture_write("relay", "example.net OK\n.sub.example.com OK\n");
    char spec[600];
    snprintf(spec, sizeof(spec), "texthash:%s/relay", fixture_dir());
    assert_int_equal(dom("relay_domains", spec, "example.net"), 1);
    assert_int_equal(dom("relay_domains", spec, "EXAMPLE.NET"), 1);
    /* parent style (relay_domains): bare parent keys */
    assert_int_equal(dom("relay_domains", spec, "mx.example.net"), 1);
    /* dot style (mydestination): ".parent" keys */
    assert_int_equal(dom("mydestination", spec, "mx.example.net"), 0);
    assert_int_equal(dom("mydestination", spec, "a.sub.example.com"), 1);
    assert_int_equal(dom("mydestination", spec, "sub.example.com"), 0);
    assert_int_equal(dom("mydestination", "inline:{ example.jp=x }", "example.jp"), 1);
    assert_int_equal(dom("mydestination", "inline:{ example.jp=x }", "other.jp"), 0);
    assert_int_equal(dom("mydestination", "!inline:{ bad.jp=x }, .jp", "bad.jp"), 0);
    assert_int_equal(dom("mydestination", "!inline:{ bad.jp=x }, .jp", "ok.jp"), 1);
    /* a table that does not open: every answer is "failure" */
    assert_int_equal(dom("mydestination", "texthash:/nonexistent/file", "example.jp"), -1);
    assert_int_equal(dom("mydestination", "nosuchtype:/x", "example.jp"), -1);
    assert_int_equal(dom("mydestination", "fail:x", "example.jp"), -1);
    /* a failing table after a match is never reached */
    assert_int_equal(dom("mydestination", "example.jp, fail:x", "example.jp"), 1);
    assert_int_equal(dom("mydestination", "static:yes", "anything.example"), 1);
}

static void test_files(void **state)
{
    (void) state;
    fixture_write("domains", "# comment\nexample.net, example.com # trailing\n\n  .example.edu\n");
    char spec[600];
    snprintf(spec, sizeof(spec), "%s/domains", fixture_dir());
    assert_int_equal(dom("mydestination", spec, "example.com"), 1);
    assert_int_equal(dom("mydestination", spec, "x.example.edu"), 1);
    assert_int_equal(dom("mydestination", spec, "trailing"), 0);
    char neg[700];
    snprintf(neg, sizeof(neg), "!%s, example.com, example.org", spec);
    assert_int_equal(dom("mydestination", neg, "example.com"), 0);
    assert_int_equal(dom("mydestination", neg, "example.org"), 1);
    assert_int_equal(dom("mydestination", "/nonexistent/file", "example.com"), -1);

    fixture_write("nets", "192.168.0.0/16\n[2001:db8::]/32\n10.0.0.0/33\n");
    snprintf(spec, sizeof(spec), "%s/nets", fixture_dir());
    assert_int_equal(host("mynetworks", spec, "x", "192.168.1.1"), -1);  /* line 3 is bad */
    fixture_write("nets", "192.168.0.0/16\n[2001:db8::]/32\n");
    assert_int_equal(host("mynetworks", spec, "x", "192.168.1.1"), 1);
    assert_int_equal(host("mynetworks", spec, "x", "2001:db8::5"), 1);
    assert_int_equal(host("mynetworks", spec, "x", "10.0.0.1"), 0);
    /* a file that includes itself stops at the nesting limit */
    fixture_write("loop", "");
    char loop[600];
    snprintf(loop, sizeof(loop), "%s/loop", fixture_dir());
    fixture_write("loop", loop);
    assert_int_equal(dom("mydestination", loop, "example.com"), -1);
}

static void test_networks_v4(void **state)
{
    (void) state;
    const char *mn = "127.0.0.0/8 168.100.189.0/28, 192.0.2.7";
    assert_int_equal(host("mynetworks", mn, "localhost", "127.0.0.1"), 1);
    assert_int_equal(host("mynetworks", mn, "unknown", "127.255.255.254"), 1);
    assert_int_equal(host("mynetworks", mn, "unknown", "168.100.189.15"), 1);
    assert_int_equal(host("mynetworks", mn, "unknown", "168.100.189.16"), 0);
    assert_int_equal(host("mynetworks", mn, "unknown", "192.0.2.7"), 1);
    assert_int_equal(host("mynetworks", mn, "unknown", "192.0.2.8"), 0);
    assert_int_equal(host("mynetworks", mn, "unknown", "::ffff:127.0.0.1"), 1);
    assert_int_equal(host("mynetworks", mn, "unknown", "::1"), 0);
    assert_int_equal(host("mynetworks", mn, "unknown", "garbage"), 0);
    assert_int_equal(host("mynetworks", mn, "unknown", ""), 0);
    assert_int_equal(host("mynetworks", mn, "unknown", 0), 0);
    assert_int_equal(host("mynetworks", "0.0.0.0/0", "unknown", "203.0.113.9"), 1);
    assert_int_equal(host("mynetworks", "[192.0.2.1]", "unknown", "192.0.2.1"), 1);
    assert_int_equal(host("mynetworks", "!192.168.0.1, 192.168.0.0/28", "u", "192.168.0.1"), 0);
    assert_int_equal(host("mynetworks", "!192.168.0.1, 192.168.0.0/28", "u", "192.168.0.2"), 1);
    /* bad patterns make the list answer "failure" */
    assert_int_equal(host("mynetworks", "192.168.0.1/24", "u", "192.168.0.1"), -1);
    assert_int_equal(host("mynetworks", "10.0.0.0/33", "u", "10.0.0.1"), -1);
    assert_int_equal(host("mynetworks", "10.0.0.0/x", "u", "10.0.0.1"), -1);
    assert_int_equal(host("mynetworks", "10.0.0.0/", "u", "10.0.0.1"), -1);
    assert_int_equal(host("mynetworks", "[10.0.0.1", "u", "10.0.0.1"), -1);
    assert_int_equal(host("mynetworks", "[nonsense]", "u", "10.0.0.1"), -1);
}

static void test_networks_v6(void **state)
{
    (void) state;
    const char *mn = "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128 [2001:240:587::]/64";
    assert_int_equal(host("mynetworks", mn, "u", "::1"), 1);
    assert_int_equal(host("mynetworks", mn, "u", "::2"), 0);
    assert_int_equal(host("mynetworks", mn, "u", "2001:240:587::1"), 1);
    assert_int_equal(host("mynetworks", mn, "u", "2001:240:587:0:ffff::9"), 1);
    assert_int_equal(host("mynetworks", mn, "u", "2001:240:588::1"), 0);
    assert_int_equal(host("mynetworks", mn, "u", "2001:0240:0587:0000::0001"), 1);
    assert_int_equal(host("mynetworks", "[::1]", "u", "::1"), 1);
    assert_int_equal(host("mynetworks", "::1", "u", "::1"), 1);        /* unbracketed */
    assert_int_equal(host("mynetworks", "2001:db8::/32", "u", "2001:db8:1::1"), 1);
    assert_int_equal(host("mynetworks", "[2001:db8::]/129", "u", "2001:db8::1"), -1);
    assert_int_equal(host("mynetworks", "[2001:db8::1]/32", "u", "2001:db8::1"), -1);
    assert_int_equal(host("mynetworks", "[::]/0", "u", "fe80::1"), 1);
    assert_int_equal(host("mynetworks", "[::]/0", "u", "192.0.2.1"), 0);
}

static void test_host_names(void **state)
{
    (void) state;
    /* mynetworks is in parent_domain_matches_subdomains by default */
    assert_int_equal(host("mynetworks", "example.jp", "mail.example.jp", "192.0.2.1"), 1);
    assert_int_equal(host("mynetworks", "example.jp", "Example.JP", "192.0.2.1"), 1);
    assert_int_equal(host("mynetworks", "example.jp", "example.jpx", "192.0.2.1"), 0);
    assert_int_equal(host("smtpd_client_event_limit_exceptions", "example.jp", "a.example.jp",
                          "192.0.2.1"), 0);
    assert_int_equal(host("smtpd_client_event_limit_exceptions", ".example.jp", "a.example.jp",
                          "192.0.2.1"), 1);
    assert_int_equal(host("mynetworks", "unknown", "unknown", "192.0.2.1"), 1);
    assert_int_equal(host("mynetworks", "unknown", 0, "192.0.2.1"), 1);
    /* a table is asked for the name, its parents, then the address */
    assert_int_equal(host("mynetworks", "inline:{192.0.2.1=ok}", "x.example", "192.0.2.1"), 1);
    assert_int_equal(host("mynetworks", "inline:{example=ok}", "x.example", "192.0.2.9"), 1);
    assert_int_equal(host("mynetworks", "inline:{other=ok}", "x.example", "192.0.2.9"), 0);
    char spec[600];
    fixture_write("clients.cidr", "192.0.2.0/24 OK\n");
    snprintf(spec, sizeof(spec), "cidr:%s/clients.cidr", fixture_dir());
    assert_int_equal(host("mynetworks", spec, "unknown", "192.0.2.77"), 1);
    assert_int_equal(host("mynetworks", spec, "unknown", "198.51.100.1"), 0);
    assert_int_equal(host("mynetworks", "static:all", "unknown", "198.51.100.1"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_domain_literal_names),
        cmocka_unit_test(test_parent_style),
        cmocka_unit_test(test_negation_order),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_networks_v4),
        cmocka_unit_test(test_networks_v6),
        cmocka_unit_test(test_host_names),
    };
    return cmocka_run_group_tests(tests, setup, 0);
}
