/* test_sbuf.c - unit tests for util/sbuf and util/strv. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/sbuf.h"
#include "util/strv.h"
#include "util/mem.h"

static void test_append(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT;
    assert_string_equal(sbuf_str(&b), "");
    sbuf_adds(&b, "hello");
    sbuf_addc(&b, ' ');
    sbuf_printf(&b, "%d-%s", 42, "x");
    assert_string_equal(sbuf_str(&b), "hello 42-x");
    assert_int_equal(b.len, 10);
    sbuf_truncate(&b, 5);
    assert_string_equal(sbuf_str(&b), "hello");
    sbuf_add(&b, "\0z", 2);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.s, "hello\0z", 7);
    sbuf_free(&b);
}

static void test_long_printf(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT;
    char big[1000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    sbuf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.s[0], '[');
    assert_int_equal(b.s[1000], ']');
    char *s = sbuf_steal(&b);
    assert_int_equal(strlen(s), 1001);
    xfree(s);
}

static void test_split(void **state)
{
    (void) state;
    strv a = {0};
    strv_split(&a, " a, b  ,,c\td ", STRV_LIST_DELIMS);
    assert_int_equal(a.n, 4);
    assert_string_equal(a.v[0], "a");
    assert_string_equal(a.v[3], "d");
    assert_null(a.v[4]);
    strv_free(&a);
    assert_int_equal(strv_split_list(&a, "x, { y z , w }, q", STRV_LIST_DELIMS), 0);
    assert_int_equal(a.n, 3);
    assert_string_equal(a.v[1], "y z , w");
    strv_free(&a);
    assert_int_equal(strv_split_list(&a, "x, { y", STRV_LIST_DELIMS), -1);
    strv_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_long_printf),
        cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
