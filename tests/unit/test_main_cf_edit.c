/* test_main_cf_edit.c - unit tests for mail/main_cf_edit and mail/cf_lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "mail/cf_lines.h"
#include "mail/main_cf_edit.h"
#include "util/mem.h"
#include "util/safe_file.h"

/* Run one edit over text; returns the new text (caller frees). */
static char *edit(enum main_cf_edit_mode mode, const char *text, strv *warnings,
                  int nargs, ...)
{
    struct main_cf_edit reqs[8];
    va_list ap;
    va_start(ap, nargs);
    for (int i = 0; i < nargs; i++) {
        char *err = 0;
        const char *arg = va_arg(ap, const char *);
        assert_int_equal(main_cf_edit_parse(mode, arg, &reqs[i], &err), 0);
    }
    va_end(ap);
    sbuf out = SBUF_INIT;
    strv_init(warnings);
    main_cf_edit_text(mode, reqs, (size_t) nargs, "main.cf", text, strlen(text), &out,
                      warnings);
    for (int i = 0; i < nargs; i++)
        main_cf_edit_release(&reqs[i]);
    return sbuf_steal(&out);
}

static const char sample[] =
    "# top comment\n"
    "myhostname = old.example.com\n"
    "smtpd_recipient_restrictions =\n"
    "    permit_mynetworks,\n"
    "# a comment inside the entry\n"
    "    reject_unauth_destination\n"
    "mydomain=example.com\n"
    "\n"
    "inet_interfaces = all\n";

static void test_lines(void **state)
{
    (void) state;
    struct cf_line *l;
    size_t n = cf_lines_split(sample, strlen(sample), &l);
    assert_int_equal(n, 9);
    assert_int_equal(l[0].kind, CF_LINE_OTHER);
    assert_int_equal(l[1].kind, CF_LINE_START);
    assert_int_equal(l[3].kind, CF_LINE_CONT);
    assert_int_equal(l[4].kind, CF_LINE_OTHER);
    assert_int_equal(l[7].kind, CF_LINE_OTHER);
    assert_int_equal(l[5].lineno, 6);
    assert_int_equal(cf_lines_entry_end(l, n, 2), 5);
    assert_int_equal(cf_lines_entry_end(l, n, 1), 1);
    xfree(l);
    n = cf_lines_split("a = b", 5, &l);       /* no final newline */
    assert_int_equal(n, 1);
    assert_int_equal(l[0].len, 5);
    xfree(l);
    assert_int_equal(cf_lines_split("", 0, &l), 0);
    xfree(l);
}

static void test_set_replaces_in_place(void **state)
{
    (void) state;
    strv w;
    char *t = edit(MAIN_CF_SET, sample, &w, 3, "myhostname = new.example.com",
                   "smtpd_recipient_restrictions=reject", "mydomain = example.org");
    assert_string_equal(t,
        "# top comment\n"
        "myhostname = new.example.com\n"
        "smtpd_recipient_restrictions = reject\n"
        "# a comment inside the entry\n"
        "mydomain = example.org\n"
        "\n"
        "inet_interfaces = all\n");
    assert_int_equal(w.n, 0);
    strv_free(&w);
    xfree(t);
}

static void test_set_appends_sorted(void **state)
{
    (void) state;
    strv w;
    char *t = edit(MAIN_CF_SET, "a = 1\n", &w, 3, "zeta = last", "beta=", "alpha = x  y");
    assert_string_equal(t, "a = 1\nalpha = x  y\nbeta = \nzeta = last\n");
    strv_free(&w);
    xfree(t);
    /* Missing final newline, and an empty file. */
    t = edit(MAIN_CF_SET, "a = 1", &w, 1, "b = 2");
    assert_string_equal(t, "a = 1\nb = 2\n");
    strv_free(&w);
    xfree(t);
    t = edit(MAIN_CF_SET, "", &w, 1, "b = 2");
    assert_string_equal(t, "b = 2\n");
    strv_free(&w);
    xfree(t);
}

static void test_duplicates(void **state)
{
    (void) state;
    strv w;
    char *t = edit(MAIN_CF_SET, "x = 1\ny = 2\nx = 3\n", &w, 2, "x = a", "x = b");
    assert_string_equal(t, "x = b\ny = 2\nx = b\n");
    assert_int_equal(w.n, 2);
    assert_string_equal(w.v[0], "ignoring earlier request: 'x = a'");
    assert_string_equal(w.v[1], "main.cf: multiple entries for \"x\"");
    strv_free(&w);
    xfree(t);
}

static void test_remove_and_comment(void **state)
{
    (void) state;
    strv w;
    char *t = edit(MAIN_CF_REMOVE, sample, &w, 2, "smtpd_recipient_restrictions", " mydomain ");
    assert_string_equal(t,
        "# top comment\n"
        "myhostname = old.example.com\n"
        "# a comment inside the entry\n"
        "\n"
        "inet_interfaces = all\n");
    strv_free(&w);
    xfree(t);
    t = edit(MAIN_CF_COMMENT, sample, &w, 1, "smtpd_recipient_restrictions");
    assert_string_equal(t,
        "# top comment\n"
        "myhostname = old.example.com\n"
        "#smtpd_recipient_restrictions =\n"
        "#    permit_mynetworks,\n"
        "# a comment inside the entry\n"
        "#    reject_unauth_destination\n"
        "mydomain=example.com\n"
        "\n"
        "inet_interfaces = all\n");
    strv_free(&w);
    xfree(t);
    /* A name that is a prefix of another does not match it. */
    t = edit(MAIN_CF_REMOVE, "my = 1\nmyhostname = 2\n", &w, 1, "my");
    assert_string_equal(t, "myhostname = 2\n");
    strv_free(&w);
    xfree(t);
}

static void test_parse_errors(void **state)
{
    (void) state;
    struct main_cf_edit r;
    char *err = 0;
    assert_int_equal(main_cf_edit_parse(MAIN_CF_SET, "novalue", &r, &err), -1);
    assert_non_null(strstr(err, "missing '='"));
    xfree(err);
    assert_int_equal(main_cf_edit_parse(MAIN_CF_SET, "a = b\nc = d", &r, &err), -1);
    assert_non_null(strstr(err, "multi-line"));
    xfree(err);
    assert_int_equal(main_cf_edit_parse(MAIN_CF_SET, "  # a = b", &r, &err), -1);
    assert_non_null(strstr(err, "comment"));
    xfree(err);
    assert_int_equal(main_cf_edit_parse(MAIN_CF_SET, " = b", &r, &err), -1);
    xfree(err);
    assert_int_equal(main_cf_edit_parse(MAIN_CF_REMOVE, "a=b", &r, &err), -1);
    assert_non_null(strstr(err, "without value"));
    xfree(err);
    assert_int_equal(main_cf_edit_parse(MAIN_CF_COMMENT, "   ", &r, &err), -1);
    xfree(err);
    assert_int_equal(main_cf_edit_parse(MAIN_CF_REMOVE, "a b", &r, &err), -1);
    xfree(err);
    assert_int_equal(main_cf_edit_parse(MAIN_CF_SET, " name  =  some value  ", &r, &err), 0);
    assert_string_equal(r.name, "name");
    assert_string_equal(r.value, "some value");
    main_cf_edit_release(&r);
}

static void test_file(void **state)
{
    (void) state;
    char dir[] = "/tmp/test_main_cf_edit.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/main.cf", dir);
    struct main_cf_edit r;
    char *err = 0;
    strv w = {0};
    strv_init(&w);
    assert_int_equal(main_cf_edit_parse(MAIN_CF_SET, "myhostname=h.example", &r, &err), 0);
    /* A missing main.cf is created. */
    assert_int_equal(main_cf_edit_file(path, MAIN_CF_SET, &r, 1, &w, &err), 0);
    size_t len;
    char *text = read_file(path, 1 << 20, &len);
    assert_string_equal(text, "myhostname = h.example\n");
    xfree(text);
    /* The mode survives the atomic replacement. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(main_cf_edit_file(path, MAIN_CF_SET, &r, 1, &w, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    /* A directory in the way is an error, not a crash. */
    assert_int_equal(main_cf_edit_file(dir, MAIN_CF_SET, &r, 1, &w, &err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    xfree(err);
    main_cf_edit_release(&r);
    strv_free(&w);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_set_replaces_in_place),
        cmocka_unit_test(test_set_appends_sorted),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_remove_and_comment),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
