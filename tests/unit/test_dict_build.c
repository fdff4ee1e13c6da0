/* test_dict_build.c - atomic table builds: commit replaces, abort and
 * failures leave the old table, incremental copies, modes, cleanup. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>

#include "util/dict.h"
#include "util/dict_build.h"
#include "dict_test_util.h"

static int count_tmp(void)
{
    DIR *dir = opendir(tu_scratch());
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dir)))
        if (strstr(e->d_name, "hk-tmp"))
            n++;
    closedir(dir);
    return n;
}

static const char *lookup1(const char *type, const char *name, const char *key)
{
    static char buf[200];
    char *err = 0;
    dict *d = dict_open3(type, name, O_RDONLY, DICT_FLAG_DEFAULT, &err);
    if (!d)
        return "(no table)";
    const char *v = dict_lookup(d, key);
    snprintf(buf, sizeof(buf), "%s", v ? v : "(none)");
    dict_close(d);
    return buf;
}

static void make(const char *type, const char *name, const char *value)
{
    char *err = 0;
    dict_build *b = dict_build_begin(type, name, DICT_FLAG_DEFAULT, 0, &err);
    assert_non_null(b);
    assert_int_equal(dict_update(dict_build_dict(b), "k", value), 0);
    assert_int_equal(dict_build_commit(b, &err), 0);
}

static void test_abort_keeps_old(void **state)
{
    (void) state;
    const char *types[] = { "hash", "btree", "lmdb" };
    for (int t = 0; t < 3; t++) {
        const char *name = tu_path(types[t]);
        make(types[t], name, "old");
        char *err = 0;
        dict_build *b = dict_build_begin(types[t], name, DICT_FLAG_DEFAULT, 0, &err);
        assert_non_null(b);
        dict_update(dict_build_dict(b), "k", "new");
        /* While the build runs, readers see the old table. */
        assert_string_equal(lookup1(types[t], name, "k"), "old");
        assert_int_equal(count_tmp(), 1);
        dict_build_abort(b);
        assert_string_equal(lookup1(types[t], name, "k"), "old");
        assert_int_equal(count_tmp(), 0);
        make(types[t], name, "new");
        assert_string_equal(lookup1(types[t], name, "k"), "new");
        assert_int_equal(count_tmp(), 0);
    }
}

static void test_failed_commit_keeps_old(void **state)
{
    (void) state;
    const char *name = tu_path("failcommit");
    make("hash", name, "old");
    char *err = 0;
    dict_build *b = dict_build_begin("hash", name, DICT_FLAG_DEFAULT, 0, &err);
    dict_update(dict_build_dict(b), "k", "new");
    /* Make the rename fail: replace the target by a non-empty directory. */
    char target[600], moved[600], inner[700];
    snprintf(target, sizeof(target), "%s.db", name);
    snprintf(moved, sizeof(moved), "%s.db.saved", name);
    assert_int_equal(rename(target, moved), 0);
    assert_int_equal(mkdir(target, 0700), 0);
    snprintf(inner, sizeof(inner), "%s/x", target);
    close(open(inner, O_CREAT | O_WRONLY, 0600));
    assert_int_equal(dict_build_commit(b, &err), -1);
    assert_non_null(strstr(err, "rename"));
    xfree(err);
    assert_int_equal(count_tmp(), 0);
    unlink(inner);
    rmdir(target);
    assert_int_equal(rename(moved, target), 0);
    assert_string_equal(lookup1("hash", name, "k"), "old");
}

static void test_incremental_and_cleanup(void **state)
{
    (void) state;
    const char *name = tu_path("incr");
    make("hash", name, "v1");
    char *err = 0;
    dict_build *b = dict_build_begin("hash", name, DICT_FLAG_DEFAULT, DICT_BUILD_INCREMENTAL, &err);
    assert_non_null(b);
    assert_string_equal(dict_lookup(dict_build_dict(b), "k"), "v1");
    dict_update(dict_build_dict(b), "k2", "v2");
    dict_build_cleanup();                           /* as on a fatal error or signal */
    assert_int_equal(count_tmp(), 0);
    dict_build_abort(b);
    assert_string_equal(lookup1("hash", name, "k2"), "(none)");

    b = dict_build_begin("hash", name, DICT_FLAG_DEFAULT, DICT_BUILD_INCREMENTAL, &err);
    dict_update(dict_build_dict(b), "k2", "v2");
    assert_int_equal(dict_build_commit(b, &err), 0);
    assert_string_equal(lookup1("hash", name, "k"), "v1");
    assert_string_equal(lookup1("hash", name, "k2"), "v2");
}

static void test_modes(void **state)
{
    (void) state;
    struct stat st;
    char db[600];
    const char *src = tu_write("modes", "k v\n");
    chmod(src, 0640);
    make("hash", src, "x");
    snprintf(db, sizeof(db), "%s.db", src);
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    /* An existing table keeps its mode. */
    chmod(db, 0604);
    chmod(src, 0600);
    make("hash", src, "y");
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0604);
    /* -p: 0644 for a new table. */
    unlink(db);
    char *err = 0;
    dict_build *b = dict_build_begin("hash", src, DICT_FLAG_DEFAULT, DICT_BUILD_DEFAULT_MODE, &err);
    assert_int_equal(dict_build_commit(b, &err), 0);
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    chmod(src, 0666);
    unlink(db);
    make("hash", src, "z");
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);       /* only read bits are inherited */
}

static void test_not_buildable(void **state)
{
    (void) state;
    char *err = 0;
    assert_null(dict_build_begin("regexp", tu_path("r"), DICT_FLAG_DEFAULT, 0, &err));
    assert_non_null(strstr(err, "regexp:"));
    xfree(err);
    assert_null(dict_build_begin("foo", tu_path("r"), DICT_FLAG_DEFAULT, 0, &err));
    assert_string_equal(err, "unsupported dictionary type: foo");
    xfree(err);
    assert_null(dict_build_begin("hash", "/nonexistent/dir/t", DICT_FLAG_DEFAULT, 0, &err));
    assert_non_null(strstr(err, "/nonexistent/dir/t.db"));
    xfree(err);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abort_keeps_old),
        cmocka_unit_test(test_failed_commit_keeps_old),
        cmocka_unit_test(test_incremental_and_cleanup),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_not_buildable),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    tu_cleanup();
    return rc;
}
