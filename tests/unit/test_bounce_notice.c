/* test_bounce_notice.c - unit tests for the bounce service's RFC 3464 notice
 * composition (src/bounce/bounce_notice.c and bounce_queue.c, compiled in). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bounce/bounce_notice.c"
#include "bounce/bounce_queue.c"
#include "mail/mail_conf.h"
#include "mail/qfile.h"

static char qdir[256];
static char qid[64];

static const char *HEADERS[] = {
    "Received: from client.example.jp (client.example.jp [192.0.2.9])\n\tby mail.example.jp\n",
    "From: Sender <sender@example.jp>\n",
    "Subject: hello\n",
};
static const char BODY[] = "first body line\n--not-a-boundary\nlast line\n";

static int setup(void **state)
{
    (void) state;
    snprintf(qdir, sizeof(qdir), "/tmp/hk-bounce-XXXXXX");
    if (!mkdtemp(qdir))
        return -1;
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/active", qdir);
    mkdir(sub, 0700);
    mail_conf_override("queue_directory", qdir);

    qfile *q = qfile_create("active", qid, sizeof(qid));
    if (!q)
        return -1;
    struct qfile_sizes sz = {0, 0, 0, 1, QFILE_FL_8BITMIME};
    char s[QFILE_SIZE_LEN];
    qfile_format_sizes(&sz, s);
    qfile_put(q, QREC_SIZE, s, sizeof(s));
    qfile_puts(q, QREC_TIME, "1700000000.5");
    qfile_puts(q, QREC_SENDER, "sender@example.jp");
    qfile_puts(q, QREC_ATTR, "dsn_envid=ENV-42");
    qfile_puts(q, QREC_RCPT, "a@remote.example");
    sz.content_offset = (uint64_t) qfile_tell(q);
    qfile_put(q, QREC_CONTENT, "", 0);
    for (size_t i = 0; i < 3; i++) {
        qfile_puts(q, QREC_HEADER, HEADERS[i]);
        sz.content_size += strlen(HEADERS[i]);
    }
    qfile_puts(q, QREC_BODY, BODY);
    sz.content_size += strlen(BODY) + 1;
    sz.extracted_offset = (uint64_t) qfile_tell(q);
    qfile_put(q, QREC_EXTRACTED, "", 0);
    qfile_set_sizes(q, &sz);
    if (qfile_commit(q, false) < 0)
        return -1;
    qfile_close(q);
    return 0;
}

static int teardown(void **state)
{
    (void) state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int to_sbuf(void *ctx, const void *buf, size_t len)
{
    sbuf_add(ctx, buf, len);
    return 0;
}

static struct dsn_rec failed_rec(void)
{
    struct dsn_rec r;
    memset(&r, 0, sizeof(r));
    r.recipient = "a@remote.example";
    r.orig_recipient = "alias@example.jp";
    r.dsn_orcpt = "rfc822;alias@example.jp";
    snprintf(r.status, sizeof(r.status), "5.1.1");
    r.action = "failed";
    r.reason = "host mx.remote.example[192.0.2.7] said: 550 5.1.1 <a@remote.example>: "
               "User unknown (in reply to RCPT TO command)";
    r.relay = "mx.remote.example[192.0.2.7]:25";
    r.time = 1700000100;
    return r;
}

static void compose(struct bounce_msg *m, const struct dsn_rec *r, size_t n, bool headers_only,
                    enum bounce_notice_kind kind, sbuf *out)
{
    sbuf why = SBUF_INIT;
    assert_int_equal(bounce_msg_read("active", qid, m, &why), 0);
    const struct dsn_rec *recs[4];
    for (size_t i = 0; i < n; i++)
        recs[i] = &r[i];
    struct bounce_notice nt = {
        .kind = kind,
        .to = m->sender,
        .notice_id = "NOTICE1",
        .myhostname = "mail.example.jp",
        .mail_name = "Hikyaku",
        .now = 1700000200,
        .lifetime = 5 * 86400,
        .headers_only = headers_only,
        .msg = m,
        .recs = recs,
        .nrecs = n,
    };
    assert_int_equal(bounce_notice_write(&nt, to_sbuf, out, &why), 0);
    sbuf_free(&why);
}

static void test_envelope(void **state)
{
    (void) state;
    struct bounce_msg m;
    sbuf why = SBUF_INIT;
    assert_int_equal(bounce_msg_read("active", qid, &m, &why), 0);
    assert_string_equal(m.sender, "sender@example.jp");
    assert_string_equal(m.dsn_envid, "ENV-42");
    assert_int_equal(m.arrival, 1700000000);
    bounce_msg_free(&m);
    assert_int_equal(bounce_msg_read("active", "NOSUCH", &m, &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "NOSUCH"));
    bounce_msg_free(&m);
    sbuf_free(&why);
}

static void test_failure_notice(void **state)
{
    (void) state;
    struct bounce_msg m;
    struct dsn_rec r = failed_rec();
    sbuf out = SBUF_INIT;
    compose(&m, &r, 1, false, NOTICE_FAILURE, &out);
    const char *t = sbuf_str(&out);
    assert_non_null(strstr(t, "From: MAILER-DAEMON@mail.example.jp (Mail Delivery System)\n"));
    assert_non_null(strstr(t, "To: sender@example.jp\n"));
    assert_non_null(strstr(t, "Subject: Undelivered Mail Returned to Sender\n"));
    assert_non_null(strstr(t, "Auto-Submitted: auto-replied\n"));
    assert_non_null(strstr(t, "Content-Type: multipart/report; report-type=delivery-status;"));
    assert_non_null(strstr(t, "Content-Transfer-Encoding: 8bit\n"));
    /* human part names the recipient and the reason */
    assert_non_null(strstr(t, "<a@remote.example> (expanded from <alias@example.jp>): host "
                              "mx.remote.example[192.0.2.7] said: 550 5.1.1"));
    /* delivery-status fields */
    assert_non_null(strstr(t, "Content-Type: message/delivery-status\n"));
    assert_non_null(strstr(t, "Original-Envelope-Id: ENV-42\n"));
    assert_non_null(strstr(t, "Reporting-MTA: dns; mail.example.jp\n"));
    assert_non_null(strstr(t, "X-Postfix-Queue-ID: "));
    assert_non_null(strstr(t, "X-Postfix-Sender: rfc822; sender@example.jp\n"));
    assert_non_null(strstr(t, "Arrival-Date: "));
    assert_non_null(strstr(t, "Final-Recipient: rfc822; a@remote.example\n"));
    assert_non_null(strstr(t, "Original-Recipient: rfc822; alias@example.jp\n"));
    assert_non_null(strstr(t, "Action: failed\n"));
    assert_non_null(strstr(t, "Status: 5.1.1\n"));
    assert_non_null(strstr(t, "Remote-MTA: dns; mx.remote.example\n"));
    assert_non_null(strstr(t, "Diagnostic-Code: smtp; 550 5.1.1 <a@remote.example>: User "
                              "unknown\n"));
    /* the original, with the empty line the queue file leaves out */
    assert_non_null(strstr(t, "Content-Type: message/rfc822\n"));
    assert_non_null(strstr(t, "Subject: hello\n\nfirst body line\n--not-a-boundary\nlast "
                              "line\n"));
    assert_non_null(strstr(t, "\n--NOTICE1.1700000200/mail.example.jp--\n"));
    bounce_msg_free(&m);
    sbuf_free(&out);
}

static void test_headers_only(void **state)
{
    (void) state;
    struct bounce_msg m;
    struct dsn_rec r = failed_rec();
    sbuf out = SBUF_INIT;
    compose(&m, &r, 1, true, NOTICE_FAILURE, &out);
    const char *t = sbuf_str(&out);
    assert_non_null(strstr(t, "Content-Type: text/rfc822-headers\n"));
    assert_null(strstr(t, "message/rfc822"));
    assert_non_null(strstr(t, "Subject: hello\n"));
    assert_null(strstr(t, "first body line"));
    bounce_msg_free(&m);
    sbuf_free(&out);
}

static void test_local_diagnostic_and_injection(void **state)
{
    (void) state;
    struct bounce_msg m;
    struct dsn_rec r = failed_rec();
    r.reason = "mailbox full\r\nFinal-Recipient: rfc822; forged@example.jp";
    r.relay = "local";
    r.dsn_orcpt = "";
    r.orig_recipient = "";
    sbuf out = SBUF_INIT;
    compose(&m, &r, 1, true, NOTICE_FAILURE, &out);
    const char *t = sbuf_str(&out);
    assert_non_null(strstr(t, "Diagnostic-Code: X-Postfix; mailbox full  Final-Recipient: "));
    assert_null(strstr(t, "\nFinal-Recipient: rfc822; forged"));
    assert_null(strstr(t, "Remote-MTA"));
    assert_null(strstr(t, "Original-Recipient"));
    bounce_msg_free(&m);
    sbuf_free(&out);
}

static void test_explicit_diag_and_delay(void **state)
{
    (void) state;
    struct bounce_msg m;
    struct dsn_rec r = failed_rec();
    snprintf(r.status, sizeof(r.status), "4.4.1");
    r.diag_type = "smtp";
    r.diag_text = "421 4.4.1 try later";
    sbuf out = SBUF_INIT;
    compose(&m, &r, 1, true, NOTICE_DELAY, &out);
    const char *t = sbuf_str(&out);
    assert_non_null(strstr(t, "Subject: Delayed Mail (still being retried)\n"));
    assert_non_null(strstr(t, "Action: delayed\n"));
    assert_non_null(strstr(t, "Diagnostic-Code: smtp; 421 4.4.1 try later\n"));
    assert_non_null(strstr(t, "Will-Retry-Until: "));
    assert_non_null(strstr(t, "warning only"));
    bounce_msg_free(&m);
    sbuf_free(&out);
}

static void test_remote_mta(void **state)
{
    (void) state;
    sbuf v = SBUF_INIT;
    bounce_remote_mta("mx.example.jp[192.0.2.1]:25", &v);
    assert_string_equal(sbuf_str(&v), "dns; mx.example.jp");
    bounce_remote_mta("none", &v);
    assert_string_equal(sbuf_str(&v), "");
    bounce_remote_mta("[192.0.2.1]", &v);
    assert_string_equal(sbuf_str(&v), "");
    bounce_remote_mta(0, &v);
    assert_string_equal(sbuf_str(&v), "");
    sbuf_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_failure_notice),
        cmocka_unit_test(test_headers_only),
        cmocka_unit_test(test_local_diagnostic_and_injection),
        cmocka_unit_test(test_explicit_diag_and_delay),
        cmocka_unit_test(test_remote_mta),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
