/*
 * test_smtpd_policy.c - check_policy_service (src/smtpd/smtpd_policy.c):
 * the per-service settings syntax, the request attributes, and a whole
 * exchange with a policy server on a UNIX socket (a forked child that
 * answers from a script), including a server that breaks the protocol and
 * one that is not there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "util/msg.h"

#include "smtpd/smtpd_access.c"
#include "smtpd/smtpd_check.c"
#include "smtpd/smtpd_policy.c"

static char confdir[] = "/tmp/hk-test-policy-XXXXXX";
static char last_whatsup[64];

static void fake_log(void *ctx, const char *whatsup, const char *reply)
{
    (void) ctx;
    (void) reply;
    snprintf(last_whatsup, sizeof(last_whatsup), "%s", whatsup);
}

static const struct smtpd_check_ops fake_ops = {.log = fake_log};

static int setup(void **state)
{
    (void) state;
    mail_conf_load(confdir);
    mail_conf_override("smtpd_policy_service_retry_delay", "1s");
    return 0;
}

static void test_settings(void **state)
{
    (void) state;
    struct policy_conf pc;

    assert_int_equal(conf_parse("inet:127.0.0.1:9998", &pc), 0);
    assert_string_equal(pc.endpoint, "inet:127.0.0.1:9998");
    assert_int_equal(pc.timeout, 100);
    assert_int_equal(pc.try_limit, 2);
    assert_string_equal(pc.default_action, "451 4.3.5 Server configuration problem");
    conf_free(&pc);

    /* The list form, as mail_conf_list hands it over (outer braces gone). */
    assert_int_equal(conf_parse(" inet:host:1, timeout=10s, default_action=DUNNO "
                                "policy_context=submission ", &pc), 0);
    assert_string_equal(pc.endpoint, "inet:host:1");
    assert_int_equal(pc.timeout, 10);
    assert_string_equal(pc.default_action, "DUNNO");
    assert_string_equal(pc.policy_context, "submission");
    conf_free(&pc);
    assert_int_equal(conf_parse("unix:private/policy, { default_action = 451 4.3.5 See "
                                "the web }, max_idle=1m, request_limit=5, try_limit=3", &pc), 0);
    assert_string_equal(pc.default_action, "451 4.3.5 See the web");
    assert_int_equal(pc.max_idle, 60);
    assert_int_equal(pc.request_limit, 5);
    assert_int_equal(pc.try_limit, 3);
    conf_free(&pc);

    /* Bad settings. */
    assert_int_equal(conf_parse("inet:h:1, frobnicate=1", &pc), -1);
    conf_free(&pc);
    assert_int_equal(conf_parse("inet:h:1, timeout=soon", &pc), -1);
    conf_free(&pc);
    assert_int_equal(conf_parse("inet:h:1, try_limit", &pc), -1);
    conf_free(&pc);
    assert_int_equal(conf_parse("", &pc), -1);
    conf_free(&pc);
}

static void test_request(void **state)
{
    (void) state;
    struct smtpd_check c;
    struct policy_conf pc;
    sbuf req = SBUF_INIT;

    smtpd_check_init(&c, &fake_ops, 0);
    c.stage = "RCPT";
    c.protocol = "ESMTP";
    c.helo = "bad\r\nhelo";
    c.sender = "";
    c.recipient = "a@b.example";
    c.client_addr = "192.0.2.1";
    c.client_name = "unknown";
    c.instance = "1.2.3";
    c.size = 1234;
    assert_int_equal(conf_parse("inet:h:1, policy_context=ctx", &pc), 0);
    build_request(&c, &pc, &req);
    const char *r = sbuf_str(&req);
    assert_non_null(strstr(r, "request=smtpd_access_policy\n"));
    assert_non_null(strstr(r, "protocol_state=RCPT\n"));
    assert_non_null(strstr(r, "protocol_name=ESMTP\n"));
    assert_non_null(strstr(r, "helo_name=bad  helo\n"));     /* no line breaks inside */
    assert_non_null(strstr(r, "sender=\n"));
    assert_non_null(strstr(r, "recipient=a@b.example\n"));
    assert_non_null(strstr(r, "recipient_count=0\n"));
    assert_non_null(strstr(r, "client_address=192.0.2.1\n"));
    assert_non_null(strstr(r, "instance=1.2.3\n"));
    assert_non_null(strstr(r, "size=1234\n"));
    assert_non_null(strstr(r, "policy_context=ctx\n"));
    assert_true(req.len >= 2 && strcmp(r + req.len - 2, "\n\n") == 0);
    /* At DATA with several recipients: no recipient, and the count. */
    c.stage = "DATA";
    c.rcpt_count = 2;
    build_request(&c, &pc, &req);
    assert_non_null(strstr(sbuf_str(&req), "recipient=\n"));
    assert_non_null(strstr(sbuf_str(&req), "recipient_count=2\n"));
    conf_free(&pc);
    sbuf_free(&req);
    smtpd_check_free(&c);
}

/* A policy server on path that answers each request with the next line of
 * script ("" closes the connection without answering). */
static pid_t serve_script(const char *path, const char *const *script)
{
    int lfd = sock_listen_unix(path, 4, 0600);
    assert_true(lfd >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        sock_set_nonblock(lfd, 0);
        int i = 0;
        while (script[i]) {
            int fd = sock_accept(lfd, 0, 0);
            if (fd < 0)
                _exit(1);
            vstream *s = vstream_open(fd);
            vstream_set_timeout(s, 10000);
            sbuf line = SBUF_INIT;
            for (;;) {
                int how = vstream_get_line(s, &line, 4096);
                if (how == VSTREAM_LINE_EOF || how == VSTREAM_LINE_ERR)
                    break;
                if (line.len)
                    continue;
                const char *answer = script[i++];
                if (!answer || !*answer)
                    break;
                vstream_printf(s, "%s\n\n", answer);
                vstream_flush(s);
            }
            vstream_close(s);
            sbuf_free(&line);
        }
        _exit(0);
    }
    close(lfd);
    return pid;
}

static const char *rcpt_with_policy(const char *spec)
{
    static char out[600];
    char restrictions[700];
    snprintf(restrictions, sizeof(restrictions), "check_policy_service %s, permit", spec);
    /* Relay control is required; "permit" first lets everything through. */
    mail_conf_override("smtpd_relay_restrictions", "permit, reject");
    mail_conf_override("smtpd_recipient_restrictions", restrictions);
    mail_conf_override("smtpd_reject_unlisted_recipient", "no");
    struct smtpd_check c;
    smtpd_check_init(&c, &fake_ops, 0);
    c.stage = "RCPT";
    c.sender = "a@b.example";
    c.recipient = "x@y.example";
    int status = smtpd_check_rcpt(&c);
    snprintf(out, sizeof(out), "%s", status == SMTPD_CHECK_REJECT ? sbuf_str(&c.reply)
             : "accepted");
    smtpd_check_free(&c);
    return out;
}

static void test_exchange(void **state)
{
    (void) state;
    char path[300], spec[400];
    snprintf(path, sizeof(path), "%s/policy", confdir);
    snprintf(spec, sizeof(spec), "unix:%s", path);
    static const char *const script[] = {
        "action=REJECT not you",
        "action=DEFER_IF_PERMIT greylisted",
        "action=OK",
        "no action here",           /* broken reply: retried on a new connection */
        "action=DUNNO",
        0,
    };
    pid_t pid = serve_script(path, script);
    assert_string_equal(rcpt_with_policy(spec),
                        "554 5.7.1 <x@y.example>: Recipient address rejected: not you");
    assert_string_equal(rcpt_with_policy(spec),
                        "450 4.7.1 <x@y.example>: Recipient address rejected: greylisted");
    assert_string_equal(rcpt_with_policy(spec), "accepted");
    /* Then the server breaks the protocol; the retry gets DUNNO and the list
     * goes on to "permit". */
    assert_string_equal(rcpt_with_policy(spec), "accepted");
    int ws;
    conn_close(conn_for(spec));
    waitpid(pid, &ws, 0);

    /* Nobody there: the default action after try_limit attempts. */
    unlink(path);
    assert_string_equal(rcpt_with_policy(spec), "451 4.3.5 <x@y.example>: Recipient address "
                        "rejected: Server configuration problem");
    char dunno[500];
    snprintf(dunno, sizeof(dunno), "{ %s, default_action=DUNNO, try_limit=1 }", spec);
    assert_string_equal(rcpt_with_policy(dunno), "accepted");
    /* An endpoint that is not inet: or unix:. */
    assert_string_equal(rcpt_with_policy("{ tcp:host:1, try_limit=1 }"),
                        "451 4.3.5 <x@y.example>: Recipient address rejected: Server "
                        "configuration problem");
    assert_string_equal(rcpt_with_policy("{ inet:h:1, bogus=1 }"),
                        "451 4.3.5 Server configuration error");
}

int main(void)
{
    if (!mkdtemp(confdir))
        return 1;
    signal(SIGPIPE, SIG_IGN);
    alarm(120);
    msg_init("test_smtpd_policy", MSG_TO_STDERR);
    smtpd_policy_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_settings, setup),
        cmocka_unit_test_setup(test_request, setup),
        cmocka_unit_test_setup(test_exchange, setup),
    };
    int rc = cmocka_run_group_tests(tests, 0, 0);
    char path[300];
    snprintf(path, sizeof(path), "%s/policy", confdir);
    unlink(path);
    rmdir(confdir);
    return rc;
}
