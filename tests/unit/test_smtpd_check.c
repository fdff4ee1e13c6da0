/*
 * test_smtpd_check.c - the restriction evaluator (src/smtpd/smtpd_check.c)
 * with fake lookups: relay control, unknown local users, table failures,
 * unknown restrictions, warn_if_reject, soft_bounce, restriction classes,
 * the syntax restrictions and registered extra restrictions; deferrals
 * (defer_if_permit, defer_if_reject), status code fix-ups, reply
 * hygiene, the generic restrictions and the end-of-data stage.
 *
 * The configuration is an empty main.cf plus mail_conf_override() per
 * test, so the parameter defaults are the real ones.
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
#include "mail/resolve.h"
#include "util/msg.h"

#include "smtpd/smtpd_check.c"

/* ---- fakes ---- */

static int fake_mynetworks_result;
static char last_whatsup[64];
static char last_log[512];
static int log_count;

static int fake_mynetworks(void *ctx)
{
    (void) ctx;
    return fake_mynetworks_result;
}

/* example.jp: local; relay.example: relay_domains; fail.example: table
 * failure; "%" in the local part: routed; no domain: local. */
static int fake_resolve(void *ctx, const char *addr)
{
    (void) ctx;
    const char *at = strrchr(addr, '@');
    const char *dom = at ? at + 1 : "";
    int flags;
    if (!at || strcmp(dom, "example.jp") == 0)
        flags = RESOLVE_CLASS_LOCAL;
    else if (strcmp(dom, "relay.example") == 0)
        flags = RESOLVE_CLASS_RELAY;
    else if (strcmp(dom, "fail.example") == 0)
        flags = RESOLVE_CLASS_DEFAULT | RESOLVE_FLAG_FAIL;
    else
        flags = RESOLVE_CLASS_DEFAULT;
    if (strchr(addr, '%'))
        flags |= RESOLVE_FLAG_ROUTED;
    return flags;
}

static int fake_addr_known(void *ctx, const char *addr, bool sender, int *code, sbuf *table)
{
    (void) ctx;
    (void) sender;
    int flags = fake_resolve(ctx, addr);
    if (!(flags & RESOLVE_CLASS_LOCAL))
        return 1;
    if (strncmp(addr, "tempfail", 8) == 0)
        return -1;
    if (strncmp(addr, "root", 4) == 0 || strncmp(addr, "postmaster", 10) == 0)
        return 1;
    *code = 550;
    sbuf_set(table, "local recipient table");
    return 0;
}

static void fake_log(void *ctx, const char *whatsup, const char *reply)
{
    (void) ctx;
    snprintf(last_whatsup, sizeof(last_whatsup), "%s", whatsup);
    snprintf(last_log, sizeof(last_log), "%s", reply);
    log_count++;
}

static const struct smtpd_check_ops fake_ops = {
    .mynetworks = fake_mynetworks,
    .resolve = fake_resolve,
    .addr_known = fake_addr_known,
    .client_in_relay_domains = 0,
    .log = fake_log,
};

static char confdir[] = "/tmp/hk-test-check-XXXXXX";

static int setup(void **state)
{
    (void) state;
    /* Fresh defaults for every test. */
    mail_conf_load(confdir);
    fake_mynetworks_result = 0;
    last_whatsup[0] = last_log[0] = 0;
    log_count = 0;
    return 0;
}

static struct smtpd_check *request(const char *helo, const char *sender, const char *rcpt)
{
    static struct smtpd_check c;
    smtpd_check_init(&c, &fake_ops, 0);
    c.namaddr = "unknown[192.0.2.1]";
    c.helo = helo;
    c.sender = sender;
    c.recipient = rcpt;
    return &c;
}

/* Run the RCPT checks; return the reply ("" when accepted). */
static const char *rcpt_reply(const char *rcpt)
{
    static char out[512];
    struct smtpd_check *c = request("client.example.com", "sender@example.com", rcpt);
    int status = smtpd_check_rcpt(c);
    snprintf(out, sizeof(out), "%s", status == SMTPD_CHECK_REJECT ? sbuf_str(&c->reply) : "");
    smtpd_check_free(c);
    return out;
}

/* ---- relay control ---- */

static void test_default_relay_denied(void **state)
{
    (void) state;
    assert_string_equal(rcpt_reply("x@elsewhere.example"),
                        "454 4.7.1 <x@elsewhere.example>: Relay access denied");
    assert_string_equal(last_whatsup, "reject");
    assert_string_equal(last_log, "454 4.7.1 <x@elsewhere.example>: Relay access denied");
}

static void test_mynetworks_may_relay(void **state)
{
    (void) state;
    fake_mynetworks_result = 1;
    assert_string_equal(rcpt_reply("x@elsewhere.example"), "");
    assert_int_equal(log_count, 0);
}

static void test_own_and_relay_domains_accepted(void **state)
{
    (void) state;
    assert_string_equal(rcpt_reply("root@example.jp"), "");
    assert_string_equal(rcpt_reply("anyone@relay.example"), "");
    assert_string_equal(rcpt_reply("postmaster"), "");
}

static void test_reject_unauth_destination(void **state)
{
    (void) state;
    mail_conf_override("smtpd_relay_restrictions", "");
    mail_conf_override("smtpd_recipient_restrictions",
                       "permit_mynetworks, reject_unauth_destination");
    assert_string_equal(rcpt_reply("x@elsewhere.example"),
                        "554 5.7.1 <x@elsewhere.example>: Relay access denied");
    mail_conf_override("relay_domains_reject_code", "550");
    assert_string_equal(rcpt_reply("x@elsewhere.example"),
                        "550 5.7.1 <x@elsewhere.example>: Relay access denied");
}

static void test_routed_address_denied(void **state)
{
    (void) state;
    assert_string_equal(rcpt_reply("user%other.example@example.jp"),
                        "454 4.7.1 <user%other.example@example.jp>: Relay access denied");
    mail_conf_override("allow_untrusted_routing", "yes");
    mail_conf_override("smtpd_reject_unlisted_recipient", "no");
    assert_string_equal(rcpt_reply("user%other.example@example.jp"), "");
}

static void test_permit_auth_destination(void **state)
{
    (void) state;
    mail_conf_override("smtpd_relay_restrictions", "permit_auth_destination, reject");
    assert_string_equal(rcpt_reply("anyone@relay.example"), "");
    assert_string_equal(rcpt_reply("x@elsewhere.example"),
                        "554 5.7.1 <x@elsewhere.example>: Recipient address rejected: "
                        "Access denied");
}

static void test_no_relay_control_is_config_error(void **state)
{
    (void) state;
    mail_conf_override("smtpd_relay_restrictions", "permit_mynetworks");
    mail_conf_override("smtpd_recipient_restrictions", "permit_mynetworks");
    assert_string_equal(rcpt_reply("root@example.jp"), "451 4.3.5 Server configuration error");
}

/* ---- recipient validation ---- */

static void test_unknown_local_user(void **state)
{
    (void) state;
    assert_string_equal(rcpt_reply("nobody@example.jp"),
                        "550 5.1.1 <nobody@example.jp>: Recipient address rejected: "
                        "User unknown in local recipient table");
    /* Also for clients that may relay. */
    fake_mynetworks_result = 1;
    assert_string_equal(rcpt_reply("nobody@example.jp"),
                        "550 5.1.1 <nobody@example.jp>: Recipient address rejected: "
                        "User unknown in local recipient table");
    mail_conf_override("show_user_unknown_table_name", "no");
    assert_string_equal(rcpt_reply("nobody@example.jp"),
                        "550 5.1.1 <nobody@example.jp>: Recipient address rejected: "
                        "User unknown");
    mail_conf_override("smtpd_reject_unlisted_recipient", "no");
    assert_string_equal(rcpt_reply("nobody@example.jp"), "");
}

static void test_table_failure_is_temporary(void **state)
{
    (void) state;
    assert_string_equal(rcpt_reply("tempfail@example.jp"),
                        "451 4.3.0 <tempfail@example.jp>: Temporary lookup failure");
    assert_string_equal(rcpt_reply("x@fail.example"),
                        "451 4.3.0 <x@fail.example>: Temporary lookup failure");
    /* soft_bounce or not, never a 5xx for a lookup failure */
    mail_conf_override("soft_bounce", "yes");
    assert_string_equal(rcpt_reply("tempfail@example.jp"),
                        "451 4.3.0 <tempfail@example.jp>: Temporary lookup failure");
}

static void test_explicit_unlisted_recipient(void **state)
{
    (void) state;
    mail_conf_override("smtpd_reject_unlisted_recipient", "no");
    mail_conf_override("smtpd_recipient_restrictions", "reject_unlisted_recipient");
    assert_string_equal(rcpt_reply("nobody@example.jp"),
                        "550 5.1.1 <nobody@example.jp>: Recipient address rejected: "
                        "User unknown in local recipient table");
}

static void test_unlisted_sender(void **state)
{
    (void) state;
    fake_mynetworks_result = 1;
    mail_conf_override("smtpd_sender_restrictions", "reject_unlisted_sender");
    struct smtpd_check *c = request("h.example.com", "ghost@example.jp", "root@example.jp");
    assert_int_equal(smtpd_check_rcpt(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply),
                        "550 5.1.0 <ghost@example.jp>: Sender address rejected: "
                        "User unknown in local recipient table");
    smtpd_check_free(c);
}

/* ---- the evaluator ---- */

static void test_unknown_restriction(void **state)
{
    (void) state;
    mail_conf_override("smtpd_recipient_restrictions", "permit_mynetworks, frobnicate");
    assert_string_equal(rcpt_reply("root@example.jp"), "451 4.3.5 Server configuration error");
    assert_string_equal(last_whatsup, "reject");
}

static void test_warn_if_reject(void **state)
{
    (void) state;
    mail_conf_override("smtpd_relay_restrictions",
                       "warn_if_reject, reject_unauth_destination, permit");
    fake_mynetworks_result = 0;
    /* Only the warning is logged; "permit" then lets the mail through. */
    assert_string_equal(rcpt_reply("x@elsewhere.example"), "");
    assert_int_equal(log_count, 1);
    assert_string_equal(last_whatsup, "reject_warning");
    assert_string_equal(last_log, "554 5.7.1 <x@elsewhere.example>: Relay access denied");
}

static void test_warn_if_reject_applies_once(void **state)
{
    (void) state;
    mail_conf_override("smtpd_recipient_restrictions",
                       "warn_if_reject, reject_non_fqdn_recipient, reject_unauth_destination");
    assert_string_equal(rcpt_reply("x@elsewhere.example"),
                        "454 4.7.1 <x@elsewhere.example>: Relay access denied");
}

static void test_soft_bounce(void **state)
{
    (void) state;
    mail_conf_override("soft_bounce", "yes");
    mail_conf_override("smtpd_relay_restrictions", "reject_unauth_destination");
    assert_string_equal(rcpt_reply("x@elsewhere.example"),
                        "454 4.7.1 <x@elsewhere.example>: Relay access denied");
    assert_string_equal(rcpt_reply("nobody@example.jp"),
                        "450 4.1.1 <nobody@example.jp>: Recipient address rejected: "
                        "User unknown in local recipient table");
}

static void test_defer(void **state)
{
    (void) state;
    mail_conf_override("smtpd_recipient_restrictions", "defer");
    assert_string_equal(rcpt_reply("root@example.jp"),
                        "450 4.3.2 <root@example.jp>: Recipient address rejected: "
                        "Try again later");
}

static void test_restriction_class(void **state)
{
    (void) state;
    mail_conf_override("smtpd_restriction_classes", "strict");
    mail_conf_override("strict", "reject_non_fqdn_recipient, reject");
    mail_conf_override("smtpd_recipient_restrictions", "permit_mynetworks, strict");
    assert_string_equal(rcpt_reply("root"),
                        "504 5.5.2 <root>: Recipient address rejected: "
                        "need fully-qualified address");
    assert_string_equal(rcpt_reply("root@example.jp"),
                        "554 5.7.1 <root@example.jp>: Recipient address rejected: Access denied");
    fake_mynetworks_result = 1;
    assert_string_equal(rcpt_reply("root@example.jp"), "");
}

static void test_class_loop_is_config_error(void **state)
{
    (void) state;
    mail_conf_override("smtpd_restriction_classes", "loop");
    mail_conf_override("loop", "loop");
    mail_conf_override("smtpd_recipient_restrictions", "loop, reject_unauth_destination");
    assert_string_equal(rcpt_reply("root@example.jp"), "451 4.3.5 Server configuration error");
}

static void test_delay_reject_client_list(void **state)
{
    (void) state;
    mail_conf_override("smtpd_client_restrictions", "permit_mynetworks, reject");
    assert_string_equal(rcpt_reply("root@example.jp"),
                        "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied");
    fake_mynetworks_result = 1;
    assert_string_equal(rcpt_reply("root@example.jp"), "");
    /* Without delay_reject the client list is not part of RCPT. */
    fake_mynetworks_result = 0;
    mail_conf_override("smtpd_delay_reject", "no");
    assert_string_equal(rcpt_reply("root@example.jp"), "");
    struct smtpd_check *c = request(0, 0, 0);
    assert_int_equal(smtpd_check_client(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply),
                        "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied");
    smtpd_check_free(c);
}

static void test_helo_restrictions(void **state)
{
    (void) state;
    struct smtpd_check *c;

    mail_conf_override("smtpd_helo_restrictions",
                       "reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname");
    c = request("localhost", 0, 0);
    assert_int_equal(smtpd_check_helo(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply),
                        "504 5.5.2 <localhost>: Helo command rejected: "
                        "need fully-qualified hostname");
    smtpd_check_free(c);

    c = request("bad_name!.example", 0, 0);
    assert_int_equal(smtpd_check_helo(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply),
                        "501 5.5.2 <bad_name!.example>: Helo command rejected: Invalid name");
    smtpd_check_free(c);

    c = request("[192.0.2.1]", 0, 0);
    assert_int_not_equal(smtpd_check_helo(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);

    c = request("mail.example.com", 0, 0);
    assert_int_not_equal(smtpd_check_helo(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);

    /* No HELO at all: nothing to check. */
    c = request(0, 0, 0);
    assert_int_not_equal(smtpd_check_helo(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);
}

static void test_sender_restrictions(void **state)
{
    (void) state;
    struct smtpd_check *c;

    mail_conf_override("smtpd_sender_restrictions", "reject_non_fqdn_sender");
    c = request("h.example.com", "user", 0);
    assert_int_equal(smtpd_check_mail(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply),
                        "504 5.5.2 <user>: Sender address rejected: need fully-qualified address");
    smtpd_check_free(c);
    c = request("h.example.com", "", 0);           /* the null sender is fine */
    assert_int_not_equal(smtpd_check_mail(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);
    c = request("h.example.com", "user@[192.0.2.7]", 0);
    assert_int_not_equal(smtpd_check_mail(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);
}

/* ---- extension: a registered restriction with an argument ---- */

static char seen_arg[128];

static int r_check_test_access(struct smtpd_check *c, const char *name, const char *arg)
{
    (void) name;
    snprintf(seen_arg, sizeof(seen_arg), "%s", arg);
    if (strcmp(arg, "inline:{deny=1}") == 0)
        return smtpd_check_reject(c, 554, "5.7.1", "<%s>: %s rejected: Test says no",
                                  c->reply_name, c->reply_class);
    return SMTPD_CHECK_DUNNO;
}

static const struct smtpd_restriction test_table[] = {
    {"check_test_access", SMTPD_R_ARG, r_check_test_access},
    {0, 0, 0},
};

static void test_registered_restriction(void **state)
{
    (void) state;
    static bool registered;
    if (!registered)
        smtpd_check_register(test_table);
    registered = true;
    mail_conf_override("smtpd_recipient_restrictions",
                       "check_test_access inline:{ok=1}, check_test_access inline:{deny=1}, "
                       "reject_unauth_destination");
    assert_string_equal(rcpt_reply("root@example.jp"),
                        "554 5.7.1 <root@example.jp>: Recipient address rejected: Test says no");
    assert_string_equal(seen_arg, "inline:{deny=1}");

    /* A missing argument is a configuration error. */
    mail_conf_override("smtpd_recipient_restrictions",
                       "reject_unauth_destination, check_test_access");
    assert_string_equal(rcpt_reply("root@example.jp"), "451 4.3.5 Server configuration error");
}

static void test_vrfy_and_data(void **state)
{
    (void) state;
    struct smtpd_check *c = request(0, 0, "nobody@example.jp");
    assert_int_equal(smtpd_check_vrfy(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);
    c = request(0, 0, "x@elsewhere.example");       /* VRFY does not check relaying */
    assert_int_not_equal(smtpd_check_vrfy(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);

    mail_conf_override("smtpd_data_restrictions", "reject");
    c = request(0, "a@b.example", 0);
    assert_int_equal(smtpd_check_data(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply),
                        "554 5.7.1 <DATA>: Data command rejected: Access denied");
    smtpd_check_free(c);
}


/* ---- deferrals, stages, reply hygiene ---- */

static void test_defer_if_permit_carried_to_rcpt(void **state)
{
    (void) state;
    /* Armed in the client list (at RCPT time), given at the end of RCPT. */
    mail_conf_override("smtpd_client_restrictions", "defer_if_permit");
    assert_string_equal(rcpt_reply("root@example.jp"),
                        "451 4.7.0 <unknown[192.0.2.1]>: Client host rejected: "
                        "defer_if_permit requested");
    /* ... unless something rejects. */
    assert_string_equal(rcpt_reply("x@elsewhere.example"),
                        "454 4.7.1 <x@elsewhere.example>: Relay access denied");
    /* warn_if_reject turns it into a warning only. */
    mail_conf_override("smtpd_client_restrictions", "warn_if_reject, defer_if_permit");
    log_count = 0;
    assert_string_equal(rcpt_reply("root@example.jp"), "");
    assert_string_equal(last_whatsup, "reject_warning");
    assert_int_equal(log_count, 1);
}

static void test_defer_if_reject(void **state)
{
    (void) state;
    mail_conf_override("smtpd_recipient_restrictions", "defer_if_reject, reject");
    assert_string_equal(rcpt_reply("root@example.jp"),
                        "451 4.7.0 <root@example.jp>: Recipient address rejected: "
                        "defer_if_reject requested");
    /* A temporary rejection stays what it is. */
    mail_conf_override("smtpd_recipient_restrictions", "defer_if_reject, defer");
    assert_string_equal(rcpt_reply("root@example.jp"),
                        "450 4.3.2 <root@example.jp>: Recipient address rejected: "
                        "Try again later");
    /* It does not carry over to the next stage. */
    mail_conf_override("smtpd_client_restrictions", "defer_if_reject");
    mail_conf_override("smtpd_recipient_restrictions", "reject");
    assert_string_equal(rcpt_reply("root@example.jp"),
                        "554 5.7.1 <root@example.jp>: Recipient address rejected: "
                        "Access denied");
}

static void test_defer_if_permit_before_unlisted(void **state)
{
    (void) state;
    /* The deferral is the answer even for an unknown user. */
    mail_conf_override("smtpd_recipient_restrictions", "defer_if_permit");
    assert_string_equal(rcpt_reply("nobody@example.jp"),
                        "451 4.7.0 <nobody@example.jp>: Recipient address rejected: "
                        "defer_if_permit requested");
}

static void test_dsn_fix(void **state)
{
    (void) state;
    char out[16];
    smtpd_check_dsn_fix("5.1.1", SMTPD_NAME_SENDER, out);
    assert_string_equal(out, "5.1.0");
    smtpd_check_dsn_fix("4.1.2", SMTPD_NAME_SENDER, out);
    assert_string_equal(out, "4.1.8");
    smtpd_check_dsn_fix("5.1.7", SMTPD_NAME_RECIPIENT, out);
    assert_string_equal(out, "5.1.3");
    smtpd_check_dsn_fix("5.1.8", SMTPD_NAME_RECIPIENT, out);
    assert_string_equal(out, "5.1.2");
    smtpd_check_dsn_fix("5.1.1", SMTPD_NAME_RECIPIENT, out);
    assert_string_equal(out, "5.1.1");
    smtpd_check_dsn_fix("4.1.1", SMTPD_NAME_CLIENT, out);
    assert_string_equal(out, "4.0.0");
    smtpd_check_dsn_fix("5.7.1", SMTPD_NAME_SENDER, out);
    assert_string_equal(out, "5.7.1");
    smtpd_check_dsn_fix("5.1.10", SMTPD_NAME_SENDER, out);   /* not X.1.Y: untouched */
    assert_string_equal(out, "5.1.10");
}

static void test_reply_hygiene(void **state)
{
    (void) state;
    struct smtpd_check *c = request("h.example.com", "a@b.example", "root@example.jp");
    /* A code outside 4xx/5xx from the configuration. */
    assert_int_equal(smtpd_check_reject(c, 250, "2.0.0", "fine"), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "450 4.7.1 Service unavailable");
    /* The status class follows the reply code; control characters go. */
    assert_int_equal(smtpd_check_reject(c, 450, "5.7.1", "a\r\nb"), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "450 4.7.1 a  b");
    /* At most 510 bytes. */
    char long_text[1000];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = 0;
    smtpd_check_reject(c, 554, "5.7.1", "%s", long_text);
    assert_int_equal(c->reply.len, 510);
    smtpd_check_free(c);
}

static void test_generic_restrictions(void **state)
{
    (void) state;
    struct smtpd_check *c;

    /* reject_unauth_pipelining only after the client pipelined. */
    mail_conf_override("smtpd_data_restrictions", "reject_unauth_pipelining");
    c = request(0, "a@b.example", 0);
    assert_int_not_equal(smtpd_check_data(c), SMTPD_CHECK_REJECT);
    c->unauth_pipelining = true;
    assert_int_equal(smtpd_check_data(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "503 5.5.0 <DATA>: Data command rejected: "
                        "Improper use of SMTP command pipelining");
    smtpd_check_free(c);

    /* reject_multi_recipient_bounce: null sender, more than one recipient. */
    mail_conf_override("smtpd_data_restrictions", "reject_multi_recipient_bounce");
    c = request(0, "", 0);
    c->stage = "DATA";
    c->rcpt_count = 1;
    assert_int_not_equal(smtpd_check_data(c), SMTPD_CHECK_REJECT);
    c->rcpt_count = 2;
    assert_int_equal(smtpd_check_data(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "550 5.5.3 <DATA>: Data command rejected: "
                        "Multi-recipient bounce");
    c->sender = "a@b.example";
    assert_int_not_equal(smtpd_check_data(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);

    /* reject_plaintext_session */
    mail_conf_override("smtpd_data_restrictions", "reject_plaintext_session");
    c = request(0, "a@b.example", 0);
    assert_int_equal(smtpd_check_data(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "450 4.7.1 Session encryption is required");
    c->tls = true;
    assert_int_not_equal(smtpd_check_data(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);

    /* sleep needs a number. */
    mail_conf_override("smtpd_data_restrictions", "sleep x");
    c = request(0, "a@b.example", 0);
    assert_int_equal(smtpd_check_data(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply), "451 4.3.5 Server configuration error");
    mail_conf_override("smtpd_data_restrictions", "sleep 0, permit");
    assert_int_not_equal(smtpd_check_data(c), SMTPD_CHECK_REJECT);
    smtpd_check_free(c);
}

static void test_end_of_data_and_discard(void **state)
{
    (void) state;
    struct smtpd_actions acts;
    smtpd_actions_init(&acts);

    mail_conf_override("smtpd_end_of_data_restrictions", "reject");
    struct smtpd_check *c = request(0, "a@b.example", 0);
    assert_int_equal(smtpd_check_eod(c), SMTPD_CHECK_REJECT);
    assert_string_equal(sbuf_str(&c->reply),
                        "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied");
    /* A message that is being discarded is not checked any more. */
    c->actions = &acts;
    acts.discard = xstrdup("gone");
    assert_int_equal(smtpd_check_eod(c), SMTPD_CHECK_DUNNO);
    c->recipient = "x@elsewhere.example";
    assert_int_equal(smtpd_check_rcpt(c), SMTPD_CHECK_DUNNO);
    smtpd_check_free(c);
    smtpd_actions_free(&acts);
    assert_null(acts.discard);
    assert_int_equal(acts.bcc.n, 0);
}

int main(void)
{
    if (!mkdtemp(confdir))
        return 1;
    msg_init("test_smtpd_check", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_default_relay_denied, setup),
        cmocka_unit_test_setup(test_mynetworks_may_relay, setup),
        cmocka_unit_test_setup(test_own_and_relay_domains_accepted, setup),
        cmocka_unit_test_setup(test_reject_unauth_destination, setup),
        cmocka_unit_test_setup(test_routed_address_denied, setup),
        cmocka_unit_test_setup(test_permit_auth_destination, setup),
        cmocka_unit_test_setup(test_no_relay_control_is_config_error, setup),
        cmocka_unit_test_setup(test_unknown_local_user, setup),
        cmocka_unit_test_setup(test_table_failure_is_temporary, setup),
        cmocka_unit_test_setup(test_explicit_unlisted_recipient, setup),
        cmocka_unit_test_setup(test_unlisted_sender, setup),
        cmocka_unit_test_setup(test_unknown_restriction, setup),
        cmocka_unit_test_setup(test_warn_if_reject, setup),
        cmocka_unit_test_setup(test_warn_if_reject_applies_once, setup),
        cmocka_unit_test_setup(test_soft_bounce, setup),
        cmocka_unit_test_setup(test_defer, setup),
        cmocka_unit_test_setup(test_restriction_class, setup),
        cmocka_unit_test_setup(test_class_loop_is_config_error, setup),
        cmocka_unit_test_setup(test_delay_reject_client_list, setup),
        cmocka_unit_test_setup(test_helo_restrictions, setup),
        cmocka_unit_test_setup(test_sender_restrictions, setup),
        cmocka_unit_test_setup(test_registered_restriction, setup),
        cmocka_unit_test_setup(test_vrfy_and_data, setup),
        cmocka_unit_test_setup(test_defer_if_permit_carried_to_rcpt, setup),
        cmocka_unit_test_setup(test_defer_if_reject, setup),
        cmocka_unit_test_setup(test_defer_if_permit_before_unlisted, setup),
        cmocka_unit_test_setup(test_dsn_fix, setup),
        cmocka_unit_test_setup(test_reply_hygiene, setup),
        cmocka_unit_test_setup(test_generic_restrictions, setup),
        cmocka_unit_test_setup(test_end_of_data_and_discard, setup),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    rmdir(confdir);
    return rc;
}
