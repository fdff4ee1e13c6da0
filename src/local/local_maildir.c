/*
 * local_maildir.c - Maildir delivery: tmp/ -> new/, unique names, fsync.
 *
 * Runs as the recipient: for the user's own mailbox in the local process
 * with the user's effective ids (local_eugid.c), for a "/dir/"
 * destination of an alias or .forward in a child with the rights of that
 * alias or .forward (local_child.c). Creates the Maildir and its tmp, new
 * and cur directories (mode 0700) as that user when they are missing;
 * writes the message (Return-Path, X-Original-To, Delivered-To prepended;
 * no From_ line, no quoting) to tmp/ under a fresh name (O_EXCL, never
 * following links), fsyncs it, links it into new/ under its final name
 * removes the tmp/ name and fsyncs new/ before reporting success: once
 * the agent says "delivered", the message and its new/ entry survive a
 * crash (Postfix fsyncs only the file; the directory's fsync is the
 * price of never losing a delivered message to a crash between the link
 * and the file system's next write-back; docs/local.md, Maildir).
 * mailbox_size_limit limits each message file.
 *
 * NOT HERE: choosing the rights (the callers), the name format
 * (local_maildir_name.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "local/local.h"
#include "local/local_child.h"
#include "local/local_copy.h"
#include "local/local_maildir_name.h"
#include "mail/mail_conf.h"
#include "util/msg.h"

struct maildir_job {
    const char *dir;            /* ends in '/' */
    qfile  *qf;
    off_t   content_offset;
    struct local_copy_attr copy;
    const char *host;
};

/* mkdir -p with mode 0700 for the missing components. */
static int make_dirs(const char *path)
{
    sbuf p = SBUF_INIT;
    sbuf_set(&p, path);
    int rc = 0;
    for (size_t i = 1; i <= p.len && rc == 0; i++) {
        if (i < p.len && p.s[i] != '/')
            continue;
        char saved = p.s[i];
        p.s[i] = 0;
        struct stat st;
        if (stat(p.s, &st) < 0) {
            if (errno != ENOENT || (mkdir(p.s, 0700) < 0 && errno != EEXIST))
                rc = -1;
        } else if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            rc = -1;
        }
        p.s[i] = saved;
    }
    sbuf_free(&p);
    return rc;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static void fail(struct local_child_result *res, int err, const char *what, const char *path)
{
    const char *dsn = local_errno_dsn(err, "5.2.0");
    local_child_set(res, dsn[0] == '4' ? DELIVER_DEFER : DELIVER_BOUNCE, dsn, "%s %s: %s",
                    what, path, strerror(err));
    res->err = err;
}

static void maildir_step(void *ctx, struct local_child_result *res, sbuf *data)
{
    struct maildir_job *j = ctx;
    sbuf tmpdir = SBUF_INIT, newdir = SBUF_INIT, curdir = SBUF_INIT, name = SBUF_INIT;
    sbuf tmpfile = SBUF_INIT, newfile = SBUF_INIT;
    struct timeval tv;
    struct stat st;
    (void) data;

    sbuf_printf(&tmpdir, "%stmp", j->dir);
    sbuf_printf(&newdir, "%snew", j->dir);
    sbuf_printf(&curdir, "%scur", j->dir);
    /* The same process delivers many messages: a name taken by a message
     * of this microsecond (the clock stepped back), or left by a crash,
     * gets a fresh one. */
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = -1;
    bool made_dirs = false;
    for (int attempt = 0; attempt < 5 && fd < 0; attempt++) {
        gettimeofday(&tv, 0);
        local_maildir_tmp_name(&name, tv.tv_sec, (long) tv.tv_usec, getpid(), j->host);
        sbuf_reset(&tmpfile);
        sbuf_printf(&tmpfile, "%s/%s", sbuf_str(&tmpdir), sbuf_str(&name));
        fd = open(sbuf_str(&tmpfile), flags, 0600);
        if (fd < 0 && errno == ENOENT && !made_dirs) {
            made_dirs = true;
            if (make_dirs(sbuf_str(&tmpdir)) < 0 || make_dirs(sbuf_str(&newdir)) < 0
                || make_dirs(sbuf_str(&curdir)) < 0) {
                fail(res, errno, "create maildir", j->dir);
                goto out;
            }
            fd = open(sbuf_str(&tmpfile), flags, 0600);
        }
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int err = errno;
        fail(res, err, "create", sbuf_str(&tmpfile));
        if (err == EEXIST)      /* no free name now: try again later */
            local_child_set(res, DELIVER_DEFER, "4.3.0", "create %s: %s",
                            sbuf_str(&tmpfile), strerror(err));
        if (err == EACCES)
            local_child_warn(res, "maildir access problem for UID/GID=%ld/%ld: %s",
                             (long) geteuid(), (long) getegid(), res->text);
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        fail(res, errno, "fstat", sbuf_str(&tmpfile));
        close(fd);
        (void) unlink(sbuf_str(&tmpfile));
        goto out;
    }
    local_maildir_new_name(&name, tv.tv_sec, (long) tv.tv_usec, st.st_dev, st.st_ino, j->host);
    sbuf_printf(&newfile, "%s/%s", sbuf_str(&newdir), sbuf_str(&name));

    int rc = local_copy_to_fd(j->qf, j->content_offset, &j->copy, fd);
    int err = errno;
    if (rc == 0 && fsync(fd) < 0) {
        rc = -1;
        err = errno;
    }
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        err = errno;
    }
    if (rc == -2) {
        local_child_set(res, DELIVER_DEFER, "4.3.0", "queue file read error: %s",
                        strerror(err));
    } else if (rc < 0) {
        fail(res, err, "write", sbuf_str(&tmpfile));
    } else if (link(sbuf_str(&tmpfile), sbuf_str(&newfile)) < 0
               && (errno != ENOENT || make_dirs(sbuf_str(&newdir)) < 0
                   || make_dirs(sbuf_str(&curdir)) < 0
                   || link(sbuf_str(&tmpfile), sbuf_str(&newfile)) < 0)) {
        fail(res, errno, "link to", sbuf_str(&newfile));
    } else if (sync_dir(sbuf_str(&newdir)) < 0) {
        err = errno;
        (void) unlink(sbuf_str(&newfile));
        fail(res, err, "fsync", sbuf_str(&newdir));
    } else {
        local_child_set(res, DELIVER_SENT, "2.0.0", "%s", sbuf_str(&newfile));
    }
    if (unlink(sbuf_str(&tmpfile)) < 0)
        local_child_warn(res, "remove %s: %s", sbuf_str(&tmpfile), strerror(errno));
out:
    sbuf_free(&tmpdir);
    sbuf_free(&newdir);
    sbuf_free(&curdir);
    sbuf_free(&name);
    sbuf_free(&tmpfile);
    sbuf_free(&newfile);
}

int local_deliver_maildir(struct msg_attr a, struct usr_attr u, const char *dir, bool mailbox)
{
    a.level++;
    if (local_verify_only(&a))
        return local_sent(&a, "delivers to maildir");
    if (!local_cf.frozen_delivered)
        a.delivered = a.address;

    struct maildir_job j;
    memset(&j, 0, sizeof(j));
    sbuf d = SBUF_INIT;
    sbuf_set(&d, dir);
    if (d.len == 0 || d.s[d.len - 1] != '/')
        sbuf_addc(&d, '/');
    j.dir = sbuf_str(&d);
    j.qf = a.st->qf;
    j.content_offset = a.st->req->content_offset;
    j.host = mail_conf_str("myhostname");
    j.copy.flags = LOCAL_COPY_RETURN_PATH | LOCAL_COPY_ORIG_RCPT;
    if (local_cf.hdr_mask & DELIVER_HDR_FILE)
        j.copy.flags |= LOCAL_COPY_DELIVERED;
    if (!local_cf.enable_orig_rcpt)
        j.copy.flags &= ~LOCAL_COPY_ORIG_RCPT;
    j.copy.sender = a.sender;
    j.copy.orig_rcpt = a.orig && *a.orig ? a.orig : a.address;
    j.copy.delivered = a.delivered ? a.delivered : a.address;
    j.copy.now = time(0);

    /* The caller chose the rights: the recipient's for a mailbox (written
     * from this process with the recipient's effective ids), those of the
     * alias or .forward for a "/dir/" destination (written by a child). */
    struct local_privs privs = {u.uid, u.gid};
    struct local_child_result res;
    if (mailbox)
        local_eugid_run(&privs, maildir_step, &j, &res, 0, 0);
    else
        local_child_run(&privs, maildir_step, &j, &res, 0, 0);
    int status;
    if (res.outcome == DELIVER_SENT)
        status = local_sent(&a, "delivered to maildir");
    else
        status = local_status(&a, (enum deliver_outcome) res.outcome, res.dsn,
                              "maildir delivery failed: %s", res.text);
    sbuf_free(&d);
    return status;
}
