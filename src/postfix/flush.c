/*
 * flush.c - "postfix flush": ask qmgr to retry the deferred queue now.
 *
 * Writes the wake-up byte 'F' to $queue_directory/public/qmgr (master
 * holds that socket; qmgr reads it). When nobody listens there the mail
 * system is down and we say so.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "postfix/postfix.h"
#include "mail/mail_conf.h"
#include "util/sock.h"

int postfix_flush(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/public/%s", mail_conf_str("queue_directory"),
             mail_conf_str("queue_service_name"));
    int fd = sock_connect_unix(path, 5000);
    if (fd < 0)
        script_fatal("cannot flush the mail queue: the mail system is down (connect to %s: %s)",
                     path, strerror(errno));
    if (send(fd, "F", 1, MSG_NOSIGNAL) != 1) {
        int err = errno;
        close(fd);
        script_fatal("cannot flush the mail queue: write to %s: %s", path, strerror(err));
    }
    close(fd);
    return 0;
}
