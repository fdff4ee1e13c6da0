/*
 * postfix.c - the postfix command: start, stop, reload, check, status, ...
 *
 * Usage: postfix [-c config_dir] [-Dv] command. Each command lives in its
 * own file; this one parses options, loads main.cf and dispatches.
 */
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
    if (config_dir)
        setenv("MAIL_CONFIG", config_dir, 1);
    mail_conf_load(config_dir);
    mail_conf_setup_logging();
    msg_set_targets(msg_get_targets() | MSG_TO_STDERR);
    const char *cmd = argv[optind];
    if (strcmp(cmd, "check") == 0)
        return postfix_check(false);
    msg_fatal("unknown command: '%s'. Usage: postfix start (or stop, reload, abort, flush, "
              "check, status, set-permissions)", cmd);
}
