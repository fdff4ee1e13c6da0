/*
 * test_params.c - unit tests for the parameter table (mail/params.def).
 *
 * Checks the table's shape (sorted, unique, typed defaults that parse),
 * param_find(), and a sample of well-known defaults that administrators and
 * the seed articles rely on. It does not test main.cf loading (see
 * test_mail_conf.c), except that every default must expand and parse when
 * no main.cf exists.
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
#include "util/msg.h"
#include "util/strv.h"

static void test_sorted_unique(void **state)
{
    (void) state;
    assert_true(param_count > 800);
    for (size_t i = 1; i < param_count; i++) {
        if (strcmp(param_table[i - 1].name, param_table[i].name) >= 0)
            fail_msg("not sorted or duplicate: %s then %s", param_table[i - 1].name,
                     param_table[i].name);
    }
}

static void test_entries_well_formed(void **state)
{
    (void) state;
    for (size_t i = 0; i < param_count; i++) {
        const struct param_def *p = &param_table[i];
        assert_non_null(p->def);
        assert_non_null(p->meaning);
        if (!*p->meaning)
            fail_msg("%s: empty meaning", p->name);
        for (const char *c = p->name; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '_'))
                fail_msg("%s: bad character in name", p->name);
        /* The deliberate exception list bans compatibility expressions. */
        if (strstr(p->def, "compatibility_level"))
            fail_msg("%s: default depends on compatibility_level", p->name);
        if ((p->flags & (PF_MIN0 | PF_MIN1)) &&
            p->type != PT_INT && p->type != PT_LONG && p->type != PT_TIME)
            fail_msg("%s: minimum flag on a non-numeric parameter", p->name);
        assert_string_not_equal(param_type_name(p->type), "?");
    }
}

/* Literal defaults of typed parameters parse; $references are exempt here
 * (test_defaults_expand checks them after expansion). */
static void test_literal_defaults_parse(void **state)
{
    (void) state;
    for (size_t i = 0; i < param_count; i++) {
        const struct param_def *p = &param_table[i];
        if (p->def[0] == '$')
            continue;
        int b;
        long long n;
        long t;
        switch (p->type) {
        case PT_BOOL:
            if (mail_conf_parse_bool(p->def, &b) < 0)
                fail_msg("%s: bad boolean default \"%s\"", p->name, p->def);
            break;
        case PT_INT:
        case PT_LONG:
            if (mail_conf_parse_long(p->def, &n) < 0)
                fail_msg("%s: bad numeric default \"%s\"", p->name, p->def);
            if ((p->flags & PF_MIN1) && n < 1)
                fail_msg("%s: default below its minimum", p->name);
            break;
        case PT_TIME:
            if (mail_conf_parse_time(p->def, 's', &t) < 0)
                fail_msg("%s: bad time default \"%s\"", p->name, p->def);
            /* The unit is written out: it is the parameter's default unit. */
            if (!strchr("smhdw", p->def[strlen(p->def) - 1]))
                fail_msg("%s: time default without a unit", p->name);
            if ((p->flags & PF_MIN1) && t < 1)
                fail_msg("%s: default below its minimum", p->name);
            break;
        default:
            break;
        }
    }
}

/* With an empty configuration every default expands without error and the
 * typed ones parse after expansion ($references and ${stress?...} forms). */
static void test_defaults_expand(void **state)
{
    (void) state;
    char dir[] = "/tmp/test_params.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *err = 0;
    assert_int_equal(mail_conf_try_load(dir, &err), 0);
    sbuf out = SBUF_INIT, e = SBUF_INIT;
    for (size_t i = 0; i < param_count; i++) {
        const struct param_def *p = &param_table[i];
        char ref[300];
        snprintf(ref, sizeof(ref), "${%s}", p->name);
        sbuf_reset(&out);
        sbuf_reset(&e);
        if (mail_conf_expand(ref, &out, &e) < 0)
            fail_msg("%s: expansion failed: %s", p->name, sbuf_str(&e));
        switch (p->type) {
        case PT_BOOL:
            (void) mail_conf_bool(p->name);
            break;
        case PT_INT:
            (void) mail_conf_int(p->name);
            break;
        case PT_LONG:
            (void) mail_conf_long(p->name);
            break;
        case PT_TIME:
            (void) mail_conf_time(p->name);
            break;
        case PT_LIST: {
            strv l = {0};
            mail_conf_list(p->name, &l);
            strv_free(&l);
            break;
        }
        default:
            (void) mail_conf_str(p->name);
            break;
        }
    }
    sbuf_free(&out);
    sbuf_free(&e);
    rmdir(dir);
}

static void test_find(void **state)
{
    (void) state;
    const struct param_def *first = param_find(param_table[0].name);
    const struct param_def *last = param_find(param_table[param_count - 1].name);
    const struct param_def *mid = param_find(param_table[param_count / 2].name);
    assert_ptr_equal(first, &param_table[0]);
    assert_ptr_equal(last, &param_table[param_count - 1]);
    assert_ptr_equal(mid, &param_table[param_count / 2]);
    assert_string_equal(param_table[0].name, "2bounce_notice_recipient");
    assert_non_null(param_find("myhostname"));
    assert_non_null(param_find("dns_resolver_conf"));
    assert_null(param_find(""));
    assert_null(param_find("no_such_parameter"));
    assert_null(param_find("myhostnam"));
    assert_null(param_find("myhostnamex"));
    assert_null(param_find("MYHOSTNAME"));
    assert_null(param_find("zzzz"));
    assert_null(param_find("0"));
    /* Per-service templates are not table entries, concrete ones are. */
    assert_null(param_find("transport_destination_concurrency_limit"));
    assert_non_null(param_find("local_destination_concurrency_limit"));
    assert_non_null(param_find("smtp_destination_recipient_limit"));
    assert_non_null(param_find("transport_maps"));
}

static void expect(const char *name, enum param_type type, const char *def)
{
    const struct param_def *p = param_find(name);
    if (!p)
        fail_msg("%s: missing", name);
    if (p->type != type)
        fail_msg("%s: type %s", name, param_type_name(p->type));
    if (strcmp(p->def, def) != 0)
        fail_msg("%s: default \"%s\", want \"%s\"", name, p->def, def);
}

static void test_known_defaults(void **state)
{
    (void) state;
    expect("smtpd_banner", PT_STR, "$myhostname ESMTP $mail_name");
    expect("message_size_limit", PT_LONG, "10240000");
    expect("mailbox_size_limit", PT_LONG, "51200000");
    expect("virtual_mailbox_limit", PT_LONG, "51200000");
    expect("header_size_limit", PT_LONG, "102400");
    expect("queue_minfree", PT_LONG, "0");
    expect("maximal_queue_lifetime", PT_TIME, "5d");
    expect("bounce_queue_lifetime", PT_TIME, "5d");
    expect("minimal_backoff_time", PT_TIME, "300s");
    expect("maximal_backoff_time", PT_TIME, "4000s");
    expect("queue_run_delay", PT_TIME, "300s");
    expect("delay_warning_time", PT_TIME, "0h");
    expect("command_time_limit", PT_TIME, "1000s");
    expect("default_destination_concurrency_limit", PT_INT, "20");
    expect("local_destination_concurrency_limit", PT_INT, "2");
    expect("local_destination_recipient_limit", PT_INT, "1");
    expect("smtpd_recipient_limit", PT_INT, "1000");
    expect("unknown_local_recipient_reject_code", PT_INT, "550");
    expect("smtpd_relay_restrictions", PT_LIST,
           "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination");
    expect("mynetworks_style", PT_STR, "host");
    expect("append_dot_mydomain", PT_BOOL, "no");
    expect("append_at_myorigin", PT_BOOL, "yes");
    expect("relay_domains", PT_LIST, "");
    expect("smtputf8_enable", PT_BOOL, "yes");
    expect("allow_min_user", PT_BOOL, "no");
    expect("smtpd_forbid_bare_newline", PT_STR, "normalize");
    expect("smtpd_forbid_bare_newline_exclusions", PT_LIST, "$mynetworks");
    expect("smtpd_forbid_bare_newline_reject_code", PT_INT, "550");
    expect("smtpd_forbid_unauth_pipelining", PT_BOOL, "yes");
    expect("mail_name", PT_STR, "Hikyaku");
    expect("alias_maps", PT_LIST, "hash:/etc/aliases");
    expect("mydestination", PT_LIST, "$myhostname, localhost.$mydomain, localhost");
    expect("myorigin", PT_STR, "$myhostname");
    expect("inet_interfaces", PT_LIST, "all");
    expect("inet_protocols", PT_LIST, "all");
    expect("smtpd_tls_protocols", PT_LIST, ">=TLSv1");
    expect("smtpd_tls_fingerprint_digest", PT_STR, "sha256");
    expect("respectful_logging", PT_BOOL, "yes");
    expect("dns_resolver_conf", PT_STR, "");
    expect("luser_relay", PT_RAW, "");
    expect("forward_path", PT_RAW, "$home/.forward${recipient_delimiter}${extension}, $home/.forward");
    expect("default_rbl_reply", PT_RAW,
           "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using "
           "$rbl_domain${rbl_reason?; $rbl_reason}");

    /* Build-time paths and the version come from CMake. */
    expect("queue_directory", PT_STR, DEF_QUEUE_DIR);
    expect("config_directory", PT_STR, DEF_CONFIG_DIR);
    expect("mail_version", PT_STR, HK_VERSION);
    assert_true(param_find("mail_version")->flags & PF_READONLY);
    assert_true(param_find("mail_release_date")->flags & PF_READONLY);
    assert_true(param_find("myhostname")->flags & PF_COMPUTED);
    assert_true(param_find("mynetworks")->flags & PF_COMPUTED);
    assert_true(param_find("process_id")->flags & PF_COMPUTED);
    assert_true(param_find("message_size_limit")->flags & PF_MIN0);
    assert_true(param_find("smtpd_timeout")->flags & PF_MIN1);
    assert_false(param_find("myorigin")->flags & PF_COMPUTED);
}

/* Time parameters take their default unit from the default. */
static void test_default_units(void **state)
{
    (void) state;
    char dir[] = "/tmp/test_params.XXXXXX";
    assert_non_null(mkdtemp(dir));
    mail_conf_load(dir);
    mail_conf_override("delay_warning_time", "4");
    assert_int_equal(mail_conf_time("delay_warning_time"), 4 * 3600);
    mail_conf_override("maximal_queue_lifetime", "2");
    assert_int_equal(mail_conf_time("maximal_queue_lifetime"), 2 * 86400);
    mail_conf_override("queue_run_delay", "7");
    assert_int_equal(mail_conf_time("queue_run_delay"), 7);
    /* "$postscreen_dnsbl_ttl" (1h): the unit follows the reference. */
    mail_conf_override("postscreen_dnsbl_max_ttl", "3");
    assert_int_equal(mail_conf_time("postscreen_dnsbl_max_ttl"), 3 * 3600);
    /* ${stress?...}s expressions: seconds, and normal-load values. */
    assert_int_equal(mail_conf_time("smtpd_timeout"), 300);
    mail_conf_override("stress", "yes");
    assert_int_equal(mail_conf_time("smtpd_timeout"), 10);
    assert_int_equal(mail_conf_int("smtpd_hard_error_limit"), 1);
    assert_int_equal(mail_conf_bool("smtpd_per_request_deadline"), 1);
    rmdir(dir);
}

int main(void)
{
    msg_init("test_params", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_unique),
        cmocka_unit_test(test_entries_well_formed),
        cmocka_unit_test(test_literal_defaults_parse),
        cmocka_unit_test(test_defaults_expand),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_known_defaults),
        cmocka_unit_test(test_default_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
