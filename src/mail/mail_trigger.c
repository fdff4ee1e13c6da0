/*
 * mail_trigger.c - wake a daemon (see mail_trigger.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "mail/mail_trigger.h"
#include "mail/mail_conf.h"
#include "util/safe_file.h"
#include "util/sock.h"

int mail_trigger(const char *class, const char *service, const void *buf, size_t len)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s/%s", mail_conf_str("queue_directory"), class,
                     service);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    int fd;
    if (S_ISFIFO(st.st_mode)) {
        /* Non-blocking: a FIFO nobody reads must not hang the caller. */
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    } else if (S_ISSOCK(st.st_mode)) {
        long timeout = mail_conf_time("trigger_timeout");
        fd = sock_connect_unix(path, timeout > 0 ? (int) (timeout * 1000) : 10000);
    } else {
        errno = ENOTSOCK;
        return -1;
    }
    if (fd < 0)
        return -1;
    int rc = 0;
    if (len > 0) {
        ssize_t w;
        if (S_ISSOCK(st.st_mode)) {
            do
                w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            while (w < 0 && errno == EINTR);
        } else {
            do
                w = write(fd, buf, len);
            while (w < 0 && errno == EINTR);
        }
        if (w < 0 || (size_t) w != len)
            rc = -1;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}
