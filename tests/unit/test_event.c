/* test_event.c - unit tests for util/event: timers, descriptors, signals, deferred calls. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "util/event.h"

/* A record of what ran, in order. */
static int order[64];
static int norder;

static void note(event_loop *loop, void *ctx)
{
    (void) loop;
    if (norder < 64)
        order[norder++] = (int) (intptr_t) ctx;
}

static void note_and_stop(event_loop *loop, void *ctx)
{
    note(loop, ctx);
    event_loop_stop(loop);
}

static void test_timer_order(void **state)
{
    (void) state;
    event_loop *loop = event_loop_new();
    norder = 0;
    int64_t t0 = event_time_ms();
    event_timer_add(loop, 60, 0, note_and_stop, (void *) 6);
    event_timer_add(loop, 20, 0, note, (void *) 2);
    event_timer_add(loop, 40, 0, note, (void *) 4);
    event_timer_add(loop, 20, 0, note, (void *) 3);     /* same time: after 2 */
    event_timer_add(loop, 0, 0, note, (void *) 1);
    uint64_t gone = event_timer_add(loop, 30, 0, note, (void *) 99);
    assert_int_equal(event_timer_cancel(loop, gone), 0);
    assert_int_equal(event_timer_cancel(loop, gone), -1);
    assert_int_equal(event_timer_cancel(loop, 123456), -1);
    event_loop_run(loop);
    assert_true(event_time_ms() - t0 >= 60);
    static const int want[] = { 1, 2, 3, 4, 6 };
    assert_int_equal(norder, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(order[i], want[i]);
    event_loop_free(loop);
}

struct repeat {
    uint64_t id;
    int count;
};

static void repeat_tick(event_loop *loop, void *ctx)
{
    struct repeat *r = ctx;
    if (++r->count == 3) {
        assert_int_equal(event_timer_cancel(loop, r->id), 0);  /* cancel itself */
        event_loop_stop(loop);
    }
}

static void test_repeating_timer(void **state)
{
    (void) state;
    event_loop *loop = event_loop_new();
    struct repeat r = { 0, 0 };
    int64_t t0 = event_time_ms();
    r.id = event_timer_add(loop, 10, 10, repeat_tick, &r);
    event_loop_run(loop);
    assert_int_equal(r.count, 3);
    assert_true(event_time_ms() - t0 >= 30);
    /* Nothing left: a bounded wait returns with no callbacks. */
    assert_int_equal(event_loop_once(loop, 30), 0);
    assert_int_equal(r.count, 3);
    event_loop_free(loop);
}

static int rearm_count;

static void rearm_zero(event_loop *loop, void *ctx)
{
    rearm_count++;
    event_timer_add(loop, 0, 0, rearm_zero, ctx);
}

static void test_zero_timer_no_starvation(void **state)
{
    (void) state;
    event_loop *loop = event_loop_new();
    rearm_count = 0;
    event_timer_add(loop, 0, 0, rearm_zero, 0);
    event_loop_once(loop, 0);
    assert_int_equal(rearm_count, 1);     /* the re-armed one waits for the next pass */
    event_loop_once(loop, 0);
    assert_int_equal(rearm_count, 2);
    event_loop_free(loop);
}

struct fdrec {
    int fd;
    int ready;
    int calls;
    int other;                  /* fd to remove when called, or -1 */
};

static void on_fd(event_loop *loop, int fd, int ready, void *ctx)
{
    struct fdrec *r = ctx;
    assert_int_equal(fd, r->fd);
    r->ready = ready;
    r->calls++;
    if (r->other >= 0)
        assert_int_equal(event_fd_remove(loop, r->other), 0);
}

static void test_fd_readiness(void **state)
{
    (void) state;
    event_loop *loop = event_loop_new();
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct fdrec rd = { p[0], 0, 0, -1 }, wr = { p[1], 0, 0, -1 };
    assert_int_equal(event_fd_add(loop, p[0], EVENT_READ, on_fd, &rd), 0);
    assert_int_equal(event_fd_add(loop, p[1], EVENT_WRITE, on_fd, &wr), 0);
    assert_int_equal(event_loop_once(loop, 100), 1);
    assert_int_equal(rd.calls, 0);
    assert_int_equal(wr.calls, 1);
    assert_int_equal(wr.ready, EVENT_WRITE);

    /* Pause the writer; make the reader ready. */
    assert_int_equal(event_fd_modify(loop, p[1], 0), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(event_loop_once(loop, 100), 1);
    assert_int_equal(rd.calls, 1);
    assert_int_equal(rd.ready, EVENT_READ);
    assert_int_equal(wr.calls, 1);

    /* Level-triggered: still readable until drained. */
    event_loop_once(loop, 100);
    assert_int_equal(rd.calls, 2);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    int64_t t0 = event_time_ms();
    assert_int_equal(event_loop_once(loop, 50), 0);
    assert_true(event_time_ms() - t0 >= 40);

    /* Hang-up is reported as readable (read then sees EOF). */
    assert_int_equal(event_fd_remove(loop, p[1]), 0);
    close(p[1]);
    assert_int_equal(event_loop_once(loop, 100), 1);
    assert_int_equal(rd.ready, EVENT_READ);
    assert_int_equal(read(p[0], &c, 1), 0);

    /* A paused descriptor in hang-up does not make the loop spin. */
    assert_int_equal(event_fd_modify(loop, p[0], 0), 0);
    t0 = event_time_ms();
    assert_int_equal(event_loop_once(loop, 50), 0);
    assert_true(event_time_ms() - t0 >= 40);

    assert_int_equal(event_fd_remove(loop, p[0]), 0);
    assert_int_equal(event_fd_remove(loop, p[0]), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(event_fd_modify(loop, p[0], EVENT_READ), -1);
    close(p[0]);
    event_loop_free(loop);
}

static void test_remove_in_callback(void **state)
{
    (void) state;
    event_loop *loop = event_loop_new();
    int a[2], b[2];
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    struct fdrec ra = { a[0], 0, 0, b[0] }, rb = { b[0], 0, 0, a[0] };
    assert_int_equal(event_fd_add(loop, a[0], EVENT_READ, on_fd, &ra), 0);
    assert_int_equal(event_fd_add(loop, b[0], EVENT_READ, on_fd, &rb), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    /* Both are ready in the same wait; whichever runs first removes the other. */
    assert_int_equal(event_loop_once(loop, 100), 1);
    assert_int_equal(ra.calls + rb.calls, 1);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    event_loop_free(loop);
}

static void test_bad_fd(void **state)
{
    (void) state;
    event_loop *loop = event_loop_new();
    struct fdrec r = { -1, 0, 0, -1 };
    assert_int_equal(event_fd_add(loop, -1, EVENT_READ, on_fd, &r), -1);
    assert_int_equal(event_fd_add(loop, 9999, EVENT_READ, on_fd, &r), -1);   /* not open */
    assert_int_equal(errno, EBADF);
    assert_int_equal(event_fd_modify(loop, 9999, EVENT_READ), -1);
    event_loop_free(loop);
}

static int sig_seen[NSIG];

static void on_signal(event_loop *loop, int signo, void *ctx)
{
    (void) ctx;
    sig_seen[signo]++;
    if (signo == SIGCHLD) {
        while (waitpid(-1, 0, WNOHANG) > 0)
            ;
    }
    if (sig_seen[SIGUSR2] && sig_seen[SIGCHLD])
        event_loop_stop(loop);
}

static void give_up(event_loop *loop, void *ctx)
{
    (void) ctx;
    event_loop_stop(loop);
}

static void test_signal_wakeup(void **state)
{
    (void) state;
    event_loop *loop = event_loop_new();
    memset(sig_seen, 0, sizeof(sig_seen));
    assert_int_equal(event_signal(loop, SIGUSR1, on_signal, 0), 0);
    assert_int_equal(event_signal(loop, SIGUSR2, on_signal, 0), 0);
    assert_int_equal(event_signal(loop, SIGCHLD, on_signal, 0), 0);
    assert_int_equal(event_signal(loop, SIGKILL, on_signal, 0), -1);

    /* A signal raised before the loop looks runs at the next iteration. */
    raise(SIGUSR1);
    raise(SIGUSR1);             /* coalesced */
    assert_int_equal(sig_seen[SIGUSR1], 0);
    event_loop_once(loop, 1000);
    assert_int_equal(sig_seen[SIGUSR1], 1);

    /* A signal arriving while the loop sleeps wakes it up. */
    int64_t t0 = event_time_ms();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        event_child_reset();
        usleep(50 * 1000);
        kill(getppid(), SIGUSR2);
        _exit(0);               /* then SIGCHLD */
    }
    uint64_t guard = event_timer_add(loop, 5000, 0, give_up, 0);
    event_loop_run(loop);
    event_timer_cancel(loop, guard);
    assert_true(event_time_ms() - t0 < 4000);
    assert_int_equal(sig_seen[SIGUSR2], 1);
    assert_true(sig_seen[SIGCHLD] >= 1);

    /* A second loop cannot take signals while the first owns them. */
    event_loop *other = event_loop_new();
    assert_int_equal(event_signal(other, SIGHUP, on_signal, 0), -1);
    assert_int_equal(errno, EBUSY);
    event_loop_free(other);

    /* After free, the old dispositions are back. */
    assert_int_equal(event_signal_remove(loop, SIGUSR1), 0);
    event_loop_free(loop);
    struct sigaction sa;
    sigaction(SIGUSR2, 0, &sa);
    assert_true(sa.sa_handler == SIG_DFL);
}

static void defer_b(event_loop *loop, void *ctx)
{
    note(loop, ctx);
}

static void defer_a(event_loop *loop, void *ctx)
{
    note(loop, ctx);
    event_defer(loop, defer_b, (void *) 2);      /* next iteration */
    event_defer_cancel(loop, defer_b, (void *) 3); /* still queued in this batch */
}

static void test_defer(void **state)
{
    (void) state;
    event_loop *loop = event_loop_new();
    norder = 0;
    event_defer(loop, defer_a, (void *) 1);
    event_defer(loop, defer_b, (void *) 3);
    event_defer(loop, defer_b, (void *) 4);
    int64_t t0 = event_time_ms();
    event_loop_once(loop, 1000);        /* runs 1 and 4; 2 waits; must not sleep */
    assert_true(event_time_ms() - t0 < 500);
    assert_int_equal(norder, 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 4);
    event_loop_once(loop, 0);
    assert_int_equal(norder, 3);
    assert_int_equal(order[2], 2);
    event_defer(loop, defer_b, (void *) 5);
    assert_int_equal(event_defer_cancel(loop, defer_b, (void *) 5), 1);
    event_loop_once(loop, 0);
    assert_int_equal(norder, 3);
    event_loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_repeating_timer),
        cmocka_unit_test(test_zero_timer_no_starvation),
        cmocka_unit_test(test_fd_readiness),
        cmocka_unit_test(test_remove_in_callback),
        cmocka_unit_test(test_bad_fd),
        cmocka_unit_test(test_signal_wakeup),
        cmocka_unit_test(test_defer),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
