/* test_dsn_log.c - unit tests for mail/dsn_log (per-message status logs) and
 * mail/dsn_util (status code splitting). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/dsn_log.h"
#include "mail/dsn_util.h"
#include "mail/mail_conf.h"
#include "mail/queue_dirs.h"
#include "util/sbuf.h"

static char qdir[256];

static int setup(void **state)
{
    (void) state;
    snprintf(qdir, sizeof(qdir), "/tmp/hk-dsnlog-XXXXXX");
    if (!mkdtemp(qdir))
        return -1;
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/defer", qdir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof(sub), "%s/bounce", qdir);
    mkdir(sub, 0700);
    mail_conf_override("queue_directory", qdir);
    return 0;
}

static int teardown(void **state)
{
    (void) state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qdir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct dsn_rec rec(const char *rcpt, const char *status, const char *reason)
{
    struct dsn_rec r;
    memset(&r, 0, sizeof(r));
    r.recipient = rcpt;
    r.orig_recipient = "orig@example.jp";
    r.dsn_orcpt = "rfc822;orig@example.jp";
    r.notify = 6;
    r.offset = 1234;
    snprintf(r.status, sizeof(r.status), "%s", status);
    r.action = "delayed";
    r.reason = reason;
    r.relay = "mx.example.jp[192.0.2.1]:25";
    r.time = 1700000000;
    return r;
}

static void test_append_read_roundtrip(void **state)
{
    (void) state;
    struct dsn_rec r[2] = {rec("a@example.jp", "4.4.1", "connect to mx: Connection refused"),
                           rec("b@example.jp", "4.2.2", "mailbox full")};
    r[1].relay = 0;         /* NULL is written as "" */
    r[1].diag_type = "smtp";
    r[1].diag_text = "452 4.2.2 over quota";
    assert_int_equal(dsn_log_append(DSN_LOG_DEFER, "ABC123", r, 2, true), 0);
    assert_true(dsn_log_exists(DSN_LOG_DEFER, "ABC123"));
    dsn_log l = DSN_LOG_INIT;
    sbuf why = SBUF_INIT;
    assert_int_equal(dsn_log_read(DSN_LOG_DEFER, "ABC123", &l, &why), 2);
    assert_string_equal(l.rec[0].recipient, "a@example.jp");
    assert_string_equal(l.rec[0].orig_recipient, "orig@example.jp");
    assert_string_equal(l.rec[0].dsn_orcpt, "rfc822;orig@example.jp");
    assert_int_equal(l.rec[0].notify, 6);
    assert_int_equal(l.rec[0].offset, 1234);
    assert_string_equal(l.rec[0].status, "4.4.1");
    assert_string_equal(l.rec[0].action, "delayed");
    assert_string_equal(l.rec[0].reason, "connect to mx: Connection refused");
    assert_string_equal(l.rec[0].relay, "mx.example.jp[192.0.2.1]:25");
    assert_string_equal(l.rec[0].diag_type, "");
    assert_int_equal(l.rec[0].time, 1700000000);
    assert_string_equal(l.rec[1].relay, "");
    assert_string_equal(l.rec[1].diag_text, "452 4.2.2 over quota");
    dsn_log_free(&l);
    assert_int_equal(l.n, 0);
    assert_int_equal(dsn_log_delete(DSN_LOG_DEFER, "ABC123"), 0);
    assert_false(dsn_log_exists(DSN_LOG_DEFER, "ABC123"));
    /* Deleting twice is fine. */
    assert_int_equal(dsn_log_delete(DSN_LOG_DEFER, "ABC123"), 0);
    sbuf_free(&why);
}

static void test_last_record_wins(void **state)
{
    (void) state;
    struct dsn_rec r1 = rec("a@example.jp", "4.4.1", "first try");
    struct dsn_rec r2 = rec("b@example.jp", "4.4.1", "other");
    struct dsn_rec r3 = rec("a@example.jp", "4.7.0", "second try");
    assert_int_equal(dsn_log_append(DSN_LOG_DEFER, "LAST1", &r1, 1, false), 0);
    assert_int_equal(dsn_log_append(DSN_LOG_DEFER, "LAST1", &r2, 1, false), 0);
    assert_int_equal(dsn_log_append(DSN_LOG_DEFER, "LAST1", &r3, 1, false), 0);
    dsn_log l = DSN_LOG_INIT;
    assert_int_equal(dsn_log_read(DSN_LOG_DEFER, "LAST1", &l, 0), 3);
    const struct dsn_rec *f = dsn_log_find(&l, "a@example.jp");
    assert_non_null(f);
    assert_string_equal(f->reason, "second try");
    assert_string_equal(f->status, "4.7.0");
    assert_null(dsn_log_find(&l, "nobody@example.jp"));
    dsn_log_free(&l);
}

static void test_reasons_with_any_bytes(void **state)
{
    (void) state;
    /* A reason that looks like records or has line breaks stays one field. */
    struct dsn_rec r = rec("x@example.jp", "5.1.1", "line1\nS\x07recipient\x00");
    r.reason = "550 line1\r\nrecipient=evil@example.jp\n\x01\x02";
    assert_int_equal(dsn_log_append(DSN_LOG_BOUNCE, "BYTES1", &r, 1, false), 0);
    dsn_log l = DSN_LOG_INIT;
    assert_int_equal(dsn_log_read(DSN_LOG_BOUNCE, "BYTES1", &l, 0), 1);
    assert_string_equal(l.rec[0].recipient, "x@example.jp");
    assert_string_equal(l.rec[0].reason, "550 line1\r\nrecipient=evil@example.jp\n\x01\x02");
    dsn_log_free(&l);
}

static void test_missing_file_is_empty(void **state)
{
    (void) state;
    dsn_log l = DSN_LOG_INIT;
    assert_int_equal(dsn_log_read(DSN_LOG_DEFER, "NOSUCH", &l, 0), 0);
    assert_int_equal(l.n, 0);
    assert_false(dsn_log_exists(DSN_LOG_DEFER, "NOSUCH"));
}

static void test_bad_queue_id(void **state)
{
    (void) state;
    struct dsn_rec r = rec("x@example.jp", "4.0.0", "x");
    dsn_log l = DSN_LOG_INIT;
    sbuf why = SBUF_INIT;
    assert_int_equal(dsn_log_append(DSN_LOG_DEFER, "../evil", &r, 1, false), -1);
    assert_int_equal(dsn_log_read(DSN_LOG_DEFER, "../evil", &l, &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "bad queue id"));
    assert_int_equal(dsn_log_delete(DSN_LOG_DEFER, "a/b"), -1);
    assert_int_equal(dsn_log_read(DSN_LOG_DEFER, "", &l, 0), -1);
    sbuf_free(&why);
}

/* A crash in the middle of an append leaves a torn last record: the
 * records before it are still read. */
static void test_truncated_tail(void **state)
{
    (void) state;
    struct dsn_rec r[2] = {rec("a@example.jp", "4.4.1", "one"), rec("b@example.jp", "4.4.1",
                                                                     "two")};
    assert_int_equal(dsn_log_append(DSN_LOG_DEFER, "TORN1", r, 2, false), 0);
    char path[400];
    snprintf(path, sizeof(path), "%s/defer/TORN1", qdir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 7), 0);
    dsn_log l = DSN_LOG_INIT;
    assert_int_equal(dsn_log_read(DSN_LOG_DEFER, "TORN1", &l, 0), 1);
    assert_string_equal(l.rec[0].reason, "one");
    dsn_log_free(&l);
}

static void test_garbage_file(void **state)
{
    (void) state;
    char path[400];
    snprintf(path, sizeof(path), "%s/defer/JUNK1", qdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not an attribute stream\n", f);
    fclose(f);
    dsn_log l = DSN_LOG_INIT;
    assert_int_equal(dsn_log_read(DSN_LOG_DEFER, "JUNK1", &l, 0), 0);
    /* A well-formed message without the required fields is skipped. */
    snprintf(path, sizeof(path), "%s/defer/JUNK2", qdir);
    struct dsn_rec ok = rec("good@example.jp", "4.0.0", "fine");
    sbuf buf = SBUF_INIT;
    static const unsigned char no_rcpt[] = {'I', 1, 'x', 4, 0, 0, 0, 1, 0};
    sbuf_add(&buf, no_rcpt, sizeof(no_rcpt));
    dsn_rec_encode(&buf, &ok);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf.s, buf.len), (ssize_t) buf.len);
    close(fd);
    assert_int_equal(dsn_log_read(DSN_LOG_DEFER, "JUNK2", &l, 0), 1);
    assert_string_equal(l.rec[0].recipient, "good@example.jp");
    dsn_log_free(&l);
    sbuf_free(&buf);
}

static void test_dsn_split(void **state)
{
    (void) state;
    char code[DSN_CODE_SIZE];
    assert_string_equal(dsn_split("5.1.1 No such user", "5.0.0", code, sizeof(code)),
                        "No such user");
    assert_string_equal(code, "5.1.1");
    assert_string_equal(dsn_split("go away", "5.0.0", code, sizeof(code)), "go away");
    assert_string_equal(code, "5.0.0");
    assert_string_equal(dsn_split("4.123.456   later", "5.0.0", code, sizeof(code)), "later");
    assert_string_equal(code, "4.123.456");
    assert_string_equal(dsn_split("2.0.0", "5.0.0", code, sizeof(code)), "");
    assert_string_equal(code, "2.0.0");
    /* Not codes: wrong class, too many digits, glued text. */
    assert_int_equal(dsn_valid("3.1.1 x"), 0);
    assert_int_equal(dsn_valid("5.1234.1 x"), 0);
    assert_int_equal(dsn_valid("5.1.1x"), 0);
    assert_int_equal(dsn_valid("5..1"), 0);
    assert_int_equal(dsn_valid(""), 0);
    assert_int_equal(dsn_valid("5.1.1"), 5);
    dsn_set_class(code, '4');
    assert_string_equal(code, "4.0.0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_read_roundtrip),
        cmocka_unit_test(test_last_record_wins),
        cmocka_unit_test(test_reasons_with_any_bytes),
        cmocka_unit_test(test_missing_file_is_empty),
        cmocka_unit_test(test_bad_queue_id),
        cmocka_unit_test(test_truncated_tail),
        cmocka_unit_test(test_garbage_file),
        cmocka_unit_test(test_dsn_split),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
