/* test_qmgr_calc.c - unit tests for qmgr's scheduling and retry arithmetic
 * (src/qmgr/qmgr_calc.c, compiled in here: it is part of the qmgr program). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "qmgr/qmgr_calc.c"

static void test_backoff_young_message_waits_minimum(void **state)
{
    (void) state;
    assert_int_equal(qmgr_backoff(1000, 1000, 300, 4000), 300);
    assert_int_equal(qmgr_backoff(1100, 1000, 300, 4000), 300);
}

static void test_backoff_doubles_with_age(void **state)
{
    (void) state;
    /* Attempts at 0, 300, 600, 1200, 2400 ...: each wait equals the age. */
    time_t arrival = 50000, now = arrival;
    long expect[] = {300, 300, 600, 1200, 2400, 4000, 4000};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        long wait = qmgr_backoff(now, arrival, 300, 4000);
        assert_int_equal(wait, expect[i]);
        now += wait;
    }
}

static void test_backoff_bounds(void **state)
{
    (void) state;
    assert_int_equal(qmgr_backoff(100000, 0, 300, 4000), 4000);
    /* Clock went backwards: age 0. */
    assert_int_equal(qmgr_backoff(100, 5000, 300, 4000), 300);
    /* max below min: min wins; nonsense minimum becomes 1 s. */
    assert_int_equal(qmgr_backoff(100000, 0, 300, 10), 300);
    assert_int_equal(qmgr_backoff(10, 10, 0, 10), 1);
}

static void test_expiry(void **state)
{
    (void) state;
    assert_false(qmgr_expired(1000, 1000, 5 * 86400));
    assert_false(qmgr_expired(1000 + 5 * 86400 - 1, 1000, 5 * 86400));
    assert_true(qmgr_expired(1000 + 5 * 86400, 1000, 5 * 86400));
    /* Lifetime 0: one attempt only. */
    assert_true(qmgr_expired(1000, 1000, 0));
    /* Arrival in the future never counts as expired (except lifetime 0). */
    assert_false(qmgr_expired(1000, 9000, 10));
}

static void test_can_start(void **state)
{
    (void) state;
    assert_true(qmgr_can_start(0, 2, 0, 100, 0, 1000));
    assert_true(qmgr_can_start(1, 2, 0, 100, 0, 1000));
    assert_false(qmgr_can_start(2, 2, 0, 100, 0, 1000));   /* destination full */
    assert_false(qmgr_can_start(0, 2, 100, 100, 0, 1000)); /* transport full */
    assert_false(qmgr_can_start(0, 2, 0, 100, 1000, 1000)); /* qmgr full */
}

static void test_batch(void **state)
{
    (void) state;
    assert_int_equal(qmgr_batch_size(10, 1), 1);        /* local */
    assert_int_equal(qmgr_batch_size(120, 50), 50);
    assert_int_equal(qmgr_batch_size(3, 50), 3);
    assert_int_equal(qmgr_batch_size(7, 0), 7);         /* no limit */
    assert_int_equal(qmgr_batch_size(0, 50), 0);
}

static void test_parse_time(void **state)
{
    (void) state;
    struct timeval tv;
    assert_int_equal(qmgr_parse_time("1700000000.123456", 17, &tv), 0);
    assert_int_equal(tv.tv_sec, 1700000000);
    assert_int_equal(tv.tv_usec, 123456);
    assert_int_equal(qmgr_parse_time("42", 2, &tv), 0);
    assert_int_equal(tv.tv_sec, 42);
    assert_int_equal(tv.tv_usec, 0);
    assert_int_equal(qmgr_parse_time("", 0, &tv), -1);
    assert_int_equal(qmgr_parse_time("-5", 2, &tv), -1);
    assert_int_equal(qmgr_parse_time("12.", 3, &tv), -1);
    assert_int_equal(qmgr_parse_time("12.9999999", 10, &tv), -1);
    assert_int_equal(qmgr_parse_time("12x", 3, &tv), -1);
    char big[100];
    memset(big, '9', sizeof(big));
    assert_int_equal(qmgr_parse_time(big, sizeof(big), &tv), -1);
}

static void test_parse_notify_and_ret(void **state)
{
    (void) state;
    assert_int_equal(qmgr_parse_notify("SUCCESS,FAILURE,DELAY"),
                     DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
    assert_int_equal(qmgr_parse_notify("NEVER"), DSN_NOTIFY_NEVER);
    assert_int_equal(qmgr_parse_notify("failure"), DSN_NOTIFY_FAILURE);
    assert_int_equal(qmgr_parse_notify(""), 0);
    assert_int_equal(qmgr_parse_notify("BOGUS,,DELAY"), DSN_NOTIFY_DELAY);
    assert_int_equal(qmgr_parse_ret("FULL"), 1);
    assert_int_equal(qmgr_parse_ret("hdrs"), 2);
    assert_int_equal(qmgr_parse_ret("x"), 0);
}

static void test_null_sender(void **state)
{
    (void) state;
    assert_true(qmgr_sender_is_null("", "double-bounce"));
    assert_true(qmgr_sender_is_null("double-bounce@example.jp", "double-bounce"));
    assert_true(qmgr_sender_is_null("Double-Bounce@example.jp", "double-bounce"));
    assert_true(qmgr_sender_is_null("double-bounce", "double-bounce"));
    assert_false(qmgr_sender_is_null("double-bouncer@example.jp", "double-bounce"));
    assert_false(qmgr_sender_is_null("user@example.jp", "double-bounce"));
    assert_false(qmgr_sender_is_null("user@example.jp", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_young_message_waits_minimum),
        cmocka_unit_test(test_backoff_doubles_with_age),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_can_start),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_parse_notify_and_ret),
        cmocka_unit_test(test_null_sender),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
