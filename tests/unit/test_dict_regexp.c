/* test_dict_regexp.c - regexp: tables (regexp_table(5)). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "dict_test_util.h"

static dict *open_re(const char *text, char **warnings)
{
    const char *p = tu_write("re", text);
    char spec[600], *err = 0;
    snprintf(spec, sizeof(spec), "regexp:%s", p);
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

static void test_match_and_subst(void **state)
{
    (void) state;
    dict *d = open_re("# comment\n"
                      "/^(.*)@example\\.com$/  user=$1 ${1}x $(1) $$\n"
                      "/^abc/ hello\n  world\n"
                      "/^Case$/i sensitive\n", 0);
    assert_string_equal(dict_lookup(d, "Joe@Example.COM"), "user=Joe Joex Joe $");
    assert_string_equal(dict_lookup(d, "ABCdef"), "hello  world");
    assert_string_equal(dict_lookup(d, "Case"), "sensitive");
    assert_null(dict_lookup(d, "case"));
    assert_int_equal(d->error, DICT_ERR_NONE);
    assert_null(dict_lookup(d, "nothing"));
    dict_close(d);
}

static void test_negation_and_two_patterns(void **state)
{
    (void) state;
    dict *d = open_re("/(a)/!/b/ two\n"
                      "!/^x/ notx\n", 0);
    assert_string_equal(dict_lookup(d, "a"), "two");
    assert_string_equal(dict_lookup(d, "ab"), "notx");    /* two-pattern fails, then !/^x/ */
    assert_null(dict_lookup(d, "xb"));
    dict_close(d);
}

static void test_if_endif(void **state)
{
    (void) state;
    dict *d = open_re("if /^a/\n"
                      "if !/b$/\n"
                      "/c/ a-and-c-not-b\n"
                      "endif\n"
                      "/./ a-other\n"
                      "endif\n"
                      "/z/ z\n", 0);
    assert_string_equal(dict_lookup(d, "acx"), "a-and-c-not-b");
    assert_string_equal(dict_lookup(d, "acb"), "a-other");
    assert_string_equal(dict_lookup(d, "zz"), "z");
    assert_null(dict_lookup(d, "qq"));
    dict_close(d);
}

static void test_bad_lines(void **state)
{
    (void) state;
    char *w = 0;
    dict *d = open_re("/un(closed/ bad\n"          /* 1 */
                      "/noresult/\n"                /* 2 */
                      "foo bar\n"                   /* 3 */
                      "/a/q badflag\n"              /* 4 */
                      "endif\n"                     /* 5 */
                      "/^(a)/ $2\n"                 /* 6 */
                      "/b/ $name\n"                 /* 7 */
                      "!/q/ $1\n"                   /* 8 */
                      "/unterminated\n"             /* 9 */
                      "/ok/ fine\n"                 /* 10 */
                      "/m+++++++/ slow\n"           /* 11 */
                      "/x*? [+*]+ a\\++ b{2}?/ ok2\n" /* 12: runs of 2 at most */
                      "if /^y/\n", &w);             /* 13 */
    const char *re = tu_path("re");
    char want[700];
    snprintf(want, sizeof(want), "regexp map %s, line 1: ", re);
    assert_contains(w, want);
    assert_contains(w, "line 2: no replacement text: using empty string");
    assert_contains(w, "line 3: ignoring unrecognized request");
    assert_contains(w, "line 4: unknown regexp option \"q\": skipping this rule");
    assert_contains(w, "line 5: ignoring ENDIF without matching IF");
    assert_contains(w, "line 6: out of range replacement index \"2\": skipping this rule");
    assert_contains(w, "line 7: non-numeric replacement index \"name\"");
    assert_contains(w, "line 8: $number found in negative match replacement text");
    assert_contains(w, "line 9: no closing regexp delimiter");
    assert_contains(w, "line 11: more than 2 repetition operators in a row");
    assert_contains(w, "line 13: IF has no matching ENDIF");
    xfree(w);
    assert_string_equal(dict_lookup(d, "ok"), "fine");
    assert_string_equal(dict_lookup(d, "noresult"), "");
    assert_null(dict_lookup(d, "bad"));
    assert_null(dict_lookup(d, "a"));
    assert_null(dict_lookup(d, "mmm"));
    assert_string_equal(dict_lookup(d, "x + a+ bb"), "ok2");
    dict_close(d);
}

static void test_flags(void **state)
{
    (void) state;
    dict *d = open_re("/^a.b$/ dot\n"
                      "/^x$/m multi\n"
                      "/^(p)+$/x ext\n", 0);
    assert_string_equal(dict_lookup(d, "A\nB"), "dot");   /* newline not special */
    assert_string_equal(dict_lookup(d, "y\nx\nz"), "multi");
    assert_null(dict_lookup(d, "pp"));                     /* x toggles ERE off: BRE */
    assert_string_equal(dict_lookup(d, "(p)+"), "ext");
    dict_close(d);
}

static void test_inline_and_missing(void **state)
{
    (void) state;
    char *err = 0;
    dict *d = dict_open("regexp:{ {/^a(.)/ got $1}, {/b/ bee} }", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    assert_non_null(d);
    assert_string_equal(dict_lookup(d, "axe"), "got x");
    assert_string_equal(dict_lookup(d, "b"), "bee");
    dict_close(d);
    d = dict_open("regexp:/nonexistent/file", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    assert_null(d);
    assert_string_equal(err, "open /nonexistent/file: No such file or directory");
    xfree(err);
}

static void test_no_subst(void **state)
{
    (void) state;
    const char *p = tu_write("re2", "/^(a)/ $1\n/b/ plain\n");
    char spec[600], *err = 0;
    snprintf(spec, sizeof(spec), "regexp:%s", p);
    tu_capture_start();
    dict *d = dict_open(spec, O_RDONLY, DICT_FLAG_DEFAULT | DICT_FLAG_NO_SUBST, &err);
    char *w = tu_capture_end();
    assert_contains(w, "line 1: regular expression substitution is not allowed");
    xfree(w);
    assert_null(dict_lookup(d, "a"));
    assert_string_equal(dict_lookup(d, "b"), "plain");
    dict_close(d);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_and_subst),
        cmocka_unit_test(test_negation_and_two_patterns),
        cmocka_unit_test(test_if_endif),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_inline_and_missing),
        cmocka_unit_test(test_no_subst),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    tu_cleanup();
    return rc;
}
