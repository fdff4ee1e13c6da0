/* test_dict_db.c - hash: and btree: tables (Berkeley DB): build, lookup, NUL
 * handling, case folding, duplicates, delete, listing, changed(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <db.h>

#include "util/dict.h"
#include "util/dict_build.h"
#include "dict_test_util.h"

static const char *types[] = { "hash", "btree" };

static void build(const char *type, const char *name, int flags, const char **kv)
{
    char *err = 0;
    dict_build *b = dict_build_begin(type, name, flags, 0, &err);
    if (!b)
        fail_msg("build: %s", err);
    for (; kv[0]; kv += 2)
        assert_true(dict_update(dict_build_dict(b), kv[0], kv[1]) >= 0);
    assert_int_equal(dict_build_commit(b, &err), 0);
}

static dict *open_ro(const char *type, const char *name, int flags)
{
    char *err = 0;
    dict *d = dict_open3(type, name, O_RDONLY, flags, &err);
    if (!d)
        fail_msg("open: %s", err);
    return d;
}

/* Raw Berkeley DB check: is key stored with (nul=1) or without its NUL? */
static int raw_has(const char *type, const char *name, const char *key, int nul)
{
    char path[600];
    snprintf(path, sizeof(path), "%s.db", name);
    DB *db;
    assert_int_equal(db_create(&db, 0, 0), 0);
    assert_int_equal(db->open(db, 0, path, 0, type[0] == 'h' ? DB_HASH : DB_BTREE,
                              DB_RDONLY, 0), 0);
    DBT k, v;
    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    k.data = (void *) key;
    k.size = (u_int32_t) (strlen(key) + (nul ? 1 : 0));
    int rc = db->get(db, 0, &k, &v, 0);
    db->close(db, 0);
    return rc == 0;
}

static void test_build_and_lookup(void **state)
{
    (void) state;
    for (int t = 0; t < 2; t++) {
        const char *name = tu_path(types[t]);
        const char *kv[] = { "Foo", "bar", "key1", "a b  c", 0 };
        build(types[t], name, DICT_FLAG_DEFAULT, kv);
        dict *d = open_ro(types[t], name, DICT_FLAG_DEFAULT);
        assert_string_equal(dict_lookup(d, "foo"), "bar");
        assert_string_equal(dict_lookup(d, "FOO"), "bar");    /* folded */
        assert_string_equal(dict_lookup(d, "KEY1"), "a b  c");
        assert_null(dict_lookup(d, "none"));
        assert_int_equal(d->error, DICT_ERR_NONE);
        dict_close(d);
        /* Without FOLD_FIX the key is taken as given. */
        d = open_ro(types[t], name, DICT_FLAG_DEFAULT & ~DICT_FLAG_FOLD_FIX);
        assert_null(dict_lookup(d, "FOO"));
        assert_string_equal(dict_lookup(d, "foo"), "bar");
        dict_close(d);
        assert_true(raw_has(types[t], name, "foo", 1));
        assert_false(raw_has(types[t], name, "foo", 0));
    }
}

static void test_nul_handling(void **state)
{
    (void) state;
    const char *name = tu_path("nonul");
    const char *kv[] = { "k", "v", 0 };
    build("hash", name, (DICT_FLAG_DEFAULT & ~DICT_FLAG_TRY1NULL), kv);   /* postmap -n */
    assert_true(raw_has("hash", name, "k", 0));
    assert_false(raw_has("hash", name, "k", 1));
    dict *d = open_ro("hash", name, DICT_FLAG_DEFAULT);     /* tries both forms */
    assert_string_equal(dict_lookup(d, "k"), "v");
    dict_close(d);
    d = open_ro("hash", name, DICT_FLAG_DEFAULT & ~DICT_FLAG_TRY0NULL);   /* -N */
    assert_null(dict_lookup(d, "k"));
    dict_close(d);
}

static void test_duplicates(void **state)
{
    (void) state;
    const char *name = tu_path("dups");
    char *err = 0;
    dict_build *b = dict_build_begin("hash", name, DICT_FLAG_DEFAULT, 0, &err);
    dict *d = dict_build_dict(b);
    assert_int_equal(dict_update(d, "a", "1"), 0);
    tu_capture_start();
    assert_int_equal(dict_update(d, "A", "2"), 1);
    char *w = tu_capture_end();
    char want[700];
    snprintf(want, sizeof(want), "%s.db: duplicate entry: \"a\"", name);
    assert_contains(w, want);
    assert_not_contains(w, "hk-tmp");
    xfree(w);
    d->flags = (d->flags & ~DICT_FLAG_DUP_MASK) | DICT_FLAG_DUP_REPLACE;
    assert_int_equal(dict_update(d, "a", "3"), 0);
    d->flags = (d->flags & ~DICT_FLAG_DUP_MASK) | DICT_FLAG_DUP_IGNORE;
    tu_capture_start();
    assert_int_equal(dict_update(d, "a", "4"), 1);
    w = tu_capture_end();
    assert_string_equal(w, "");
    xfree(w);
    assert_int_equal(dict_build_commit(b, &err), 0);
    d = open_ro("hash", name, DICT_FLAG_DEFAULT);
    assert_string_equal(dict_lookup(d, "a"), "3");
    dict_close(d);
}

static void test_remove_and_sequence(void **state)
{
    (void) state;
    const char *name = tu_path("seq");
    const char *kv[] = { "one", "1", "two", "2", "three", "3", 0 };
    build("btree", name, DICT_FLAG_DEFAULT, kv);
    char *err = 0;
    dict_build *b = dict_build_begin("btree", name, DICT_FLAG_DEFAULT, DICT_BUILD_INCREMENTAL, &err);
    assert_non_null(b);
    assert_int_equal(dict_remove(dict_build_dict(b), "TWO"), 0);
    assert_int_equal(dict_remove(dict_build_dict(b), "two"), 1);
    assert_int_equal(dict_build_commit(b, &err), 0);
    dict *d = open_ro("btree", name, DICT_FLAG_DEFAULT);
    const char *k, *v;
    char seen[100] = "";
    for (int first = 1; dict_sequence(d, first, &k, &v) == 0; first = 0) {
        strcat(seen, k);
        strcat(seen, "=");
        strcat(seen, v);
        strcat(seen, ";");
    }
    assert_string_equal(seen, "one=1;three=3;");          /* btree: sorted, no NULs */
    dict_close(d);
}

static void test_changed_and_errors(void **state)
{
    (void) state;
    const char *name = tu_path("chg");
    const char *kv[] = { "x", "1", 0 };
    build("hash", name, DICT_FLAG_DEFAULT, kv);
    dict *d = open_ro("hash", name, DICT_FLAG_DEFAULT);
    assert_int_equal(dict_changed(d), 0);
    const char *kv2[] = { "x", "2", 0 };
    build("hash", name, DICT_FLAG_DEFAULT, kv2);
    assert_int_equal(dict_changed(d), 1);
    assert_string_equal(dict_lookup(d, "x"), "1");       /* still the old file */
    dict_close(d);
    d = open_ro("hash", name, DICT_FLAG_DEFAULT);
    assert_string_equal(dict_lookup(d, "x"), "2");
    dict_close(d);

    char *err = 0;
    assert_null(dict_open("hash:/nonexistent/dir/t", O_RDONLY, DICT_FLAG_DEFAULT, &err));
    assert_string_equal(err, "open database /nonexistent/dir/t.db: No such file or directory");
    xfree(err);
    const char *junk = tu_write("junk.db", "this is not a database\n");
    (void) junk;
    assert_null(dict_open3("hash", tu_path("junk"), O_RDONLY, DICT_FLAG_DEFAULT, &err));
    assert_non_null(strstr(err, "open database"));
    xfree(err);
}

int main(void)
{
    msg_init("test", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_lookup),
        cmocka_unit_test(test_nul_handling),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_remove_and_sequence),
        cmocka_unit_test(test_changed_and_errors),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    tu_cleanup();
    return rc;
}
