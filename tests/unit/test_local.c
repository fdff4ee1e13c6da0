/*
 * test_local.c - unit tests for the local delivery agent's pure modules:
 * alias value syntax (local_token.c), $name expansion for luser_relay and
 * forward_path (local_expand.c), the delivered message form and ">From "
 * quoting (local_copy.c), and Maildir file names (local_maildir_name.c).
 *
 * The modules live in src/local/ (a program, not a library), so their
 * sources are compiled into this test directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <cmocka.h>

#include "local/local_copy.c"
#include "local/local_expand.c"
#include "local/local_maildir_name.c"
#include "local/local_token.c"

/* ---- local_token ---- */

static struct local_token_list parse(const char *text)
{
    struct local_token_list l = LOCAL_TOKEN_LIST_INIT;
    local_token_parse(text, &l);
    return l;
}

static void expect(const struct local_token_list *l, size_t i, enum local_token_type type,
                   const char *text)
{
    assert_true(i < l->n);
    assert_int_equal(l->t[i].type, type);
    assert_string_equal(l->t[i].text, text);
}

static void test_token_addresses(void **state)
{
    (void) state;
    struct local_token_list l = parse("  alice, bob@example.jp,carol ,, ");
    assert_int_equal(l.n, 3);
    expect(&l, 0, LOCAL_TOK_ADDRESS, "alice");
    expect(&l, 1, LOCAL_TOK_ADDRESS, "bob@example.jp");
    expect(&l, 2, LOCAL_TOK_ADDRESS, "carol");
    local_token_list_free(&l);

    /* Blank-separated words, phrases with angle addresses, comments, quoting. */
    l = parse("taro jiro, Mr. Saburo <saburo@example.jp>, \"a b\"@example.jp (note), x(y)z");
    assert_int_equal(l.n, 6);
    expect(&l, 0, LOCAL_TOK_ADDRESS, "taro");
    expect(&l, 1, LOCAL_TOK_ADDRESS, "jiro");
    expect(&l, 2, LOCAL_TOK_ADDRESS, "saburo@example.jp");
    expect(&l, 3, LOCAL_TOK_ADDRESS, "a b@example.jp");
    expect(&l, 4, LOCAL_TOK_ADDRESS, "x");      /* a comment separates like a blank */
    expect(&l, 5, LOCAL_TOK_ADDRESS, "z");
    local_token_list_free(&l);

    /* A comma inside quotes or angle brackets does not split. */
    l = parse("\"x,y\"@example.jp, Name <a,b@example.jp>");
    assert_int_equal(l.n, 2);
    expect(&l, 0, LOCAL_TOK_ADDRESS, "x,y@example.jp");
    expect(&l, 1, LOCAL_TOK_ADDRESS, "a,b@example.jp");
    local_token_list_free(&l);
}

static void test_token_backslash(void **state)
{
    (void) state;
    struct local_token_list l = parse("\\alice, bob");
    assert_int_equal(l.n, 2);
    expect(&l, 0, LOCAL_TOK_ADDRESS, "alice");
    assert_true(l.t[0].backslash);
    assert_false(l.t[1].backslash);
    local_token_list_free(&l);
}

static void test_token_commands_files(void **state)
{
    (void) state;
    struct local_token_list l = parse("\"|/usr/bin/procmail -a x\", |/bin/cat -n, "
                                      "|\"/bin/sh -c 'a b'\", /var/log/mail.archive, "
                                      "~/Mail/inbox, \"/path with space\"");
    assert_int_equal(l.n, 6);
    expect(&l, 0, LOCAL_TOK_COMMAND, "/usr/bin/procmail -a x");
    expect(&l, 1, LOCAL_TOK_COMMAND, "/bin/cat -n");
    expect(&l, 2, LOCAL_TOK_COMMAND, "/bin/sh -c 'a b'");
    expect(&l, 3, LOCAL_TOK_FILE, "/var/log/mail.archive");
    expect(&l, 4, LOCAL_TOK_FILE, "~/Mail/inbox");
    expect(&l, 5, LOCAL_TOK_FILE, "/path with space");
    local_token_list_free(&l);

    /* Seed article 001: comingout: "|/home/postgres/comingout/perl/comingout.pl" */
    l = parse("\"|/home/postgres/comingout/perl/comingout.pl\"");
    assert_int_equal(l.n, 1);
    expect(&l, 0, LOCAL_TOK_COMMAND, "/home/postgres/comingout/perl/comingout.pl");
    local_token_list_free(&l);

    /* Escaped quote inside a quoted command. */
    l = parse("\"|echo \\\"hi\\\"\"");
    assert_int_equal(l.n, 1);
    expect(&l, 0, LOCAL_TOK_COMMAND, "echo \"hi\"");
    local_token_list_free(&l);
}

static void test_token_include(void **state)
{
    (void) state;
    struct local_token_list l = parse(":include:/etc/postfix/staff, :INCLUDE: /x/y , "
                                      "\":include:/q r\"");
    assert_int_equal(l.n, 3);
    expect(&l, 0, LOCAL_TOK_INCLUDE, "/etc/postfix/staff");
    expect(&l, 1, LOCAL_TOK_INCLUDE, "/x/y");
    expect(&l, 2, LOCAL_TOK_INCLUDE, "/q r");
    local_token_list_free(&l);
}

static void test_token_bad_input(void **state)
{
    (void) state;
    /* Nothing usable: no destinations, no crash. */
    const char *bad[] = {"", " , ,, ", "|", "\"\"", ":include:", "()", "<>", "\"unterminated",
                         "(unterminated comment", "<unterminated", "\\", "a\\"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct local_token_list l = parse(bad[i]);
        for (size_t j = 0; j < l.n; j++)
            assert_non_null(l.t[j].text);
        local_token_list_free(&l);
    }
    struct local_token_list l = parse("\"unterminated");
    assert_int_equal(l.n, 1);
    expect(&l, 0, LOCAL_TOK_ADDRESS, "unterminated");
    local_token_list_free(&l);
    l = parse("|");
    assert_int_equal(l.n, 0);
    local_token_list_free(&l);

    /* A long value. */
    size_t n = 100000;
    char *big = malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++) {
        big[2 * i] = 'a';
        big[2 * i + 1] = ',';
    }
    big[2 * n] = 0;
    l = parse(big);
    assert_int_equal(l.n, n);
    local_token_list_free(&l);
    free(big);
}

/* ---- local_expand ---- */

struct vars {
    const char *user, *extension, *domain, *delim;
};

static const char *lookup(const char *name, size_t len, void *ctx)
{
    const struct vars *v = ctx;
#define IS(s) (len == strlen(s) && strncmp(name, s, len) == 0)
    if (IS("user")) return v->user;
    if (IS("extension")) return v->extension;
    if (IS("domain")) return v->domain;
    if (IS("recipient_delimiter")) return v->delim;
    if (IS("empty")) return "";
#undef IS
    return 0;
}

static void check_expand(const char *pattern, const struct vars *v, const char *filter,
                         const char *want, int want_flags)
{
    sbuf out = SBUF_INIT;
    int flags = local_expand(&out, pattern, lookup, (void *) v, filter);
    assert_string_equal(sbuf_str(&out), want);
    assert_int_equal(flags, want_flags);
    sbuf_free(&out);
}

static void test_expand_luser_relay(void **state)
{
    (void) state;
    struct vars v = {"taro", "ext", "example.jp", "+"};
    /* Seed article 001: luser_relay = $user@aaa.com */
    check_expand("$user@aaa.com", &v, 0, "taro@aaa.com", 0);
    check_expand("${user}@other.host", &v, 0, "taro@other.host", 0);
    check_expand("$(user)+$domain", &v, 0, "taro+example.jp", 0);
    check_expand("admin+$user${extension?{+$extension}}", &v, 0, "admin+taro+ext", 0);
    check_expand("a$$b", &v, 0, "a$b", 0);
    struct vars noext = {"taro", 0, "example.jp", 0};
    check_expand("admin+$user${extension?{+$extension}}", &noext, 0, "admin+taro", 0);
    check_expand("${extension:none}", &noext, 0, "none", 0);
    check_expand("${extension:{none}}", &v, 0, "", 0);
    check_expand("${extension?{yes}:{no}}", &noext, 0, "no", 0);
    check_expand("${extension?{yes}:{no}}", &v, 0, "yes", 0);
    check_expand("${empty?x}${empty:y}", &v, 0, "y", 0);
    check_expand("${extension?x${user}y}", &v, 0, "xtaroy", 0);
}

static void test_expand_forward_path(void **state)
{
    (void) state;
    struct vars v = {"taro", "lists", "example.jp", "+"};
    check_expand("/home/$user/.forward${recipient_delimiter}${extension}", &v, 0,
                 "/home/taro/.forward+lists", 0);
    /* Undefined names are reported, so the caller skips this entry. */
    struct vars noext = {"taro", 0, "example.jp", 0};
    check_expand("/home/$user/.forward${recipient_delimiter}${extension}", &noext, 0,
                 "/home/taro/.forward", LOCAL_EXP_UNDEF);
    /* The filter replaces unwanted characters in values, not in the pattern. */
    struct vars evil = {"../x y;rm", 0, 0, 0};
    check_expand("/var/forward/$user!", &evil, "abcdefghijklmnopqrstuvwxyz.",
                 "/var/forward/.._x_y_rm!", 0);
}

static void test_expand_errors(void **state)
{
    (void) state;
    struct vars v = {"taro", 0, 0, 0};
    check_expand("abc$", &v, 0, "abc", LOCAL_EXP_ERROR);
    check_expand("${user", &v, 0, "", LOCAL_EXP_ERROR);
    check_expand("${user?{x}", &v, 0, "", LOCAL_EXP_ERROR);
    check_expand("$ x", &v, 0, "", LOCAL_EXP_ERROR);
    check_expand("${}", &v, 0, "", LOCAL_EXP_ERROR);
    check_expand("$unknown", &v, 0, "", LOCAL_EXP_UNDEF);
    /* Deep nesting stops with an error, not a crash. */
    sbuf deep = SBUF_INIT;
    for (int i = 0; i < 200; i++)
        sbuf_adds(&deep, "${user?{");
    sbuf_adds(&deep, "x");
    for (int i = 0; i < 200; i++)
        sbuf_adds(&deep, "}}");
    sbuf out = SBUF_INIT;
    int flags = local_expand(&out, sbuf_str(&deep), lookup, &v, 0);
    assert_true(flags & LOCAL_EXP_ERROR);
    sbuf_free(&out);
    sbuf_free(&deep);
}

/* ---- local_copy ---- */

static void quote_all(const char *const *chunks, size_t n, const char *want)
{
    struct local_quote q = {false, 0};
    sbuf out = SBUF_INIT;
    for (size_t i = 0; i < n; i++)
        local_quote_from(&q, chunks[i], strlen(chunks[i]), &out);
    local_quote_flush(&q, &out);
    assert_string_equal(sbuf_str(&out), want);
    sbuf_free(&out);
}

static void test_quote_from(void **state)
{
    (void) state;
    const char *one[] = {"From me\nnot From x\nFrom\nFrom:\n>From y\nFromage\nFrom "};
    quote_all(one, 1, ">From me\nnot From x\nFrom\nFrom:\n>From y\nFromage\n>From ");
    /* "From " split across chunks at every position. */
    const char *split[] = {"a\nFr", "om b\nF", "r", "o", "m", " c\nFro"};
    quote_all(split, 6, "a\n>From b\n>From c\nFro");
    const char *start[] = {"F", "rom x"};
    quote_all(start, 2, ">From x");
    const char *empty[] = {"", "\n", "From"};
    quote_all(empty, 3, "\nFrom");
}

static void test_from_line(void **state)
{
    (void) state;
    setenv("TZ", "UTC", 1);
    tzset();
    sbuf out = SBUF_INIT;
    local_from_line(&out, "user@example.jp", 1466153096);   /* Fri Jun 17 08:44:56 2016 UTC */
    assert_string_equal(sbuf_str(&out), "From user@example.jp  Fri Jun 17 08:44:56 2016\n");
    sbuf_reset(&out);
    local_from_line(&out, "", 1465113600);                  /* Sun Jun  5 08:00:00 2016 */
    assert_string_equal(sbuf_str(&out), "From MAILER-DAEMON  Sun Jun  5 08:00:00 2016\n");
    sbuf_reset(&out);
    local_from_line(&out, "a b@example.jp", 0);
    assert_string_equal(sbuf_str(&out), "From \"a b\"@example.jp  Thu Jan  1 00:00:00 1970\n");
    sbuf_free(&out);
}

/* A queue file's content section, written by hand: M, H..., B..., X, E. */
static void put(int fd, char type, const char *data, size_t len)
{
    unsigned char hdr[5] = {(unsigned char) type, (unsigned char) (len >> 24),
                            (unsigned char) (len >> 16), (unsigned char) (len >> 8),
                            (unsigned char) len};
    assert_int_equal(write(fd, hdr, 5), 5);
    if (len)
        assert_int_equal(write(fd, data, len), (ssize_t) len);
}

static char *make_content(bool damaged)
{
    static char path[] = "/tmp/hk-test-local-XXXXXX";
    strcpy(path, "/tmp/hk-test-local-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    put(fd, 'M', "", 0);
    put(fd, 'H', "Subject: hi\n", 12);
    put(fd, 'H', "To: a@b\n", 8);
    put(fd, 'B', "From the body\nline\nFr", 21);
    put(fd, 'B', "om split\nend\n", 13);
    if (!damaged) {
        put(fd, 'X', "", 0);
        put(fd, 'E', "", 0);
    }
    close(fd);
    return path;
}

static char *copy_to_string(const char *path, const struct local_copy_attr *attr, int *rc)
{
    qfile *q = qfile_open_path(path, false);
    assert_non_null(q);
    char out[] = "/tmp/hk-test-local-out-XXXXXX";
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    *rc = local_copy_to_fd(q, 0, attr, fd);
    qfile_close(q);
    size_t len = 0;
    char *data = read_file(out, 1 << 20, &len);
    close(fd);
    unlink(out);
    return data;
}

static void test_copy_mbox(void **state)
{
    (void) state;
    setenv("TZ", "UTC", 1);
    tzset();
    char *path = make_content(false);
    struct local_copy_attr a = {LOCAL_COPY_MBOX, "s@example.jp", "Orig@example.jp",
                                "User+Ext@Example.JP", 0, 1466153096};
    int rc;
    char *data = copy_to_string(path, &a, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(data,
                        "From s@example.jp  Fri Jun 17 08:44:56 2016\n"
                        "Return-Path: <s@example.jp>\n"
                        "X-Original-To: Orig@example.jp\n"
                        "Delivered-To: user+ext@example.jp\n"
                        "Subject: hi\nTo: a@b\n\n"
                        ">From the body\nline\n>From split\nend\n\n");
    free(data);

    /* Command/forward form: no quoting, no trailing line, extra headers. */
    struct local_copy_attr b = {LOCAL_COPY_RETURN_PATH, "", 0, 0, "Received: x\n", 0};
    data = copy_to_string(path, &b, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(data, "Return-Path: <>\nReceived: x\nSubject: hi\nTo: a@b\n\n"
                        "From the body\nline\nFrom split\nend\n");
    free(data);
    unlink(path);
}

static void test_copy_damaged(void **state)
{
    (void) state;
    char *path = make_content(true);
    struct local_copy_attr a = {LOCAL_COPY_MBOX, "s", 0, 0, 0, 0};
    int rc;
    char *data = copy_to_string(path, &a, &rc);
    assert_int_equal(rc, -2);
    free(data);
    unlink(path);
}

/* ---- Maildir names ---- */

static void test_maildir_names(void **state)
{
    (void) state;
    sbuf out = SBUF_INIT;
    local_maildir_tmp_name(&out, 1466153096, 123456, 4242, "mail.example.jp");
    assert_string_equal(sbuf_str(&out), "1466153096.P4242M123456.mail.example.jp");
    local_maildir_new_name(&out, 1466153096, 123456, 0x801, 0x1a2b3c, "mail.example.jp");
    assert_string_equal(sbuf_str(&out), "1466153096.V801I1a2b3cM123456.mail.example.jp");
    /* '/' and ':' cannot appear in a host part. */
    local_maildir_host("a/b:c", &out);
    assert_string_equal(sbuf_str(&out), "a\\057b\\072c");
    local_maildir_host("", &out);
    assert_string_equal(sbuf_str(&out), "localhost");
    /* Different inodes or times give different names. */
    sbuf other = SBUF_INIT;
    local_maildir_new_name(&out, 1, 2, 3, 4, "h");
    local_maildir_new_name(&other, 1, 2, 3, 5, "h");
    assert_string_not_equal(sbuf_str(&out), sbuf_str(&other));
    sbuf_free(&out);
    sbuf_free(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_addresses),
        cmocka_unit_test(test_token_backslash),
        cmocka_unit_test(test_token_commands_files),
        cmocka_unit_test(test_token_include),
        cmocka_unit_test(test_token_bad_input),
        cmocka_unit_test(test_expand_luser_relay),
        cmocka_unit_test(test_expand_forward_path),
        cmocka_unit_test(test_expand_errors),
        cmocka_unit_test(test_quote_from),
        cmocka_unit_test(test_from_line),
        cmocka_unit_test(test_copy_mbox),
        cmocka_unit_test(test_copy_damaged),
        cmocka_unit_test(test_maildir_names),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
