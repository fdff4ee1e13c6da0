/*
 * dict_build.c - atomic table builds: temp file, fill, fsync, rename (see dict_build.h).
 *
 * Knows file names, modes, locks and renames; what goes into the table is
 * the caller's business, and the file format is dict_db.c's / dict_lmdb.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "util/dict_build.h"
#include "util/dict_impl.h"
#include "util/safe_file.h"
#include "util/mem.h"
#include "util/msg.h"

#define MAX_ACTIVE 16

struct dict_build {
    dict   *d;
    char   *target;             /* NAME.db */
    char   *tmpbase;            /* NAME.hk-tmp-PID-N (the opener adds the suffix) */
    char   *tmppath;            /* tmpbase + suffix */
    int     lock_fd;            /* flock on the old table, or -1 */
    int     have_old;
    struct stat old;            /* of target, when have_old */
    mode_t  mode;
    int     slot;
};

/* Temp names of unfinished builds, for dict_build_cleanup(). */
static char *volatile active[MAX_ACTIVE];

void dict_build_cleanup(void)
{
    for (int i = 0; i < MAX_ACTIVE; i++)
        if (active[i])
            unlink(active[i]);
}

/* Lock the existing table; retry when it is replaced while we wait. */
static int lock_target(dict_build *b)
{
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(b->target, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ENOENT) {
                b->have_old = 0;
                return 0;
            }
            return -1;
        }
        if (flock(fd, LOCK_EX) < 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        struct stat fst, pst;
        if (fstat(fd, &fst) == 0 && stat(b->target, &pst) == 0
            && fst.st_ino == pst.st_ino && fst.st_dev == pst.st_dev) {
            b->lock_fd = fd;
            b->old = fst;
            b->have_old = 1;
            return 0;
        }
        close(fd);                      /* replaced while we waited: again */
    }
    errno = EAGAIN;
    return -1;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        int saved = errno;
        close(in);
        errno = saved;
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        if (write_full(out, buf, (size_t) n) < 0) {
            rc = -1;
            break;
        }
    }
    int saved = errno;
    close(in);
    if (close(out) < 0 && rc == 0) {
        saved = errno;
        rc = -1;
    }
    errno = saved;
    return rc;
}

static void release(dict_build *b)
{
    if (b->slot >= 0)
        active[b->slot] = 0;
    if (b->lock_fd >= 0)
        close(b->lock_fd);
    xfree(b->target);
    xfree(b->tmpbase);
    xfree(b->tmppath);
    xfree(b);
}

dict_build *dict_build_begin(const char *type, const char *name, int dict_flags,
                             int build_flags, char **err)
{
    static unsigned counter;
    const char *suffix = dict_type_suffix(type);
    if (!suffix) {
        if (!dict_type_known(type))
            *err = dict_errorf("unsupported dictionary type: %s", type);
        else
            *err = dict_errorf("%s:%s map requires O_RDONLY access mode", type, name);
        return 0;
    }
    dict_build *b = xcalloc(1, sizeof(*b));
    b->lock_fd = -1;
    b->slot = -1;
    b->target = dict_errorf("%s%s", name, suffix);
    if (lock_target(b) < 0) {
        *err = dict_errorf("open database %s: %s", b->target, strerror(errno));
        release(b);
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    b->tmpbase = dict_errorf("%s.hk-tmp-%ld-%lx%x", name, (long) getpid(),
                             (unsigned long) ts.tv_nsec, counter++);
    b->tmppath = dict_errorf("%s%s", b->tmpbase, suffix);
    for (int i = 0; i < MAX_ACTIVE; i++)
        if (!active[i]) {
            active[i] = b->tmppath;
            b->slot = i;
            break;
        }

    int open_flags = O_RDWR | O_CREAT;
    if ((build_flags & DICT_BUILD_INCREMENTAL) && b->have_old) {
        if (copy_file(b->target, b->tmppath) < 0) {
            *err = dict_errorf("copy %s to %s: %s", b->target, b->tmppath, strerror(errno));
            unlink(b->tmppath);
            release(b);
            return 0;
        }
    } else {
        open_flags |= O_EXCL;
    }
    char *why = 0;
    b->d = dict_open3(type, b->tmpbase, open_flags, dict_flags | DICT_FLAG_BULK, &why);
    if (!b->d) {
        /* Name the real table, not the temporary one, in the message. */
        *err = dict_errorf("open database %s: %s", b->target,
                           why && strrchr(why, ':') ? strrchr(why, ':') + 2 : "failed");
        xfree(why);
        unlink(b->tmppath);
        release(b);
        return 0;
    }
    xfree(b->d->name);
    b->d->name = xstrdup(name);

    struct stat src;
    if (b->have_old)
        b->mode = b->old.st_mode & 07777;
    else if (!(build_flags & DICT_BUILD_DEFAULT_MODE) && stat(name, &src) == 0)
        b->mode = 0600 | (src.st_mode & 0044);
    else
        b->mode = 0644;
    return b;
}

dict *dict_build_dict(dict_build *b)
{
    return b->d;
}

void dict_build_abort(dict_build *b)
{
    if (!b)
        return;
    dict_close(b->d);
    unlink(b->tmppath);
    release(b);
}

int dict_build_commit(dict_build *b, char **err)
{
    int rc = dict_sync(b->d);
    int saved = errno;
    dict_close(b->d);
    b->d = 0;
    if (rc < 0) {
        *err = dict_errorf("write %s: %s", b->tmppath, strerror(saved));
        goto fail;
    }
    if (chmod(b->tmppath, b->mode) < 0) {
        *err = dict_errorf("chmod %s: %s", b->tmppath, strerror(errno));
        goto fail;
    }
    if (b->have_old && geteuid() == 0
        && chown(b->tmppath, b->old.st_uid, b->old.st_gid) < 0) {
        *err = dict_errorf("chown %s: %s", b->tmppath, strerror(errno));
        goto fail;
    }
    int fd = open(b->tmppath, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        *err = dict_errorf("fsync %s: %s", b->tmppath, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    close(fd);
    if (rename(b->tmppath, b->target) < 0) {
        *err = dict_errorf("rename %s to %s: %s", b->tmppath, b->target, strerror(errno));
        goto fail;
    }
    if (fsync_parent_dir(b->target) < 0)
        msg_warn("fsync directory of %s: %m", b->target);
    release(b);
    return 0;
fail:
    unlink(b->tmppath);
    release(b);
    return -1;
}
