/* test_maps.c - unit tests for mail/maps: table lists, sharing, address search orders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "conf_fixture.h"
#include "mail/maps.h"
#include "util/dict.h"

static int setup(void **state)
{
    (void) state;
    fixture_main_cf("myhostname = mail.example.jp",
                    "mydomain = example.jp",
                    "myorigin = $mydomain",
                    "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain",
                    "inet_interfaces = 127.0.0.1",
                    "recipient_delimiter = +",
                    (char *) 0);
    return 0;
}

/* Look addr up in an inline table with the given strategy; returns the
 * value (copied into a static buffer) or "" when not found. */
static const char *look(const char *table, const char *addr, int strategy, int local,
                        const char **key_out, const char **ext_out)
{
    static char value[256], key[256], ext[256];
    maps *m = maps_open("test_maps", table, DICT_FLAG_DEFAULT);
    sbuf k = SBUF_INIT, e = SBUF_INIT;
    int err = 0;
    const char *v = maps_find_addr_opt(m, addr, strategy, local, &err, &k, &e);
    assert_int_equal(err, 0);
    snprintf(value, sizeof(value), "%s", v ? v : "");
    snprintf(key, sizeof(key), "%s", sbuf_str(&k));
    snprintf(ext, sizeof(ext), "%s", sbuf_str(&e));
    if (key_out)
        *key_out = key;
    if (ext_out)
        *ext_out = ext;
    sbuf_free(&k);
    sbuf_free(&e);
    maps_close(m);
    return value;
}

static void test_find_order_and_errors(void **state)
{
    (void) state;
    maps *m = maps_open("alias_maps", "inline:{a=1}, inline:{a=2, b=3}", DICT_FLAG_DEFAULT);
    int err = 99;
    assert_false(maps_empty(m));
    assert_string_equal(maps_title(m), "alias_maps");
    assert_string_equal(maps_find(m, "a", &err), "1");
    assert_int_equal(err, 0);
    assert_string_equal(maps_find(m, "B", &err), "3");      /* folded */
    assert_null(maps_find(m, "c", &err));
    assert_int_equal(err, DICT_ERR_NONE);
    assert_null(maps_find(m, "", &err));
    assert_null(maps_find(m, "c", 0));                     /* error may be NULL */
    maps_close(m);

    m = maps_open("x", "inline:{a=1}, fail:broken", DICT_FLAG_DEFAULT);
    assert_string_equal(maps_find(m, "a", &err), "1");
    assert_null(maps_find(m, "b", &err));
    assert_int_equal(err, DICT_ERR_RETRY);
    maps_close(m);

    m = maps_open("x", "texthash:/nonexistent/table, inline:{a=1}", DICT_FLAG_DEFAULT);
    assert_null(maps_find(m, "a", &err));
    assert_int_equal(err, DICT_ERR_CONFIG);
    maps_close(m);

    m = maps_open("x", "nocolon", DICT_FLAG_DEFAULT);
    assert_null(maps_find(m, "a", &err));
    assert_int_equal(err, DICT_ERR_CONFIG);
    maps_close(m);

    m = maps_open("x", "", DICT_FLAG_DEFAULT);
    assert_true(maps_empty(m));
    assert_null(maps_find(m, "a", &err));
    assert_int_equal(err, 0);
    assert_false(maps_changed(m));
    maps_close(m);
    maps_close(0);
}

static void test_sharing(void **state)
{
    (void) state;
    size_t before = maps_cache_size();
    maps *a = maps_open("p1", "inline:{k=v}", DICT_FLAG_DEFAULT);
    maps *b = maps_open("p2", "inline:{k=v}", DICT_FLAG_DEFAULT);
    assert_int_equal(maps_cache_size(), before + 1);
    maps *c = maps_open("p3", "inline:{k=v}", DICT_FLAG_DEFAULT | DICT_FLAG_NO_SUBST);
    assert_int_equal(maps_cache_size(), before + 2);
    maps_close(a);
    assert_int_equal(maps_cache_size(), before + 2);
    assert_string_equal(maps_find(b, "k", 0), "v");
    maps_close(b);
    maps_close(c);
    assert_int_equal(maps_cache_size(), before);
}

static void build_hash(const char *path, const char *key, const char *value)
{
    char *err = 0;
    char spec[600];
    snprintf(spec, sizeof(spec), "hash:%s", path);
    dict *d = dict_open(spec, O_RDWR | O_CREAT | O_TRUNC, DICT_FLAG_DEFAULT, &err);
    if (!d)
        fail_msg("%s", err);
    assert_true(dict_update(d, key, value) >= 0);
    dict_close(d);
}

static void test_changed(void **state)
{
    (void) state;
    char path[512], spec[600];
    snprintf(path, sizeof(path), "%s/transport", fixture_dir());
    snprintf(spec, sizeof(spec), "hash:%s", path);
    build_hash(path, "example.jp", "smtp:[192.168.1.2]");
    maps *m = maps_open("transport_maps", spec, DICT_FLAG_DEFAULT);
    assert_string_equal(maps_find(m, "example.jp", 0), "smtp:[192.168.1.2]");
    assert_false(maps_changed(m));
    size_t before = maps_cache_size();
    /* rebuild: a new file, as postmap makes it */
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    build_hash(tmp, "example.jp", "relay:[192.168.1.3]");
    char from[700], to[700];
    snprintf(from, sizeof(from), "%s.db", tmp);
    snprintf(to, sizeof(to), "%s.db", path);
    assert_int_equal(rename(from, to), 0);
    assert_true(maps_changed(m));
    /* a new opener gets the new contents; the old list keeps its copy */
    maps *m2 = maps_open("transport_maps", spec, DICT_FLAG_DEFAULT);
    assert_int_equal(maps_cache_size(), before + 1);
    assert_string_equal(maps_find(m2, "example.jp", 0), "relay:[192.168.1.3]");
    assert_string_equal(maps_find(m, "example.jp", 0), "smtp:[192.168.1.2]");
    maps_close(m);
    maps_close(m2);
    assert_int_equal(maps_cache_size(), before - 1);
}

static const char full_table[] = "inline:{ user+ext@example.jp=A, user@example.jp=B, "
                                 "user+ext=C, user=D, @example.jp=E }";

static void test_addr_default_order(void **state)
{
    (void) state;
    const char *k, *e;
    int S = MAPS_FIND_ADDR_DEFAULT;
    assert_string_equal(look(full_table, "user+ext@example.jp", S, -1, &k, &e), "A");
    assert_string_equal(k, "user+ext@example.jp");
    assert_string_equal(e, "");
    assert_string_equal(look("inline:{user@example.jp=B, user+ext=C, user=D, @example.jp=E}",
                             "user+ext@example.jp", S, -1, &k, &e), "B");
    assert_string_equal(k, "user@example.jp");
    assert_string_equal(e, "+ext");
    assert_string_equal(look("inline:{user+ext=C, user=D, @example.jp=E}",
                             "user+ext@example.jp", S, -1, &k, &e), "C");
    assert_string_equal(k, "user+ext");
    assert_string_equal(look("inline:{user=D, @example.jp=E}",
                             "user+ext@example.jp", S, -1, &k, &e), "D");
    assert_string_equal(k, "user");
    assert_string_equal(e, "+ext");
    assert_string_equal(look("inline:{@example.jp=E}", "user+ext@example.jp", S, -1, &k, &e),
                        "E");
    assert_string_equal(k, "@example.jp");
    assert_string_equal(e, "");
    assert_string_equal(look("inline:{x=1}", "user+ext@example.jp", S, -1, &k, &e), "");
    assert_string_equal(k, "");
    /* case: keys fold */
    assert_string_equal(look(full_table, "USER+EXT@Example.JP", S, -1, 0, 0), "A");
    /* the main.cf seed: maps_find_addr() is the default order */
    maps *m = maps_open("virtual_alias_maps", "inline:{user=D}", DICT_FLAG_DEFAULT);
    sbuf key = SBUF_INIT;
    assert_string_equal(maps_find_addr(m, "user+ext@example.jp", -1, 0, &key), "D");
    assert_string_equal(sbuf_str(&key), "user");
    sbuf_free(&key);
    maps_close(m);
}

static void test_addr_localpart_rules(void **state)
{
    (void) state;
    int S = MAPS_FIND_ADDR_DEFAULT;
    const char *t = "inline:{user=D, @other.org=E}";
    /* remote domain: the local-part forms are not tried */
    assert_string_equal(look(t, "user@other.org", S, -1, 0, 0), "E");
    assert_string_equal(look(t, "user@other.org", S, 1, 0, 0), "D");     /* caller says local */
    assert_string_equal(look(t, "user@example.jp", S, 0, 0, 0), "");     /* caller says remote */
    /* mydestination names, [interface address], $myorigin are local */
    assert_string_equal(look(t, "user@localhost", S, -1, 0, 0), "D");
    assert_string_equal(look(t, "user@mail.example.jp", S, -1, 0, 0), "D");
    assert_string_equal(look(t, "user@[127.0.0.1]", S, -1, 0, 0), "D");
    assert_string_equal(look(t, "user@[127.0.0.2]", S, -1, 0, 0), "");
    fixture_main_cf("myhostname = mail.example.jp", "myorigin = example.net",
                    "mydestination = $myhostname", "recipient_delimiter = +", (char *) 0);
    assert_string_equal(look(t, "user@example.net", S, -1, 0, 0), "D");
    assert_string_equal(look(t, "user@example.jp", S, -1, 0, 0), "");
    setup(0);
    /* no domain at all: local-part forms */
    assert_string_equal(look("inline:{user=D}", "user+x", S, -1, 0, 0), "D");
    assert_string_equal(look("inline:{user+x=C, user=D}", "user+x", S, -1, 0, 0), "C");
    /* aliases(5): local part only */
    assert_string_equal(look("inline:{user=D, user@example.jp=B}", "user+x@example.jp",
                             MAPS_FIND_LOCALPART, 1, 0, 0), "D");
    /* a failing local-domain decision is a failure, not "remote" */
    fixture_main_cf("myhostname = mail.example.jp", "mydestination = fail:x",
                    "recipient_delimiter = +", (char *) 0);
    maps *m = maps_open("virtual_alias_maps", "inline:{user=D}", DICT_FLAG_DEFAULT);
    int err = 0;
    assert_null(maps_find_addr(m, "user@example.jp", -1, &err, 0));
    assert_int_equal(err, DICT_ERR_RETRY);
    maps_close(m);
    setup(0);
}

static void test_extension_rules(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT, e = SBUF_INIT;
    assert_true(maps_split_extension("user+foo", &b, &e));
    assert_string_equal(sbuf_str(&b), "user");
    assert_string_equal(sbuf_str(&e), "+foo");
    /* the special names are left whole, not names that start with them */
    assert_true(maps_split_extension("postmaster+foo", &b, &e));
    assert_string_equal(sbuf_str(&b), "postmaster");
    assert_false(maps_split_extension("plain", &b, &e));
    fixture_main_cf("recipient_delimiter = -", "owner_request_special = yes", (char *) 0);
    assert_false(maps_split_extension("MAILER-DAEMON", &b, &e));
    assert_string_equal(sbuf_str(&b), "MAILER-DAEMON");
    assert_false(maps_split_extension("double-bounce", &b, &e));
    assert_false(maps_split_extension("owner-list", &b, &e));
    assert_false(maps_split_extension("list-request", &b, &e));
    assert_true(maps_split_extension("user-ext", &b, &e));
    assert_string_equal(sbuf_str(&e), "-ext");
    fixture_main_cf("recipient_delimiter = -", "owner_request_special = no", (char *) 0);
    assert_true(maps_split_extension("owner-list", &b, &e));
    fixture_main_cf("recipient_delimiter =", (char *) 0);
    assert_false(maps_split_extension("user+foo", &b, &e));
    assert_string_equal(sbuf_str(&b), "user+foo");
    fixture_main_cf("recipient_delimiter = +-", (char *) 0);
    assert_true(maps_split_extension("a-b+c", &b, &e));
    assert_string_equal(sbuf_str(&b), "a");
    assert_string_equal(sbuf_str(&e), "-b+c");
    sbuf_free(&b);
    sbuf_free(&e);
    setup(0);
}

static void test_transport_and_access_orders(void **state)
{
    (void) state;
    const char *k;
    int T = MAPS_FIND_TRANSPORT;
    const char *t = "inline:{ root@example.jp=local:, example.jp=smtp:[192.168.1.2], "
                    ".example.jp=smtp:[192.168.1.3], *=:x }";
    assert_string_equal(look(t, "root@example.jp", T, -1, &k, 0), "local:");
    assert_string_equal(look(t, "root+x@example.jp", T, -1, &k, 0), "local:");
    assert_string_equal(k, "root@example.jp");
    assert_string_equal(look(t, "user@example.jp", T, -1, &k, 0), "smtp:[192.168.1.2]");
    assert_string_equal(k, "example.jp");
    assert_string_equal(look(t, "user@a.b.example.jp", T, -1, &k, 0), "smtp:[192.168.1.3]");
    assert_string_equal(k, ".example.jp");
    assert_string_equal(look(t, "user@other.org", T, -1, &k, 0), ":x");
    assert_string_equal(k, "*");
    /* transport tables do no local-part or @domain lookups */
    assert_string_equal(look("inline:{root=x, @example.jp=y}", "root@example.jp", T, 1, 0, 0),
                        "");
    /* parent style: bare parent keys */
    assert_string_equal(look("inline:{example.jp=p}", "u@a.example.jp", T, -1, 0, 0), "");
    assert_string_equal(look("inline:{example.jp=p}", "u@a.example.jp",
                             T | MAPS_FIND_PARENT_SELF, -1, &k, 0), "p");
    assert_string_equal(k, "example.jp");
    /* without MAPS_FIND_PARENT only the domain itself */
    assert_string_equal(look("inline:{.example.jp=p}", "u@a.example.jp", MAPS_FIND_DOMAIN,
                             -1, 0, 0), "");

    /* access(5): user+ext@domain, user@domain, domain, user+ext@, user@ */
    int A = MAPS_FIND_ACCESS;
    assert_string_equal(look("inline:{user@=U, example.jp=D}", "user+x@example.jp", A, -1,
                             &k, 0), "D");
    assert_string_equal(look("inline:{user@=U, user+x@=X}", "user+x@example.jp", A, -1,
                             &k, 0), "X");
    assert_string_equal(look("inline:{user@=U}", "user+x@example.jp", A, -1, &k, 0), "U");
    assert_string_equal(k, "user@");
    assert_string_equal(look("inline:{.jp=J}", "user@example.jp", A, -1, &k, 0), "J");
    assert_string_equal(look("inline:{user@example.jp=F, user@=U}", "user+x@example.jp", A,
                             -1, &k, 0), "F");
    assert_string_equal(look("inline:{*=S}", "user@example.jp", A, -1, 0, 0), "");
}

static void test_pattern_tables_see_whole_address(void **state)
{
    (void) state;
    char spec[600];
    const char *p = fixture_write("virtual.regexp", "/^user@example\\.jp$/ R\n/^example\\.jp$/ D\n");
    snprintf(spec, sizeof(spec), "regexp:%s", p);
    int T = MAPS_FIND_TRANSPORT;
    assert_string_equal(look(spec, "user@example.jp", T, -1, 0, 0), "R");
    /* user+ext@example.jp is not retried as user@example.jp, nor as the domain */
    assert_string_equal(look(spec, "user+ext@example.jp", T, -1, 0, 0), "");
    assert_string_equal(look(spec, "other@example.jp", T, -1, 0, 0), "");
    /* a fixed table behind it still gets the partial keys */
    char both[700];
    snprintf(both, sizeof(both), "%s, inline:{example.jp=I}", spec);
    assert_string_equal(look(both, "other@example.jp", T, -1, 0, 0), "I");
    /* the first key of a local-part search goes to pattern tables too */
    p = fixture_write("aliases.regexp", "/^user\\+ext$/ X\n");
    snprintf(spec, sizeof(spec), "regexp:%s", p);
    assert_string_equal(look(spec, "user+ext@example.jp", MAPS_FIND_LOCALPART, 1, 0, 0), "X");
}

static void test_texthash_files(void **state)
{
    (void) state;
    char spec[600];
    const char *p = fixture_write("virtual", "user@example.jp  alias1\n@example.jp  catchall\n");
    snprintf(spec, sizeof(spec), "texthash:%s", p);
    assert_string_equal(look(spec, "user@example.jp", MAPS_FIND_ADDR_DEFAULT, -1, 0, 0),
                        "alias1");
    assert_string_equal(look(spec, "nobody@example.jp", MAPS_FIND_ADDR_DEFAULT, -1, 0, 0),
                        "catchall");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_order_and_errors),
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_changed),
        cmocka_unit_test(test_addr_default_order),
        cmocka_unit_test(test_addr_localpart_rules),
        cmocka_unit_test(test_extension_rules),
        cmocka_unit_test(test_transport_and_access_orders),
        cmocka_unit_test(test_pattern_tables_see_whole_address),
        cmocka_unit_test(test_texthash_files),
    };
    return cmocka_run_group_tests(tests, setup, 0);
}
