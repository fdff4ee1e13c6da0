/*
 * local_mbox.c - append to a UNIX mbox: the user's mailbox, or a /file/name destination.
 *
 * The append runs with the rights chosen by the caller: for the user's
 * mailbox in the local process with those effective ids (local_eugid.c),
 * for a /file/name destination of an alias or .forward in a child that
 * gives up root for good (local_child.c). Then: dot-lock, open without
 * following symbolic links, refusing files with more than one hard
 * link, creating a missing file with mode 0600 (O_EXCL), then an fcntl
 * lock, then the message in mbox form (local_copy.c: From_ line, Return-Path,
 * X-Original-To, Delivered-To, ">From " quoting, trailing empty line),
 * fsync. On any error the file is truncated back to its old length, so a
 * failed delivery leaves no half message. mailbox_size_limit is the
 * step's file size limit: a write past it fails with EFBIG (5.2.2).
 *
 * Mailbox rights (as local(8)): in home_mailbox, as the user; in a
 * world-writable spool directory, as the user; in a group-writable one,
 * the user's uid with the directory's group; otherwise as root, and a
 * new mailbox is then given to the user (fchown). strict_mailbox_ownership
 * defers delivery to a mailbox the user does not own.
 *
 * NOT HERE: Maildir (local_maildir.c), the lock primitives (local_lock.c),
 * the message form (local_copy.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local/local.h"
#include "local/local_child.h"
#include "local/local_copy.h"
#include "local/local_lock.h"
#include "mail/mail_conf.h"
#include "util/msg.h"

struct mbox_job {
    const char *path;
    qfile  *qf;
    off_t   content_offset;
    struct local_copy_attr copy;
    bool    mailbox;            /* user mailbox (regular file required) vs /file */
    bool    chown_new;          /* created as root: give it to owner_uid/gid */
    bool    check_owner;        /* strict_mailbox_ownership */
    uid_t   owner_uid;
    gid_t   owner_gid;
};

/* Open (creating if needed) without following links; *st gets the file's status. */
static int open_target(struct mbox_job *j, struct stat *st, struct local_child_result *res)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        struct stat lst;
        if (lstat(j->path, &lst) < 0) {
            if (errno != ENOENT) {
                local_child_set(res, DELIVER_BOUNCE, "5.2.0", "cannot access %s: %s", j->path,
                                strerror(errno));
                return -1;
            }
            int fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW
                          | O_NOCTTY | O_CLOEXEC, 0600);
            if (fd < 0) {
                if (errno == EEXIST)
                    continue;       /* created meanwhile: look again */
                local_child_set(res, DELIVER_BOUNCE, local_errno_dsn(errno, "5.2.0"),
                                "cannot create file %s: %s", j->path, strerror(errno));
                return -1;
            }
            if (j->chown_new && fchown(fd, j->owner_uid, j->owner_gid) < 0) {
                local_child_set(res, DELIVER_DEFER, "4.2.0", "cannot change ownership of %s: %s",
                                j->path, strerror(errno));
                close(fd);
                (void) unlink(j->path);
                return -1;
            }
            if (fstat(fd, st) < 0) {
                local_child_set(res, DELIVER_DEFER, "4.3.0", "fstat %s: %s", j->path,
                                strerror(errno));
                close(fd);
                return -1;
            }
            return fd;
        }
        if (S_ISLNK(lst.st_mode)) {
            local_child_set(res, DELIVER_BOUNCE, "5.2.0", "file %s is a symbolic link", j->path);
            return -1;
        }
        if (j->mailbox && !S_ISREG(lst.st_mode)) {
            local_child_set(res, DELIVER_BOUNCE, "5.2.0", "destination %s is not a regular file",
                            j->path);
            return -1;
        }
        if (S_ISDIR(lst.st_mode)) {
            local_child_set(res, DELIVER_BOUNCE, "5.2.0", "destination %s is a directory",
                            j->path);
            return -1;
        }
        if (S_ISREG(lst.st_mode) && lst.st_nlink > 1) {
            local_child_set(res, DELIVER_BOUNCE, "5.2.0", "file %s has %lu hard links", j->path,
                            (unsigned long) lst.st_nlink);
            return -1;
        }
        int fd = open(j->path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;           /* removed meanwhile */
            local_child_set(res, DELIVER_BOUNCE, local_errno_dsn(errno, "5.2.0"),
                            "cannot open file %s: %s", j->path, strerror(errno));
            return -1;
        }
        if (fstat(fd, st) < 0 || st->st_dev != lst.st_dev || st->st_ino != lst.st_ino) {
            local_child_set(res, DELIVER_DEFER, "4.2.0", "file %s was replaced while opening it",
                            j->path);
            close(fd);
            return -1;
        }
        return fd;
    }
    local_child_set(res, DELIVER_DEFER, "4.2.0", "file %s keeps changing", j->path);
    return -1;
}

static void mbox_step(void *ctx, struct local_child_result *res, sbuf *data)
{
    struct mbox_job *j = ctx;
    sbuf why = SBUF_INIT;
    struct stat st;
    int dotlocked = 0;
    (void) data;

    if (local_cf.lock_dotlock) {
        dotlocked = local_dotlock_acquire(j->path, &why);
        if (dotlocked < 0) {
            local_child_set(res, DELIVER_DEFER, errno == EEXIST ? "4.2.0" : "4.3.0", "%s",
                            sbuf_str(&why));
            sbuf_free(&why);
            return;
        }
    }
    int fd = open_target(j, &st, res);
    if (fd < 0)
        goto out;
    if (j->check_owner && S_ISREG(st.st_mode) && st.st_uid != j->owner_uid) {
        local_child_set(res, DELIVER_DEFER, "4.2.0", "destination %s is not owned by recipient",
                        j->path);
        local_child_warn(res, "specify \"strict_mailbox_ownership = no\" to ignore mailbox "
                         "ownership mismatch");
        goto close_out;
    }
    bool regular = S_ISREG(st.st_mode);
    if (regular && local_cf.lock_fcntl && local_fcntl_lock(fd, &why) < 0) {
        local_child_set(res, DELIVER_DEFER, "4.2.0", "%s", sbuf_str(&why));
        goto close_out;
    }
    off_t end = regular ? lseek(fd, 0, SEEK_END) : 0;
    int rc = local_copy_to_fd(j->qf, j->content_offset, &j->copy, fd);
    int err = errno;
    if (rc == 0 && regular && fsync(fd) < 0) {
        rc = -1;
        err = errno;
    }
    if (rc == 0) {
        local_child_set(res, DELIVER_SENT, "2.0.0", "ok");
    } else {
        if (regular && ftruncate(fd, end) < 0)
            local_child_warn(res, "truncate %s back to %lld bytes: %s", j->path,
                             (long long) end, strerror(errno));
        if (rc == -2)
            local_child_set(res, DELIVER_DEFER, "4.3.0", "queue file read error: %s",
                            strerror(err));
        else {
            const char *dsn = local_errno_dsn(err, "5.2.0");
            local_child_set(res, dsn[0] == '4' ? DELIVER_DEFER : DELIVER_BOUNCE, dsn,
                            "error writing message: %s", strerror(err));
        }
        res->err = err;
    }
close_out:
    close(fd);
out:
    if (dotlocked > 0)
        local_dotlock_release(j->path);
    sbuf_free(&why);
}

static void setup_copy(struct mbox_job *j, const struct msg_attr *a, bool delivered)
{
    memset(&j->copy, 0, sizeof(j->copy));
    j->copy.flags = LOCAL_COPY_MBOX;
    if (!delivered)
        j->copy.flags &= ~LOCAL_COPY_DELIVERED;
    if (!local_cf.enable_orig_rcpt)
        j->copy.flags &= ~LOCAL_COPY_ORIG_RCPT;
    j->copy.sender = a->sender;
    j->copy.orig_rcpt = a->orig && *a->orig ? a->orig : a->address;
    j->copy.delivered = a->delivered ? a->delivered : a->address;
    j->copy.now = time(0);
    j->qf = a->st->qf;
    j->content_offset = a->st->req->content_offset;
}

int local_deliver_mbox(struct msg_attr a, struct usr_attr u)
{
    a.level++;
    if (local_verify_only(&a))
        return local_sent(&a, "delivers to mailbox");
    if (!local_cf.frozen_delivered)
        a.delivered = a.address;

    sbuf path = SBUF_INIT;
    const char *home_mailbox = mail_conf_str("home_mailbox");
    const char *spool = mail_conf_str("mail_spool_directory");
    struct local_privs privs = {u.uid, u.gid};
    struct mbox_job j;
    memset(&j, 0, sizeof(j));
    j.mailbox = true;
    j.check_owner = local_cf.strict_mailbox_ownership;
    j.owner_uid = u.uid;
    j.owner_gid = u.gid;
    if (*home_mailbox) {
        sbuf_printf(&path, "%s/%s", u.home, home_mailbox);
    } else {
        sbuf_printf(&path, "%s/%s", spool, a.user);
        struct stat st;
        if (stat(spool, &st) == 0 && !(st.st_mode & S_IWOTH)) {
            if (st.st_mode & S_IWGRP) {
                privs.gid = st.st_gid;      /* the spool group may create files */
            } else {
                privs.uid = 0;              /* only root may create files here */
                privs.gid = 0;
                j.chown_new = u.uid != 0;
            }
        }
    }
    j.path = sbuf_str(&path);
    setup_copy(&j, &a, (local_cf.hdr_mask & DELIVER_HDR_FILE) != 0);

    struct local_child_result res;
    local_eugid_run(&privs, mbox_step, &j, &res, 0, 0);
    int status;
    if (res.outcome == DELIVER_SENT)
        status = local_sent(&a, "delivered to mailbox");
    else
        status = local_status(&a, (enum deliver_outcome) res.outcome, res.dsn,
                              "cannot update mailbox %s for user %s. %s", j.path, a.user,
                              res.text);
    sbuf_free(&path);
    return status;
}

int local_deliver_file(struct msg_attr a, struct usr_attr u, const char *path)
{
    a.level++;
    if (local_been_here(a.st->dup, "file %s:%ld %s", a.user ? a.user : "",
                        (long) (u.set ? u.uid : 0), path))
        return 0;
    if ((a.exp_type & local_cf.file_mask) == 0)
        return local_bounce(&a, "5.7.1", "mail to file is restricted");
    if (local_verify_only(&a))
        return local_sent(&a, "delivers to file: %s", path);
    if (!local_cf.frozen_delivered)
        a.delivered = a.address;

    struct usr_attr rights;
    struct local_pw pw;
    sbuf why = SBUF_INIT;
    local_pw_init(&pw);
    if (local_delivery_rights(&u, &rights, &pw, &why) < 0) {
        msg_warn("%s", sbuf_str(&why));
        int st = local_defer(&a, "4.3.5", "mail system configuration error");
        sbuf_free(&why);
        local_pw_free(&pw);
        return st;
    }
    size_t len = strlen(path);
    if (len > 0 && path[len - 1] == '/') {
        int st = local_deliver_maildir(a, rights, path, false);
        sbuf_free(&why);
        local_pw_free(&pw);
        return st;
    }
    struct mbox_job j;
    memset(&j, 0, sizeof(j));
    j.path = path;
    j.mailbox = false;
    setup_copy(&j, &a, (local_cf.hdr_mask & DELIVER_HDR_FILE) != 0);
    struct local_privs privs = {rights.uid, rights.gid};
    struct local_child_result res;
    local_child_run(&privs, mbox_step, &j, &res, 0, 0);
    int status;
    if (res.outcome == DELIVER_SENT)
        status = local_sent(&a, "delivered to file: %s", path);
    else
        status = local_status(&a, (enum deliver_outcome) res.outcome, res.dsn,
                              "cannot append message to file %s: %s", path, res.text);
    sbuf_free(&why);
    local_pw_free(&pw);
    return status;
}
