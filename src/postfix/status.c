/*
 * status.c - "postfix status": is master running? Exit 0 if so, 1 if not.
 */
#include "postfix/postfix.h"
#include "mail/master_pid.h"

int postfix_status(void)
{
    pid_t pid = master_pid_running();
    if (pid < 0)
        script_fatal("cannot examine the master pid file: %m");
    if (pid == 0) {
        script_info("the Postfix mail system is not running");
        return 1;
    }
    script_info("the Postfix mail system is running: PID: %ld", (long) pid);
    return 0;
}
