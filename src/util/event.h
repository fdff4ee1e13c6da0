/*
 * event.h - the event loop for daemons: descriptors, timers, signals, deferred calls.
 *
 * One loop multiplexes many descriptors (epoll, level-triggered), timers
 * on the monotonic clock with millisecond resolution, signals delivered
 * as ordinary callbacks, and calls deferred to the next iteration.
 * master (listeners, child status pipes, restart back-off timers, SIGHUP,
 * SIGTERM, SIGCHLD) and qmgr use it; a worker that serves one stream at a
 * time does not need it.
 *
 * DESCRIPTORS. event_fd_add(loop, fd, EVENT_READ|EVENT_WRITE, fn, ctx)
 * calls fn(loop, fd, ready, ctx) while fd is ready, with ready a subset
 * of the interest; an error or hang-up on fd is reported as readiness
 * for the registered directions (the next read/write then sees it).
 * Adding an fd that is already registered replaces its callback and
 * interest; interest 0 pauses it. Call event_fd_remove BEFORE close(2):
 * epoll keeps reporting a closed descriptor whose file is still open
 * elsewhere (after fork). Removing or replacing any descriptor from any
 * callback is safe: stale readiness from the same wait is not delivered.
 *
 * TIMERS. event_timer_add(loop, delay_ms, repeat_ms, fn, ctx) returns a
 * non-zero id. fn runs once after delay_ms, then every repeat_ms if that
 * is > 0 (a repeating timer that falls behind skips the missed ticks, it
 * does not burst). Timers due at the same time run in the order they
 * were added. event_timer_cancel(loop, id) is safe at any time, also
 * with an id that already fired (it returns -1). Cancelling costs a scan
 * of the pending timers.
 *
 * SIGNALS. event_signal(loop, SIGHUP, fn, ctx) installs a handler that
 * only notes the signal and writes a byte to a self-pipe; fn(loop, signo,
 * ctx) then runs in the loop, where anything may be done. Several
 * deliveries before the loop looks coalesce into one call (as with
 * signals themselves: a SIGCHLD callback must reap with waitpid(...,
 * WNOHANG) in a loop). Only one loop per process may handle signals. A
 * forked child calls event_child_reset() first: it restores the default
 * action of those signals and closes the child's copy of the self-pipe.
 * A child must not otherwise touch the parent's loop: the epoll instance
 * is shared across fork, so a change made in the child changes the
 * parent's. It execs, or makes a loop of its own. All the loop's own
 * descriptors are close-on-exec.
 *
 * ITERATION. event_loop_once: run the calls deferred before this
 * iteration (deferred calls made meanwhile wait for the next one), wait
 * for descriptors until the next timer (or max_wait_ms), dispatch ready
 * descriptors, then due timers. event_loop_run repeats that until
 * event_loop_stop is called (from a callback, typically), then returns
 * after the current iteration.
 *
 * NOT HERE: no threads, no I/O on the descriptors (see vstream.h), no
 * process management. Allocation failure is fatal; epoll failures other
 * than EINTR are fatal in event_loop_once (they mean a program bug).
 */
#ifndef HK_UTIL_EVENT_H
#define HK_UTIL_EVENT_H

#include <stdint.h>

typedef struct event_loop event_loop;

enum {
    EVENT_READ = 1,
    EVENT_WRITE = 2,
};

typedef void (*event_fd_fn)(event_loop *loop, int fd, int ready, void *ctx);
typedef void (*event_fn)(event_loop *loop, void *ctx);
typedef void (*event_signal_fn)(event_loop *loop, int signo, void *ctx);

event_loop *event_loop_new(void);
/* Free the loop; its signals get their previous actions back. Registered
 * descriptors are not closed. Not from inside a callback. */
void event_loop_free(event_loop *loop);

/* Descriptors: 0, or -1 with errno (EBADF, EPERM for regular files, ...). */
int event_fd_add(event_loop *loop, int fd, int events, event_fd_fn fn, void *ctx);
int event_fd_modify(event_loop *loop, int fd, int events);     /* ENOENT if not added */
int event_fd_remove(event_loop *loop, int fd);                 /* ENOENT if not added */

/* Timers (delay_ms < 0 counts as 0). */
uint64_t event_timer_add(event_loop *loop, int delay_ms, int repeat_ms, event_fn fn, void *ctx);
int event_timer_cancel(event_loop *loop, uint64_t id);         /* 0, or -1 if not pending */

/* Run fn(loop, ctx) at the start of the next iteration (the loop does
 * not sleep while calls are deferred). event_defer_cancel drops pending
 * calls with this fn and ctx (e.g. before freeing ctx); returns how many. */
void event_defer(event_loop *loop, event_fn fn, void *ctx);
int event_defer_cancel(event_loop *loop, event_fn fn, void *ctx);

/* Signals: 0, or -1 with errno (EINVAL, EBUSY if another loop owns signals). */
int event_signal(event_loop *loop, int signo, event_signal_fn fn, void *ctx);
int event_signal_remove(event_loop *loop, int signo);
void event_child_reset(void);

/* One iteration; max_wait_ms < 0 waits as long as needed. Returns the
 * number of callbacks run. */
int event_loop_once(event_loop *loop, int max_wait_ms);
void event_loop_run(event_loop *loop);
void event_loop_stop(event_loop *loop);

/* Milliseconds on the monotonic clock (for the caller's own bookkeeping). */
int64_t event_time_ms(void);

#endif
