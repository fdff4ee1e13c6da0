/* test_dict_pcre.c - pcre: tables (pcre_table(5)) with PCRE2. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "dict_test_util.h"

static dict *open_pcre(const char *text, char **warnings)
{
    const char *p = tu_write("pcre", text);
    char spec[600], *err = 0;
    snprintf(spec, sizeof(spec), "pcre:%s", p);
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
    dict *d = open_pcre("/^(?!owner-)(.*)-outgoing@(.*)/ 550 Use ${1}@${2} instead\n"
                        "/^(\\w+)(x)?$/ [$1][$2]\n"
                        "/^noddy@my\\.domain$/\n 550 funny\n", 0);
    assert_string_equal(dict_lookup(d, "list-outgoing@example.com"),
                        "550 Use list@example.com instead");
    assert_null(dict_lookup(d, "owner-list-outgoing@example.com"));
    assert_string_equal(dict_lookup(d, "abc"), "[abc][]");      /* unset group: empty */
    assert_string_equal(dict_lookup(d, "NODDY@my.domain"), "550 funny");
    dict_close(d);
}

static void test_flags(void **state)
{
    (void) state;
    dict *d = open_pcre("/^CASE$/i sensitive\n"
                        "/a.b/ dotall\n"
                        "/^l.m$/s nodotall\n"
                        "/^x$/m multi\n"
                        "/ s p a c e /x extended\n"
                        "/^(a+)/U ungreedy $1\n"
                        "/end$/E endonly\n", 0);
    assert_string_equal(dict_lookup(d, "CASE"), "sensitive");
    assert_null(dict_lookup(d, "case"));
    assert_string_equal(dict_lookup(d, "a\nb"), "dotall");
    assert_null(dict_lookup(d, "l\nm"));
    assert_string_equal(dict_lookup(d, "q\nx\nz"), "multi");
    assert_string_equal(dict_lookup(d, "space"), "extended");
    assert_string_equal(dict_lookup(d, "aaa"), "ungreedy a");
    assert_null(dict_lookup(d, "end\n"));
    dict_close(d);
}

static void test_negation_if(void **state)
{
    (void) state;
    dict *d = open_pcre("if !/^skip/\n"
                        "/^(.)/ first=$1\n"
                        "endif\n"
                        "!/^zz/ not-zz\n", 0);
    assert_string_equal(dict_lookup(d, "hello"), "first=h");
    assert_string_equal(dict_lookup(d, "skipme"), "not-zz");
    assert_string_equal(dict_lookup(d, "zz"), "first=z");
    dict_close(d);
}

static void test_bad_lines(void **state)
{
    (void) state;
    char *w = 0;
    dict *d = open_pcre("/un(closed/ bad\n"
                        "/a/q badflag\n"
                        "/(?<name>x)y/ $name\n"
                        "/(a)/!/b/ two\n"
                        "/good/ ok\n", &w);
    assert_contains(w, "pcre map ");
    assert_contains(w, "line 1: error in regex at offset 9: missing closing parenthesis");
    assert_contains(w, "line 2: unknown regexp option \"q\": skipping this rule");
    assert_contains(w, "line 3: non-numeric replacement index \"name\"");
    assert_contains(w, "line 4: unknown regexp option \"!\": skipping this rule");
    xfree(w);
    assert_string_equal(dict_lookup(d, "good"), "ok");
    assert_null(dict_lookup(d, "a"));
    dict_close(d);
}

static void test_no_fold(void **state)
{
    (void) state;
    /* Pattern tables never fold the key: $1 keeps the case of the input. */
    dict *d = open_pcre("/^(.*)$/ <$1>\n", 0);
    assert_string_equal(dict_lookup(d, "MiXeD"), "<MiXeD>");
    dict_close(d);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_and_subst),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_negation_if),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_no_fold),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    tu_cleanup();
    return rc;
}
