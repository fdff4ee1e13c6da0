/*
 * master_stop.c - SIGTERM (stop) and SIGINT (abort).
 *
 * Stop: close every listener (so no new client is accepted), close the
 * watch pipe (idle workers exit at once, busy ones after their current
 * client), send SIGTERM to those still there after STOP_TERM_DELAY_MS, and
 * wait for all of them, at most STOP_GRACE_MS; then SIGKILL whatever is
 * left, reap it, release the pid file lock and exit.
 * Logs "terminating on signal 15" through postlogd before any worker is
 * told to stop (postlogd drains its socket when it exits); master's
 * later lines are appended to maillog_file directly (master is root),
 * since once master has closed its copy of the postlog socket nobody
 * might be left to read it.
 * Abort: SIGKILL every worker and exit at once.
 * spawn_reap() calls master_stop(loop, 0, 0) after reaping while
 * stopping, to finish when the last worker is gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "master/master.h"
#include "util/msg.h"

#define STOP_TERM_DELAY_MS 1000
#define STOP_GRACE_MS 10000

static uint64_t deadline_timer;

static void finish(void)
{
    if (M.pid_fd >= 0) {
        close(M.pid_fd);       /* releases the lock */
        M.pid_fd = -1;
    }
    exit(0);
}

static void send_term(event_loop *loop, void *ctx)
{
    spawn_signal_all(SIGTERM, true);
}

static void kill_rest(event_loop *loop, void *ctx)
{
    deadline_timer = 0;
    if (spawn_count() > 0)
        msg_warn("%d process%s still running after %d seconds: killing", spawn_count(),
                 spawn_count() == 1 ? "" : "es", STOP_GRACE_MS / 1000);
    spawn_signal_all(SIGKILL, true);
    /* SIGKILL cannot be ignored: reap them now, briefly bounded. */
    for (int i = 0; i < 50 && spawn_count() > 0; i++) {
        spawn_reap(0, 0, 0);
        if (spawn_count() > 0)
            usleep(20000);
    }
    finish();
}

static void quiesce(int signo)
{
    M.stopping = true;
    for (struct svc *s = M.services; s; s = s->next) {
        wakeup_stop(s);
        listen_close(s);
    }
    /* This line still reaches postlogd, which is not told to stop yet
     * and drains its socket before it exits... */
    master_log_reconnect();
    msg_info("terminating on signal %d", signo);
    /* ...but later ones could land in a socket nobody reads any more:
     * master is root and appends them to maillog_file itself. */
    if (*M.par.maillog_file)
        msg_set_targets((msg_get_targets() & ~MSG_TO_POSTLOG) | MSG_TO_FILE);
    if (M.watch_wr >= 0) {
        close(M.watch_wr);
        M.watch_wr = -1;
    }
}

void master_stop(event_loop *loop, int signo, void *ctx)
{
    if (signo == SIGINT) {
        quiesce(signo);
        spawn_signal_all(SIGKILL, true);
        finish();
    }
    if (signo && !M.stopping) {
        quiesce(signo);
        /* Idle workers go at once on the watch pipe's EOF; postlogd first
         * drains what is queued (even one still starting up reaches its
         * loop). SIGTERM follows for the busy ones. */
        event_timer_add(M.loop, STOP_TERM_DELAY_MS, 0, send_term, 0);
        deadline_timer = event_timer_add(M.loop, STOP_GRACE_MS, 0, kill_rest, 0);
    }
    if (M.stopping && spawn_count() == 0)
        finish();
}
