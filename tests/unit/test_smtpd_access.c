/*
 * test_smtpd_access.c - access(5) tables in restrictions
 * (src/smtpd/smtpd_access.c): the result language (every action), the
 * search orders for hosts, networks and addresses, pattern tables,
 * message actions with and without a mail transaction, and bad values.
 *
 * Tables are inline:{...} and texthash files; the evaluator runs with
 * fake facts and no DNS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "util/msg.h"

#include "smtpd/smtpd_access.c"
#include "smtpd/smtpd_check.c"

static char confdir[] = "/tmp/hk-test-access-XXXXXX";
static char last_whatsup[64];
static char last_log[512];
static int log_count;

static void fake_log(void *ctx, const char *whatsup, const char *reply)
{
    (void) ctx;
    snprintf(last_whatsup, sizeof(last_whatsup), "%s", whatsup);
    snprintf(last_log, sizeof(last_log), "%s", reply);
    log_count++;
}

/* example.jp is ours (for the relay restriction). */
static int fake_resolve(void *ctx, const char *addr)
{
    (void) ctx;
    return strstr(addr, "@example.jp") ? RESOLVE_CLASS_LOCAL : RESOLVE_CLASS_DEFAULT;
}

static const struct smtpd_check_ops fake_ops = {.log = fake_log, .resolve = fake_resolve};

static struct smtpd_actions actions;

static int setup(void **state)
{
    (void) state;
    mail_conf_load(confdir);
    last_whatsup[0] = last_log[0] = 0;
    log_count = 0;
    smtpd_actions_free(&actions);
    return 0;
}

static struct smtpd_check *request(void)
{
    static struct smtpd_check c;
    smtpd_check_init(&c, &fake_ops, 0);
    c.namaddr = "mx.sub.example.net[192.0.2.10]";
    c.client_name = "mx.sub.example.net";
    c.client_addr = "192.0.2.10";
    c.reverse_name = "mx.sub.example.net";
    c.helo = "helo.example.org";
    c.sender = "user+tag@example.com";
    c.recipient = "root@example.jp";
    c.stage = "RCPT";
    c.actions = &actions;
    return &c;
}

/* Evaluate restrictions in smtpd_recipient_restrictions (with a relay
 * restriction that passes); "" when accepted, else the reply. */
static const char *run(const char *restrictions)
{
    static char out[600];
    mail_conf_override("smtpd_relay_restrictions", "reject_unauth_destination");
    mail_conf_override("smtpd_reject_unlisted_recipient", "no");
    mail_conf_override("smtpd_recipient_restrictions", restrictions);
    struct smtpd_check *c = request();
    int status = smtpd_check_rcpt(c);
    snprintf(out, sizeof(out), "%s", status == SMTPD_CHECK_REJECT ? sbuf_str(&c->reply) : "");
    smtpd_check_free(c);
    return out;
}

static const char *sender_result(const char *value)
{
    static char table[600];
    snprintf(table, sizeof(table), "check_sender_access inline:{ { user+tag@example.com = %s } }",
             value);
    return run(table);
}

/* ---- results ---- */

static void test_accept_results(void **state)
{
    (void) state;
    assert_string_equal(run("check_sender_access inline:{user+tag@example.com=OK}, reject"), "");
    assert_string_equal(run("check_sender_access inline:{user+tag@example.com=20240101}, "
                            "reject"), "");
    assert_string_equal(run("check_sender_access inline:{user+tag@example.com=RELAY}, reject"),
                        "");
    assert_string_equal(run("check_sender_access inline:{user+tag@example.com=permit}, reject"),
                        "");
    /* DUNNO goes on to the next restriction. */
    assert_string_equal(run("check_sender_access inline:{user+tag@example.com=DUNNO}, reject"),
                        "554 5.7.1 <root@example.jp>: Recipient address rejected: "
                        "Access denied");
}

static void test_reject_results(void **state)
{
    (void) state;
    assert_string_equal(sender_result("REJECT"),
                        "554 5.7.1 <user+tag@example.com>: Sender address rejected: "
                        "Access denied");
    assert_string_equal(sender_result("REJECT not from you"),
                        "554 5.7.1 <user+tag@example.com>: Sender address rejected: "
                        "not from you");
    assert_string_equal(sender_result("REJECT 5.7.9 with a code"),
                        "554 5.7.9 <user+tag@example.com>: Sender address rejected: "
                        "with a code");
    assert_string_equal(sender_result("DEFER"),
                        "450 4.7.1 <user+tag@example.com>: Sender address rejected: "
                        "Access denied");
    assert_string_equal(sender_result("550 go away"),
                        "550 5.7.1 <user+tag@example.com>: Sender address rejected: go away");
    assert_string_equal(sender_result("451 4.1.1 later"),
                        "451 4.1.0 <user+tag@example.com>: Sender address rejected: later");
    mail_conf_override("access_map_reject_code", "550");
    assert_string_equal(sender_result("REJECT"),
                        "550 5.7.1 <user+tag@example.com>: Sender address rejected: "
                        "Access denied");
    /* A reply code that is not 4xx/5xx is not a reply code: a restriction
     * name "250", which does not exist. */
    assert_string_equal(sender_result("250 fine"), "451 4.3.5 Server configuration error");
}

static void test_deferral_results(void **state)
{
    (void) state;
    /* The end of the lists is an implicit permit: the deferral answers. */
    assert_string_equal(sender_result("DEFER_IF_PERMIT slow down"),
                        "450 4.7.1 <user+tag@example.com>: Sender address rejected: slow down");
    assert_string_equal(run("check_sender_access inline:{ { user+tag@example.com = "
                            "DEFER_IF_PERMIT slow down } }, reject"),
                        "554 5.7.1 <root@example.jp>: Recipient address rejected: "
                        "Access denied");
    assert_string_equal(run("check_sender_access inline:{ { user+tag@example.com = "
                            "DEFER_IF_REJECT db down } }, reject"),
                        "450 4.7.1 <user+tag@example.com>: Sender address rejected: db down");
    assert_string_equal(run("check_sender_access inline:{ user+tag@example.com=DEFER_IF_REJECT }"
                            ", permit"), "");
    /* The deferral given at the end of the stage is tidied as a rejection
     * is: the status class follows the code, one line of at most 510
     * bytes (fuzz_smtpd_policy found both missing). */
    char text[501];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = 0;
    char value[560];
    snprintf(value, sizeof(value), "DEFER_IF_PERMIT 5.7.9 %s", text);
    const char *r = sender_result(value);
    assert_int_equal(strlen(r), 510);
    assert_memory_equal(r, "450 4.7.9 <user+tag@example.com>: Sender address rejected: xxx", 62);
}

static void test_logging_results(void **state)
{
    (void) state;
    assert_string_equal(sender_result("WARN look at this"), "");
    assert_string_equal(last_whatsup, "warn");
    assert_string_equal(last_log, "look at this");
    assert_string_equal(sender_result("INFO noted"), "");
    assert_string_equal(last_whatsup, "info");
    assert_string_equal(last_log, "noted");
}

static void test_message_actions(void **state)
{
    (void) state;
    assert_string_equal(sender_result("HOLD"), "");
    assert_string_equal(last_whatsup, "hold");
    assert_string_equal(last_log, "<user+tag@example.com>: Sender address triggers HOLD action");
    assert_non_null(actions.hold);
    /* A second HOLD is silent. */
    log_count = 0;
    assert_string_equal(sender_result("HOLD again"), "");
    assert_int_equal(log_count, 0);

    assert_string_equal(sender_result("FILTER smtp:[127.0.0.1]:10025"), "");
    assert_string_equal(actions.filter, "smtp:[127.0.0.1]:10025");
    assert_string_equal(last_log, "<user+tag@example.com>: Sender address triggers FILTER "
                        "smtp:[127.0.0.1]:10025");
    assert_string_equal(sender_result("REDIRECT abuse@example.jp"), "");
    assert_string_equal(actions.redirect, "abuse@example.jp");
    assert_string_equal(last_whatsup, "redirect");
    assert_string_equal(sender_result("BCC archive@example.jp"), "");
    assert_int_equal(actions.bcc.n, 1);
    assert_string_equal(actions.bcc.v[0], "archive@example.jp");
    assert_string_equal(sender_result("PREPEND X-Seen: yes"), "");
    assert_int_equal(actions.prepend.n, 1);
    assert_string_equal(actions.prepend.v[0], "X-Seen: yes");

    /* Bad arguments are skipped with a warning. */
    assert_string_equal(sender_result("FILTER nocolon"), "");
    assert_string_equal(actions.filter, "smtp:[127.0.0.1]:10025");
    assert_string_equal(sender_result("REDIRECT nobody"), "");
    assert_string_equal(actions.redirect, "abuse@example.jp");
    assert_string_equal(sender_result("PREPEND not a header"), "");
    assert_int_equal(actions.prepend.n, 1);

    /* DISCARD permits, and the rest of the message is not checked. */
    assert_string_equal(run("check_sender_access inline:{user+tag@example.com=DISCARD}, reject"),
                        "");
    assert_string_equal(last_whatsup, "discard");
    assert_non_null(actions.discard);
}

static void test_actions_without_transaction(void **state)
{
    (void) state;
    mail_conf_override("smtpd_client_restrictions",
                       "check_client_access inline:{192.0.2.10=HOLD}");
    struct smtpd_check *c = request();
    c->actions = 0;
    c->stage = "CONNECT";
    assert_int_not_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    assert_null(actions.hold);
    /* PREPEND cannot happen after the content. */
    c->actions = &actions;
    c->stage = "END-OF-MESSAGE";
    mail_conf_override("smtpd_end_of_data_restrictions",
                       "check_client_access inline:{ { 192.0.2.10 = PREPEND X-A: b } }");
    assert_int_not_equal(smtpd_check_eod(c), SMTPD_CHECK_REJECT);
    assert_int_equal(actions.prepend.n, 0);
    smtpd_check_free(c);
}

static void test_restriction_lists_in_results(void **state)
{
    (void) state;
    /* Restriction names, in the table's reply context. */
    assert_string_equal(sender_result("reject_non_fqdn_recipient, reject"),
                        "554 5.7.1 <user+tag@example.com>: Sender address rejected: "
                        "Access denied");
    /* A table inside a result cannot be used. */
    assert_string_equal(sender_result("check_client_access inline:{x=OK}"),
                        "451 4.3.5 Server configuration error");
    /* A class referring to the table referring to the class: bounded. */
    mail_conf_override("smtpd_restriction_classes", "loop");
    mail_conf_override("loop", "check_sender_access inline:{user+tag@example.com=loop}");
    assert_string_equal(run("loop"), "451 4.3.5 Server configuration error");
}

/* ---- search orders ---- */

static void test_client_search_order(void **state)
{
    (void) state;
    mail_conf_override("smtpd_client_restrictions", "check_client_access inline:{ "
                       "{ example.net = REJECT by parent }, { 192.0.2 = REJECT by net } }");
    struct smtpd_check *c = request();
    assert_int_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "554 5.7.1 <mx.sub.example.net[192.0.2.10]>: "
                        "Client host rejected: by parent");
    /* Without a name, the address and its networks. */
    c->client_name = "unknown";
    assert_int_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "554 5.7.1 <mx.sub.example.net[192.0.2.10]>: "
                        "Client host rejected: by net");
    /* Dotted parents when smtpd_access_maps is not a parent feature. */
    mail_conf_override("parent_domain_matches_subdomains", "");
    c->client_name = "mx.sub.example.net";
    mail_conf_override("smtpd_client_restrictions", "check_client_access inline:{ "
                       "example.net=REJECT }");
    assert_int_not_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    mail_conf_override("smtpd_client_restrictions", "check_client_access inline:{ "
                       ".example.net=REJECT }");
    assert_int_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    /* A key that is found ends the search, even with DUNNO. */
    mail_conf_override("smtpd_client_restrictions", "check_client_access inline:{ "
                       "mx.sub.example.net=DUNNO, 192.0.2.10=REJECT }, permit");
    assert_int_not_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    /* IPv6 networks by ":" groups. */
    c->client_name = "unknown";
    c->client_addr = "2001:db8::1";
    mail_conf_override("smtpd_client_restrictions", "check_client_access inline:{ "
                       "2001:db8:=REJECT }");
    assert_int_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);
}

static void test_pattern_tables_see_whole_strings(void **state)
{
    (void) state;
    char path[300];
    snprintf(path, sizeof(path), "%s/clients.regexp", confdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* Would match a shortened network "192.0.2" if it were asked. */
    fputs("/^192\\.0\\.2$/ REJECT partial\n/^mx\\.sub\\./ REJECT whole name\n", f);
    fclose(f);
    char spec[400];
    snprintf(spec, sizeof(spec), "check_client_access regexp:%s, permit", path);
    mail_conf_override("smtpd_client_restrictions", spec);
    struct smtpd_check *c = request();
    assert_int_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "554 5.7.1 <mx.sub.example.net[192.0.2.10]>: "
                        "Client host rejected: whole name");
    c->client_name = "unknown";
    assert_int_not_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);
    unlink(path);
}

static void test_address_search_order(void **state)
{
    (void) state;
    /* user+tag@domain, user@domain, domain, parents, user+tag@, user@ */
    mail_conf_override("recipient_delimiter", "+");
    assert_string_equal(run("check_sender_access inline:{ { user@example.com = REJECT base } }"),
                        "554 5.7.1 <user+tag@example.com>: Sender address rejected: base");
    assert_string_equal(run("check_sender_access inline:{ { com = REJECT tld } }"),
                        "554 5.7.1 <user+tag@example.com>: Sender address rejected: tld");
    assert_string_equal(run("check_sender_access inline:{ { user@ = REJECT localpart } }"),
                        "554 5.7.1 <user+tag@example.com>: Sender address rejected: localpart");
    assert_string_equal(run("check_recipient_access inline:{ { root@ = REJECT no root } }"),
                        "554 5.7.1 <root@example.jp>: Recipient address rejected: no root");
    /* The null sender is looked up as <>. */
    mail_conf_override("smtpd_sender_restrictions",
                       "check_sender_access inline:{ { <> = REJECT no bounces } }");
    struct smtpd_check *c = request();
    c->sender = "";
    assert_int_equal(smtpd_check_mail(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "554 5.7.1 <>: Sender address rejected: "
                        "no bounces");
    smtpd_check_free(c);
}

static void test_helo_etrn_and_ok_not_allowed(void **state)
{
    (void) state;
    mail_conf_override("smtpd_helo_restrictions",
                       "check_helo_access inline:{ { example.org = 450 slow down } }");
    struct smtpd_check *c = request();
    assert_int_equal(smtpd_check_helo(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply),
                        "450 4.7.1 <helo.example.org>: Helo command rejected: slow down");
    /* OK is not allowed for the unverified reverse name. */
    mail_conf_override("smtpd_client_restrictions",
                       "check_reverse_client_hostname_access inline:{ mx.sub.example.net=OK },"
                       " reject");
    assert_int_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "554 5.7.1 <mx.sub.example.net[192.0.2.10]>: "
                        "Client host rejected: Access denied");
    mail_conf_override("smtpd_client_restrictions",
                       "check_reverse_client_hostname_access inline:{ mx.sub.example.net="
                       "REJECT }");
    assert_int_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "554 5.7.1 <mx.sub.example.net[192.0.2.10]>: "
                        "Unverified Client host rejected: Access denied");
    /* ETRN: the domain and its parents; no message actions there. */
    mail_conf_override("smtpd_etrn_restrictions",
                       "check_etrn_access inline:{ example.com=REJECT, x.test=HOLD }");
    c->etrn_domain = "sub.example.com";
    c->stage = "ETRN";
    assert_int_equal(smtpd_check_etrn(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply),
                        "554 5.7.1 <sub.example.com>: Etrn command rejected: Access denied");
    c->etrn_domain = "x.test";
    assert_int_not_equal(smtpd_check_etrn(c), SMTPD_CHECK_REJECT);
    assert_null(actions.hold);
    smtpd_check_free(c);
}

static void test_table_failures(void **state)
{
    (void) state;
    /* A table that cannot be opened is a configuration error. */
    assert_string_equal(run("check_sender_access hash:/nonexistent/table"),
                        "451 4.3.5 Server configuration error");
    /* A lookup that fails temporarily. */
    assert_string_equal(run("check_sender_access fail:test"),
                        "451 4.3.0 <user+tag@example.com>: Temporary lookup failure");
}

int main(void)
{
    if (!mkdtemp(confdir))
        return 1;
    msg_init("test_smtpd_access", MSG_TO_STDERR);
    smtpd_access_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_accept_results, setup),
        cmocka_unit_test_setup(test_reject_results, setup),
        cmocka_unit_test_setup(test_deferral_results, setup),
        cmocka_unit_test_setup(test_logging_results, setup),
        cmocka_unit_test_setup(test_message_actions, setup),
        cmocka_unit_test_setup(test_actions_without_transaction, setup),
        cmocka_unit_test_setup(test_restriction_lists_in_results, setup),
        cmocka_unit_test_setup(test_client_search_order, setup),
        cmocka_unit_test_setup(test_pattern_tables_see_whole_strings, setup),
        cmocka_unit_test_setup(test_address_search_order, setup),
        cmocka_unit_test_setup(test_helo_etrn_and_ok_not_allowed, setup),
        cmocka_unit_test_setup(test_table_failures, setup),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    rmdir(confdir);
    return rc;
}
