/* test_address.c - unit tests for mail/address: quoting, SMTP paths, header lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mail/address.h"
#include "util/mem.h"

/* ---- quoting ---- */

static void check_quote(const char *internal, const char *external)
{
    sbuf b = SBUF_INIT;
    address_quote(internal, &b);
    assert_string_equal(sbuf_str(&b), external);
    address_unquote(external, &b);
    assert_string_equal(sbuf_str(&b), internal);
    sbuf_free(&b);
}

static void test_quote_roundtrip(void **state)
{
    (void) state;
    check_quote("user@example.jp", "user@example.jp");
    check_quote("a b@x", "\"a b\"@x");
    check_quote("a\"b@x", "\"a\\\"b\"@x");
    check_quote("a\\b@x", "\"a\\\\b\"@x");
    check_quote("a@b@x", "\"a@b\"@x");
    check_quote("@x", "\"\"@x");
    check_quote("", "");
    check_quote(".a@x", "\".a\"@x");
    check_quote("a.@x", "\"a.\"@x");
    check_quote("a..b@x", "\"a..b\"@x");
    check_quote("a.b@x", "a.b@x");
    check_quote("first.last+tag@x", "first.last+tag@x");
    check_quote("!#$%&'*+-/=?^_`{|}~@x", "!#$%&'*+-/=?^_`{|}~@x");
    check_quote("a b", "\"a b\"");               /* no domain */
    check_quote("root", "root");
    check_quote("user@[192.168.1.2]", "user@[192.168.1.2]");
    check_quote("\xe3\x81\x82@x", "\xe3\x81\x82@x");   /* UTF-8 is atext */
}

static void test_unquote_forms(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT;
    address_unquote("a\\ b@x", &b);
    assert_string_equal(sbuf_str(&b), "a b@x");
    address_unquote("\"a\"\"b\"@x", &b);
    assert_string_equal(sbuf_str(&b), "ab@x");
    address_unquote("\"unterminated@x", &b);
    assert_string_equal(sbuf_str(&b), "unterminated@x");
    address_unquote("trailing\\", &b);
    assert_string_equal(sbuf_str(&b), "trailing\\");
    sbuf_free(&b);
}

static void test_split_fold(void **state)
{
    (void) state;
    sbuf l = SBUF_INIT, d = SBUF_INIT;
    address_split("a@b@Example.JP", &l, &d);
    assert_string_equal(sbuf_str(&l), "a@b");
    assert_string_equal(sbuf_str(&d), "Example.JP");
    address_split("root", &l, &d);
    assert_string_equal(sbuf_str(&l), "root");
    assert_string_equal(sbuf_str(&d), "");
    address_split("user@", &l, &d);
    assert_string_equal(sbuf_str(&l), "user");
    assert_string_equal(sbuf_str(&d), "");
    assert_string_equal(address_domain("a@b@c"), "c");
    assert_null(address_domain("abc"));
    assert_string_equal(address_domain("x@"), "");

    address_fold("User@Example.JP", false, &l);
    assert_string_equal(sbuf_str(&l), "User@example.jp");
    address_fold("User@Example.JP", true, &l);
    assert_string_equal(sbuf_str(&l), "user@example.jp");
    address_fold("NoDomain", false, &l);
    assert_string_equal(sbuf_str(&l), "NoDomain");
    address_fold("NoDomain", true, &l);
    assert_string_equal(sbuf_str(&l), "nodomain");
    sbuf_free(&l);
    sbuf_free(&d);
}

/* ---- syntax checks ---- */

static void test_hostname_checks(void **state)
{
    (void) state;
    assert_true(address_valid_hostname("example.jp"));
    assert_true(address_valid_hostname("mail-1.example.jp"));
    assert_true(address_valid_hostname("localhost"));
    assert_true(address_valid_hostname("a_b.example"));
    assert_true(address_valid_hostname("1x.example"));
    assert_false(address_valid_hostname(""));
    assert_false(address_valid_hostname("example..jp"));
    assert_false(address_valid_hostname(".example.jp"));
    assert_false(address_valid_hostname("example.jp."));
    assert_false(address_valid_hostname("-a.example"));
    assert_false(address_valid_hostname("a-.example"));
    assert_false(address_valid_hostname("a b.example"));
    assert_false(address_valid_hostname("1.2.3.4"));
    assert_false(address_valid_hostname("[1.2.3.4]"));
    char label[80];
    memset(label, 'a', 63);
    label[63] = 0;
    assert_true(address_valid_hostname(label));
    memset(label, 'a', 64);
    label[64] = 0;
    assert_false(address_valid_hostname(label));
    char longname[300];
    memset(longname, 0, sizeof(longname));
    for (int i = 0; i < 128; i++)
        memcpy(longname + i * 2, "a.", 2);
    longname[255] = 0;                 /* 255 bytes ending in "a" */
    assert_true(address_valid_hostname(longname));
    memcpy(longname + 255, "bc", 3);
    assert_false(address_valid_hostname(longname));

    assert_true(address_is_ip_literal("[192.168.1.2]"));
    assert_true(address_is_ip_literal("[IPv6:::1]"));
    assert_true(address_is_ip_literal("[ipv6:2001:db8::1]"));
    assert_false(address_is_ip_literal("[::1]"));
    assert_false(address_is_ip_literal("[1.2.3]"));
    assert_false(address_is_ip_literal("[256.1.1.1]"));
    assert_false(address_is_ip_literal("1.2.3.4"));
    assert_false(address_is_ip_literal("[1.2.3.4"));
    assert_false(address_is_ip_literal("[]"));

    assert_true(address_is_fqdn_domain("example.jp"));
    assert_true(address_is_fqdn_domain("[127.0.0.1]"));
    assert_false(address_is_fqdn_domain("localhost"));
    assert_false(address_is_fqdn_domain("bad..jp"));
}

static void test_extension(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT, e = SBUF_INIT;
    address_strip_extension("user+foo", "+", &b, &e);
    assert_string_equal(sbuf_str(&b), "user");
    assert_string_equal(sbuf_str(&e), "+foo");
    address_strip_extension("user-foo+bar", "+-", &b, &e);     /* first delimiter wins */
    assert_string_equal(sbuf_str(&b), "user");
    assert_string_equal(sbuf_str(&e), "-foo+bar");
    address_strip_extension("user", "+", &b, &e);
    assert_string_equal(sbuf_str(&b), "user");
    assert_string_equal(sbuf_str(&e), "");
    address_strip_extension("+foo", "+", &b, &e);
    assert_string_equal(sbuf_str(&b), "+foo");
    assert_string_equal(sbuf_str(&e), "");
    address_strip_extension("user+foo", "", &b, &e);
    assert_string_equal(sbuf_str(&b), "user+foo");
    assert_string_equal(sbuf_str(&e), "");
    sbuf_free(&b);
    sbuf_free(&e);
}

/* ---- SMTP paths ---- */

static void path_ok(const char *arg, bool strict, const char *want, const char *want_rest)
{
    sbuf a = SBUF_INIT;
    const char *rest = 0, *why = 0;
    int rc = address_parse_smtp_path(arg, strict, &a, &rest, &why);
    if (rc != 0)
        fail_msg("\"%s\" (%s): %s", arg, strict ? "strict" : "lenient", why ? why : "?");
    assert_string_equal(sbuf_str(&a), want);
    assert_string_equal(rest, want_rest);
    sbuf_free(&a);
}

static void path_bad(const char *arg, bool strict)
{
    sbuf a = SBUF_INIT;
    const char *rest = 0, *why = 0;
    int rc = address_parse_smtp_path(arg, strict, &a, &rest, &why);
    if (rc != -1)
        fail_msg("\"%s\" (%s) accepted as \"%s\"", arg, strict ? "strict" : "lenient",
                 sbuf_str(&a));
    assert_non_null(why);
    assert_true(strlen(why) > 0);
    sbuf_free(&a);
}

static void test_path_both(void **state)
{
    (void) state;
    for (int strict = 0; strict < 2; strict++) {
        path_ok("<user@example.jp>", strict, "user@example.jp", "");
        path_ok("<>", strict, "", "");
        path_ok("<> SIZE=0", strict, "", "SIZE=0");
        path_ok("<@a.example,@b.example:user@example.jp>", strict, "user@example.jp", "");
        path_ok("<\"a b\"@x.example>", strict, "a b@x.example", "");
        path_ok("<\"a\\\"b\"@x.example>", strict, "a\"b@x.example", "");
        path_ok("<\"a@b\"@x.example>", strict, "a@b@x.example", "");
        path_ok("<user@[192.168.1.2]>", strict, "user@[192.168.1.2]", "");
        path_ok("<user@[IPv6:::1]>", strict, "user@[IPv6:::1]", "");
        path_ok("<user@example.jp> SIZE=100 BODY=8BITMIME", strict, "user@example.jp",
                "SIZE=100 BODY=8BITMIME");
        path_ok("<Postmaster>", strict, "Postmaster", "");
        path_ok(" <user@example.jp>", strict, "user@example.jp", "");
        path_ok("<first.last+tag@example.jp>", strict, "first.last+tag@example.jp", "");
        path_ok("<\xe3\x81\x82@example.jp>", strict, "\xe3\x81\x82@example.jp", "");
        path_bad("<user@example.jp", strict);
        path_bad("user@example.jp>", strict);
        path_bad("<<user@example.jp>>", strict);
        path_bad("<user@example.jp>SIZE=1", strict);
        path_bad("<\"unterminated@example.jp>", strict);
        path_bad("<us\ter@example.jp>", strict);
        path_bad("<us\rer@example.jp>", strict);
        path_bad("", strict);
        path_bad("   ", strict);
        path_bad("<@a.example:>", strict);
    }
}

static void test_path_lenient(void **state)
{
    (void) state;
    path_ok("user@example.jp", false, "user@example.jp", "");
    path_ok("user@example.jp SIZE=100", false, "user@example.jp", "SIZE=100");
    path_ok("<user@example.jp> ", false, "user@example.jp", "");
    path_ok("<user@example.jp>   ", false, "user@example.jp", "");
    path_ok("< user@example.jp >", false, "user@example.jp", "");
    path_ok("John Doe <john@example.jp>", false, "john@example.jp", "");
    path_ok("\"Doe, John\" <john@example.jp> SIZE=5", false, "john@example.jp", "SIZE=5");
    path_ok("<john@example.jp> (comment) SIZE=5", false, "john@example.jp", "SIZE=5");
    path_ok("<a b@example.jp>", false, "a b@example.jp", "");
    path_ok("<user@>", false, "user@", "");
    path_ok("<a@b@example.jp>", false, "a@b@example.jp", "");
    path_ok("\"a b\"@example.jp SIZE=1", false, "a b@example.jp", "SIZE=1");
    path_ok("root", false, "root", "");
    path_bad("\"a b@example.jp", false);
    path_bad("a<b@example.jp", false);
}

static void test_path_strict_refusals(void **state)
{
    (void) state;
    path_bad("user@example.jp", true);
    path_bad("John <john@example.jp>", true);
    path_bad("<a b@example.jp>", true);
    path_bad("< user@example.jp>", true);
    path_bad("<user@>", true);
    path_bad("<a@b@example.jp>", true);
    path_bad("<.a@example.jp>", true);
    path_bad("<a.@example.jp>", true);
    path_bad("<a..b@example.jp>", true);
    path_bad("<a(b)@example.jp>", true);
    path_bad("<user@exa mple.jp>", true);
    path_bad("<user@example!jp>", true);
    path_bad("<user@[1.2.3.4>", true);
    path_bad("<@a.example:user@example.jp", true);
    path_bad("<@bad domain:user@example.jp>", true);
    path_bad("<@a.example>", true);
    /* RFC 5321 allows no comments: the text after > is a parameter. */
    path_ok("<user@example.jp> (comment)", true, "user@example.jp", "(comment)");
}

static void test_path_long(void **state)
{
    (void) state;
    char big[5000];
    big[0] = '<';
    memset(big + 1, 'a', 3000);
    memcpy(big + 3001, "@example.jp>", 13);
    path_bad(big, false);
    path_bad(big, true);
    /* A long but sane address passes. */
    memset(big + 1, 'b', 200);
    memcpy(big + 201, "@example.jp>", 13);
    sbuf a = SBUF_INIT;
    const char *rest, *why;
    assert_int_equal(address_parse_smtp_path(big, true, &a, &rest, &why), 0);
    assert_int_equal(a.len, 211);
    /* NULL rest/why are allowed */
    assert_int_equal(address_parse_smtp_path("<x@y>", true, &a, 0, 0), 0);
    assert_int_equal(address_parse_smtp_path("x", true, &a, 0, 0), -1);
    sbuf_free(&a);
}

/* ---- header lists ---- */

static void check_list(const char *value, int n, ...)
{
    strv out = {0};
    int got = address_parse_header_list(value, &out);
    if (got != n) {
        char *j = strv_join(&out, " | ");
        fail_msg("\"%s\": %d addresses (%s), want %d", value, got, j, n);
    }
    assert_int_equal(out.n, (size_t) n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(out.v[i], va_arg(ap, const char *));
    va_end(ap);
    strv_free(&out);
}

static void test_header_lists(void **state)
{
    (void) state;
    check_list("\"Doe, John\" <j@x>, a@b (comment), group: c@d, e@f;, <g@h>", 5,
               "j@x", "a@b", "c@d", "e@f", "g@h");
    check_list("root", 1, "root");
    check_list("undisclosed-recipients:;", 0);
    check_list("", 0);
    check_list("   ,  , ", 0);
    check_list("John Doe <john@example.jp>", 1, "john@example.jp");
    check_list("\"a b\"@x, \"c,d\"@y", 2, "a b@x", "c,d@y");
    check_list("<@route.example:user@example.jp>", 1, "user@example.jp");
    check_list("user@[192.168.1.2]", 1, "user@[192.168.1.2]");
    check_list("(only a comment)", 0);
    check_list("a@b (nested (comment) here), c@d", 2, "a@b", "c@d");
    check_list("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", 3,
               "mary@x.test", "jdoe@example.org", "one@y.test");
    check_list("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", 3,
               "c@a.test", "joe@where.test", "jdoe@one.test");
    check_list("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", 1,
               "pete@silly.test");
    check_list("john . doe @ example . jp", 1, "john.doe@example.jp");
    check_list("a@b,\r\n\tc@d", 2, "a@b", "c@d");
    /* Broken input: best effort, never a crash. */
    check_list("<unclosed@x", 1, "unclosed@x");
    check_list("\"unclosed@x", 1, "unclosed@x");
    check_list("(unclosed a@b", 0);
    check_list("a@b>, >c@d", 2, "a@b", "c@d");
    check_list("<>", 0);
    check_list(")]]", 0);
}

static void test_header_list_big(void **state)
{
    (void) state;
    sbuf v = SBUF_INIT;
    for (int i = 0; i < 2000; i++)
        sbuf_printf(&v, "%su%d@example.jp", i ? ", " : "", i);
    strv out = {0};
    assert_int_equal(address_parse_header_list(sbuf_str(&v), &out), 2000);
    assert_string_equal(out.v[1999], "u1999@example.jp");
    strv_free(&out);
    /* deep comment nesting */
    sbuf_reset(&v);
    for (int i = 0; i < 5000; i++)
        sbuf_addc(&v, '(');
    sbuf_adds(&v, "x@y");
    assert_int_equal(address_parse_header_list(sbuf_str(&v), &out), 0);
    strv_free(&out);
    sbuf_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_roundtrip),
        cmocka_unit_test(test_unquote_forms),
        cmocka_unit_test(test_split_fold),
        cmocka_unit_test(test_hostname_checks),
        cmocka_unit_test(test_extension),
        cmocka_unit_test(test_path_both),
        cmocka_unit_test(test_path_lenient),
        cmocka_unit_test(test_path_strict_refusals),
        cmocka_unit_test(test_path_long),
        cmocka_unit_test(test_header_lists),
        cmocka_unit_test(test_header_list_big),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
