/*
 * pickup - move locally submitted mail from maildrop/ into cleanup.
 *
 * A trigger server: master wakes it every 60 seconds (master.cf wakeup
 * column) and postdrop wakes it after each new file. Each wake-up scans
 * maildrop/ once. A file is taken only when complete (owner-execute bit
 * set by postdrop's commit); it is checked (qfile_validate, then the
 * maildrop record layout of docs/queue-format.md: a user wrote it, so
 * every record type and attribute is checked against what postdrop may
 * produce), then submitted to cleanup with CLEANUP_FLAG_MASK_DEFAULT |
 * CLEANUP_FLAG_LOCAL (| CLEANUP_FLAG_EXTRACT_RCPT for sendmail -t),
 * preceded by "Received: by $myhostname ($mail_name, from userid N)".
 * It logs "ID: uid=N from=<sender>" with the new queue ID, N being the
 * file owner.
 *
 * The maildrop file is removed only after cleanup committed the message
 * (or discarded it). When cleanup cannot be reached the file is kept and
 * the scan ends; a temporary refusal of one message keeps that file and
 * the scan goes on (both are retried on the next wake-up). Messages are
 * opened with CLEANUP_FLAG_BOUNCE: a content rejection (header_checks,
 * body_checks) or too many hops is returned to the sender by cleanup
 * (cleanup_bounce.c) and reported here as success. Other permanent
 * refusals (size, no recipients) are logged and the file removed.
 * receive_override_options and content_filter (main.cf or -o) apply as
 * for smtpd.
 * A malformed file, or an incomplete one older than a day, is moved to
 * corrupt/ with a warning, never silently deleted.
 *
 * NOT HERE: address rewriting and header fixes (cleanup does them).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mail/cleanup_client.h"
#include "mail/mail_conf.h"
#include "mail/mail_date.h"
#include "mail/mail_server.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "mail/receive_override.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#define STALE_INCOMPLETE (24 * 3600)    /* an unfinished postdrop file this old is dead */

enum pickup_result { PICKUP_DONE, PICKUP_SKIP, PICKUP_STOP };

/* Attributes a maildrop file may carry, and which of them go to cleanup. */
static const struct {
    const char *name;
    bool    forward;
} maildrop_attrs[] = {
    {"rewrite_context", false}, {"full_name", true}, {"extract_recipients", false},
    {"dsn_envid", true}, {"dsn_ret", true}, {"body_type", true},
};

struct maildrop_msg {
    char   *sender;
    strv    attrs;              /* name=value, to forward */
    strv    rcpts;
    strv    notify;             /* per recipient, "" when none */
    bool    extract;
    bool    remote;             /* sendmail -G */
    off_t   content;            /* offset of the first record after CONTENT */
};

static void msg_free(struct maildrop_msg *m)
{
    xfree(m->sender);
    strv_free(&m->attrs);
    strv_free(&m->rcpts);
    strv_free(&m->notify);
}

static void move_to_corrupt(const char *name, const char *path, const char *why)
{
    char dst[4200];
    for (int i = 0; i < 100; i++) {
        char id[64];
        snprintf(id, sizeof(id), i ? "%s.%d" : "%s", name, i);
        if (qfile_path(dst, sizeof(dst), QUEUE_CORRUPT, id) < 0)
            break;
        /* Never replace a file already in corrupt/ (and no link(): the file
         * belongs to the submitting user, protected_hardlinks forbids it). */
        int rc = renameat2(AT_FDCWD, path, AT_FDCWD, dst, RENAME_NOREPLACE);
        if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
            struct stat st;
            if (lstat(dst, &st) == 0)
                errno = EEXIST;
            else
                rc = rename(path, dst);
        }
        if (rc == 0) {
            msg_warn("%s/%s: %s -- moved to %s/%s", QUEUE_MAILDROP, name, why, QUEUE_CORRUPT,
                     id);
            return;
        }
        if (errno != EEXIST)
            break;
    }
    msg_warn("%s/%s: %s -- cannot move it to %s/: %m", QUEUE_MAILDROP, name, why,
             QUEUE_CORRUPT);
}

static bool attr_ok(const char *data, size_t len, bool *forward)
{
    const char *eq = memchr(data, '=', len);
    if (!eq)
        return false;
    size_t n = (size_t) (eq - data);
    for (size_t i = 0; i < sizeof(maildrop_attrs) / sizeof(maildrop_attrs[0]); i++) {
        if (strlen(maildrop_attrs[i].name) == n && memcmp(maildrop_attrs[i].name, data, n) == 0) {
            *forward = maildrop_attrs[i].forward;
            return true;
        }
    }
    return false;
}

static int notify_bits(const char *s)
{
    if (!*s)
        return 0;
    if (strcmp(s, "NEVER") == 0)
        return DSN_NOTIFY_NEVER;
    int bits = 0;
    strv v = {0};
    strv_split(&v, s, ",");
    for (size_t i = 0; i < v.n; i++) {
        if (strcmp(v.v[i], "SUCCESS") == 0)
            bits |= DSN_NOTIFY_SUCCESS;
        else if (strcmp(v.v[i], "FAILURE") == 0)
            bits |= DSN_NOTIFY_FAILURE;
        else if (strcmp(v.v[i], "DELAY") == 0)
            bits |= DSN_NOTIFY_DELAY;
    }
    strv_free(&v);
    return bits;
}

/* Read the envelope of a maildrop file; -1 with why when it is not one. */
static int read_envelope(qfile *q, struct maildrop_msg *m, sbuf *why)
{
    sbuf data = SBUF_INIT;
    int type, n = 0, rc = -1;
    const char *notify = 0;
    off_t off;
    sbuf pending_notify = SBUF_INIT;
    while ((type = qfile_get(q, &data, &off)) > 0) {
        n++;
        if (type != QREC_BODY && memchr(data.s ? data.s : "", 0, data.len)) {
            sbuf_printf(why, "NUL byte in a '%c' record", type);
            goto out;
        }
        switch (type) {
        case QREC_VERSION:
        case QREC_SIZE:
        case QREC_TIME:
            if (n > 3) {
                sbuf_printf(why, "misplaced '%c' record", type);
                goto out;
            }
            break;
        case QREC_SENDER:
            if (m->sender) {
                sbuf_adds(why, "more than one sender record");
                goto out;
            }
            m->sender = xstrdup(sbuf_str(&data));
            break;
        case QREC_ATTR: {
            bool forward = false;
            if (!m->sender || m->rcpts.n || !attr_ok(data.s, data.len, &forward)) {
                sbuf_printf(why, "unexpected attribute record \"%.64s\"", sbuf_str(&data));
                goto out;
            }
            if (strcmp(sbuf_str(&data), "extract_recipients=yes") == 0)
                m->extract = true;
            else if (strcmp(sbuf_str(&data), "rewrite_context=remote") == 0)
                m->remote = true;
            if (forward)
                strv_add(&m->attrs, sbuf_str(&data));
            break;
        }
        case QREC_NOTIFY:
            if (!m->sender || notify) {
                sbuf_adds(why, "misplaced notify record");
                goto out;
            }
            sbuf_set(&pending_notify, sbuf_str(&data));
            notify = sbuf_str(&pending_notify);
            break;
        case QREC_RCPT:
            if (!m->sender || data.len == 0) {
                sbuf_adds(why, "misplaced or empty recipient record");
                goto out;
            }
            strv_add(&m->rcpts, sbuf_str(&data));
            strv_add(&m->notify, notify ? notify : "");
            notify = 0;
            break;
        case QREC_CONTENT:
            if (!m->sender || notify || (m->rcpts.n == 0 && !m->extract)) {
                sbuf_adds(why, "no sender or no recipients before the content");
                goto out;
            }
            m->content = off + 5;       /* CONTENT is empty: the next record follows */
            rc = 0;
            goto out;
        default:
            sbuf_printf(why, "record type '%c' does not belong in a maildrop file", type);
            goto out;
        }
    }
    sbuf_adds(why, type < 0 ? "damaged record" : "no content record");
out:
    sbuf_free(&data);
    sbuf_free(&pending_notify);
    return rc;
}

/* Send the content records (BODY ... END) to cleanup; -1 with why if malformed. */
static int copy_content(qfile *q, cleanup_client *cc, sbuf *why)
{
    sbuf data = SBUF_INIT;
    int type, rc = -1;
    while ((type = qfile_get(q, &data, 0)) > 0) {
        if (type == QREC_END) {
            rc = 0;
            break;
        }
        if (type != QREC_BODY) {
            sbuf_printf(why, "record type '%c' in the content", type);
            break;
        }
        if (cleanup_data(cc, data.s, data.len) < 0) {
            rc = 0;                     /* cleanup_finish reports the failure */
            break;
        }
    }
    if (type <= 0)
        sbuf_adds(why, "damaged content");
    sbuf_free(&data);
    return rc;
}

static bool temporary(int status)
{
    return status & (CLEANUP_STAT_DEFER | CLEANUP_STAT_WRITE | CLEANUP_STAT_BAD);
}

static enum pickup_result pickup_file(const char *name)
{
    char path[4200];
    if (qfile_path(path, sizeof(path), QUEUE_MAILDROP, name) < 0)
        return PICKUP_SKIP;
    /* A file still being written (not yet its done mode) belongs to its
     * writer, who may not let us read it yet: skip it without a word. */
    struct stat lst;
    if (lstat(path, &lst) < 0) {
        if (errno != ENOENT)
            msg_warn("lstat %s: %m", path);
        return PICKUP_SKIP;
    }
    if (S_ISREG(lst.st_mode) && (lst.st_mode & S_IRWXU) != S_IRWXU) {
        if (time(0) - lst.st_mtime > STALE_INCOMPLETE)
            move_to_corrupt(name, path, "incomplete file older than a day");
        return PICKUP_SKIP;
    }
    qfile *q = qfile_open_path(path, false);
    if (!q) {
        if (errno != ENOENT)
            msg_warn("open %s: %m", path);
        return PICKUP_SKIP;
    }
    struct stat st;
    if (fstat(qfile_fd(q), &st) < 0) {
        msg_warn("fstat %s: %m", path);
        qfile_close(q);
        return PICKUP_SKIP;
    }
    if (!S_ISREG(st.st_mode)) {
        qfile_close(q);
        move_to_corrupt(name, path, "not a regular file with one link");
        return PICKUP_SKIP;
    }
    if ((st.st_mode & S_IRWXU) != S_IRWXU) {
        /* Still being written by postdrop (or abandoned by a dead one).
         * Its link count may be 2 for a moment: qfile_create links the
         * temporary name to the final one, then removes the first. */
        qfile_close(q);
        if (time(0) - st.st_mtime > STALE_INCOMPLETE)
            move_to_corrupt(name, path, "incomplete file older than a day");
        return PICKUP_SKIP;
    }
    if (st.st_nlink != 1) {
        /* A complete file with another name: a hard link someone made. */
        qfile_close(q);
        move_to_corrupt(name, path, "not a regular file with one link");
        return PICKUP_SKIP;
    }
    sbuf why = SBUF_INIT;
    struct maildrop_msg m;
    memset(&m, 0, sizeof(m));
    if (qfile_validate(path, &why) < 0 || read_envelope(q, &m, &why) < 0) {
        qfile_close(q);
        move_to_corrupt(name, path, sbuf_str(&why));
        sbuf_free(&why);
        msg_free(&m);
        return PICKUP_SKIP;
    }

    /* CLEANUP_FLAG_MILTER: non_smtpd_milters inspect local submissions. */
    int flags = CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_BOUNCE | CLEANUP_FLAG_MILTER
                | (m.remote ? 0 : CLEANUP_FLAG_LOCAL);
    if (m.extract)
        flags |= CLEANUP_FLAG_EXTRACT_RCPT;
    flags = receive_override_cleanup_flags(flags, receive_override());
    char id[32];
    sbuf err = SBUF_INIT;
    cleanup_client *cc = cleanup_open(flags, id, sizeof(id), &err);
    if (!cc) {
        msg_warn("%s/%s: cleanup service unavailable: %s -- will try again", QUEUE_MAILDROP,
                 name, sbuf_str(&err));
        qfile_close(q);
        sbuf_free(&err);
        sbuf_free(&why);
        msg_free(&m);
        return PICKUP_STOP;
    }
    msg_info("%s: uid=%ld from=<%s>", id, (long) st.st_uid, m.sender);
    cleanup_sender(cc, m.sender);
    cleanup_attr(cc, "rewrite_context", m.remote ? "remote" : "local");
    for (size_t i = 0; i < m.attrs.n; i++) {
        char *eq = strchr(m.attrs.v[i], '=');
        *eq = 0;
        cleanup_attr(cc, m.attrs.v[i], eq + 1);
        *eq = '=';
    }
    for (size_t i = 0; i < m.rcpts.n; i++)
        cleanup_rcpt(cc, m.rcpts.v[i], m.rcpts.v[i], notify_bits(m.notify.v[i]), 0);
    if (*mail_conf_str("content_filter"))
        cleanup_attr(cc, "content_filter", mail_conf_str("content_filter"));

    /* The trace header, as Postfix's pickup writes it. */
    sbuf rcvd = SBUF_INIT;
    sbuf_printf(&rcvd, "Received: by %s (%s, from userid %ld)\n\tid %s; ",
                mail_conf_str("myhostname"), mail_conf_str("mail_name"), (long) st.st_uid, id);
    mail_date(st.st_mtime, &rcvd);
    sbuf_addc(&rcvd, '\n');
    cleanup_data(cc, rcvd.s, rcvd.len);
    sbuf_free(&rcvd);

    enum pickup_result result = PICKUP_DONE;
    if (qfile_seek(q, m.content) < 0 || copy_content(q, cc, &why) < 0) {
        cleanup_abort(cc);
        qfile_close(q);
        move_to_corrupt(name, path, why.len ? sbuf_str(&why) : "damaged content");
    } else {
        qfile_close(q);
        int status = cleanup_finish(cc, &err);
        if (status == CLEANUP_STAT_OK || status == CLEANUP_STAT_DISCARD) {
            if (unlink(path) < 0 && errno != ENOENT)
                msg_warn("remove %s: %m", path);
        } else if (temporary(status)) {
            /* Kept for the next scan; the other files need not wait for it. */
            msg_warn("%s: %s -- %s/%s kept, will try again", id, sbuf_str(&err),
                     QUEUE_MAILDROP, name);
            result = PICKUP_SKIP;
        } else {
            msg_warn("%s: reject: %s; from=<%s> -- %s/%s removed", id, sbuf_str(&err),
                     m.sender, QUEUE_MAILDROP, name);
            if (unlink(path) < 0 && errno != ENOENT)
                msg_warn("remove %s: %m", path);
        }
    }
    sbuf_free(&err);
    sbuf_free(&why);
    msg_free(&m);
    return result;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void pickup_scan(void)
{
    char dir[4200];
    if (qfile_path(dir, sizeof(dir), QUEUE_MAILDROP, "") < 0)
        return;
    DIR *d = opendir(dir);
    if (!d) {
        msg_warn("open directory %s: %m", dir);
        return;
    }
    strv names = {0};
    struct dirent *e;
    while ((e = readdir(d)) != 0)
        if (e->d_name[0] != '.' && qfile_id_ok(e->d_name))
            strv_add(&names, e->d_name);
    closedir(d);
    if (names.n > 1)
        qsort(names.v, names.n, sizeof(char *), cmp_names);
    for (size_t i = 0; i < names.n && !mail_server_should_exit(); i++)
        if (pickup_file(names.v[i]) == PICKUP_STOP)
            break;
    strv_free(&names);
}

static void pickup_trigger(const char *buf, size_t len, const char *service)
{
    (void) buf;
    (void) len;
    (void) service;
    pickup_scan();
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "pickup",
        .kind = MAIL_SERVER_TRIGGER,
        .trigger = pickup_trigger,
    };
    return mail_server_main(argc, argv, &srv);
}
