/* test_dict_fail.c - fail: tables: every operation reports DICT_ERR_RETRY. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "dict_test_util.h"

static void test_fail(void **state)
{
    (void) state;
    char *err = 0;
    dict *d = dict_open("fail:whatever", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    assert_non_null(d);
    assert_null(dict_lookup(d, "x"));
    assert_int_equal(d->error, DICT_ERR_RETRY);
    assert_int_equal(dict_update(d, "x", "y"), -1);
    assert_int_equal(d->error, DICT_ERR_RETRY);
    assert_int_equal(dict_remove(d, "x"), -1);
    const char *k, *v;
    assert_int_equal(dict_sequence(d, 1, &k, &v), -1);
    assert_int_equal(d->error, DICT_ERR_RETRY);
    assert_string_equal(d->name, "whatever");
    dict_close(d);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_fail) };
    return cmocka_run_group_tests(tests, 0, 0);
}
