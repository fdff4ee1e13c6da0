/*
 * qmgr_calc.h - the queue manager's arithmetic, as pure functions.
 *
 * Retry back-off, queue lifetimes, the start-a-delivery test, recipient
 * batching and the parsing of a few queue file
 * fields. Nothing here reads the clock, main.cf or a file: callers pass
 * everything in, so tests/unit/test_qmgr_calc.c can check each rule.
 */
#ifndef HK_QMGR_QMGR_CALC_H
#define HK_QMGR_QMGR_CALC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>
#include <time.h>

/*
 * Seconds until the next delivery attempt of a deferred message: the
 * message's age (now - arrival), clamped to [min_backoff, max_backoff].
 * A young message waits min_backoff; after that each wait is about as
 * long as the message has been queued, so the interval doubles per
 * attempt until it reaches max_backoff (Postfix's rule). A clock that
 * went backwards counts as age 0.
 */
long qmgr_backoff(time_t now, time_t arrival, long min_backoff, long max_backoff);

/* True when the message has been queued for lifetime seconds or more
 * (lifetime 0: after the first attempt). */
bool qmgr_expired(time_t now, time_t arrival, long lifetime);

/* Window feedback and dead destinations: qmgr_feedback.h. */

/* May one more delivery start? Destination busy < window, transport busy
 * < its cap, everything in flight < the global cap. */
bool qmgr_can_start(int dest_busy, int window, int transport_busy, int transport_cap,
                    int total_busy, int total_cap);

/* Recipients for the next delivery: all pending when limit <= 0, else at
 * most limit. */
size_t qmgr_batch_size(size_t pending, long limit);

/* QREC_TIME data "seconds.microseconds" (or "seconds"): 0 or -1. */
int  qmgr_parse_time(const char *s, size_t len, struct timeval *tv);
/* QREC_NOTIFY data "SUCCESS,FAILURE,DELAY" or "NEVER" to DSN_NOTIFY_* bits
 * (unknown words are ignored). */
int  qmgr_parse_notify(const char *s);
/* "FULL" -> 1, "HDRS" -> 2, anything else 0 (deliver_request dsn_ret). */
int  qmgr_parse_ret(const char *s);

/* True when mail from this sender must never be bounced back to it: the
 * null sender, or the double-bounce address (its local part, or the
 * whole address, equals double_bounce, case-insensitively). */
bool qmgr_sender_is_null(const char *sender, const char *double_bounce);

#endif
