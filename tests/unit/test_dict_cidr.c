/* test_dict_cidr.c - cidr: tables (cidr_table(5)): IPv4, IPv6, negation, if/endif. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "dict_test_util.h"

static dict *open_cidr(const char *text, char **warnings)
{
    const char *p = tu_write("cidr", text);
    char spec[600], *err = 0;
    snprintf(spec, sizeof(spec), "cidr:%s", p);
    tu_capture_start();
    dict *d = dict_open(spec, O_RDONLY, DICT_FLAG_DEFAULT, &err);
    char *w = tu_capture_end();
    if (warnings)
        *warnings = w;
    else
        xfree(w);
    if (!d)
        fail_msg("open failed: %s", err);
    return d;
}

static void test_networks(void **state)
{
    (void) state;
    dict *d = open_cidr("192.168.1.1      one\n"
                        "192.168.0.0/16   net\n"
                        "2001:db8::1      six\n"
                        "2001:DB8::/32    sixnet\n"
                        "[::1]            lo6\n"
                        "0.0.0.0/0        all4\n", 0);
    assert_string_equal(dict_lookup(d, "192.168.1.1"), "one");
    assert_string_equal(dict_lookup(d, "192.168.200.3"), "net");
    assert_string_equal(dict_lookup(d, "2001:db8::1"), "six");
    assert_string_equal(dict_lookup(d, "2001:0db8:0:0::2"), "sixnet");
    assert_string_equal(dict_lookup(d, "::1"), "lo6");
    assert_string_equal(dict_lookup(d, "8.8.8.8"), "all4");
    assert_null(dict_lookup(d, "2001:db9::1"));          /* v6 key, no v6 match */
    assert_null(dict_lookup(d, "not-an-address"));
    assert_null(dict_lookup(d, "[192.168.1.1]"));        /* keys are bare addresses */
    assert_null(dict_lookup(d, "1.2.3"));
    dict_close(d);
}

static void test_negation_and_if(void **state)
{
    (void) state;
    dict *d = open_cidr("if 172.16.0.0/12\n"
                        "if !172.16.1.0/24\n"
                        "0.0.0.0/0 outer-not-inner\n"
                        "endif\n"
                        "172.16.1.0/24 inner\n"
                        "endif\n"
                        "!10.0.0.0/8 not-ten\n", 0);
    assert_string_equal(dict_lookup(d, "172.17.0.1"), "outer-not-inner");
    assert_string_equal(dict_lookup(d, "172.16.1.9"), "inner");
    assert_string_equal(dict_lookup(d, "8.8.8.8"), "not-ten");
    assert_null(dict_lookup(d, "10.1.1.1"));
    assert_null(dict_lookup(d, "2001:db8::1"));          /* negation is per family */
    dict_close(d);
}

static void test_bad_lines(void **state)
{
    (void) state;
    char *w = 0;
    dict *d = open_cidr("10.0.0.1/8    badmask\n"        /* 1 */
                        "garbage       x\n"              /* 2 */
                        "1.2.3.4/33    toolong\n"        /* 3 */
                        "1.2.3.4\n"                      /* 4 */
                        "endif\n"                        /* 5 */
                        "if\n"                           /* 6 */
                        "1.1.1.1/32/3  x\n"              /* 7 */
                        "5.5.5.5       ok\n"             /* 8 */
                        "if 9.0.0.0/8\n", &w);           /* 9 */
    assert_contains(w, "line 1: non-null host address bits in \"10.0.0.1/8\", "
                    "perhaps you should use \"10.0.0.0/8\" instead: skipping this rule");
    assert_contains(w, "line 2: bad address pattern: \"garbage\": skipping this rule");
    assert_contains(w, "line 3: bad mask length in \"1.2.3.4/33\": skipping this rule");
    assert_contains(w, "line 4: no lookup result: skipping this rule");
    assert_contains(w, "line 5: ENDIF without IF: skipping this rule");
    assert_contains(w, "line 6: no address pattern: skipping this rule");
    assert_contains(w, "line 7: bad mask value in \"1.1.1.1/32/3\": skipping this rule");
    assert_contains(w, "line 9: IF has no matching ENDIF");
    assert_contains(w, "cidr map ");
    xfree(w);
    assert_string_equal(dict_lookup(d, "5.5.5.5"), "ok");
    assert_null(dict_lookup(d, "10.0.0.1"));
    dict_close(d);
}

static void test_inline(void **state)
{
    (void) state;
    char *err = 0;
    dict *d = dict_open("cidr:{ {127.0.0.0/8 loop}, {::/0 any6} }", O_RDONLY, 0, &err);
    assert_non_null(d);
    assert_string_equal(dict_lookup(d, "127.1.2.3"), "loop");
    assert_string_equal(dict_lookup(d, "fe80::1"), "any6");
    dict_close(d);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_negation_and_if),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_inline),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    tu_cleanup();
    return rc;
}
