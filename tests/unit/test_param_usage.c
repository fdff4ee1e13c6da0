/* test_param_usage.c - unit tests for mail/param_usage (postconf's notion of
 * built-in, service-defined and user-defined parameter names). */
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
#include "mail/master_cf.h"
#include "mail/param_usage.h"
#include "util/mem.h"
#include "util/safe_file.h"

static char dir[] = "/tmp/test_param_usage.XXXXXX";

static void load(const char *main_cf)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/main.cf", dir);
    assert_int_equal(safe_replace(path, main_cf, strlen(main_cf), 0644), 0);
    mail_conf_load(dir);
}

static void parse(const char *text, struct master_cf *cf)
{
    char *err = 0;
    if (master_cf_parse("master.cf", text, strlen(text), cf, &err) < 0)
        fail_msg("%s", err);
}

static int has(const strv *a, const char *needle)
{
    for (size_t i = 0; i < a->n; i++)
        if (strstr(a->v[i], needle))
            return 1;
    return 0;
}

static void test_refs(void **state)
{
    (void) state;
    strv r = {0};
    param_refs("$a ${b} $(c) $$notme ${d?{$e}:{x}} ${f:y} $a $g-h ${i-j}", &r);
    assert_int_equal(r.n, 8);
    assert_string_equal(r.v[0], "a");
    assert_string_equal(r.v[3], "d");
    assert_string_equal(r.v[4], "e");
    assert_string_equal(r.v[6], "g");
    assert_string_equal(r.v[7], "i-j");
    strv_free(&r);
    param_refs("no references, $ alone, $$", &r);
    assert_int_equal(r.n, 0);
    strv_free(&r);
}

static void test_classes(void **state)
{
    (void) state;
    load("myhostname = h.example\n"
         "mymacro = foo\n"
         "relay_domains = $mymacro\n"
         "typo_paramter = 1\n"
         "smtpd_restriction_classes = strict\n"
         "strict = reject\n"
         "uses = $nowhere\n"
         "mail_version = 99\n"
         "relay_destination_concurrency_limit = 5\n"
         "mua_client_restrictions = permit\n");
    struct master_cf cf;
    parse("smtp inet n - n - - smtpd\n"
          "relay unix - - n - - smtp\n"
          "submission inet n - n - - smtpd -o smtpd_client_restrictions=$mua_client_restrictions"
          " -o local_thing=1 -o smtpd_banner=$local_thing -o bogus_opt=2\n"
          "mypipe unix - n n - - pipe flags=R argv=/bin/true\n"
          "myspawn unix - n n - - spawn argv=/bin/true\n", &cf);
    struct param_usage *u = param_usage_new(&cf, true);
    assert_int_equal(param_usage_class(u, "myhostname"), PARAM_BUILTIN);
    assert_int_equal(param_usage_class(u, "mymacro"), PARAM_USER);
    assert_int_equal(param_usage_class(u, "strict"), PARAM_USER);
    assert_int_equal(param_usage_class(u, "mua_client_restrictions"), PARAM_USER);
    assert_int_equal(param_usage_class(u, "typo_paramter"), 0);
    assert_int_equal(param_usage_class(u, "relay_destination_concurrency_limit"), PARAM_SERVICE);
    assert_string_equal(param_usage_default(u, "relay_destination_concurrency_limit"),
                        "$default_destination_concurrency_limit");
    assert_string_equal(param_usage_default(u, "relay_initial_destination_concurrency"),
                        "$initial_destination_concurrency");
    assert_int_equal(param_usage_class(u, "relay_time_limit"), 0);
    assert_int_equal(param_usage_class(u, "mypipe_time_limit"), PARAM_SERVICE);
    assert_int_equal(param_usage_class(u, "mypipe_recipient_limit"), PARAM_SERVICE);
    assert_int_equal(param_usage_class(u, "myspawn_time_limit"), PARAM_SERVICE);
    assert_int_equal(param_usage_class(u, "myspawn_recipient_limit"), 0);
    assert_int_equal(param_usage_class(u, "submission_recipient_limit"), 0);
    assert_true(param_usage_readonly_set(u, "mail_version"));
    assert_true(param_usage_local_valid(u, 2, "local_thing"));
    assert_false(param_usage_local_valid(u, 2, "bogus_opt"));

    strv p = {0};
    param_usage_problems(u, true, true, &p);
    assert_true(has(&p, "main.cf: unused parameter: typo_paramter=1"));
    assert_true(has(&p, "main.cf: unused parameter: uses=$nowhere"));
    assert_true(has(&p, "main.cf: undefined parameter: nowhere"));
    assert_true(has(&p, "main.cf: read-only parameter assignment: mail_version=99"));
    assert_true(has(&p, "master.cf: unused parameter: bogus_opt=2"));
    assert_false(has(&p, "mymacro"));
    assert_false(has(&p, "strict"));
    assert_false(has(&p, "local_thing"));
    assert_false(has(&p, "relay_destination"));
    strv_free(&p);

    strv names = {0};
    param_usage_names(u, PARAM_USER, &names);
    assert_int_equal(names.n, 3);
    assert_string_equal(names.v[0], "mua_client_restrictions");
    assert_string_equal(names.v[1], "mymacro");
    assert_string_equal(names.v[2], "strict");
    strv_free(&names);
    param_usage_names(u, PARAM_ALL, &names);
    for (size_t i = 1; i < names.n; i++)
        assert_true(strcmp(names.v[i - 1], names.v[i]) < 0);
    strv_free(&names);
    param_usage_free(u);

    /* Without user scanning (postconf -d) only built-in and service names. */
    u = param_usage_new(&cf, false);
    assert_int_equal(param_usage_class(u, "mymacro"), 0);
    assert_int_equal(param_usage_class(u, "relay_recipient_limit"), PARAM_SERVICE);
    param_usage_free(u);
    u = param_usage_new(0, false);
    assert_int_equal(param_usage_class(u, "relay_recipient_limit"), 0);
    param_usage_free(u);
    master_cf_free(&cf);
}

static int setup(void **state)
{
    (void) state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void) state;
    char path[256];
    snprintf(path, sizeof(path), "%s/main.cf", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_classes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
