/*
 * start.c - "postfix start" and "postfix start-fg".
 *
 * Refuses when master already runs (its pid file is locked); runs the
 * checks of "postfix check" quietly (a configuration error stops the
 * start; missing queue directories are created); cleans up after a
 * crash (recover.c); logs "starting the Postfix mail system"; then runs
 * $daemon_directory/master. start waits for master's parent process,
 * which returns only when the daemon has its listeners and pid file
 * (exit 0) or has failed (its error is on stderr): the exit status of
 * "postfix start" says whether the mail system is up. start-fg replaces
 * this process with "master -d", which stays in the foreground.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "postfix/postfix.h"
#include "mail/mail_conf.h"
#include "mail/master_pid.h"
#include "util/msg.h"

int postfix_start(bool foreground)
{
    script_require_root();
    pid_t pid = master_pid_running();
    if (pid > 0)
        script_fatal("the Postfix mail system is already running");
    if (postfix_check(true) != 0)
        script_fatal("Postfix integrity check failed!");
    postfix_recover();

    char master[PATH_MAX];
    snprintf(master, sizeof(master), "%s/master", mail_conf_str("daemon_directory"));
    char *argv[8];
    int argc = 0;
    argv[argc++] = "master";
    if (foreground)
        argv[argc++] = "-d";
    for (int i = 0; i < msg_verbose && argc < 6; i++)
        argv[argc++] = "-v";
    argv[argc] = 0;

    script_info("starting the Postfix mail system");
    if (foreground) {
        execv(master, argv);
        script_fatal("exec %s: %s", master, strerror(errno));
    }
    fflush(stderr);
    pid_t child = fork();
    if (child < 0)
        script_fatal("fork: %s", strerror(errno));
    if (child == 0) {
        execv(master, argv);
        fprintf(stderr, "%s: fatal: exec %s: %s\n", msg_tag(), master, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR)
            script_fatal("wait for master: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        script_fatal("mail system startup failed");
    return 0;
}
