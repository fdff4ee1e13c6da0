/* test_dict_static.c - static: tables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "dict_test_util.h"

static void test_static(void **state)
{
    (void) state;
    char *err = 0;
    dict *d = dict_open("static:foobar", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    assert_string_equal(dict_lookup(d, "anything"), "foobar");
    assert_string_equal(dict_lookup(d, ""), "foobar");
    assert_int_equal(dict_sequence(d, 1, 0, 0), -1);         /* cannot be listed */
    dict_close(d);
    d = dict_open("static:{ text with  spaces }", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    assert_string_equal(dict_lookup(d, "x"), "text with  spaces");
    dict_close(d);
    d = dict_open("static:OK", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    assert_string_equal(dict_lookup(d, "X"), "OK");             /* no folding of the value */
    dict_close(d);
    assert_null(dict_open("static:{ unclosed", O_RDONLY, DICT_FLAG_DEFAULT, &err));
    assert_non_null(strstr(err, "static:{ unclosed"));
    xfree(err);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_static) };
    return cmocka_run_group_tests(tests, 0, 0);
}
