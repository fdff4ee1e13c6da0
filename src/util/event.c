/*
 * event.c - the event loop (see event.h).
 *
 * Descriptors live in a table indexed by fd; each registration carries a
 * generation number that travels in the epoll data, so readiness that
 * was collected before a callback removed or replaced a descriptor is
 * recognised as stale. Timers are a binary min-heap ordered by (due
 * time, id); ids grow monotonically, which makes equal due times run in
 * insertion order. Signals use a process-wide self-pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "util/event.h"
#include "util/mem.h"
#include "util/msg.h"

#define EVENT_BATCH 64

struct fd_slot {
    event_fd_fn fn;
    void   *ctx;
    int     events;             /* interest, EVENT_* */
    uint32_t gen;
    unsigned in_use:1;
    unsigned in_epoll:1;
};

struct timer {
    int64_t when;
    uint64_t id;
    int     repeat_ms;
    event_fn fn;
    void   *ctx;
};

struct deferred {
    event_fn fn;
    void   *ctx;
};

struct defer_queue {
    struct deferred *v;
    size_t  n, cap;
};

struct sig_slot {
    event_signal_fn fn;
    void   *ctx;
    struct sigaction old;
    int     active;
};

struct event_loop {
    int     epfd;
    struct fd_slot *fds;
    size_t  nfds;
    uint32_t next_gen;
    struct timer *heap;
    size_t  nheap, capheap;
    uint64_t next_id;
    struct defer_queue defer, running;
    size_t  run_next;           /* next call to make in running */
    struct sig_slot sig[NSIG];
    int     stop;
};

int64_t event_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- signals: process-wide state ---- */

static volatile sig_atomic_t sig_pending[NSIG];
static int sig_pipe[2] = { -1, -1 };
static event_loop *sig_owner;

static void sig_catch(int signo)
{
    int saved = errno;
    if (signo > 0 && signo < NSIG)
        sig_pending[signo] = 1;
    if (sig_pipe[1] >= 0) {
        unsigned char c = (unsigned char) signo;
        if (write(sig_pipe[1], &c, 1) < 0) {
            /* pipe full: the loop wakes up anyway */
        }
    }
    errno = saved;
}

static void sig_drain(event_loop *loop, int fd, int ready, void *ctx)
{
    unsigned char buf[64];
    (void) ready;
    (void) ctx;
    while (read(fd, buf, sizeof(buf)) > 0)
        /* empty */ ;
    for (int signo = 1; signo < NSIG; signo++) {
        if (!sig_pending[signo])
            continue;
        sig_pending[signo] = 0;     /* before the call: later deliveries count again */
        if (loop->sig[signo].active)
            loop->sig[signo].fn(loop, signo, loop->sig[signo].ctx);
    }
}

static void sig_close_pipe(void)
{
    for (int i = 0; i < 2; i++) {
        if (sig_pipe[i] >= 0)
            close(sig_pipe[i]);
        sig_pipe[i] = -1;
    }
}

int event_signal(event_loop *loop, int signo, event_signal_fn fn, void *ctx)
{
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP || !fn) {
        errno = EINVAL;
        return -1;
    }
    if (sig_owner && sig_owner != loop) {
        errno = EBUSY;
        return -1;
    }
    if (sig_pipe[0] < 0) {
        if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
            return -1;
        if (event_fd_add(loop, sig_pipe[0], EVENT_READ, sig_drain, 0) < 0) {
            int saved = errno;
            sig_close_pipe();
            errno = saved;
            return -1;
        }
    }
    sig_owner = loop;
    struct sig_slot *slot = &loop->sig[signo];
    if (!slot->active) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = sig_catch;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART | (signo == SIGCHLD ? SA_NOCLDSTOP : 0);
        if (sigaction(signo, &sa, &slot->old) < 0)
            return -1;
        slot->active = 1;
    }
    slot->fn = fn;
    slot->ctx = ctx;
    return 0;
}

int event_signal_remove(event_loop *loop, int signo)
{
    if (signo <= 0 || signo >= NSIG || !loop->sig[signo].active) {
        errno = EINVAL;
        return -1;
    }
    struct sig_slot *slot = &loop->sig[signo];
    slot->active = 0;
    sig_pending[signo] = 0;
    return sigaction(signo, &slot->old, 0);
}

void event_child_reset(void)
{
    if (sig_owner) {
        for (int signo = 1; signo < NSIG; signo++) {
            if (sig_owner->sig[signo].active) {
                signal(signo, SIG_DFL);
                sig_owner->sig[signo].active = 0;
            }
            sig_pending[signo] = 0;
        }
        sig_owner = 0;
    }
    sig_close_pipe();
}

/* ---- loop ---- */

event_loop *event_loop_new(void)
{
    event_loop *loop = xcalloc(1, sizeof(*loop));
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        msg_fatal("epoll_create1: %m");
    loop->next_id = 1;
    loop->next_gen = 1;
    return loop;
}

void event_loop_free(event_loop *loop)
{
    if (sig_owner == loop) {
        for (int signo = 1; signo < NSIG; signo++)
            if (loop->sig[signo].active)
                event_signal_remove(loop, signo);
        sig_owner = 0;
        sig_close_pipe();
    }
    close(loop->epfd);
    xfree(loop->fds);
    xfree(loop->heap);
    xfree(loop->defer.v);
    xfree(loop->running.v);
    xfree(loop);
}

void event_loop_stop(event_loop *loop) { loop->stop = 1; }

/* ---- descriptors ---- */

static struct fd_slot *slot_for(event_loop *loop, int fd)
{
    if (fd < 0 || (size_t) fd >= loop->nfds || !loop->fds[fd].in_use)
        return 0;
    return &loop->fds[fd];
}

static int epoll_apply(event_loop *loop, int fd, struct fd_slot *s)
{
    if (s->events == 0) {
        if (s->in_epoll) {
            (void) epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, 0);
            s->in_epoll = 0;
        }
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = ((s->events & EVENT_READ) ? EPOLLIN : 0)
              | ((s->events & EVENT_WRITE) ? EPOLLOUT : 0);
    ev.data.u64 = (uint64_t) s->gen << 32 | (uint32_t) fd;
    if (epoll_ctl(loop->epfd, s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    s->in_epoll = 1;
    return 0;
}

int event_fd_add(event_loop *loop, int fd, int events, event_fd_fn fn, void *ctx)
{
    if (fd < 0 || !fn || (events & ~(EVENT_READ | EVENT_WRITE))) {
        errno = fd < 0 ? EBADF : EINVAL;
        return -1;
    }
    if ((size_t) fd >= loop->nfds) {
        size_t n = loop->nfds ? loop->nfds : 64;
        while (n <= (size_t) fd)
            n *= 2;
        loop->fds = xreallocarray(loop->fds, n, sizeof(*loop->fds));
        memset(loop->fds + loop->nfds, 0, (n - loop->nfds) * sizeof(*loop->fds));
        loop->nfds = n;
    }
    struct fd_slot *s = &loop->fds[fd];
    struct fd_slot saved = *s;
    if (!s->in_use) {
        s->in_use = 1;
        s->in_epoll = 0;
    }
    s->gen = loop->next_gen++;      /* readiness collected for the old one is stale */
    s->fn = fn;
    s->ctx = ctx;
    s->events = events;
    if (epoll_apply(loop, fd, s) < 0) {
        int err = errno;
        *s = saved;
        if (s->in_use && s->in_epoll)
            (void) epoll_apply(loop, fd, s);
        errno = err;
        return -1;
    }
    return 0;
}

int event_fd_modify(event_loop *loop, int fd, int events)
{
    struct fd_slot *s = slot_for(loop, fd);
    if (!s) {
        errno = ENOENT;
        return -1;
    }
    if (events & ~(EVENT_READ | EVENT_WRITE)) {
        errno = EINVAL;
        return -1;
    }
    int old = s->events;
    s->events = events;
    if (epoll_apply(loop, fd, s) < 0) {
        s->events = old;
        return -1;
    }
    return 0;
}

int event_fd_remove(event_loop *loop, int fd)
{
    struct fd_slot *s = slot_for(loop, fd);
    if (!s) {
        errno = ENOENT;
        return -1;
    }
    if (s->in_epoll)
        (void) epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, 0);  /* EBADF if closed already */
    memset(s, 0, sizeof(*s));
    return 0;
}

/* ---- timers ---- */

static int timer_before(const struct timer *a, const struct timer *b)
{
    return a->when < b->when || (a->when == b->when && a->id < b->id);
}

static void heap_swap(event_loop *loop, size_t i, size_t j)
{
    struct timer t = loop->heap[i];
    loop->heap[i] = loop->heap[j];
    loop->heap[j] = t;
}

static void sift_up(event_loop *loop, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(&loop->heap[i], &loop->heap[parent]))
            break;
        heap_swap(loop, i, parent);
        i = parent;
    }
}

static void sift_down(event_loop *loop, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < loop->nheap && timer_before(&loop->heap[l], &loop->heap[best]))
            best = l;
        if (r < loop->nheap && timer_before(&loop->heap[r], &loop->heap[best]))
            best = r;
        if (best == i)
            return;
        heap_swap(loop, i, best);
        i = best;
    }
}

static void heap_push(event_loop *loop, const struct timer *t)
{
    if (loop->nheap == loop->capheap) {
        loop->capheap = loop->capheap ? loop->capheap * 2 : 16;
        loop->heap = xreallocarray(loop->heap, loop->capheap, sizeof(*loop->heap));
    }
    loop->heap[loop->nheap] = *t;
    sift_up(loop, loop->nheap++);
}

static void heap_remove(event_loop *loop, size_t i)
{
    loop->nheap--;
    if (i == loop->nheap)
        return;
    loop->heap[i] = loop->heap[loop->nheap];
    sift_down(loop, i);
    sift_up(loop, i);
}

uint64_t event_timer_add(event_loop *loop, int delay_ms, int repeat_ms, event_fn fn, void *ctx)
{
    if (!fn)
        msg_panic("event_timer_add: null callback");
    struct timer t = {
        .when = event_time_ms() + (delay_ms < 0 ? 0 : delay_ms),
        .id = loop->next_id++,
        .repeat_ms = repeat_ms < 0 ? 0 : repeat_ms,
        .fn = fn,
        .ctx = ctx,
    };
    heap_push(loop, &t);
    return t.id;
}

int event_timer_cancel(event_loop *loop, uint64_t id)
{
    for (size_t i = 0; i < loop->nheap; i++) {
        if (loop->heap[i].id == id) {
            heap_remove(loop, i);
            return 0;
        }
    }
    return -1;
}

/* Run timers that are due, but none added during this pass. */
static int run_timers(event_loop *loop)
{
    int64_t now = event_time_ms();
    uint64_t first_new = loop->next_id;
    int count = 0;
    while (loop->nheap > 0 && loop->heap[0].when <= now && loop->heap[0].id < first_new) {
        struct timer t = loop->heap[0];
        heap_remove(loop, 0);
        if (t.repeat_ms > 0) {
            struct timer again = t;
            again.when += t.repeat_ms;
            if (again.when <= now)
                again.when = now + t.repeat_ms;     /* fell behind: skip missed ticks */
            heap_push(loop, &again);
        }
        t.fn(loop, t.ctx);
        count++;
    }
    return count;
}

/* ---- deferred calls ---- */

void event_defer(event_loop *loop, event_fn fn, void *ctx)
{
    struct defer_queue *q = &loop->defer;
    if (!fn)
        msg_panic("event_defer: null callback");
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 8;
        q->v = xreallocarray(q->v, q->cap, sizeof(*q->v));
    }
    q->v[q->n].fn = fn;
    q->v[q->n].ctx = ctx;
    q->n++;
}

static int defer_drop(struct defer_queue *q, event_fn fn, void *ctx)
{
    size_t j = 0;
    int dropped = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (q->v[i].fn == fn && q->v[i].ctx == ctx) {
            dropped++;
            continue;
        }
        q->v[j++] = q->v[i];
    }
    q->n = j;
    return dropped;
}

int event_defer_cancel(event_loop *loop, event_fn fn, void *ctx)
{
    int dropped = defer_drop(&loop->defer, fn, ctx);
    /* Calls still waiting in the batch being run are blanked, not moved. */
    for (size_t i = loop->run_next; i < loop->running.n; i++) {
        if (loop->running.v[i].fn == fn && loop->running.v[i].ctx == ctx) {
            loop->running.v[i].fn = 0;
            dropped++;
        }
    }
    return dropped;
}

static int run_deferred(event_loop *loop)
{
    struct defer_queue tmp = loop->running;
    loop->running = loop->defer;
    loop->defer = tmp;
    loop->defer.n = 0;
    int count = 0;
    for (loop->run_next = 0; loop->run_next < loop->running.n;) {
        struct deferred d = loop->running.v[loop->run_next++];
        if (!d.fn)
            continue;
        d.fn(loop, d.ctx);
        count++;
    }
    loop->running.n = loop->run_next = 0;
    return count;
}

/* ---- iteration ---- */

int event_loop_once(event_loop *loop, int max_wait_ms)
{
    struct epoll_event evs[EVENT_BATCH];
    int count = run_deferred(loop);

    int wait = max_wait_ms < 0 ? -1 : max_wait_ms;
    if (loop->nheap > 0) {
        int64_t left = loop->heap[0].when - event_time_ms();
        if (left < 0)
            left = 0;
        if (wait < 0 || left < wait)
            wait = left > INT32_MAX ? INT32_MAX : (int) left;
    }
    if (loop->defer.n > 0 || loop->stop)
        wait = 0;

    int n = epoll_wait(loop->epfd, evs, EVENT_BATCH, wait);
    if (n < 0) {
        if (errno != EINTR)
            msg_fatal("epoll_wait: %m");
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        int fd = (int) (uint32_t) evs[i].data.u64;
        uint32_t gen = (uint32_t) (evs[i].data.u64 >> 32);
        struct fd_slot *s = slot_for(loop, fd);
        if (!s || s->gen != gen)
            continue;               /* removed or replaced by an earlier callback */
        uint32_t re = evs[i].events;
        int ready = 0;
        if (re & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
            ready |= EVENT_READ;
        if (re & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            ready |= EVENT_WRITE;
        ready &= s->events;
        if (ready) {
            s->fn(loop, fd, ready, s->ctx);
            count++;
        }
    }
    count += run_timers(loop);
    return count;
}

void event_loop_run(event_loop *loop)
{
    while (!loop->stop)
        event_loop_once(loop, -1);
    loop->stop = 0;
}
