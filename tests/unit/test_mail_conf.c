/*
 * test_mail_conf.c - unit tests for mail/mail_conf (main.cf loading,
 * $-expansion, typed reads, validation, overrides, computed defaults).
 *
 * Each test writes its own main.cf into a fresh temporary directory. Fatal
 * paths (msg_fatal on a bad typed read) are not exercised here; their
 * non-fatal twin, mail_conf_validate(), is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mail/mail_conf.h"
#include "mail/params.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/strv.h"

static char dir[64];
static char path[128];

static void write_main_cf(const char *text)
{
    snprintf(dir, sizeof(dir), "/tmp/test_mail_conf.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/main.cf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

static int teardown(void **state)
{
    (void) state;
    remove_dir();
    return 0;
}

static const char *expand(const char *text)
{
    static sbuf out = SBUF_INIT;
    sbuf err = SBUF_INIT;
    sbuf_reset(&out);
    if (mail_conf_expand(text, &out, &err) < 0)
        fail_msg("expanding \"%s\": %s", text, sbuf_str(&err));
    sbuf_free(&err);
    return sbuf_str(&out);
}

/* Expansion that must fail; returns the message. */
static char *expand_error(const char *text)
{
    sbuf out = SBUF_INIT, err = SBUF_INIT;
    if (mail_conf_expand(text, &out, &err) == 0)
        fail_msg("\"%s\" expanded to \"%s\"", text, sbuf_str(&out));
    sbuf_free(&out);
    char *m = sbuf_steal(&err);
    sbuf_free(&err);
    return m;
}

static void test_load_lines(void **state)
{
    (void) state;
    write_main_cf("# comment line\n"
                  "myhostname = mail.example.jp\n"
                  "\n"
                  "   # indented comment does not end the next logical line\n"
                  "mydestination = $myhostname,\n"
                  "    localhost.$mydomain,\n"
                  "# a comment inside a continued value\n"
                  "\tlocalhost\n"
                  "message_size_limit=20480000   \n"
                  "smtpd_banner = first\n"
                  "smtpd_banner = $myhostname ESMTP\n");
    mail_conf_load(dir);
    assert_string_equal(mail_conf_dir(), dir);
    assert_string_equal(mail_conf_file(), path);
    assert_string_equal(mail_conf_str("myhostname"), "mail.example.jp");
    assert_string_equal(mail_conf_raw("mydestination"),
                        "$myhostname, localhost.$mydomain, localhost");
    assert_string_equal(mail_conf_str("mydestination"),
                        "mail.example.jp, localhost.example.jp, localhost");
    assert_int_equal(mail_conf_long("message_size_limit"), 20480000);
    assert_string_equal(mail_conf_str("smtpd_banner"), "mail.example.jp ESMTP");
    assert_int_equal(mail_conf_line("myhostname"), 2);
    assert_int_equal(mail_conf_line("mydestination"), 5);
    assert_int_equal(mail_conf_line("smtpd_banner"), 11);
    assert_true(mail_conf_is_set("message_size_limit"));
    assert_false(mail_conf_is_set("relayhost"));
    assert_false(mail_conf_is_set("config_directory"));
    assert_string_equal(mail_conf_str("config_directory"), dir);
    /* Unset parameters read as their defaults. */
    assert_string_equal(mail_conf_str("myorigin"), "mail.example.jp");
    assert_string_equal(mail_conf_str("mydomain"), "example.jp");
    assert_int_equal(mail_conf_time("maximal_queue_lifetime"), 5 * 86400);
    assert_int_equal(mail_conf_bool("append_dot_mydomain"), 0);
    assert_int_equal(mail_conf_int("smtpd_recipient_limit"), 1000);
    assert_null(mail_conf_raw("no_such_parameter"));

    strv l = {0};
    mail_conf_list("mydestination", &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[1], "localhost.example.jp");
    strv_free(&l);
}

static int count_assignments(const char *name, const char *value, int line, void *ctx)
{
    (void) name;
    (void) value;
    (void) line;
    (*(int *) ctx)++;
    return 0;
}

static void test_foreach(void **state)
{
    (void) state;
    write_main_cf("a = 1\nb = 2\na = 3\n");
    mail_conf_load(dir);
    int n = 0;
    assert_int_equal(mail_conf_foreach(count_assignments, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(mail_conf_str("a"), "3");
}

static void test_expansion_forms(void **state)
{
    (void) state;
    write_main_cf("full = yes\n"
                  "empty =\n"
                  "inner = $full\n"
                  "price = 5$$\n");
    mail_conf_load(dir);
    assert_string_equal(expand("$full/${full}/$(full)"), "yes/yes/yes");
    assert_string_equal(expand("x${undefined_thing}y$undefined_thing"), "xy");
    assert_string_equal(expand("[${full?set}]"), "[set]");
    assert_string_equal(expand("[${empty?set}]"), "[]");
    assert_string_equal(expand("[${undefined_thing?set}]"), "[]");
    assert_string_equal(expand("[${full:unset}]"), "[]");
    assert_string_equal(expand("[${empty:unset}]"), "[unset]");
    assert_string_equal(expand("[${full?{a b}}]"), "[a b]");
    assert_string_equal(expand("[${empty:{a b}}]"), "[a b]");
    assert_string_equal(expand("[${full?{a}:{b}}]"), "[a]");
    assert_string_equal(expand("[${empty?{a}:{b}}]"), "[b]");
    assert_string_equal(expand("[${empty? {a} : {b} }]"), "[b]");
    assert_string_equal(expand("[${empty?{a}:b}]"), "[b]");
    assert_string_equal(expand("[$(empty:legacy)]"), "[legacy]");
    assert_string_equal(expand("[${full?{$inner-${full}}}]"), "[yes-yes]");
    assert_string_equal(expand("[${full?${empty:nested}}]"), "[nested]");
    assert_string_equal(expand("$$full $$"), "$full $");
    assert_string_equal(expand("cost $-5, $"), "cost $-5, $");   /* no name: literal */
    assert_string_equal(expand("[$5]"), "[]");                  /* digits form a name */
    assert_string_equal(mail_conf_str("price"), "5$");
    assert_string_equal(mail_conf_str("inner"), "yes");

    char *m = expand_error("${full?{a}");
    assert_non_null(strstr(m, "${full?{a}"));
    xfree(m);
    xfree(expand_error("${full"));
    xfree(expand_error("${}"));
    xfree(expand_error("${full!x}"));
}

static void test_relational(void **state)
{
    (void) state;
    write_main_cf("compatibility_level = 3.6\n"
                  "n = 10\n");
    mail_conf_load(dir);
    assert_string_equal(expand("${{$n} == {10} ? {eq} : {ne}}"), "eq");
    assert_string_equal(expand("${{$n} != {10} ? {ne} : {eq}}"), "eq");
    assert_string_equal(expand("${{$n} < {9} ? {lt} : {ge}}"), "ge");     /* numeric */
    assert_string_equal(expand("${{$n} <= {010} ? {le}}"), "le");
    assert_string_equal(expand("${{abc} < {abd} ? {lt}}"), "lt");        /* bytes */
    assert_string_equal(expand("${{b} > {a} ? {gt}}"), "gt");
    assert_string_equal(expand("${{a} >= {b} : {not-ge}}"), "not-ge");
    assert_string_equal(expand("${{$compatibility_level} <level {3.10} ? {old} : {new}}"), "old");
    assert_string_equal(expand("${{$compatibility_level} <level {2} ? {old} : {new}}"), "new");
    assert_string_equal(expand("${{3.6} >=level {3.6.0} ? {yes}}"), "yes");
    assert_string_equal(expand("${{$compatibility_level} < {3.10} ? {x} : {y}}"), "y");
    /* The one default that uses a relation. */
    assert_string_equal(mail_conf_str("smtp_tls_dane_insecure_mx_policy"), "may");
    mail_conf_override("smtp_tls_security_level", "dane");
    assert_string_equal(mail_conf_str("smtp_tls_dane_insecure_mx_policy"), "dane");

    char *m = expand_error("${{a} =~ {b} ? {x}}");
    assert_non_null(strstr(m, "operator"));
    xfree(m);
    xfree(expand_error("${{a} == {b}}"));
    xfree(expand_error("${{a} == b ? {x}}"));
    xfree(expand_error("${{x.y} <level {1} ? {x}}"));
}

static void test_raw_not_expanded(void **state)
{
    (void) state;
    write_main_cf("luser_relay = $user@other.example\n"
                  "forward_path = $home/.forward\n"
                  "smtpd_reject_footer = \\c contact $client_address\n");
    mail_conf_load(dir);
    assert_string_equal(mail_conf_str("luser_relay"), "$user@other.example");
    assert_string_equal(mail_conf_str("forward_path"), "$home/.forward");
    assert_string_equal(mail_conf_str("smtpd_reject_footer"), "\\c contact $client_address");
    /* A plain parameter that refers to a raw one gets its text unexpanded. */
    assert_string_equal(mail_conf_str("postscreen_reject_footer"), "$smtpd_reject_footer");
    assert_string_equal(mail_conf_str("postscreen_expansion_filter"),
                        mail_conf_raw("smtpd_expansion_filter"));
}

static int contains_both(const strv *errs, size_t i, const char *a, const char *b)
{
    return strstr(errs->v[i], a) && strstr(errs->v[i], b);
}

static void test_validate(void **state)
{
    (void) state;
    write_main_cf("loop_a = x $loop_b\n"                     /* 1 */
                  "loop_b = y ${loop_a}\n"                   /* 2 */
                  "message_size_limit = ten\n"               /* 3 */
                  "smtpd_helo_required = maybe\n"            /* 4 */
                  "queue_run_delay = 5q\n"                   /* 5 */
                  "smtpd_timeout = 0\n"                      /* 6 */
                  "mailbox_size_limit = -1\n"                /* 7 */
                  "smtpd_recipient_limit = 99999999999\n"    /* 8 */
                  "minimal_backoff_time = 10m\n"             /* 9: fine */
                  "message_size_limit = 30000000000\n"       /* 10: fine, overrides 3 */
                  "bad_ref = ${loop_a}\n"                    /* 11 */
                  "broken = ${oops\n");                      /* 12 */
    mail_conf_load(dir);
    strv errs = {0};
    int n = mail_conf_validate(&errs);
    for (size_t i = 0; i < errs.n; i++)
        print_message("  %s\n", errs.v[i]);
    assert_int_equal(n, (int) errs.n);
    assert_int_equal(n, 9);
    /* Each message names main.cf, the line and the parameter. */
    char want[200];
    snprintf(want, sizeof(want), "%s, line 1: ", path);
    assert_non_null(strstr(errs.v[0], want));
    assert_true(contains_both(&errs, 0, "$loop_a", "$loop_b"));
    assert_true(contains_both(&errs, 1, "line 2", "$loop_b -> $loop_a"));
    assert_true(contains_both(&errs, 2, "line 4", "smtpd_helo_required = maybe"));
    assert_true(contains_both(&errs, 3, "line 5", "queue_run_delay = 5q"));
    assert_true(contains_both(&errs, 4, "line 6", "smtpd_timeout = 0"));
    assert_true(contains_both(&errs, 5, "line 7", "mailbox_size_limit = -1"));
    assert_true(contains_both(&errs, 6, "line 8", "smtpd_recipient_limit"));
    assert_true(contains_both(&errs, 7, "line 11", "loop_a"));
    assert_true(contains_both(&errs, 8, "line 12", "${oops"));
    assert_int_equal(mail_conf_long("message_size_limit"), 30000000000LL);
    assert_int_equal(mail_conf_time("minimal_backoff_time"), 600);
    strv_free(&errs);
}

static void test_bad_value_message(void **state)
{
    (void) state;
    write_main_cf("myhostname = a.example\n"
                  "\n"
                  "message_size_limit = ten\n");
    mail_conf_load(dir);
    strv errs = {0};
    assert_int_equal(mail_conf_validate(&errs), 1);
    char want[300];
    snprintf(want, sizeof(want),
             "%s, line 3: bad numerical configuration: message_size_limit = ten", path);
    assert_string_equal(errs.v[0], want);
    strv_free(&errs);
}

static void test_syntax_error(void **state)
{
    (void) state;
    write_main_cf("myhostname = ok.example\n"
                  "this line has no equals sign\n");
    char *err = 0;
    assert_int_equal(mail_conf_try_load(dir, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "line 2"));
    xfree(err);
}

static void test_missing_main_cf(void **state)
{
    (void) state;
    snprintf(dir, sizeof(dir), "/tmp/test_mail_conf.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/main.cf", dir);
    char *err = 0;
    assert_int_equal(mail_conf_try_load(dir, &err), 0);
    assert_string_equal(mail_conf_str("mail_name"), "Hikyaku");
    assert_string_equal(mail_conf_str("relay_domains"), "");
}

static void test_override(void **state)
{
    (void) state;
    write_main_cf("smtpd_banner = from main.cf\n"
                  "myhostname = host.example\n");
    mail_conf_load(dir);
    const char *before = mail_conf_str("myorigin");
    assert_string_equal(before, "host.example");
    /* Reading other parameters keeps earlier strings valid and cached. */
    (void) mail_conf_str("mydomain");
    (void) mail_conf_str("smtpd_banner");
    (void) mail_conf_time("queue_run_delay");
    assert_ptr_equal(before, mail_conf_str("myorigin"));

    mail_conf_override("smtpd_banner", "overridden $myhostname");
    assert_string_equal(mail_conf_str("smtpd_banner"), "overridden host.example");
    assert_true(mail_conf_is_set("smtpd_banner"));
    assert_int_equal(mail_conf_line("smtpd_banner"), 0);
    assert_int_equal(mail_conf_override_assignment("myhostname = other.example"), 0);
    assert_string_equal(mail_conf_str("smtpd_banner"), "overridden other.example");
    assert_string_equal(mail_conf_str("myorigin"), "other.example");
    assert_int_equal(mail_conf_override_assignment("no equals sign"), -1);
    /* Overriding with a value taken from the configuration itself. */
    mail_conf_override("smtpd_banner", mail_conf_raw("smtpd_banner"));
    assert_string_equal(mail_conf_raw("smtpd_banner"), "overridden $myhostname");
    /* A reload forgets overrides. */
    mail_conf_load(dir);
    assert_string_equal(mail_conf_str("smtpd_banner"), "from main.cf");
}

static void test_computed_defaults(void **state)
{
    (void) state;
    write_main_cf("myhostname = mx1.sub.example.org\n"
                  "inet_protocols = ipv4\n");
    mail_conf_load(dir);
    assert_string_equal(mail_conf_str("mydomain"), "sub.example.org");
    assert_string_equal(mail_conf_str("mynetworks_style"), "host");
    const char *nets = mail_conf_str("mynetworks");
    assert_true(strncmp(nets, "127.0.0.0/8", 11) == 0);
    assert_null(strstr(nets, "[::1]"));
    /* host style: every other entry is a single address. */
    strv l = {0};
    mail_conf_list("mynetworks", &l);
    for (size_t i = 1; i < l.n; i++)
        assert_non_null(strstr(l.v[i], "/32"));
    strv_free(&l);
    /* A computed default follows later overrides of what it depends on. */
    mail_conf_override("inet_protocols", "ipv6");
    nets = mail_conf_str("mynetworks");
    assert_non_null(strstr(nets, "[::1]/128"));
    assert_null(strstr(nets, "127.0.0.0/8"));
    mail_conf_override("myhostname", "bare");
    assert_string_equal(mail_conf_str("mydomain"), "localdomain");
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long) getpid());
    assert_string_equal(mail_conf_str("process_id"), pid);
    assert_string_equal(mail_conf_str("process_name"), msg_program());
}

static void test_mail_config_env(void **state)
{
    (void) state;
    write_main_cf("myhostname = from-env.example\n");
    setenv("MAIL_CONFIG", dir, 1);
    mail_conf_load(0);
    assert_string_equal(mail_conf_dir(), dir);
    assert_string_equal(mail_conf_str("myhostname"), "from-env.example");
    mail_conf_load("");
    assert_string_equal(mail_conf_str("myhostname"), "from-env.example");
    unsetenv("MAIL_CONFIG");
}

static void test_lists(void **state)
{
    (void) state;
    write_main_cf("smtpd_client_restrictions = permit_mynetworks,\n"
                  "  check_client_access inline:{ 1.2.3.4=REJECT, 5.6.7.8=OK },\n"
                  "  reject\n"
                  "smtpd_milters = { inet:localhost:8891, connect_timeout=10s }, unix:/m\n"
                  "broken_list = a {b c\n");
    mail_conf_load(dir);
    strv l = {0};
    mail_conf_list("smtpd_client_restrictions", &l);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.v[0], "permit_mynetworks");
    assert_string_equal(l.v[1], "check_client_access");
    assert_string_equal(l.v[2], "inline:{ 1.2.3.4=REJECT, 5.6.7.8=OK }");
    assert_string_equal(l.v[3], "reject");
    strv_free(&l);
    mail_conf_list("smtpd_milters", &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "inet:localhost:8891, connect_timeout=10s");
    assert_string_equal(l.v[1], "unix:/m");
    strv_free(&l);
    mail_conf_list("smtpd_forbidden_commands", &l);     /* the default */
    assert_int_equal(l.n, 4);
    assert_string_equal(l.v[3], "regexp:{{/^[^A-Z]/ Bogus}}");
    strv_free(&l);
    mail_conf_list("broken_list", &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[1], "{b c");
    strv_free(&l);
    mail_conf_list("relay_domains", &l);
    assert_int_equal(l.n, 0);
    strv_free(&l);
}

int main(void)
{
    msg_init("test_mail_conf", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_load_lines, teardown),
        cmocka_unit_test_teardown(test_foreach, teardown),
        cmocka_unit_test_teardown(test_expansion_forms, teardown),
        cmocka_unit_test_teardown(test_relational, teardown),
        cmocka_unit_test_teardown(test_raw_not_expanded, teardown),
        cmocka_unit_test_teardown(test_validate, teardown),
        cmocka_unit_test_teardown(test_bad_value_message, teardown),
        cmocka_unit_test_teardown(test_syntax_error, teardown),
        cmocka_unit_test_teardown(test_missing_main_cf, teardown),
        cmocka_unit_test_teardown(test_override, teardown),
        cmocka_unit_test_teardown(test_computed_defaults, teardown),
        cmocka_unit_test_teardown(test_mail_config_env, teardown),
        cmocka_unit_test_teardown(test_lists, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
