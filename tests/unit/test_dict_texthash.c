/* test_dict_texthash.c - texthash: tables (postmap source format in memory). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "dict_test_util.h"

static void test_texthash(void **state)
{
    (void) state;
    const char *p = tu_write("th", "# comment\n"
                             "Foo   bar\n"
                             "foo   second\n"                 /* 3: duplicate */
                             "key1  a b\n"
                             "  c d\n"
                             "\n"
                             "novalue\n"                      /* 7 */
                             "\"q k\" quoted\n"
                             "\"unterm value\n"               /* 9 */
                             "last  val  \n");
    char spec[600], *err = 0;
    snprintf(spec, sizeof(spec), "texthash:%s", p);
    tu_capture_start();
    dict *d = dict_open(spec, O_RDONLY, DICT_FLAG_DEFAULT, &err);
    char *w = tu_capture_end();
    assert_non_null(d);
    char want[800];
    snprintf(want, sizeof(want), "%s, line 3: duplicate entry: \"foo\"", p);
    assert_contains(w, want);
    snprintf(want, sizeof(want), "%s, line 7: expected format: key whitespace value", p);
    assert_contains(w, want);
    assert_contains(w, "line 9: unbalanced '\"'");
    xfree(w);
    assert_string_equal(dict_lookup(d, "FOO"), "bar");
    assert_string_equal(dict_lookup(d, "key1"), "a b  c d");
    assert_string_equal(dict_lookup(d, "\"q k\""), "quoted");
    assert_string_equal(dict_lookup(d, "last"), "val");
    assert_null(dict_lookup(d, "novalue"));
    dict_close(d);

    assert_null(dict_open("texthash:/nonexistent", O_RDONLY, DICT_FLAG_DEFAULT, &err));
    assert_string_equal(err, "open /nonexistent: No such file or directory");
    xfree(err);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_texthash) };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    tu_cleanup();
    return rc;
}
