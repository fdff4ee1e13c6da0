/* test_dict_inline.c - inline:{...} tables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "dict_test_util.h"

static void test_inline(void **state)
{
    (void) state;
    char *err = 0;
    dict *d = dict_open("inline:{ k=v, {K2 = text with space }, k3=, x=y=z }", O_RDONLY,
                        DICT_FLAG_DEFAULT, &err);
    assert_non_null(d);
    assert_string_equal(dict_lookup(d, "K"), "v");              /* folded like hash: */
    assert_string_equal(dict_lookup(d, "k2"), "text with space");
    assert_string_equal(dict_lookup(d, "k3"), "");
    assert_string_equal(dict_lookup(d, "x"), "y=z");
    assert_null(dict_lookup(d, "none"));
    const char *k, *v;
    assert_int_equal(dict_sequence(d, 1, &k, &v), 0);
    assert_string_equal(k, "k");
    assert_int_equal(dict_update(d, "a", "b"), -1);              /* read-only */
    dict_close(d);

    assert_null(dict_open("inline:{ k=v, novalue }", O_RDONLY, DICT_FLAG_DEFAULT, &err));
    assert_non_null(strstr(err, "missing '=' after attribute name"));
    xfree(err);
    assert_null(dict_open("inline:k=v", O_RDONLY, DICT_FLAG_DEFAULT, &err));
    assert_non_null(strstr(err, "need \"inline:{name=value...}\""));
    xfree(err);
    assert_null(dict_open("inline:{ {a=b }", O_RDONLY, DICT_FLAG_DEFAULT, &err));
    xfree(err);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_inline) };
    return cmocka_run_group_tests(tests, 0, 0);
}
