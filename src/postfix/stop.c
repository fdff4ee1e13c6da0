/*
 * stop.c - "postfix stop" and "postfix abort".
 *
 * stop: SIGTERM to master, which closes its listeners, lets its workers
 * finish (bounded) and exits; we wait until master's pid file lock is
 * free, at most STOP_WAIT_MS, then kill what is left (master's process
 * group) with SIGKILL. abort: SIGINT to master, which kills its workers
 * at once; SIGKILL after ABORT_WAIT_MS. Both return 0 once the mail
 * system is down, and fail when it was not running.
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "postfix/postfix.h"
#include "mail/master_pid.h"

#define STOP_WAIT_MS 30000
#define ABORT_WAIT_MS 5000

static pid_t running_master(void)
{
    pid_t pid = master_pid_running();
    if (pid < 0)
        script_fatal("cannot examine the master pid file: %m");
    if (pid == 0)
        script_fatal("the Postfix mail system is not running");
    return pid;
}

static void force(pid_t pid)
{
    script_warn("stopping the Postfix mail system with force");
    if (getpgid(pid) == pid)
        kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    if (!script_wait_stopped(5000))
        script_fatal("the Postfix mail system (pid %ld) does not go away", (long) pid);
}

int postfix_stop(void)
{
    script_require_root();
    pid_t pid = running_master();
    script_info("stopping the Postfix mail system");
    if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
        script_fatal("send SIGTERM to master pid %ld: %m", (long) pid);
    if (!script_wait_stopped(5000)) {
        script_info("waiting for the Postfix mail system to terminate");
        if (!script_wait_stopped(STOP_WAIT_MS - 5000))
            force(pid);
    }
    return 0;
}

int postfix_abort(void)
{
    script_require_root();
    pid_t pid = running_master();
    script_info("aborting the Postfix mail system");
    if (kill(pid, SIGINT) < 0 && errno != ESRCH)
        script_fatal("send SIGINT to master pid %ld: %m", (long) pid);
    if (!script_wait_stopped(ABORT_WAIT_MS))
        force(pid);
    return 0;
}
