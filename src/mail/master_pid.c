/*
 * master_pid.c - master.pid: write, lock and query (see master_pid.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mail/master_pid.h"
#include "mail/mail_conf.h"
#include "util/safe_file.h"

int master_pid_path(char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/pid/master.pid", mail_conf_str("queue_directory"));
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

static void whole_file_lock(struct flock *fl, short type)
{
    memset(fl, 0, sizeof(*fl));
    fl->l_type = type;
    fl->l_whence = SEEK_SET;
    fl->l_start = 0;
    fl->l_len = 0;
}

pid_t master_pid_running(void)
{
    char path[4096];
    if (master_pid_path(path, sizeof(path)) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct flock fl;
    whole_file_lock(&fl, F_WRLCK);
    int r = fcntl(fd, F_GETLK, &fl);
    int err = errno;
    close(fd);
    if (r < 0) {
        errno = err;
        return -1;
    }
    return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

int master_pid_lock(pid_t *holder)
{
    char path[4096];
    if (master_pid_path(path, sizeof(path)) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -1;
    struct flock fl;
    whole_file_lock(&fl, F_WRLCK);
    if (fcntl(fd, F_SETLK, &fl) < 0) {
        int err = errno;
        if (err == EACCES || err == EAGAIN) {
            err = EAGAIN;
            if (holder) {
                whole_file_lock(&fl, F_WRLCK);
                *holder = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK ? fl.l_pid : 0;
            }
        }
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int master_pid_write(int fd, pid_t pid)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%10ld\n", (long) pid);
    if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return -1;
    if (write_full(fd, buf, (size_t) n) < 0)
        return -1;
    return fsync(fd);
}
