/* test_dict_lmdb.c - lmdb: tables: build, lookup, NUL handling, map growth,
 * duplicates, delete, listing, changed(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>

#include "util/dict.h"
#include "util/dict_build.h"
#include "dict_test_util.h"

static dict *open_ro(const char *name, int flags)
{
    char *err = 0;
    dict *d = dict_open3("lmdb", name, O_RDONLY, flags, &err);
    if (!d)
        fail_msg("open: %s", err);
    return d;
}

static void test_build_lookup(void **state)
{
    (void) state;
    const char *name = tu_path("l1");
    char *err = 0;
    dict_build *b = dict_build_begin("lmdb", name, DICT_FLAG_DEFAULT, 0, &err);
    assert_non_null(b);
    dict *w = dict_build_dict(b);
    assert_int_equal(dict_update(w, "Key", "Value"), 0);
    tu_capture_start();
    assert_int_equal(dict_update(w, "KEY", "other"), 1);
    char *msg = tu_capture_end();
    char want[700];
    snprintf(want, sizeof(want), "lmdb:%s: duplicate entry: \"key\"", name);
    assert_contains(msg, want);
    xfree(msg);
    assert_int_equal(dict_build_commit(b, &err), 0);

    char path[600];
    snprintf(path, sizeof(path), "%s.lmdb", name);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s.lmdb-lock", name);
    assert_int_equal(access(path, F_OK), -1);       /* MDB_NOLOCK: no lock file */

    dict *d = open_ro(name, DICT_FLAG_DEFAULT);
    assert_string_equal(dict_lookup(d, "kEy"), "Value");
    assert_null(dict_lookup(d, "nope"));
    dict_close(d);
    d = open_ro(name, DICT_FLAG_DEFAULT & ~DICT_FLAG_TRY1NULL);       /* -n: no NUL form */
    assert_null(dict_lookup(d, "key"));
    dict_close(d);
}

static void test_growth(void **state)
{
    (void) state;
    struct dict_tuning small = { 0, 0, 65536 };
    dict_set_tuning(&small);
    const char *name = tu_path("big");
    char *err = 0;
    dict_build *b = dict_build_begin("lmdb", name, DICT_FLAG_DEFAULT, 0, &err);
    assert_non_null(b);
    char k[64], v[200];
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key%05d", i);
        assert_int_equal(dict_update(dict_build_dict(b), k, v), 0);
    }
    assert_int_equal(dict_build_commit(b, &err), 0);
    struct dict_tuning normal = { 0, 0, 16777216 };
    dict_set_tuning(&normal);
    dict *d = open_ro(name, DICT_FLAG_DEFAULT);
    assert_string_equal(dict_lookup(d, "key04999"), v);
    assert_string_equal(dict_lookup(d, "key00000"), v);
    int n = 0;
    const char *kk, *vv;
    for (int first = 1; dict_sequence(d, first, &kk, &vv) == 0; first = 0)
        n++;
    assert_int_equal(n, 5000);
    dict_close(d);
}

static void test_remove_changed(void **state)
{
    (void) state;
    const char *name = tu_path("l2");
    char *err = 0;
    dict_build *b = dict_build_begin("lmdb", name, DICT_FLAG_DEFAULT, 0, &err);
    dict_update(dict_build_dict(b), "a", "1");
    dict_update(dict_build_dict(b), "b", "2");
    assert_int_equal(dict_build_commit(b, &err), 0);
    dict *d = open_ro(name, DICT_FLAG_DEFAULT);
    assert_int_equal(dict_changed(d), 0);

    b = dict_build_begin("lmdb", name, DICT_FLAG_DEFAULT, DICT_BUILD_INCREMENTAL, &err);
    assert_int_equal(dict_remove(dict_build_dict(b), "a"), 0);
    assert_int_equal(dict_remove(dict_build_dict(b), "zz"), 1);
    assert_int_equal(dict_update(dict_build_dict(b), "c", "3"), 0);
    assert_int_equal(dict_build_commit(b, &err), 0);

    assert_int_equal(dict_changed(d), 1);
    assert_string_equal(dict_lookup(d, "a"), "1");          /* old snapshot */
    dict_close(d);
    d = open_ro(name, DICT_FLAG_DEFAULT);
    assert_null(dict_lookup(d, "a"));
    assert_string_equal(dict_lookup(d, "b"), "2");
    assert_string_equal(dict_lookup(d, "c"), "3");
    dict_close(d);

    assert_null(dict_open("lmdb:/nonexistent/x", O_RDONLY, DICT_FLAG_DEFAULT, &err));
    assert_string_equal(err, "open database /nonexistent/x.lmdb: No such file or directory");
    xfree(err);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_lookup),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_remove_changed),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    tu_cleanup();
    return rc;
}
