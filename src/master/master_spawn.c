/*
 * master_spawn.c - worker processes: start on demand, track busy/idle, reap, throttle.
 *
 * A service's listener is watched only while the service has no idle
 * process of the current generation and is below its process limit;
 * when it becomes readable master forks one worker (fd 3 and 6, 7, ...
 * the listeners, fd 4 the service's status pipe, fd 5 the generation's
 * watch pipe; see mail_server.h) and counts it idle until the worker
 * reports that it took a client. Workers report on the status pipe; the
 * pipe is per service, so a report is trusted only from a pid of that
 * service.
 *
 * Reaping: an exit status other than 0 or a death by signal is logged
 * ("warning: process /path pid N exit status S" or "... killed by signal
 * S"). When such a process had not yet taken a single client, the
 * program cannot start properly (a missing program, a fatal
 * configuration error): the service is throttled, no new process for
 * service_throttle_time, and "bad command startup -- throttling" is
 * logged, as Postfix does - except after SIGKILL, SIGTERM, SIGINT or
 * SIGHUP, which somebody sent from outside. A worker that crashes after serving clients is
 * replaced on demand at once, so one bad client cannot take a service
 * down for a minute. Other services never notice.
 *
 * This file does not parse configuration or open listeners.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "master/master.h"
#include "mail/mail_server.h"
#include "util/mem.h"
#include "util/msg.h"

#define LIMIT_WARN_INTERVAL_MS (300 * 1000)

static struct proc *find_proc(pid_t pid, struct proc ***link)
{
    for (struct proc **pp = &M.procs; *pp; pp = &(*pp)->next)
        if ((*pp)->pid == pid) {
            if (link)
                *link = pp;
            return *pp;
        }
    return 0;
}

int spawn_count(void)
{
    int n = 0;
    for (struct proc *p = M.procs; p; p = p->next)
        n++;
    return n;
}

/* ---- throttling ---- */

static void unthrottle(event_loop *loop, void *ctx)
{
    struct svc *s = ctx;
    s->throttle_timer = 0;
    s->throttled = false;
    spawn_update_listen(s);
}

static void throttle(struct svc *s)
{
    if (s->throttled)
        return;
    s->throttled = true;
    long secs = M.par.throttle_time > 0 ? M.par.throttle_time : 60;
    if (secs > 7 * 86400)
        secs = 7 * 86400;
    s->throttle_timer = event_timer_add(M.loop, (int) (secs * 1000), 0, unthrottle, s);
    spawn_update_listen(s);
}

/* ---- the child side of fork ---- */

static void exec_worker(const struct svc *s)
{
    event_child_reset();
    msg_set_cleanup(0);
    master_log_reconnect();     /* its descriptor may be one of 3..5 */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, 0);

    /* Move every descriptor the worker gets above the target numbers
     * first, so that no dup2() below overwrites a source. */
    int floor = MASTER_WATCH_FD + 1 + (int) s->nfds + 1;
    int listen_src[s->nfds ? s->nfds : 1];
    for (size_t i = 0; i < s->nfds; i++)
        if ((listen_src[i] = fcntl(s->fds[i], F_DUPFD_CLOEXEC, floor)) < 0)
            msg_fatal("dup listener: %m");
    int status_src = fcntl(s->status_wr, F_DUPFD_CLOEXEC, floor);
    int watch_src = fcntl(M.watch_rd, F_DUPFD_CLOEXEC, floor);
    if (status_src < 0 || watch_src < 0)
        msg_fatal("dup status/watch pipe: %m");
    /* dup2() clears close-on-exec on the copies; everything else master
     * holds is close-on-exec and disappears at exec. */
    for (size_t i = 0; i < s->nfds; i++) {
        int target = i == 0 ? MASTER_LISTEN_FD : MASTER_WATCH_FD + (int) i;
        if (dup2(listen_src[i], target) < 0)
            msg_fatal("dup2 listener: %m");
    }
    if (dup2(status_src, MASTER_STATUS_FD) < 0 || dup2(watch_src, MASTER_WATCH_FD) < 0)
        msg_fatal("dup2 status/watch pipe: %m");

    strv argv;
    strv_init(&argv);
    const char *base = strrchr(s->prog, '/');
    strv_add(&argv, base ? base + 1 : s->prog);
    strv_add(&argv, "-n");
    strv_add(&argv, s->name);
    strv_add(&argv, "-t");
    strv_add(&argv, s->type);
    if (s->unpriv)
        strv_add(&argv, "-u");
    for (int i = 0; i < M.verbose && i < 5; i++)
        strv_add(&argv, "-v");
    if (s->nfds > 1) {
        char n[16];
        snprintf(n, sizeof(n), "%zu", s->nfds);
        strv_add(&argv, "-s");
        strv_add(&argv, n);
    }
    for (size_t i = 0; i < s->args.n; i++)
        strv_add(&argv, s->args.v[i]);
    execv(s->prog, argv.v);
    msg_fatal("exec %s: %m", s->prog);
}

/* ---- starting a worker ---- */

static void spawn_one(struct svc *s)
{
    if (M.stopping || s->throttled || s->nfds == 0)
        return;
    if (s->maxproc > 0 && s->total >= s->maxproc) {
        spawn_update_listen(s);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        msg_warn("fork: %m -- throttling service %s", svc_label(s));
        throttle(s);
        return;
    }
    if (pid == 0)
        exec_worker(s);
    struct proc *p = xcalloc(1, sizeof(*p));
    p->pid = pid;
    p->svc = s;
    p->gen = M.gen;
    p->avail = true;
    p->next = M.procs;
    M.procs = p;
    s->total++;
    s->avail++;
    s->used = true;
    if (msg_verbose)
        msg_info("spawn %s pid %ld for service %s", s->prog, (long) pid, svc_label(s));
    spawn_update_listen(s);
}

static void on_listen_ready(event_loop *loop, int fd, int ready, void *ctx)
{
    spawn_one(ctx);
}

static void limit_warning(struct svc *s)
{
    int64_t now = event_time_ms();
    if (s->maxproc <= 1
        || (s->limit_warned_ms && now - s->limit_warned_ms < LIMIT_WARN_INTERVAL_MS))
        return;
    s->limit_warned_ms = now;
    msg_warn("service \"%s\" (%s) has reached its process limit \"%d\": new clients may "
             "experience noticeable delays", s->name,
             s->kind == SVC_INET && s->naddrs ? s->addrs[0].text : s->path, s->maxproc);
    msg_warn("to avoid this condition, increase the process count in master.cf or reduce "
             "the service time per client");
}

void spawn_update_listen(struct svc *s)
{
    bool at_limit = s->maxproc > 0 && s->total >= s->maxproc;
    bool want = !M.stopping && !s->throttled && s->nfds > 0 && s->avail == 0 && !at_limit;
    if (want && !s->listening) {
        for (size_t i = 0; i < s->nfds; i++)
            if (event_fd_add(M.loop, s->fds[i], EVENT_READ, on_listen_ready, s) < 0)
                msg_warn("watch listener of %s: %m", svc_label(s));
        s->listening = true;
    } else if (!want && s->listening) {
        for (size_t i = 0; i < s->nfds; i++)
            event_fd_remove(M.loop, s->fds[i]);
        s->listening = false;
    }
    if (at_limit && s->avail == 0 && !s->throttled && !M.stopping)
        limit_warning(s);
}

/* ---- status reports ---- */

static void on_status(event_loop *loop, int fd, int ready, void *ctx)
{
    struct svc *s = ctx;
    struct master_status st[64];
    ssize_t n = read(fd, st, sizeof(st));
    if (n <= 0)
        return;
    for (size_t i = 0; i < (size_t) n / sizeof(st[0]); i++) {
        struct proc *p = find_proc(st[i].pid, 0);
        if (!p || p->svc != s) {
            if (msg_verbose)
                msg_info("status from unknown pid %ld on service %s", (long) st[i].pid,
                         svc_label(s));
            continue;
        }
        if (st[i].status == MASTER_STAT_TAKEN) {
            p->use_count++;
            if (p->avail) {
                p->avail = false;
                s->avail--;
            }
        } else if (st[i].status == MASTER_STAT_AVAIL) {
            if (!p->avail && p->gen == M.gen) {
                p->avail = true;
                s->avail++;
            }
        } else {
            msg_warn("bad status %d from pid %ld of service %s", st[i].status,
                     (long) st[i].pid, svc_label(s));
        }
    }
    spawn_update_listen(s);
}

void spawn_init_service(struct svc *s)
{
    if (s->status_rd < 0) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
            msg_fatal("create status pipe: %m");
        fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
        s->status_rd = fds[0];
        s->status_wr = fds[1];
        if (event_fd_add(M.loop, s->status_rd, EVENT_READ, on_status, s) < 0)
            msg_fatal("watch status pipe: %m");
    }
    spawn_update_listen(s);
}

void spawn_close_service(struct svc *s)
{
    for (struct proc *p = M.procs; p; p = p->next)
        if (p->svc == s) {
            p->svc = 0;
            kill(p->pid, SIGTERM);
        }
    if (s->throttle_timer) {
        event_timer_cancel(M.loop, s->throttle_timer);
        s->throttle_timer = 0;
    }
    if (s->status_rd >= 0) {
        event_fd_remove(M.loop, s->status_rd);
        close(s->status_rd);
        close(s->status_wr);
        s->status_rd = s->status_wr = -1;
    }
    s->total = s->avail = 0;
}

void spawn_new_generation(void)
{
    for (struct proc *p = M.procs; p; p = p->next)
        if (p->gen == M.gen && p->avail) {
            p->avail = false;
            if (p->svc)
                p->svc->avail--;
        }
    M.gen++;
}

void spawn_signal_all(int sig, bool all_generations)
{
    for (struct proc *p = M.procs; p; p = p->next)
        if (all_generations || p->gen == M.gen)
            kill(p->pid, sig);
}

/* ---- reaping ---- */

void spawn_reap(event_loop *loop, int signo, void *ctx)
{
    pid_t pid;
    int status;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct proc **link;
        struct proc *p = find_proc(pid, &link);
        if (!p)
            continue;
        *link = p->next;
        struct svc *s = p->svc;
        bool old_gen = p->gen != M.gen;
        if (s) {
            s->total--;
            if (p->avail)
                s->avail--;
        }
        const char *prog = s ? s->prog : "(removed service)";
        bool bad = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* Deaths master caused itself (stop, a service removed) are no news. */
        bool quiet = (M.stopping || !s) && WIFSIGNALED(status)
                     && (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL);
        if (bad && !quiet) {
            if (WIFEXITED(status))
                msg_warn("process %s pid %ld exit status %d", prog, (long) pid,
                         WEXITSTATUS(status));
            else if (WIFSIGNALED(status))
                msg_warn("process %s pid %ld killed by signal %d", prog, (long) pid,
                         WTERMSIG(status));
        }
        /* SIGKILL, SIGTERM, ... come from outside (an administrator, the
         * OOM killer): they say nothing about whether the program starts. */
        bool killed = WIFSIGNALED(status)
                      && (WTERMSIG(status) == SIGKILL || WTERMSIG(status) == SIGTERM
                          || WTERMSIG(status) == SIGINT || WTERMSIG(status) == SIGHUP);
        if (bad && !killed && s && p->use_count == 0 && !s->throttled && !M.stopping) {
            msg_warn("%s: bad command startup -- throttling", s->prog);
            throttle(s);
        }
        xfree(p);
        if (s) {
            spawn_update_listen(s);
            /* The last process (qmgr, pickup) from before a reload is gone: a
             * new one starts now, not at the next wakeup, so that what it left in
             * active/ is finished at once. */
            if (old_gen && s->total == 0)
                wakeup_now(s);
        }
    }
    if (M.stopping)
        master_stop(loop, 0, 0);
}
