/* test_table_file.c - logical lines of table source files and key/value splitting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "dict_test_util.h"

#include "util/table_file.h"
#include "util/sbuf.h"

static int collect(char *line, int lineno, void *ctx)
{
    sbuf *b = ctx;
    sbuf_printf(b, "%d[%s]", lineno, line);
    return 0;
}

static void test_lines(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT;
    const char *text = "# c\n"
                       "k v\n"
                       "# comment inside\n"
                       " cont\n"
                       "  # indented comment\n"
                       "\t\n"
                       "j\tw  \r\n"
                       "a\tx\n"
                       "\tcont\tz\n"
                       "last";
    assert_int_equal(table_parse_text(text, strlen(text), "t", collect, &b), 0);
    assert_string_equal(sbuf_str(&b), "2[k v cont]7[j\tw]8[a\tx\tcont\tz]10[last]");
    sbuf_free(&b);
}

static void test_bad_lines(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT;
    const char text[] = "  lead v\n  more\nk v\nnul\0x y\nz w\n";
    tu_capture_start();
    assert_int_equal(table_parse_text(text, sizeof(text) - 1, "src", collect, &b), 0);
    char *w = tu_capture_end();
    assert_contains(w, "src, line 1: logical line must not start with whitespace: \"  lead v\"");
    assert_contains(w, "src, line 4: NUL character in line");
    xfree(w);
    assert_string_equal(sbuf_str(&b), "3[k v]5[z w]");
    sbuf_free(&b);
}

static void test_stream_and_file(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT;
    const char *p = tu_write("lines", "a 1\n b\nc 2");
    assert_int_equal(table_read_file(p, collect, &b), 0);
    assert_string_equal(sbuf_str(&b), "1[a 1 b]3[c 2]");
    sbuf_free(&b);
    assert_int_equal(table_read_file("/nonexistent/x", collect, &b), -1);
}

static void test_split_kv(void **state)
{
    (void) state;
    char l1[] = "key   value with  spaces  ";
    char *k, *v;
    const char *why;
    assert_int_equal(table_split_kv(l1, &k, &v, &why), 0);
    assert_string_equal(k, "key");
    assert_string_equal(v, "value with  spaces");
    char l2[] = "\"a b\\\" c\"x  v";
    assert_int_equal(table_split_kv(l2, &k, &v, &why), 0);
    assert_string_equal(k, "\"a b\\\" c\"x");
    assert_string_equal(v, "v");
    char l3[] = "novalue";
    assert_int_equal(table_split_kv(l3, &k, &v, &why), -1);
    assert_string_equal(why, "expected format: key whitespace value");
    char l4[] = "\"unterminated value";
    assert_int_equal(table_split_kv(l4, &k, &v, &why), -1);
    assert_string_equal(why, "unbalanced '\"'");
    char l5[] = "key   ";
    assert_int_equal(table_split_kv(l5, &k, &v, &why), -1);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_stream_and_file),
        cmocka_unit_test(test_split_kv),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    tu_cleanup();
    return rc;
}
