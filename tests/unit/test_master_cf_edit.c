/* test_master_cf_edit.c - unit tests for mail/master_cf_edit and the
 * postconf -M layout in mail/master_cf (master_service_format_ex, words). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mail/master_cf.h"
#include "mail/master_cf_edit.h"
#include "util/mem.h"

static void parse1(const char *text, struct master_cf *cf)
{
    char *err = 0;
    int rc = master_cf_parse("master.cf", text, strlen(text), cf, &err);
    if (rc < 0)
        fail_msg("parse: %s", err);
    assert_int_equal(cf->n, 1);
}

static void test_layout(void **state)
{
    (void) state;
    struct master_cf cf;
    parse1("smtp inet n - y - - smtpd\n", &cf);
    char *t = master_service_format(&cf.svc[0]);
    assert_string_equal(t, "smtp       inet  n       -       y       -       -       smtpd");
    xfree(t);
    master_cf_free(&cf);

    parse1("proxywrite unix - - n - 1 proxymap\n", &cf);
    t = master_service_format(&cf.svc[0]);
    assert_string_equal(t, "proxywrite unix  -       -       n       -       1       proxymap");
    xfree(t);
    master_cf_free(&cf);

    parse1("postlog unix-dgram n - n - 1 postlogd\n", &cf);
    t = master_service_format(&cf.svc[0]);
    assert_string_equal(t, "postlog    unix-dgram n  -       n       -       1       postlogd");
    xfree(t);
    master_cf_free(&cf);
}

static void test_words_and_options(void **state)
{
    (void) state;
    struct master_cf cf;
    /* -oname=value and -o { a = b } are normalised; -v stays; options end
     * at the first non-option, so a later "-o" is a plain argument. */
    parse1("submission inet n - n - - smtpd -v -osyslog_name=postfix/submission\n"
           "  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }\n"
           "  flags=R { argv with space } -o notanoption\n", &cf);
    const struct master_service *s = &cf.svc[0];
    assert_int_equal(s->overrides.n, 2);
    assert_string_equal(s->overrides.v[0], "syslog_name=postfix/submission");
    assert_string_equal(s->overrides.v[1],
                        "smtpd_client_restrictions=permit_sasl_authenticated, reject");
    assert_int_equal(s->words.n, 9);
    assert_string_equal(s->words.v[0], "-v");
    assert_string_equal(s->words.v[1], "-o");
    assert_string_equal(s->words.v[6], "argv with space");
    assert_string_equal(s->words.v[7], "-o");
    char *t = master_service_format(s);
    assert_string_equal(t,
        "submission inet  n       -       n       -       -       smtpd -v "
        "-o syslog_name=postfix/submission "
        "-o {smtpd_client_restrictions=permit_sasl_authenticated, reject} "
        "flags=R {argv with space} -o notanoption");
    xfree(t);
    t = master_service_format_ex(s, MASTER_FMT_FOLD, 0, 0);
    assert_string_equal(t,
        "submission inet  n       -       n       -       -       smtpd -v\n"
        "    -o syslog_name=postfix/submission\n"
        "    -o {smtpd_client_restrictions=permit_sasl_authenticated, reject}\n"
        "    flags=R {argv with space} -o notanoption");
    xfree(t);
    /* The formatted text parses back to the same service. */
    struct master_cf again;
    t = master_service_format(s);
    parse1(t, &again);
    assert_int_equal(again.svc[0].words.n, s->words.n);
    for (size_t i = 0; i < s->words.n; i++)
        assert_string_equal(again.svc[0].words.v[i], s->words.v[i]);
    xfree(t);
    master_cf_free(&again);
    master_cf_free(&cf);
}

static void test_fold_long_args(void **state)
{
    (void) state;
    struct master_cf cf;
    parse1("maildrop unix - n n - - pipe flags=DRXhu user=vmail "
           "argv=/usr/local/bin/maildrop -d ${recipient} -f ${sender} -x a-long-argument "
           "another-long-argument\n", &cf);
    char *t = master_service_format_ex(&cf.svc[0], MASTER_FMT_FOLD, 0, 0);
    /* every line fits in 80 columns; continuation lines start with 4 spaces */
    for (char *line = t; line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t) (nl - line) : strlen(line);
        assert_true(len < 80);
        if (line != t)
            assert_memory_equal(line, "    ", 4);
        line = nl ? nl + 1 : 0;
    }
    xfree(t);
    master_cf_free(&cf);
}

static const char stock[] =
    "# comment\n"
    "smtp      inet  n       -       n       -       -       smtpd\n"
    "pickup    unix  n       -       n       60      1       pickup\n"
    "relay     unix  -       -       n       -       -       smtp\n"
    "        -o syslog_name=postfix/$service_name\n"
    "#       -o smtp_helo_timeout=5\n"
    "showq     unix  n       -       n       -       -       showq\n";

static int run(enum master_edit_kind kind, enum master_edit_op op, const char *arg,
               const char *text, sbuf *out, strv *w, char **err)
{
    struct master_edit r;
    char *perr = 0;
    if (master_edit_parse(kind, op, arg, &r, &perr) < 0) {
        *err = perr;
        return -2;
    }
    sbuf_reset(out);
    strv_init(w);
    int rc = master_edit_text(kind, op, &r, 1, "master.cf", text, strlen(text), out, w, err);
    master_edit_release(&r);
    if (rc < 0)
        strv_free(w);           /* callers only look at warnings after success */
    return rc;
}

static void test_entry_edits(void **state)
{
    (void) state;
    sbuf out = SBUF_INIT;
    strv w;
    char *err = 0;
    /* replace in place: continuation lines go, the comment after stays */
    assert_int_equal(run(MASTER_EDIT_ENTRY, MASTER_EDIT_SET,
                         "relay/unix=relay unix - - n - 5 smtp -o a=b", stock, &out, &w, &err), 0);
    assert_non_null(strstr(sbuf_str(&out),
        "relay      unix  -       -       n       -       5       smtp\n    -o a=b\n"
        "#       -o smtp_helo_timeout=5\nshowq"));
    assert_null(strstr(sbuf_str(&out), "$service_name"));
    strv_free(&w);
    /* a new service is appended */
    assert_int_equal(run(MASTER_EDIT_ENTRY, MASTER_EDIT_SET,
                         "submission/inet = submission inet n - n - - smtpd", stock, &out, &w,
                         &err), 0);
    assert_non_null(strstr(sbuf_str(&out), "showq\n"
        "submission inet  n       -       n       -       -       smtpd\n"));
    assert_int_equal(strncmp(sbuf_str(&out), stock, strlen(stock)), 0);
    strv_free(&w);
    /* remove */
    assert_int_equal(run(MASTER_EDIT_ENTRY, MASTER_EDIT_REMOVE, "relay/unix", stock, &out, &w,
                         &err), 0);
    assert_null(strstr(sbuf_str(&out), "relay"));
    assert_null(strstr(sbuf_str(&out), "syslog_name"));
    assert_non_null(strstr(sbuf_str(&out), "#       -o smtp_helo_timeout=5\n"));
    strv_free(&w);
    /* comment out */
    assert_int_equal(run(MASTER_EDIT_ENTRY, MASTER_EDIT_COMMENT, "relay/unix", stock, &out, &w,
                         &err), 0);
    assert_non_null(strstr(sbuf_str(&out),
        "#relay     unix  -       -       n       -       -       smtp\n"
        "#        -o syslog_name=postfix/$service_name\n"));
    strv_free(&w);
    /* the service name alone matches only with a wild-card type */
    assert_int_equal(run(MASTER_EDIT_ENTRY, MASTER_EDIT_REMOVE, "smtp/*", stock, &out, &w,
                         &err), 0);
    assert_null(strstr(sbuf_str(&out), "smtpd"));
    strv_free(&w);
    /* a bad new entry is an error */
    assert_int_equal(run(MASTER_EDIT_ENTRY, MASTER_EDIT_SET, "x/unix=x unix - - n", stock,
                         &out, &w, &err), -1);
    assert_non_null(strstr(err, "x/unix=x unix"));
    xfree(err);
    assert_int_equal(run(MASTER_EDIT_ENTRY, MASTER_EDIT_SET,
                         "x/unix=x bogus - - n - - x", stock, &out, &w, &err), -1);
    assert_non_null(strstr(err, "bogus"));
    xfree(err);
    sbuf_free(&out);
}

static void test_param_and_field_edits(void **state)
{
    (void) state;
    sbuf out = SBUF_INIT;
    strv w;
    char *err = 0;
    assert_int_equal(run(MASTER_EDIT_PARAM, MASTER_EDIT_SET, "relay/unix/syslog_name=x",
                         stock, &out, &w, &err), 0);
    assert_non_null(strstr(sbuf_str(&out),
        "relay      unix  -       -       n       -       -       smtp\n    -o syslog_name=x\n"));
    strv_free(&w);
    assert_int_equal(run(MASTER_EDIT_PARAM, MASTER_EDIT_SET, "pickup/unix/a=1", stock, &out,
                         &w, &err), 0);
    assert_non_null(strstr(sbuf_str(&out), "pickup\n    -o a=1\nrelay"));
    strv_free(&w);
    assert_int_equal(run(MASTER_EDIT_PARAM, MASTER_EDIT_REMOVE, "relay/unix/syslog_name",
                         stock, &out, &w, &err), 0);
    assert_non_null(strstr(sbuf_str(&out),
        "relay      unix  -       -       n       -       -       smtp\n#"));
    strv_free(&w);
    assert_int_equal(run(MASTER_EDIT_PARAM, MASTER_EDIT_SET, "nosuch/unix/a=1", stock, &out,
                         &w, &err), 0);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.v[0], "unmatched service_name/type: \"nosuch/unix/a=1\"");
    assert_string_equal(sbuf_str(&out), stock);
    strv_free(&w);
    assert_int_equal(run(MASTER_EDIT_PARAM, MASTER_EDIT_SET, "relay/unix/a=two words",
                         stock, &out, &w, &err), -2);
    xfree(err);
    assert_int_equal(run(MASTER_EDIT_FIELD, MASTER_EDIT_SET, "pickup/unix/wakeup=120", stock,
                         &out, &w, &err), 0);
    assert_non_null(strstr(sbuf_str(&out),
        "pickup     unix  n       -       n       120     1       pickup\n"));
    strv_free(&w);
    assert_int_equal(run(MASTER_EDIT_FIELD, MASTER_EDIT_SET, "pickup/unix/private=maybe", stock,
                         &out, &w, &err), -1);
    xfree(err);
    assert_int_equal(run(MASTER_EDIT_FIELD, MASTER_EDIT_SET, "pickup/unix/colour=red", stock,
                         &out, &w, &err), -2);
    xfree(err);
    sbuf_free(&out);
}

static void test_patterns_and_fields(void **state)
{
    (void) state;
    strv p;
    assert_int_equal(master_pattern_split("smtp", 1, 2, &p), 1);
    assert_string_equal(p.v[1], "*");
    strv_free(&p);
    assert_int_equal(master_pattern_split("smtp/inet/x", 1, 2, &p), -1);
    assert_int_equal(master_pattern_split("smtp//x", 1, 3, &p), -1);
    assert_int_equal(master_pattern_split("", 1, 3, &p), -1);
    assert_int_equal(master_field_index("process_limit"), 6);
    assert_int_equal(master_field_index("nope"), -1);
    struct master_cf cf;
    parse1("relay unix - - n - - smtp -o a=b\n", &cf);
    char *v = master_field_value(&cf.svc[0], 7);
    assert_string_equal(v, "smtp -o a=b");
    xfree(v);
    master_cf_free(&cf);
    struct master_edit r;
    char *err = 0;
    assert_int_equal(master_edit_parse(MASTER_EDIT_ENTRY, MASTER_EDIT_REMOVE, "smtp", &r, &err),
                     -1);
    xfree(err);
    assert_int_equal(master_edit_parse(MASTER_EDIT_PARAM, MASTER_EDIT_SET, "a/b/*=1", &r, &err),
                     -1);
    xfree(err);
    assert_int_equal(master_edit_parse(MASTER_EDIT_ENTRY, MASTER_EDIT_SET, "a/b=x\ny", &r, &err),
                     -1);
    xfree(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_words_and_options),
        cmocka_unit_test(test_fold_long_args),
        cmocka_unit_test(test_entry_edits),
        cmocka_unit_test(test_param_and_field_edits),
        cmocka_unit_test(test_patterns_and_fields),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
