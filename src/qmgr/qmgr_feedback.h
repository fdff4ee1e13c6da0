/*
 * qmgr_feedback.h - per-destination concurrency feedback and dead-destination
 * detection, as pure functions (Postfix 2.5's scheduler rules).
 *
 * A destination's window (how many deliveries may be in flight to it)
 * starts at initial_destination_concurrency. Each delivery that ends
 * without a site-level failure is positive feedback g(window), each one
 * that ends with one (connection or handshake failure: the agent's
 * DELIVER_RES_FLAG_HOP) is negative feedback f(window). Feedback adds up
 * with hysteresis: the window grows by one once the positive feedback
 * since the last change reaches 1 (at the end of a run of 1/g), and
 * shrinks by one at the start of a run of 1/f negative feedback. It never
 * goes above the limit (0: no limit) nor below 1.
 *
 * Dead destinations: each failed delivery adds 1/window to the failed
 * pseudo-cohort count (a pseudo-cohort is as many deliveries as the
 * window); a delivery without failure resets it to 0. When the count
 * reaches the failed cohort limit (0: never) the destination is dead:
 * the caller suspends it (defers what waits for it, starts nothing) until
 * it is revived, and then the window starts over.
 *
 * Feedback values (main.cf text): "number", "number/number" (a constant
 * in [0..1]) or "number/concurrency" (number/window), the forms
 * postconf(5) documents.
 *
 * Nothing here reads the clock, main.cf or a file (unit tested in
 * tests/unit/test_qmgr_feedback.c). Not here: timers, deferring
 * recipients (qmgr_queue.c, qmgr_deliver.c).
 */
#ifndef HK_QMGR_QMGR_FEEDBACK_H
#define HK_QMGR_QMGR_FEEDBACK_H

#include <stdbool.h>

enum qmgr_fb_kind {
    QMGR_FB_CONST,          /* value */
    QMGR_FB_WINDOW,         /* value / window */
};

struct qmgr_fb {
    enum qmgr_fb_kind kind;
    double  value;          /* 0..1 */
};

/* The concurrency settings of one transport. */
struct qmgr_fb_conf {
    int     initial;        /* <transport>_initial_destination_concurrency, >= 1 */
    int     limit;          /* <transport>_destination_concurrency_limit, 0 = none */
    struct qmgr_fb pos, neg;
    int     cohort_limit;   /* failed cohorts before dead, 0 = never */
};

/* The feedback state of one destination. */
struct qmgr_fb_state {
    int     window;
    double  success;        /* positive feedback since the last change */
    double  failure;        /* negative feedback credit (reverse hysteresis) */
    double  fail_cohorts;   /* failed pseudo-cohorts since the last good delivery */
    bool    dead;
};

/*
 * Parse a feedback value. 0 and *fb set, or -1 with *fb untouched when
 * text is not one of the forms above or the number is outside 0..1.
 */
int  qmgr_fb_parse(const char *text, struct qmgr_fb *fb);
/* Amount of feedback for a destination at this window (>= 1). */
double qmgr_fb_amount(const struct qmgr_fb *fb, int window);

/* A new destination (or one revived from death with nothing in flight). */
void qmgr_fb_init(struct qmgr_fb_state *st, const struct qmgr_fb_conf *conf);
/*
 * A delivery ended without site failure; busy is the number of deliveries
 * in flight, the one that just ended included. The window only grows
 * while it is below busy + initial (so it stays near what is used, and
 * negative feedback is not delayed). No effect on a dead destination.
 */
void qmgr_fb_positive(struct qmgr_fb_state *st, const struct qmgr_fb_conf *conf, int busy);
/*
 * A delivery ended with a site failure. True when this made the
 * destination dead (it was not before). No effect on a dead destination.
 */
bool qmgr_fb_negative(struct qmgr_fb_state *st, const struct qmgr_fb_conf *conf);
/* Bring a dead destination back: busy deliveries still in flight give the
 * window (at least 1), else it starts at initial; counters reset. */
void qmgr_fb_revive(struct qmgr_fb_state *st, const struct qmgr_fb_conf *conf, int busy);

#endif
