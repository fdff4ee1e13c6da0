/*
 * safe_file.c - atomic file replacement and careful creation (see safe_file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util/safe_file.h"
#include "util/mem.h"

int write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

int fsync_parent_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else if ((size_t) (slash - path) >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    } else
        snprintf(dir, sizeof(dir), "%.*s", (int) (slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int safe_create_temp(const char *path_like, char *name, size_t name_size, mode_t mode)
{
    static unsigned counter;
    struct timespec ts;
    for (int attempt = 0; attempt < 100; attempt++) {
        clock_gettime(CLOCK_REALTIME, &ts);
        int n = snprintf(name, name_size, "%s.tmp.%ld.%lx%x", path_like, (long) getpid(),
                         (unsigned long) ts.tv_nsec, counter++);
        if (n < 0 || (size_t) n >= name_size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0) {
            fchmod(fd, mode);
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

int safe_commit_temp(int fd, const char *tmpname, const char *path)
{
    if (fsync(fd) < 0 || close(fd) < 0) {
        int saved = errno;
        close(fd);
        unlink(tmpname);
        errno = saved;
        return -1;
    }
    if (rename(tmpname, path) < 0) {
        int saved = errno;
        unlink(tmpname);
        errno = saved;
        return -1;
    }
    return fsync_parent_dir(path);
}

int safe_replace(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4200];
    int fd = safe_create_temp(path, tmp, sizeof(tmp), mode);
    if (fd < 0)
        return -1;
    if (write_full(fd, data, len) < 0) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return safe_commit_temp(fd, tmp, path);
}

char *read_file(const char *path, size_t max_len, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap >= max_len) {
                xfree(buf);
                close(fd);
                errno = EFBIG;
                return 0;
            }
            cap = cap * 2 > max_len ? max_len : cap * 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            xfree(buf);
            close(fd);
            errno = saved;
            return 0;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    close(fd);
    buf[len] = 0;
    if (len_out)
        *len_out = len;
    return buf;
}
