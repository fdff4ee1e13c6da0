/*
 * test_cleanup_client.c - the cleanup protocol from the client's side,
 * against a fake server on a socketpair.
 *
 * The fake server reads requests with the attribute codec and answers
 * only open and finish; its finish reply carries a transcript of what it
 * received as the reason, so the test sees the exact request sequence.
 * Everything between open and finish must go out without waiting for
 * an answer (a client that waited would hang: alarm() catches that).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "mail/cleanup_client.h"
#include "util/attr.h"
#include "util/sbuf.h"

enum fake_mode { FAKE_OK, FAKE_OPEN_FAILS, FAKE_CLOSE_AFTER_OPEN, FAKE_REJECT };

static void fake_server(int fd, enum fake_mode mode)
{
    vstream *s = vstream_open(fd);
    attr_list req = ATTR_LIST_INIT;
    sbuf log = SBUF_INIT, why = SBUF_INIT;
    while (attr_read(s, &req, 0, &why) == ATTR_OK) {
        const char *name = "?", *a, *b;
        int32_t i;
        size_t len;
        attr_get_str(&req, "request", &name);
        if (log.len)
            sbuf_addc(&log, ' ');
        sbuf_adds(&log, name);
        if (strcmp(name, CLEANUP_REQ_OPEN) == 0) {
            attr_get_int(&req, "flags", &i);
            sbuf_printf(&log, "(%d)", i);
            if (mode == FAKE_OPEN_FAILS) {
                attr_print(s, ATTR_SEND_INT("status", CLEANUP_STAT_WRITE),
                           ATTR_SEND_STR("queue_id", ""),
                           ATTR_SEND_STR("reason", "4.3.0 fake: disk full"), ATTR_END);
                continue;
            }
            attr_print(s, ATTR_SEND_INT("status", 0), ATTR_SEND_STR("queue_id", "ABC123"),
                       ATTR_SEND_STR("reason", ""), ATTR_END);
            if (mode == FAKE_CLOSE_AFTER_OPEN)
                break;
        } else if (strcmp(name, CLEANUP_REQ_SENDER) == 0) {
            attr_get_str(&req, "address", &a);
            sbuf_printf(&log, "(%s)", a);
        } else if (strcmp(name, CLEANUP_REQ_ATTR) == 0) {
            attr_get_str(&req, "name", &a);
            attr_get_str(&req, "value", &b);
            sbuf_printf(&log, "(%s=%s)", a, b);
        } else if (strcmp(name, CLEANUP_REQ_RCPT) == 0) {
            attr_get_str(&req, "address", &a);
            sbuf_printf(&log, "(%s", a);
            if (attr_get_str(&req, "orig", &b) == 0)
                sbuf_printf(&log, ",orig=%s", b);
            if (attr_get_int(&req, "notify", &i) == 0)
                sbuf_printf(&log, ",notify=%d", i);
            if (attr_get_str(&req, "dsn_orcpt", &b) == 0)
                sbuf_printf(&log, ",dsn=%s", b);
            sbuf_addc(&log, ')');
        } else if (strcmp(name, CLEANUP_REQ_DATA) == 0) {
            attr_get_data(&req, "data", &a, &len);
            sbuf_printf(&log, "(%zu)", len);
        } else if (strcmp(name, CLEANUP_REQ_FINISH) == 0) {
            int st = mode == FAKE_REJECT ? CLEANUP_STAT_CONT : 0;
            attr_print(s, ATTR_SEND_INT("status", st), ATTR_SEND_STR("reason", sbuf_str(&log)),
                       ATTR_END);
            sbuf_reset(&log);
        }
    }
    vstream_close(s);
    _exit(0);
}

static cleanup_client *start(enum fake_mode mode, pid_t *pid, char *id, sbuf *err)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid == 0) {
        close(sv[0]);
        fake_server(sv[1], mode);
    }
    close(sv[1]);
    vstream *s = vstream_open(sv[0]);
    vstream_set_timeout(s, 10000);
    return cleanup_open_stream(s, CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_LOCAL, id, 32, err);
}

static void reap(pid_t pid)
{
    int status;
    waitpid(pid, &status, 0);
}

static void test_request_sequence(void **state)
{
    (void) state;
    pid_t pid;
    char id[32];
    sbuf err = SBUF_INIT, reason = SBUF_INIT;
    cleanup_client *cc = start(FAKE_OK, &pid, id, &err);
    assert_non_null(cc);
    assert_string_equal(id, "ABC123");
    cleanup_sender(cc, "root@example.jp");
    cleanup_attr(cc, "full_name", "Charlie Root");
    cleanup_rcpt(cc, "a@example.jp", 0, 0, 0);
    cleanup_rcpt(cc, "b@example.jp", "B@example.jp", DSN_NOTIFY_FAILURE, "rfc822;B@example.jp");
    /* 150000 bytes: three data requests, none over CLEANUP_DATA_MAX */
    char *big = malloc(150000);
    memset(big, 'x', 150000);
    assert_int_equal(cleanup_data(cc, big, 150000), 0);
    assert_int_equal(cleanup_data(cc, "", 0), 0);
    free(big);
    assert_int_equal(cleanup_finish(cc, &reason), CLEANUP_STAT_OK);
    char want[512];
    snprintf(want, sizeof(want),
             "open(%d) sender(root@example.jp) attr(full_name=Charlie Root) rcpt(a@example.jp) "
             "rcpt(b@example.jp,orig=B@example.jp,notify=%d,dsn=rfc822;B@example.jp) "
             "data(65536) data(65536) data(18928) finish",
             CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_LOCAL, DSN_NOTIFY_FAILURE);
    assert_string_equal(sbuf_str(&reason), want);
    reap(pid);
    sbuf_free(&err);
    sbuf_free(&reason);
}

static void test_open_refused(void **state)
{
    (void) state;
    pid_t pid;
    char id[32];
    sbuf err = SBUF_INIT;
    assert_null(start(FAKE_OPEN_FAILS, &pid, id, &err));
    assert_string_equal(sbuf_str(&err), "4.3.0 fake: disk full");
    reap(pid);
    sbuf_free(&err);
}

static void test_lost_connection(void **state)
{
    (void) state;
    pid_t pid;
    char id[32];
    sbuf err = SBUF_INIT, reason = SBUF_INIT;
    cleanup_client *cc = start(FAKE_CLOSE_AFTER_OPEN, &pid, id, &err);
    assert_non_null(cc);
    reap(pid);                          /* the server is gone */
    cleanup_sender(cc, "a@example.jp");
    cleanup_rcpt(cc, "b@example.jp", 0, 0, 0);
    char buf[100000];
    memset(buf, 'y', sizeof(buf));
    cleanup_data(cc, buf, sizeof(buf));  /* may fail now or at finish */
    assert_int_equal(cleanup_finish(cc, &reason), CLEANUP_STAT_WRITE);
    assert_string_equal(sbuf_str(&reason), "4.3.0 Error: queue file write error");
    sbuf_free(&err);
    sbuf_free(&reason);
}

static void test_reject_and_abort(void **state)
{
    (void) state;
    pid_t pid;
    char id[32];
    sbuf err = SBUF_INIT, reason = SBUF_INIT;
    cleanup_client *cc = start(FAKE_REJECT, &pid, id, &err);
    assert_non_null(cc);
    cleanup_sender(cc, "");
    assert_int_equal(cleanup_finish(cc, &reason), CLEANUP_STAT_CONT);
    char want[64];
    snprintf(want, sizeof(want), "open(%d) sender() finish",
             CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_LOCAL);
    assert_string_equal(sbuf_str(&reason), want);
    reap(pid);
    cc = start(FAKE_OK, &pid, id, &err);
    assert_non_null(cc);
    cleanup_sender(cc, "x@example.jp");
    cleanup_abort(cc);                  /* closes: the server sees the end */
    reap(pid);
    cleanup_abort(0);
    sbuf_free(&err);
    sbuf_free(&reason);
}

static void test_status_map(void **state)
{
    (void) state;
    assert_int_equal(cleanup_stat_smtp_code(CLEANUP_STAT_OK), 250);
    assert_int_equal(cleanup_stat_smtp_code(CLEANUP_STAT_DISCARD), 250);
    assert_int_equal(cleanup_stat_smtp_code(CLEANUP_STAT_WRITE), 451);
    assert_int_equal(cleanup_stat_smtp_code(CLEANUP_STAT_BAD), 451);
    assert_int_equal(cleanup_stat_smtp_code(CLEANUP_STAT_SIZE), 552);
    assert_int_equal(cleanup_stat_smtp_code(CLEANUP_STAT_CONT), 550);
    assert_int_equal(cleanup_stat_smtp_code(CLEANUP_STAT_HOPS), 554);
    assert_int_equal(cleanup_stat_smtp_code(CLEANUP_STAT_RCPT), 554);
    /* a temporary problem wins over a permanent one */
    assert_int_equal(cleanup_stat_smtp_code(CLEANUP_STAT_SIZE | CLEANUP_STAT_WRITE), 451);
    assert_true(strncmp(cleanup_stat_text(CLEANUP_STAT_SIZE), "5.3.4 ", 6) == 0);
    assert_true(strncmp(cleanup_stat_text(CLEANUP_STAT_HOPS), "5.4.0 ", 6) == 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(60);                          /* a client that waits where it must not hangs */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_sequence),
        cmocka_unit_test(test_open_refused),
        cmocka_unit_test(test_lost_connection),
        cmocka_unit_test(test_reject_and_abort),
        cmocka_unit_test(test_status_map),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
