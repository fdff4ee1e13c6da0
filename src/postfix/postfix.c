/*
 * postfix.c - the postfix command: start, stop, reload, check, status, ...
 *
 * Usage: postfix [-c config_dir] [-Dv] command. Each command lives in its
 * own file; this one parses options, loads main.cf and dispatches. The
 * configuration directory (-c, else $MAIL_CONFIG, else the default) is
 * made absolute and exported as MAIL_CONFIG, so master and its workers
 * read the same files.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "postfix/postfix.h"
#include "mail/mail_conf.h"
#include "util/msg.h"

static void usage(void)
{
    msg_fatal("usage: postfix [-c config_dir] [-Dv] command "
              "(start stop reload abort flush check status set-permissions start-fg)");
}

int main(int argc, char **argv)
{
    const char *config_dir = 0;
    int ch;
    msg_init("postfix", MSG_TO_STDERR | MSG_TO_SYSLOG);
    while ((ch = getopt(argc, argv, "c:Dv")) != -1) {
        switch (ch) {
        case 'c': config_dir = optarg; break;
        case 'D': break;
        case 'v': msg_verbose++; break;
        default: usage();
        }
    }
    if (optind >= argc)
        usage();
    if (!config_dir)
        config_dir = getenv("MAIL_CONFIG");
    char abs_dir[PATH_MAX];
    if (config_dir && *config_dir) {
        if (config_dir[0] != '/' && realpath(config_dir, abs_dir))
            config_dir = abs_dir;
        setenv("MAIL_CONFIG", config_dir, 1);
    }
    mail_conf_load(config_dir);
    mail_conf_setup_logging();
    msg_set_targets(msg_get_targets() | MSG_TO_STDERR);
    const char *cmd = argv[optind];
    if (strcmp(cmd, "check") == 0)
        return postfix_check(false);

    static const struct {
        const char *name;
        int (*fn)(void);
    } script_cmds[] = {
        {"stop", postfix_stop},
        {"abort", postfix_abort},
        {"reload", postfix_reload},
        {"status", postfix_status},
        {"flush", postfix_flush},
        {"set-permissions", postfix_set_permissions},
    };
    if (strcmp(cmd, "start") == 0 || strcmp(cmd, "start-fg") == 0) {
        script_init();
        return postfix_start(strcmp(cmd, "start-fg") == 0);
    }
    for (size_t i = 0; i < sizeof(script_cmds) / sizeof(script_cmds[0]); i++)
        if (strcmp(cmd, script_cmds[i].name) == 0) {
            script_init();
            return script_cmds[i].fn();
        }
    msg_fatal("unknown command: '%s'. Usage: postfix start (or stop, reload, abort, flush, "
              "check, status, set-permissions, start-fg)", cmd);
}
