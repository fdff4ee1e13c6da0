/* test_dict.c - the type registry, dict_open errors, proxy:, and the
 * composite and small types (environ, internal, nis, pipemap, unionmap, randmap). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "dict_test_util.h"

static void test_registry(void **state)
{
    (void) state;
    const char *const *names = dict_type_names();
    const char *want[] = { "btree", "cidr", "environ", "fail", "hash", "inline", "internal",
                           "lmdb", "nis", "pcre", "pipemap", "proxy", "randmap", "regexp",
                           "static", "texthash", "unionmap", "unix", 0 };
    int i = 0;
    for (; names[i]; i++) {
        assert_non_null(want[i]);
        assert_string_equal(names[i], want[i]);
        assert_true(dict_type_known(names[i]));
    }
    assert_null(want[i]);
    assert_string_equal(dict_type_suffix("hash"), ".db");
    assert_string_equal(dict_type_suffix("btree"), ".db");
    assert_string_equal(dict_type_suffix("lmdb"), ".lmdb");
    assert_null(dict_type_suffix("regexp"));
    assert_true(dict_type_writable("lmdb"));
    assert_false(dict_type_writable("cidr"));
    assert_false(dict_type_known("foo"));
}

static void test_open_errors(void **state)
{
    (void) state;
    char *err = 0;
    assert_null(dict_open("foo:bar", O_RDONLY, 0, &err));
    assert_string_equal(err, "unsupported dictionary type: foo");
    xfree(err);
    assert_null(dict_open("nocolon", O_RDONLY, 0, &err));
    assert_non_null(strstr(err, "expecting \"type:name\""));
    xfree(err);
    assert_null(dict_open("foo:bar", O_RDONLY, 0, 0));          /* err may be NULL */
    assert_null(dict_open("proxy:proxy:static:x", O_RDONLY, 0, &err));
    xfree(err);
}

static void test_proxy_environ_internal_nis(void **state)
{
    (void) state;
    char *err = 0;
    dict *d = dict_open("proxy:static:viaproxy", O_RDONLY, 0, &err);
    assert_string_equal(dict_lookup(d, "x"), "viaproxy");
    dict_close(d);

    setenv("HK_TEST_VAR", "Value1", 1);
    d = dict_open("environ:ignored", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    assert_string_equal(dict_lookup(d, "HK_TEST_VAR"), "Value1");
    assert_null(dict_lookup(d, "hk_test_var"));
    dict_close(d);

    d = dict_open("internal:x", O_RDWR, DICT_FLAG_DEFAULT, &err);
    assert_int_equal(dict_update(d, "Key", "v"), 0);
    assert_string_equal(dict_lookup(d, "KEY"), "v");
    assert_int_equal(dict_remove(d, "key"), 0);
    assert_int_equal(dict_remove(d, "key"), 1);
    assert_null(dict_lookup(d, "key"));
    dict_close(d);

    d = dict_open("nis:mail.aliases", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    tu_capture_start();
    assert_null(dict_lookup(d, "root"));
    xfree(tu_capture_end());
    assert_int_equal(d->error, DICT_ERR_NONE);
    dict_close(d);
}

static void test_composites(void **state)
{
    (void) state;
    char *err = 0;
    dict *d = dict_open("pipemap:{inline:{a=b, c=d}, inline:{b=final}}", O_RDONLY,
                        DICT_FLAG_DEFAULT, &err);
    if (!d)
        fail_msg("%s", err);
    assert_string_equal(dict_lookup(d, "a"), "final");
    assert_null(dict_lookup(d, "c"));                            /* d not in second */
    assert_null(dict_lookup(d, "x"));
    dict_close(d);

    d = dict_open("unionmap:{inline:{a=1}, static:2, inline:{b=3}}", O_RDONLY,
                  DICT_FLAG_DEFAULT, &err);
    assert_string_equal(dict_lookup(d, "a"), "1,2");
    assert_string_equal(dict_lookup(d, "b"), "2,3");
    dict_close(d);

    d = dict_open("unionmap:{static:x, fail:y}", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    assert_null(dict_lookup(d, "a"));
    assert_int_equal(d->error, DICT_ERR_RETRY);
    dict_close(d);

    d = dict_open("randmap:{one, two, {t h r e e}}", O_RDONLY, DICT_FLAG_DEFAULT, &err);
    int seen[3] = { 0, 0, 0 };
    for (int i = 0; i < 200; i++) {
        const char *v = dict_lookup(d, "k");
        if (strcmp(v, "one") == 0)
            seen[0]++;
        else if (strcmp(v, "two") == 0)
            seen[1]++;
        else if (strcmp(v, "t h r e e") == 0)
            seen[2]++;
        else
            fail_msg("unexpected %s", v);
    }
    assert_true(seen[0] && seen[1] && seen[2]);
    dict_close(d);

    assert_null(dict_open("pipemap:inline:{a=b}", O_RDONLY, 0, &err));
    xfree(err);
    assert_null(dict_open("pipemap:{foo:bar}", O_RDONLY, 0, &err));
    assert_non_null(strstr(err, "unsupported dictionary type: foo"));
    xfree(err);
    assert_null(dict_open("randmap:{}", O_RDONLY, 0, &err));
    xfree(err);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_proxy_environ_internal_nis),
        cmocka_unit_test(test_composites),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    tu_cleanup();
    return rc;
}
