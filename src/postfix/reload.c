/*
 * reload.c - "postfix reload": check the configuration, then SIGHUP master.
 *
 * A configuration that "postfix check" finds fatal is not handed to the
 * running system (master would refuse it anyway and keep the old one).
 */
#include <errno.h>
#include <signal.h>

#include "postfix/postfix.h"
#include "mail/master_pid.h"

int postfix_reload(void)
{
    script_require_root();
    pid_t pid = master_pid_running();
    if (pid <= 0)
        script_fatal("the Postfix mail system is not running");
    if (postfix_check(true) != 0)
        script_fatal("Postfix integrity check failed!");
    script_info("refreshing the Postfix mail system");
    if (kill(pid, SIGHUP) < 0)
        script_fatal("send SIGHUP to master pid %ld: %m", (long) pid);
    return 0;
}
