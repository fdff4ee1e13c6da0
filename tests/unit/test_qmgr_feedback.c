/* test_qmgr_feedback.c - unit tests for qmgr's concurrency feedback and
 * dead-destination detection (src/qmgr/qmgr_feedback.c, compiled in here:
 * it is part of the qmgr program). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "qmgr/qmgr_feedback.c"

#define EPS 1e-9

/* Postfix's defaults: initial 5, limit 20, feedback 1 and 1, one cohort. */
static struct qmgr_fb_conf defaults(void)
{
    struct qmgr_fb_conf c;
    memset(&c, 0, sizeof(c));
    c.initial = 5;
    c.limit = 20;
    c.pos.kind = c.neg.kind = QMGR_FB_CONST;
    c.pos.value = c.neg.value = 1;
    c.cohort_limit = 1;
    return c;
}

static void test_parse_forms(void **state)
{
    (void) state;
    struct qmgr_fb fb;
    assert_int_equal(qmgr_fb_parse("1", &fb), 0);
    assert_int_equal(fb.kind, QMGR_FB_CONST);
    assert_float_equal(fb.value, 1, EPS);
    assert_int_equal(qmgr_fb_parse("0", &fb), 0);
    assert_float_equal(fb.value, 0, EPS);
    assert_int_equal(qmgr_fb_parse("0.25", &fb), 0);
    assert_float_equal(fb.value, 0.25, EPS);
    assert_int_equal(qmgr_fb_parse("1/4", &fb), 0);
    assert_int_equal(fb.kind, QMGR_FB_CONST);
    assert_float_equal(fb.value, 0.25, EPS);
    assert_int_equal(qmgr_fb_parse(" 1 / 2 ", &fb), 0);
    assert_float_equal(fb.value, 0.5, EPS);
    assert_int_equal(qmgr_fb_parse("1/concurrency", &fb), 0);
    assert_int_equal(fb.kind, QMGR_FB_WINDOW);
    assert_float_equal(fb.value, 1, EPS);
    assert_int_equal(qmgr_fb_parse("0.5 / concurrency", &fb), 0);
    assert_int_equal(fb.kind, QMGR_FB_WINDOW);
    assert_float_equal(qmgr_fb_amount(&fb, 5), 0.1, EPS);
    assert_float_equal(qmgr_fb_amount(&fb, 0), 0.5, EPS);   /* window < 1 counts as 1 */
}

static void test_parse_rejects(void **state)
{
    (void) state;
    const char *bad[] = {"", " ", "2", "1.5", "3/2", "-1", "+1", "1/0", "1/", "/2", "1/x",
                         "1/concurrencyx", "1 concurrency", "nan", "inf", "0x1", "1e0",
                         "1..2", ".", "1/2/3", "1/-2", "0.5/sqrt",
                         "1000000000000000000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct qmgr_fb fb = {QMGR_FB_WINDOW, 0.75};
        assert_int_equal(qmgr_fb_parse(bad[i], &fb), -1);
        /* untouched on error */
        assert_int_equal(fb.kind, QMGR_FB_WINDOW);
        assert_float_equal(fb.value, 0.75, EPS);
    }
}

static void test_init_and_limits(void **state)
{
    (void) state;
    struct qmgr_fb_conf c = defaults();
    struct qmgr_fb_state st;
    qmgr_fb_init(&st, &c);
    assert_int_equal(st.window, 5);
    assert_false(st.dead);
    c.limit = 2;                            /* local_destination_concurrency_limit */
    qmgr_fb_init(&st, &c);
    assert_int_equal(st.window, 2);
    c.limit = 0;                            /* no limit of its own */
    c.initial = 0;                          /* never below 1 */
    qmgr_fb_init(&st, &c);
    assert_int_equal(st.window, 1);
}

/* With the defaults a destination whose deliveries all fail at the
 * connection dies at the fourth failure: 1/5 + 1/4 + 1/3 + 1/2 >= 1. */
static void test_default_dies_after_one_cohort(void **state)
{
    (void) state;
    struct qmgr_fb_conf c = defaults();
    struct qmgr_fb_state st;
    qmgr_fb_init(&st, &c);
    int windows[] = {4, 3, 2};
    for (size_t i = 0; i < 3; i++) {
        assert_false(qmgr_fb_negative(&st, &c));
        assert_false(st.dead);
        assert_int_equal(st.window, windows[i]);
    }
    assert_true(qmgr_fb_negative(&st, &c));
    assert_true(st.dead);
    /* Results still in flight change nothing once it is dead. */
    int w = st.window;
    assert_false(qmgr_fb_negative(&st, &c));
    qmgr_fb_positive(&st, &c, 3);
    assert_true(st.dead);
    assert_int_equal(st.window, w);
}

static void test_success_resets_failed_cohorts(void **state)
{
    (void) state;
    struct qmgr_fb_conf c = defaults();
    struct qmgr_fb_state st;
    qmgr_fb_init(&st, &c);
    assert_false(qmgr_fb_negative(&st, &c));
    assert_false(qmgr_fb_negative(&st, &c));
    assert_false(qmgr_fb_negative(&st, &c));
    assert_float_equal(st.fail_cohorts, 1.0 / 5 + 1.0 / 4 + 1.0 / 3, EPS);
    qmgr_fb_positive(&st, &c, 1);
    assert_float_equal(st.fail_cohorts, 0, EPS);
    assert_int_equal(st.window, 3);
    /* Failures between good deliveries never add up to a dead site. */
    for (int round = 0; round < 50; round++) {
        assert_false(qmgr_fb_negative(&st, &c));
        qmgr_fb_positive(&st, &c, 1);
        assert_false(st.dead);
    }
    assert_int_equal(st.window, 3);
}

static void test_cohort_limit_zero_never_dies(void **state)
{
    (void) state;
    struct qmgr_fb_conf c = defaults();
    c.cohort_limit = 0;
    struct qmgr_fb_state st;
    qmgr_fb_init(&st, &c);
    for (int i = 0; i < 100; i++)
        assert_false(qmgr_fb_negative(&st, &c));
    assert_false(st.dead);
    assert_int_equal(st.window, 1);         /* negative feedback stops at 1 */
}

static void test_cohort_limit_ten(void **state)
{
    (void) state;
    struct qmgr_fb_conf c = defaults();
    c.cohort_limit = 10;
    struct qmgr_fb_state st;
    qmgr_fb_init(&st, &c);
    /* windows 5, 4, 3, 2 add 1.283; then 1 per failure at window 1. */
    int n = 0;
    while (!qmgr_fb_negative(&st, &c)) {
        n++;
        assert_true(n < 100);
    }
    assert_int_equal(n + 1, 13);
}

static void test_positive_growth_and_limit(void **state)
{
    (void) state;
    struct qmgr_fb_conf c = defaults();
    struct qmgr_fb_state st;
    qmgr_fb_init(&st, &c);
    /* Feedback 1: one more per good delivery while busy allows it. */
    qmgr_fb_positive(&st, &c, 20);
    assert_int_equal(st.window, 6);
    for (int i = 0; i < 50; i++)
        qmgr_fb_positive(&st, &c, 100);
    assert_int_equal(st.window, 20);        /* the limit */
    /* The window does not run away from what is in use. */
    qmgr_fb_init(&st, &c);
    for (int i = 0; i < 50; i++)
        qmgr_fb_positive(&st, &c, 1);
    assert_int_equal(st.window, 6);         /* busy 1 + initial 5 */
    /* Feedback 1/concurrency: a whole pseudo-cohort per step. */
    c.pos.kind = QMGR_FB_WINDOW;
    qmgr_fb_init(&st, &c);
    for (int i = 0; i < 4; i++) {
        qmgr_fb_positive(&st, &c, 100);
        assert_int_equal(st.window, 5);
    }
    qmgr_fb_positive(&st, &c, 100);
    assert_int_equal(st.window, 6);
    /* Feedback 0: the window stays where it started. */
    c.pos.kind = QMGR_FB_CONST;
    c.pos.value = 0;
    qmgr_fb_init(&st, &c);
    for (int i = 0; i < 20; i++)
        qmgr_fb_positive(&st, &c, 100);
    assert_int_equal(st.window, 5);
}

/* Negative feedback 1/concurrency with no cohort limit: the window drops
 * at the first failure of a run, then once per window-many failures. */
static void test_negative_reverse_hysteresis(void **state)
{
    (void) state;
    struct qmgr_fb_conf c = defaults();
    c.neg.kind = QMGR_FB_WINDOW;
    c.cohort_limit = 0;
    struct qmgr_fb_state st;
    qmgr_fb_init(&st, &c);
    assert_false(qmgr_fb_negative(&st, &c));
    assert_int_equal(st.window, 4);         /* at once */
    int seen[8];
    for (int i = 0; i < 8; i++) {
        qmgr_fb_negative(&st, &c);
        seen[i] = st.window;
    }
    /* credit 0.8 then -0.25 each: 0.55 0.30 0.05 -> drop at the 4th */
    assert_int_equal(seen[0], 4);
    assert_int_equal(seen[2], 4);
    assert_int_equal(seen[3], 3);
    /* Zero negative feedback never lowers the window. */
    c.neg.kind = QMGR_FB_CONST;
    c.neg.value = 0;
    qmgr_fb_init(&st, &c);
    for (int i = 0; i < 20; i++)
        qmgr_fb_negative(&st, &c);
    assert_int_equal(st.window, 5);
}

static void test_revive(void **state)
{
    (void) state;
    struct qmgr_fb_conf c = defaults();
    struct qmgr_fb_state st;
    qmgr_fb_init(&st, &c);
    while (!qmgr_fb_negative(&st, &c))
        ;
    qmgr_fb_revive(&st, &c, 0);
    assert_false(st.dead);
    assert_int_equal(st.window, 5);
    assert_float_equal(st.fail_cohorts, 0, EPS);
    assert_float_equal(st.success, 0, EPS);
    assert_float_equal(st.failure, 0, EPS);
    while (!qmgr_fb_negative(&st, &c))
        ;
    qmgr_fb_revive(&st, &c, 3);             /* three still in flight */
    assert_int_equal(st.window, 3);
    c.limit = 2;
    qmgr_fb_revive(&st, &c, 30);
    assert_int_equal(st.window, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_init_and_limits),
        cmocka_unit_test(test_default_dies_after_one_cohort),
        cmocka_unit_test(test_success_resets_failed_cohorts),
        cmocka_unit_test(test_cohort_limit_zero_never_dies),
        cmocka_unit_test(test_cohort_limit_ten),
        cmocka_unit_test(test_positive_growth_and_limit),
        cmocka_unit_test(test_negative_reverse_hysteresis),
        cmocka_unit_test(test_revive),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
