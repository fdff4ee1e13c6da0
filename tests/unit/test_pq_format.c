/* test_pq_format.c - unit tests for postqueue's listing formats
 * (src/postqueue/pq_format.c, compiled in here: it is part of postqueue),
 * and for the printable-text and time helpers of src/mail/queue_summary.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postqueue/pq_format.c"

#define T0 1606065246LL     /* Sun Nov 22 17:14:06 2020 UTC */
#define REASON "connect to mx.example.net[192.0.2.1]:25: Connection refused"

static int setup_tz(void **state)
{
    (void) state;
    setenv("TZ", "UTC", 1);
    tzset();
    return 0;
}

static void msg(queue_summary *qs, const char *queue, const char *id, long long size,
                const char *sender)
{
    queue_summary_init(qs);
    queue_summary_set(qs, queue, id, T0, size, sender);
}

static char *listing(enum pq_mode mode, bool long_ids, queue_summary *qs, size_t n)
{
    pq_format f;
    sbuf out = SBUF_INIT;
    pq_begin(&f, mode, long_ids);
    for (size_t i = 0; i < n; i++)
        pq_message(&f, &qs[i], &out);
    pq_end(&f, &out);
    sbuf_addc(&out, 0);
    return sbuf_steal(&out);
}

static void test_empty(void **state)
{
    (void) state;
    char *s = listing(PQ_MODE_COMPAT, false, 0, 0);
    assert_string_equal(s, "Mail queue is empty\n");
    free(s);
    s = listing(PQ_MODE_JSON, false, 0, 0);
    assert_string_equal(s, "");
    free(s);
}

static void test_compat_layout(void **state)
{
    (void) state;
    queue_summary qs[3];
    msg(&qs[0], "active", "B1C2D3E4F6", 2019, "app@example.jp");
    queue_summary_add_rcpt(&qs[0], "user@example.com", "", "");
    msg(&qs[1], "deferred", "4F3F62E0A5", 451, "sender@example.com");
    queue_summary_add_rcpt(&qs[1], "a@example.net", "", REASON);
    queue_summary_add_rcpt(&qs[1], "b@example.net", "", REASON);
    queue_summary_add_rcpt(&qs[1], "c@example.org", "", "");
    queue_summary_add_rcpt(&qs[1], "d@example.org", "", "");
    queue_summary_add_rcpt(&qs[1], "e@example.org", "", "other");
    msg(&qs[2], "hold", "C0FFEE1234", 12000000, "MAILER-DAEMON");
    queue_summary_add_rcpt(&qs[2], "\"x y\"@example.com", "", "");
    char *s = listing(PQ_MODE_COMPAT, false, qs, 3);
    assert_string_equal(
        s,
        "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
        "B1C2D3E4F6*    2019 Sun Nov 22 17:14:06  app@example.jp\n"
        "                                         user@example.com\n"
        "\n"
        "4F3F62E0A5      451 Sun Nov 22 17:14:06  sender@example.com\n"
        "                 (" REASON ")\n"
        "                                         a@example.net\n"
        "                                         b@example.net\n"
        "                                                          (reason unavailable)\n"
        "                                         c@example.org\n"
        "                                         d@example.org\n"
        "                                                                       (other)\n"
        "                                         e@example.org\n"
        "\n"
        "C0FFEE1234! 12000000 Sun Nov 22 17:14:06  MAILER-DAEMON\n"
        "                                         \"x y\"@example.com\n"
        "\n"
        "-- 11721 Kbytes in 3 Requests.\n");
    free(s);
    for (int i = 0; i < 3; i++)
        queue_summary_free(&qs[i]);
}

static void test_compat_singular_forced_and_long_reason(void **state)
{
    (void) state;
    queue_summary qs;
    msg(&qs, "incoming", "ABC", 1024, "s@example.com");
    qs.forced_expire = true;
    char longr[200];
    memset(longr, 'r', sizeof(longr) - 1);
    longr[sizeof(longr) - 1] = 0;
    queue_summary_add_rcpt(&qs, "r@example.net", "", longr);
    char *s = listing(PQ_MODE_COMPAT, false, &qs, 1);
    char want[1024];
    snprintf(want, sizeof(want),
             "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
             "ABC#           1024 Sun Nov 22 17:14:06  s@example.com\n"
             "(%s)\n"
             "                                         r@example.net\n"
             "\n"
             "-- 1 Kbytes in 1 Request.\n", longr);
    assert_string_equal(s, want);
    free(s);
    queue_summary_free(&qs);
}

static void test_compat_long_ids(void **state)
{
    (void) state;
    queue_summary qs;
    msg(&qs, "hold", "4VxYz1234567abcd", 5, "s@example.com");
    queue_summary_add_rcpt(&qs, "r@example.net", "", "");
    char *s = listing(PQ_MODE_COMPAT, true, &qs, 1);
    assert_string_equal(
        s,
        "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n"
        "4VxYz1234567abcd!        5 Sun Nov 22 17:14:06 s@example.com\n"
        "                                               r@example.net\n"
        "\n"
        "-- 0 Kbytes in 1 Request.\n");
    free(s);
    queue_summary_free(&qs);
}

static void test_json(void **state)
{
    (void) state;
    queue_summary qs[2];
    msg(&qs[0], "deferred", "4F3F62E0A5", 451, "s\"q\\@example.com");
    queue_summary_add_rcpt(&qs[0], "a@example.net", "", REASON);
    queue_summary_add_rcpt(&qs[0], "b@example.net", "", "");
    msg(&qs[1], "active", "B1", 7, "");
    qs[1].forced_expire = true;
    char *s = listing(PQ_MODE_JSON, false, qs, 2);
    assert_string_equal(
        s,
        "{\"queue_name\": \"deferred\", \"queue_id\": \"4F3F62E0A5\", \"arrival_time\": "
        "1606065246, \"message_size\": 451, \"forced_expire\": false, \"sender\": "
        "\"s\\\"q\\\\@example.com\", \"recipients\": [{\"address\": \"a@example.net\", "
        "\"delay_reason\": \"" REASON "\"}, {\"address\": \"b@example.net\"}]}\n"
        "{\"queue_name\": \"active\", \"queue_id\": \"B1\", \"arrival_time\": 1606065246, "
        "\"message_size\": 7, \"forced_expire\": true, \"sender\": \"\", \"recipients\": []}\n");
    free(s);
    queue_summary_free(&qs[0]);
    queue_summary_free(&qs[1]);
}

static void test_json_quote(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT;
    pq_json_quote(&b, "a\"b\\c\b\f\n\r\t\x01\x7f/\xc3\xa9");
    assert_string_equal(sbuf_str(&b), "a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u007F/\xc3\xa9");
    sbuf_free(&b);
}

static void test_printable(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT;
    const char in[] = "ok\x1b[31m\x07 caf\xc3\xa9 \xe2\x82\xac bad\xc3 \xff\xfe \xed\xa0\x80 "
                      "\xf0\x9f\x98\x80 \xc0\xaf\x7f";
    queue_printable(&b, in, sizeof(in) - 1);
    assert_string_equal(sbuf_str(&b), "ok?[31m? caf\xc3\xa9 \xe2\x82\xac bad? ?? ??? "
                                      "\xf0\x9f\x98\x80 ???");
    sbuf_reset(&b);
    queue_printable(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.s, "a?b", 3);
    sbuf_reset(&b);
    queue_printable_address(&b, "x y@example.com");
    assert_string_equal(sbuf_str(&b), "\"x y\"@example.com");
    sbuf_free(&b);
}

static void test_asctime(void **state)
{
    (void) state;
    char buf[64];
    queue_asctime(T0, buf, sizeof(buf));
    assert_string_equal(buf, "Sun Nov 22 17:14:06 2020\n");
    queue_asctime(0, buf, sizeof(buf));
    assert_string_equal(buf, "Thu Jan  1 00:00:00 1970\n");
    /* Absurd times from a peer never overflow. */
    queue_asctime(0x7fffffffffffffffLL, buf, sizeof(buf));
    assert_true(strlen(buf) < sizeof(buf));
    queue_asctime(-0x7fffffffffffffffLL, buf, sizeof(buf));
    assert_true(strlen(buf) < sizeof(buf));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_compat_layout),
        cmocka_unit_test(test_compat_singular_forced_and_long_reason),
        cmocka_unit_test(test_compat_long_ids),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_quote),
        cmocka_unit_test(test_printable),
        cmocka_unit_test(test_asctime),
    };
    return cmocka_run_group_tests(tests, setup_tz, 0);
}
