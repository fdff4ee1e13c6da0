/*
 * recover.c - tidy the queue after a crash, before master starts.
 *
 * Run by "postfix start" while nothing else writes the queue
 * (docs/architecture.md, "Crash recovery"):
 *   - incoming/: a queue file that does not validate (qfile_validate) and
 *     still has its busy mode (0600: no owner execute bit) was never
 *     committed, so never acknowledged to anybody: it is removed -- unless
 *     its writer still holds its lock (qfile_writer_alive: a cleanup of a
 *     master that was killed, finishing its session). One that
 *     does not validate although it was committed (0700) is damaged: it moves to corrupt/ with a
 *     warning, to be looked at with postcat. Valid files stay, whatever
 *     their mode (qmgr picks them up).
 *   - incoming/ and maildrop/: temporary files qfile_create() left behind
 *     (".PID.SECONDS.USECONDS") are removed unless process PID still runs.
 * Everything removed or moved is logged. Nothing else is touched: qmgr
 * moves active/ back to incoming/ itself when it starts.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "postfix/postfix.h"
#include "mail/mail_conf.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "util/msg.h"
#include "util/sbuf.h"

/* ".1234.1700000000.123456" -> 1234; 0 if the name has another shape. */
static pid_t temp_file_pid(const char *name)
{
    if (name[0] != '.')
        return 0;
    long v[3];
    char *p = (char *) name;
    for (int i = 0; i < 3; i++) {
        if (*p != '.' || p[1] < '0' || p[1] > '9')
            return 0;
        v[i] = strtol(p + 1, &p, 10);
    }
    return *p == 0 && v[0] > 0 ? (pid_t) v[0] : 0;
}

static bool process_alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

static void remove_temp(const char *dir, const char *name)
{
    pid_t pid = temp_file_pid(name);
    if (pid <= 0 || process_alive(pid))
        return;
    sbuf path = SBUF_INIT;
    sbuf_printf(&path, "%s/%s", dir, name);
    if (unlink(sbuf_str(&path)) == 0)
        msg_info("removed leftover temporary file %s", sbuf_str(&path));
    else if (errno != ENOENT)
        msg_warn("remove leftover temporary file %s: %m", sbuf_str(&path));
    sbuf_free(&path);
}

static void check_queue_file(const char *dir, const char *qdir, const char *id)
{
    sbuf path = SBUF_INIT, why = SBUF_INIT, dest = SBUF_INIT;
    struct stat st;
    sbuf_printf(&path, "%s/%s", dir, id);
    if (lstat(sbuf_str(&path), &st) < 0 || !S_ISREG(st.st_mode))
        goto out;
    if (qfile_validate(sbuf_str(&path), &why) == 0)
        goto out;
    /* A worker of a master that was killed may still be writing it. */
    if (qfile_writer_alive(sbuf_str(&path)) == 1) {
        msg_info("%s: queue file in %s is still being written by a running process; "
                 "left alone", id, QUEUE_INCOMING);
        goto out;
    }
    if (!(st.st_mode & S_IXUSR)) {     /* QFILE_MODE_BUSY (plus any group bits) */
        if (unlink(sbuf_str(&path)) == 0)
            msg_info("%s: removed incomplete queue file from %s (%s)", id, QUEUE_INCOMING,
                     sbuf_str(&why));
        else
            msg_warn("%s: remove incomplete queue file %s: %m", id, sbuf_str(&path));
        goto out;
    }
    sbuf_printf(&dest, "%s/%s/%s", qdir, QUEUE_CORRUPT, id);
    if (rename(sbuf_str(&path), sbuf_str(&dest)) == 0)
        msg_warn("%s: damaged queue file moved to %s (%s)", id, QUEUE_CORRUPT, sbuf_str(&why));
    else
        msg_warn("%s: move damaged queue file %s to %s: %m", id, sbuf_str(&path),
                 sbuf_str(&dest));
out:
    sbuf_free(&path);
    sbuf_free(&why);
    sbuf_free(&dest);
}

static void scan(const char *qdir, const char *queue, bool queue_files)
{
    sbuf dir = SBUF_INIT;
    sbuf_printf(&dir, "%s/%s", qdir, queue);
    DIR *d = opendir(sbuf_str(&dir));
    if (!d) {
        if (errno != ENOENT)
            msg_warn("open directory %s: %m", sbuf_str(&dir));
        sbuf_free(&dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != 0) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_name[0] == '.')
            remove_temp(sbuf_str(&dir), e->d_name);
        else if (queue_files && qfile_id_ok(e->d_name))
            check_queue_file(sbuf_str(&dir), qdir, e->d_name);
    }
    closedir(d);
    sbuf_free(&dir);
}

void postfix_recover(void)
{
    const char *qdir = mail_conf_str("queue_directory");
    scan(qdir, QUEUE_INCOMING, true);
    scan(qdir, QUEUE_MAILDROP, false);
}
