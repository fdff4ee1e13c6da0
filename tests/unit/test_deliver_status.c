/* test_deliver_status.c - unit tests for the status half of mail/deliver_request:
 * one message at a time (deliver_status_read), the optional diagnostic
 * fields, the site-failure flag, soft_bounce, and an agent that goes away. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail/deliver_request.h"
#include "mail/mail_conf.h"
#include "util/attr.h"
#include "util/vstream.h"

struct pair {
    vstream *agent, *qmgr;
};

static void pair_open(struct pair *p)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->agent = vstream_open(sv[0]);
    p->qmgr = vstream_open(sv[1]);
    vstream_set_timeout(p->agent, 2000);
    vstream_set_timeout(p->qmgr, 2000);
}

static void pair_close(struct pair *p)
{
    if (p->agent)
        vstream_close(p->agent);
    if (p->qmgr)
        vstream_close(p->qmgr);
}

static struct deliver_result result(enum deliver_outcome o, const char *dsn, const char *reason)
{
    struct deliver_result r;
    memset(&r, 0, sizeof(r));
    r.outcome = o;
    snprintf(r.dsn, sizeof(r.dsn), "%s", dsn);
    r.relay = "mx.example.jp[192.0.2.1]:25";
    r.reason = (char *) reason;
    return r;
}

static void test_one_message_at_a_time(void **state)
{
    (void) state;
    mail_conf_override("soft_bounce", "no");
    struct pair p;
    pair_open(&p);
    struct deliver_result a = result(DELIVER_SENT, "2.0.0", "250 ok");
    struct deliver_result b = result(DELIVER_BOUNCE, "5.1.1", "user unknown");
    b.diag_type = "smtp";
    b.diag_text = "550 5.1.1 user unknown";
    assert_int_equal(deliver_status_write(p.agent, 1, &b), 0);
    assert_int_equal(deliver_status_write(p.agent, 0, &a), 0);
    assert_int_equal(deliver_request_done(p.agent, 0), 0);

    attr_list buf = ATTR_LIST_INIT;
    size_t idx = 99;
    struct deliver_result r;
    assert_int_equal(deliver_status_read(p.qmgr, 2, &idx, &r, &buf), DELIVER_READ_STATUS);
    assert_int_equal(idx, 1);
    assert_int_equal(r.outcome, DELIVER_BOUNCE);
    assert_string_equal(r.dsn, "5.1.1");
    assert_string_equal(r.reason, "user unknown");
    assert_string_equal(r.diag_type, "smtp");
    assert_string_equal(r.diag_text, "550 5.1.1 user unknown");
    /* the rest is already buffered */
    assert_true(vstream_peek_pending(p.qmgr) > 0);
    assert_int_equal(deliver_status_read(p.qmgr, 2, &idx, &r, &buf), DELIVER_READ_STATUS);
    assert_int_equal(idx, 0);
    assert_int_equal(r.outcome, DELIVER_SENT);
    assert_string_equal(r.diag_type, "");
    assert_int_equal(deliver_status_read(p.qmgr, 2, &idx, &r, &buf), DELIVER_READ_DONE);
    attr_list_free(&buf);
    pair_close(&p);
}

static void test_bad_index_and_outcome(void **state)
{
    (void) state;
    struct pair p;
    pair_open(&p);
    struct deliver_result a = result(DELIVER_SENT, "2.0.0", "ok");
    assert_int_equal(deliver_status_write(p.agent, 7, &a), 0);        /* out of range */
    assert_int_equal(attr_print(p.agent, ATTR_SEND_STR("request", "status"),
                                ATTR_SEND_INT("index", 0), ATTR_SEND_INT("outcome", 3),
                                ATTR_END), 0);                      /* unknown outcome */
    attr_list buf = ATTR_LIST_INIT;
    size_t idx;
    struct deliver_result r;
    assert_int_equal(deliver_status_read(p.qmgr, 2, &idx, &r, &buf), DELIVER_READ_STATUS);
    assert_int_equal(idx, 0);
    assert_int_equal(r.outcome, DELIVER_DEFER);
    assert_string_equal(r.dsn, "4.3.0");
    /* the agent goes away without its final reply */
    vstream_close(p.agent);
    p.agent = 0;
    assert_int_equal(deliver_status_read(p.qmgr, 2, &idx, &r, &buf), DELIVER_READ_ERROR);
    attr_list_free(&buf);
    pair_close(&p);
}

static void test_garbage_is_an_error(void **state)
{
    (void) state;
    struct pair p;
    pair_open(&p);
    assert_int_equal(vstream_puts(p.agent, "250 this is not the protocol\r\n"), 0);
    assert_int_equal(vstream_flush(p.agent), 0);
    attr_list buf = ATTR_LIST_INIT;
    size_t idx;
    struct deliver_result r;
    assert_int_equal(deliver_status_read(p.qmgr, 1, &idx, &r, &buf), DELIVER_READ_ERROR);
    attr_list_free(&buf);
    pair_close(&p);
}

static void test_soft_bounce(void **state)
{
    (void) state;
    struct deliver_result r = result(DELIVER_BOUNCE, "5.7.1", "go away");
    mail_conf_override("soft_bounce", "no");
    deliver_result_soften(&r);
    assert_int_equal(r.outcome, DELIVER_BOUNCE);
    assert_string_equal(r.dsn, "5.7.1");
    mail_conf_override("soft_bounce", "yes");
    deliver_result_soften(&r);
    assert_int_equal(r.outcome, DELIVER_DEFER);
    assert_string_equal(r.dsn, "4.7.1");
    /* a sent recipient stays sent */
    struct deliver_result s = result(DELIVER_SENT, "2.0.0", "ok");
    deliver_result_soften(&s);
    assert_int_equal(s.outcome, DELIVER_SENT);

    /* agents get it through deliver_status_write */
    struct pair p;
    pair_open(&p);
    struct deliver_result b = result(DELIVER_BOUNCE, "5.1.1", "user unknown");
    assert_int_equal(deliver_status_write(p.agent, 0, &b), 0);
    attr_list buf = ATTR_LIST_INIT;
    size_t idx;
    assert_int_equal(deliver_status_read(p.qmgr, 1, &idx, &r, &buf), DELIVER_READ_STATUS);
    assert_int_equal(r.outcome, DELIVER_DEFER);
    assert_string_equal(r.dsn, "4.1.1");
    attr_list_free(&buf);
    pair_close(&p);
    mail_conf_override("soft_bounce", "no");
}

/* DELIVER_RES_FLAG_HOP crosses the wire on deferrals only; a status
 * without the attribute (an older agent) has no flag; unknown bits drop. */
static void test_hop_flag(void **state)
{
    (void) state;
    mail_conf_override("soft_bounce", "no");
    struct pair p;
    pair_open(&p);
    struct deliver_result a = result(DELIVER_DEFER, "4.4.1", "connect to x[192.0.2.1]:25: "
                                     "Connection refused");
    a.flags = DELIVER_RES_FLAG_HOP | (1 << 7);
    struct deliver_result b = result(DELIVER_DEFER, "4.2.0", "host x said: 450 busy");
    struct deliver_result c = result(DELIVER_BOUNCE, "5.1.1", "user unknown");
    c.flags = DELIVER_RES_FLAG_HOP;         /* meaningless on a bounce */
    assert_int_equal(deliver_status_write(p.agent, 0, &a), 0);
    assert_int_equal(deliver_status_write(p.agent, 1, &b), 0);
    assert_int_equal(deliver_status_write(p.agent, 2, &c), 0);
    assert_int_equal(attr_print(p.agent, ATTR_SEND_STR("request", "status"),
                                ATTR_SEND_INT("index", 3), ATTR_SEND_INT("outcome", 4),
                                ATTR_SEND_STR("dsn", "4.4.1"), ATTR_END), 0);  /* old agent */
    assert_int_equal(attr_print(p.agent, ATTR_SEND_STR("request", "status"),
                                ATTR_SEND_INT("index", 4), ATTR_SEND_INT("outcome", 4),
                                ATTR_SEND_INT("flags", 0x7ffffffe), ATTR_END), 0);
    assert_int_equal(deliver_request_done(p.agent, 0), 0);
    attr_list buf = ATTR_LIST_INIT;
    size_t idx;
    struct deliver_result r;
    int want[] = {DELIVER_RES_FLAG_HOP, 0, 0, 0, 0};
    for (size_t i = 0; i < 5; i++) {
        memset(&r, 0xff, sizeof(r));
        assert_int_equal(deliver_status_read(p.qmgr, 5, &idx, &r, &buf), DELIVER_READ_STATUS);
        assert_int_equal(idx, i);
        assert_int_equal(r.flags, want[i]);
    }
    assert_int_equal(deliver_status_read(p.qmgr, 5, &idx, &r, &buf), DELIVER_READ_DONE);
    attr_list_free(&buf);
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_message_at_a_time),
        cmocka_unit_test(test_bad_index_and_outcome),
        cmocka_unit_test(test_garbage_is_an_error),
        cmocka_unit_test(test_soft_bounce),
        cmocka_unit_test(test_hop_flag),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
