/*
 * ps_check.c - postsuper -s (structure check and repair) and -p (purge
 * temporary files).
 *
 * -s, over the named queues (default: all):
 *   - message queues (incoming, active, deferred, hold): every complete
 *     queue file (owner-execute bit) is validated with qfile_validate();
 *     one that fails is moved to corrupt/ with a warning, where it is
 *     never delivered nor deleted (postcat shows it; "postsuper -d ID
 *     corrupt" removes it). Files still being written are left alone.
 *     maildrop/ is pickup's: it checks those files itself.
 *   - log queues (defer, bounce, trace): a log whose message is in no
 *     queue (incoming, active, deferred, hold, maildrop, corrupt, saved;
 *     looked for twice, since qmgr moves files while we look) is removed.
 *   - anything that is not a regular file (a directory, a link, a FIFO)
 *     is removed with a warning; a regular file whose name is not a queue
 *     ID is reported ("bogus file name") and kept.
 *   Postfix's renaming of files to match inode numbers and hashed
 *   subdirectory moves do not apply: Hikyaku's queues are flat and its
 *   IDs are only names.
 *
 * -p removes temporary files left by crashed processes: qfile_create()'s
 * ".PID.SECONDS.USECONDS" files whose process is gone or that are older
 * than a day, other dot files older than a day, and files in incoming/
 * that never became complete (no owner-execute bit, do not validate)
 * and are older than a day. Postfix also waits a day; the process check
 * lets a purge right after a crash clean up at once, and never touches
 * a file a live process is writing.
 *
 * Both are safe while the mail system runs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "mail/queue_scan.h"
#include "postsuper/postsuper.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/strv.h"

#define MAX_TEMP_AGE (24 * 3600)    /* a temporary file this old is dead */

/* Every name in the queue directory except "." and "..". */
static int list_all(const char *queue, strv *names)
{
    char dir[4200];
    if (qfile_path(dir, sizeof(dir), queue, "") < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != 0)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            strv_add(names, e->d_name);
    closedir(d);
    return 0;
}

static bool list_queue(const char *queue, strv *names)
{
    strv_init(names);
    if (list_all(queue, names) == 0)
        return true;
    if (errno != ENOENT) {
        msg_warn("read queue directory %s: %m", queue);
        ps_counts.errors++;
    }
    return false;
}

/* ---- -s ---- */

/* Not a regular file: remove it (directories only when empty). */
static void remove_alien(const char *path, const struct stat *st)
{
    if (S_ISDIR(st->st_mode)) {
        if (rmdir(path) == 0)
            msg_warn("removed subdirectory %s", path);
        else if (errno != ENOENT) {
            msg_warn("remove subdirectory %s: %m", path);
            ps_counts.errors++;
        }
        return;
    }
    if (unlink(path) == 0)
        msg_warn("removed %s: not a regular file", path);
    else if (errno != ENOENT) {
        msg_warn("remove %s: %m", path);
        ps_counts.errors++;
    }
}

static void check_message(const char *queue, const char *id, const char *path)
{
    if (!ps_ready(path))
        return;                 /* still being written */
    /* A file we cannot open is not damaged: say so and keep it. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            msg_warn("open %s: %m", path);
            ps_counts.errors++;
        }
        return;
    }
    close(fd);
    sbuf why = SBUF_INIT;
    if (qfile_validate(path, &why) < 0) {
        struct stat st;
        if (lstat(path, &st) < 0 && errno == ENOENT) {
            sbuf_free(&why);
            return;             /* moved on while we looked */
        }
        char dest[4200];
        if (qfile_path(dest, sizeof(dest), QUEUE_CORRUPT, id) == 0 && rename(path, dest) == 0)
            msg_warn("%s: damaged queue file %s/%s moved to %s (%s)", id, queue, id,
                     QUEUE_CORRUPT, sbuf_str(&why));
        else if (errno != ENOENT) {
            msg_warn("%s: move damaged queue file %s to %s: %m", id, path, QUEUE_CORRUPT);
            ps_counts.errors++;
        }
    }
    sbuf_free(&why);
}

static bool message_exists(const char *id)
{
    for (int tries = 0; tries < 2; tries++)
        for (const char *const *q = QUEUE_SCAN_FIND; *q; q++) {
            char path[4200];
            struct stat st;
            if (qfile_path(path, sizeof(path), *q, id) == 0 && lstat(path, &st) == 0)
                return true;
        }
    return false;
}

static void check_log(const char *queue, const char *id, const char *path)
{
    if (message_exists(id))
        return;
    if (unlink(path) == 0)
        msg_info("%s: removed %s log: the message is no longer queued", id, queue);
    else if (errno != ENOENT) {
        msg_warn("remove %s: %m", path);
        ps_counts.errors++;
    }
}

void ps_structure(const char *const *queues)
{
    for (const char *const *q = queues; *q; q++) {
        bool is_log = ps_is_log_queue(*q);
        bool validate = !is_log && strcmp(*q, QUEUE_MAILDROP) != 0
                        && strcmp(*q, QUEUE_CORRUPT) != 0 && strcmp(*q, QUEUE_SAVED) != 0;
        strv names;
        if (!list_queue(*q, &names))
            continue;
        for (size_t i = 0; i < names.n; i++) {
            const char *name = names.v[i];
            char path[4200];
            struct stat st;
            if (qfile_path(path, sizeof(path), *q, name) < 0 || lstat(path, &st) < 0)
                continue;
            if (!S_ISREG(st.st_mode)) {
                remove_alien(path, &st);
                continue;
            }
            if (name[0] == '.')
                continue;       /* temporary file: -p */
            if (!qfile_id_ok(name)) {
                msg_warn("bogus file name: %s", path);
                continue;
            }
            if (is_log && strcmp(*q, QUEUE_FLUSH) != 0)
                check_log(*q, name, path);
            else if (validate)
                check_message(*q, name, path);
        }
        strv_free(&names);
    }
}

/* ---- -p ---- */

/* ".1234.1700000000.123456" -> 1234; 0 if the name has another shape. */
static pid_t temp_file_pid(const char *name)
{
    long v[3];
    const char *p = name;
    for (int i = 0; i < 3; i++) {
        if (*p != '.' || p[1] < '0' || p[1] > '9')
            return 0;
        char *end;
        errno = 0;
        v[i] = strtol(p + 1, &end, 10);
        if (errno)
            return 0;
        p = end;
    }
    return *p == 0 && v[0] > 0 && v[0] <= 0x7fffffffL ? (pid_t) v[0] : 0;
}

static bool process_alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

static void purge_file(const char *path, const char *what)
{
    if (unlink(path) == 0)
        msg_info("removed %s %s", what, path);
    else if (errno != ENOENT) {
        msg_warn("remove %s %s: %m", what, path);
        ps_counts.errors++;
    }
}

void ps_purge(const char *const *queues)
{
    time_t now = time(0);
    for (const char *const *q = queues; *q; q++) {
        strv names;
        if (!list_queue(*q, &names))
            continue;
        for (size_t i = 0; i < names.n; i++) {
            const char *name = names.v[i];
            char path[4200];
            struct stat st;
            if (qfile_path(path, sizeof(path), *q, name) < 0 || lstat(path, &st) < 0
                || !S_ISREG(st.st_mode))
                continue;
            bool old = now - st.st_mtime > MAX_TEMP_AGE;
            if (name[0] == '.') {
                pid_t pid = temp_file_pid(name);
                if (old || (pid > 0 && !process_alive(pid)))
                    purge_file(path, "leftover temporary file");
                continue;
            }
            if (strcmp(*q, QUEUE_INCOMING) == 0 && qfile_id_ok(name) && old
                && !(st.st_mode & S_IXUSR)) {
                sbuf why = SBUF_INIT;
                if (qfile_validate(path, &why) < 0)
                    purge_file(path, "incomplete queue file");
                sbuf_free(&why);
            }
        }
        strv_free(&names);
    }
}
