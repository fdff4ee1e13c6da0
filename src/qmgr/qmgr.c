/*
 * qmgr.c - the queue manager: start-up, wake-up triggers, timers.
 *
 * Moves committed mail from incoming/ (and due mail from deferred/) to
 * active/, hands its recipients to delivery agents per transport and
 * destination, records each result, and finally removes the message or
 * puts it in deferred/ with a retry time (docs/queue.md).
 *
 * Triggers: fd 3 is the public/qmgr UNIX stream listener. A client
 * connects, writes bytes and closes: 'A' new mail in incoming/, 'F' flush
 * (every deferred message is due now, throttled transports and dead
 * destinations get another chance), 'W' periodic wake-up from master. Unknown bytes are ignored.
 * Timers: incoming/ every QMGR_INCOMING_SCAN seconds as a safety net,
 * deferred/ every queue_run_delay, and a one-second tick that notices
 * when master wants us gone.
 *
 * This file does not deliver, read queue files or talk to agents.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "mail/queue_dirs.h"
#include "qmgr/qmgr.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sock.h"
#include "util/strv.h"

#define QMGR_INCOMING_SCAN  5       /* seconds between safety-net scans of incoming/ */
#define QMGR_TRIGGER_MAX    1024    /* bytes read from one trigger client */
#define QMGR_DRAIN_MAX      60      /* seconds to wait for deliveries when leaving */

struct qmgr_state qmgr;

static bool want_incoming, want_deferred, want_flush;    /* new scans asked for */
static bool resume_incoming, resume_deferred;           /* room for a stopped scan */

/* ---- deferred work: scans and scheduling run once per loop iteration ---- */

static void run_scans(event_loop *loop, void *ctx)
{
    (void) loop;
    (void) ctx;
    qmgr.scan_queued = false;
    if (qmgr.exiting)
        return;
    bool inc = want_incoming, def = want_deferred, flush = want_flush;
    bool more_inc = resume_incoming, more_def = resume_deferred;
    want_incoming = want_deferred = want_flush = false;
    resume_incoming = resume_deferred = false;
    if (flush)
        qmgr_unthrottle_all();
    if (inc || more_inc)
        qmgr_scan_incoming(inc);
    if (def || flush || more_def)
        qmgr_scan_deferred(def, flush);
    qmgr_want_schedule();
}

void qmgr_resume_scans(void)
{
    resume_incoming |= qmgr.more_incoming;
    resume_deferred |= qmgr.more_deferred;
    if ((resume_incoming || resume_deferred) && !qmgr.scan_queued) {
        qmgr.scan_queued = true;
        event_defer(qmgr.loop, run_scans, 0);
    }
}

void qmgr_want_scan(bool incoming, bool deferred)
{
    want_incoming |= incoming;
    want_deferred |= deferred;
    if (!qmgr.scan_queued) {
        qmgr.scan_queued = true;
        event_defer(qmgr.loop, run_scans, 0);
    }
}

static void want_flush_now(void)
{
    want_flush = true;
    qmgr_want_scan(true, true);
}

static void run_schedule(event_loop *loop, void *ctx)
{
    (void) loop;
    (void) ctx;
    qmgr.sched_queued = false;
    qmgr_schedule();
}

void qmgr_want_schedule(void)
{
    if (!qmgr.sched_queued) {
        qmgr.sched_queued = true;
        event_defer(qmgr.loop, run_schedule, 0);
    }
}

/* ---- the trigger socket ---- */

struct trigger_client {
    int     fd;
    size_t  got;
};

static void trigger_bytes(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (buf[i]) {
        case 'A':
            qmgr_want_scan(true, false);
            break;
        case 'F':
            want_flush_now();
            break;
        case 'W':
            qmgr_want_scan(true, false);
            break;
        default:
            break;
        }
    }
}

static void trigger_close(struct trigger_client *tc)
{
    event_fd_remove(qmgr.loop, tc->fd);
    close(tc->fd);
    xfree(tc);
}

static void on_trigger_data(event_loop *loop, int fd, int ready, void *ctx)
{
    (void) loop;
    (void) ready;
    struct trigger_client *tc = ctx;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        trigger_close(tc);
        return;
    }
    trigger_bytes(buf, (size_t) n);
    tc->got += (size_t) n;
    if (tc->got >= QMGR_TRIGGER_MAX)
        trigger_close(tc);
}

static void on_trigger_accept(event_loop *loop, int fd, int ready, void *ctx)
{
    (void) ready;
    (void) ctx;
    int cfd = sock_accept(fd, 0, 0);
    if (cfd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
            && errno != ECONNABORTED)
            msg_warn("accept trigger connection: %m");
        return;
    }
    sock_set_nonblock(cfd, 1);
    struct trigger_client *tc = xcalloc(1, sizeof(*tc));
    tc->fd = cfd;
    if (event_fd_add(loop, cfd, EVENT_READ, on_trigger_data, tc) < 0) {
        msg_warn("watch trigger connection: %m");
        close(cfd);
        xfree(tc);
    }
}

/* ---- timers ---- */

/*
 * Leaving (reload, stop): take nothing new, let deliveries in flight
 * report (their results are recorded, so the next qmgr does not deliver
 * them again), then exit; at most QMGR_DRAIN_MAX seconds. The next qmgr
 * waits for our lock (see take_lock) before it touches active/.
 */
static void on_tick(event_loop *loop, void *ctx)
{
    (void) ctx;
    static int64_t exit_since;
    if (!qmgr.exiting && mail_server_should_exit()) {
        qmgr.exiting = true;
        exit_since = event_time_ms();
        if (qmgr.listen_fd >= 0)
            event_fd_remove(loop, qmgr.listen_fd);
        if (qmgr.busy || qmgr.notifying)
            msg_info("waiting for %d deliveries and %d notifications before exit", qmgr.busy,
                     qmgr.notifying);
    }
    if (qmgr.exiting && ((qmgr.busy == 0 && qmgr.notifying == 0)
                         || event_time_ms() - exit_since > QMGR_DRAIN_MAX * 1000))
        event_loop_stop(loop);
}

static void on_incoming_timer(event_loop *loop, void *ctx)
{
    (void) loop;
    (void) ctx;
    qmgr_want_scan(true, false);
}

static void on_deferred_timer(event_loop *loop, void *ctx)
{
    (void) loop;
    (void) ctx;
    qmgr_want_scan(false, true);
}

/* ---- start-up ---- */

static void read_config(void)
{
    qmgr.active_limit = mail_conf_int("qmgr_message_active_limit");
    qmgr.rcpt_limit = mail_conf_int("qmgr_message_recipient_limit");
    qmgr.min_backoff = mail_conf_time("minimal_backoff_time");
    qmgr.max_backoff = mail_conf_time("maximal_backoff_time");
    qmgr.max_lifetime = mail_conf_time("maximal_queue_lifetime");
    qmgr.bounce_lifetime = mail_conf_time("bounce_queue_lifetime");
    qmgr.queue_run_delay = mail_conf_time("queue_run_delay");
    qmgr.transport_retry = mail_conf_time("transport_retry_time");
    qmgr.delay_warning = mail_conf_time("delay_warning_time");
    long ipc = mail_conf_time("qmgr_ipc_timeout");
    qmgr.ipc_timeout_ms = ipc > 3600 ? 3600 * 1000 : (int) ipc * 1000;
    qmgr.process_limit = (int) mail_conf_int("default_process_limit");
    qmgr.total_cap = qmgr.process_limit * 10;
    qmgr.initial_concurrency = (int) mail_conf_int("initial_destination_concurrency");
    qmgr.feedback_debug = mail_conf_bool("destination_concurrency_feedback_debug");
    strv_init(&qmgr.defer_transports);
    strv_split(&qmgr.defer_transports, mail_conf_str("defer_transports"), ", \t\r\n");
    /* Postfix caps the bounce lifetime at the message lifetime. */
    if (qmgr.bounce_lifetime > qmgr.max_lifetime)
        qmgr.bounce_lifetime = qmgr.max_lifetime;
    if (qmgr.max_backoff < qmgr.min_backoff)
        qmgr.max_backoff = qmgr.min_backoff;
    strv classes = {0};
    mail_conf_list("notify_classes", &classes);
    for (size_t i = 0; i < classes.n; i++)
        if (strcasecmp(classes.v[i], "2bounce") == 0)
            qmgr.notify_2bounce = true;
    strv_free(&classes);
    qmgr.double_bounce = xstrdup(mail_conf_str("double_bounce_sender"));
    qmgr.bounce_service = xstrdup(mail_conf_str("bounce_service_name"));
}

/*
 * One queue manager at a time owns active/. After a reload master may
 * start a new qmgr while the old one is still waiting for its last
 * deliveries; the new one must not move active/ back to incoming/ under
 * its feet. The lock is flock(2) on the active/ directory itself (no
 * file to clean up; the kernel drops it when the process dies, kill -9
 * included).
 */
static void take_lock(void)
{
    char dir[4200];
    if (snprintf(dir, sizeof(dir), "%s/%s", mail_conf_str("queue_directory"), QUEUE_ACTIVE)
        >= (int) sizeof(dir))
        msg_fatal("queue_directory is too long");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        msg_fatal("open %s: %m", dir);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return;
    if (errno != EWOULDBLOCK)
        msg_fatal("lock %s: %m", dir);
    msg_info("waiting for the previous queue manager to finish");
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            msg_fatal("lock %s: %m", dir);
    /* fd stays open: the lock lasts as long as this process. */
}

/* Every active message and every delivery holds a descriptor for a while. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void qmgr_loop(int listen_fd, const char *service)
{
    (void) service;
    read_config();
    raise_fd_limit();
    take_lock();
    qmgr.listen_fd = listen_fd;
    qmgr.loop = event_loop_new();
    if (listen_fd >= 0) {
        sock_set_nonblock(listen_fd, 1);
        if (event_fd_add(qmgr.loop, listen_fd, EVENT_READ, on_trigger_accept, 0) < 0)
            msg_fatal("watch trigger socket: %m");
    }
    /* Whatever was active when the last qmgr stopped lost its in-memory
     * state: it goes back to incoming/ and starts over. Done recipients
     * are marked in the file, so nobody gets the message twice. */
    qmgr_recover_active();
    qmgr.startup_scan = true;
    event_timer_add(qmgr.loop, 1000, 1000, on_tick, 0);
    event_timer_add(qmgr.loop, QMGR_INCOMING_SCAN * 1000, QMGR_INCOMING_SCAN * 1000,
                    on_incoming_timer, 0);
    long rd = qmgr.queue_run_delay > 86400 ? 86400 : qmgr.queue_run_delay;
    event_timer_add(qmgr.loop, (int) rd * 1000, (int) rd * 1000, on_deferred_timer, 0);
    qmgr_want_scan(true, true);
    /* qmgr owns its listener for good: tell master it is taken (master
     * then also knows a later crash is not a start-up failure). */
    mail_server_busy(true);
    if (listen_fd < 0)
        msg_info("running stand-alone: no trigger socket");
    event_loop_run(qmgr.loop);
    if (msg_verbose)
        msg_info("exiting");
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "qmgr",
        .kind = MAIL_SERVER_EVENT,
        .loop = qmgr_loop,
    };
    return mail_server_main(argc, argv, &srv);
}
