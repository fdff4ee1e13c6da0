/*
 * local_dotforward.c - the user's ~/.forward file (forward_path).
 *
 * forward_path is a list of file names with $user, $home, $shell,
 * $recipient, $extension, $domain, $local and $recipient_delimiter
 * expanded (forward_expansion_filter applies to the values); an entry
 * that uses an undefined name (no extension, say) or has bad syntax is
 * skipped. The first file that exists is used, looked up, checked and
 * read with the user's effective ids (local_eugid.c: every message to a
 * user takes this step, so no child is forked for it): it must be a
 * regular file (not a symbolic link), owned by the user (or root), and
 * not writable by others; otherwise it is ignored with a warning and mail
 * goes to the mailbox. Each line has alias syntax; '#' starts a comment line; an
 * empty file means "no forwarding". Destinations in it run with the
 * user's rights; local addresses other than the user are resubmitted.
 * A user who lists herself (or "\user") gets her mailbox.
 *
 * NOT HERE: the line syntax (local_token.c), the mailbox fallback
 * (local_recipient.c decides from the return value).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local/local.h"
#include "local/local_child.h"
#include "local/local_expand.h"
#include "mail/cleanup_client.h"
#include "mail/mail_conf.h"
#include "util/msg.h"

struct fwd_job {
    const strv *paths;
    uid_t   uid;
};

/* As the user: find, check and read the first .forward. */
static void find_step(void *ctx, struct local_child_result *res, sbuf *data)
{
    struct fwd_job *j = ctx;
    res->aux = -1;
    local_child_set(res, DELIVER_SENT, "2.0.0", "none");
    for (size_t i = 0; i < j->paths->n; i++) {
        const char *path = j->paths->v[i];
        struct stat st;
        if (lstat(path, &st) < 0)
            continue;
        res->aux = (long) i;
        if (!S_ISREG(st.st_mode)) {
            local_child_set(res, DELIVER_BOUNCE, "5.3.5", "file %s is not a regular file", path);
        } else if (st.st_uid != 0 && st.st_uid != j->uid) {
            local_child_set(res, DELIVER_BOUNCE, "5.3.5", "file %s has bad owner uid %ld", path,
                            (long) st.st_uid);
        } else if (st.st_mode & S_IWOTH) {
            local_child_set(res, DELIVER_BOUNCE, "5.3.5", "file %s is world writable", path);
        } else {
            int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            struct stat fst;
            if (fd < 0) {
                local_child_set(res, DELIVER_BOUNCE, "5.3.5", "cannot open file %s: %s", path,
                                strerror(errno));
            } else if (fstat(fd, &fst) < 0 || fst.st_ino != st.st_ino
                       || fst.st_dev != st.st_dev) {
                local_child_set(res, DELIVER_BOUNCE, "5.3.5", "file %s changed while opening it",
                                path);
            } else {
                char buf[8192];
                ssize_t n;
                while ((n = read(fd, buf, sizeof(buf))) > 0 && data->len < LOCAL_LIST_FILE_MAX)
                    sbuf_add(data, buf, (size_t) n);
                local_child_set(res, n < 0 ? DELIVER_BOUNCE : DELIVER_SENT, "2.0.0", "%s",
                                n < 0 ? strerror(errno) : "read");
            }
            if (fd >= 0)
                close(fd);
        }
        return;
    }
}

bool local_deliver_dotforward(struct msg_attr a, struct usr_attr u, int *status)
{
    a.level++;
    *status = 0;
    const char *forward_path = mail_conf_str("forward_path");
    if (!*forward_path)
        return false;
    struct local_pw pw;
    local_pw_init(&pw);
    if (local_pw_byname(a.user, &pw) <= 0) {
        local_pw_free(&pw);
        return false;           /* the mailbox code reports unknown users and errors */
    }
    if (!local_cf.frozen_delivered)
        a.delivered = a.address;
    local_usr_set(&u, &pw);
    a.exp_type = EXP_TYPE_FORWARD;
    a.owner = a.user;

    /* Expand each forward_path entry; skip the ones that use undefined names. */
    strv items = {0}, paths = {0}, ext_used = {0};
    strv_split(&items, forward_path, ", \t\r\n");
    const char *filter = mail_conf_str("forward_expansion_filter");
    sbuf path = SBUF_INIT;
    for (size_t i = 0; i < items.n; i++) {
        struct local_exp_ctx ec = {&a, &u, false};
        int flags = local_expand(&path, items.v[i], local_attr_value, &ec, filter);
        if (flags & (LOCAL_EXP_ERROR | LOCAL_EXP_UNDEF))
            continue;
        strv_add(&paths, sbuf_str(&path));
        strv_add(&ext_used, ec.extension_used ? "y" : "n");
    }
    strv_free(&items);

    bool found = false;
    if (paths.n > 0) {
        struct fwd_job job = {&paths, u.uid};
        struct local_privs privs = {u.uid, u.gid};
        struct local_child_result res;
        sbuf text = SBUF_INIT;
        if (local_eugid_run(&privs, find_step, &job, &res, &text, LOCAL_LIST_FILE_MAX) < 0) {
            *status = local_defer(&a, res.dsn, "%s", res.text);
            found = true;
        } else if (res.aux >= 0 && (size_t) res.aux < paths.n) {
            const char *file = paths.v[res.aux];
            if (ext_used.v[res.aux][0] == 'y' || !(local_cf.ext_prop_mask & EXT_PROP_FORWARD))
                a.unmatched = 0;
            if (local_verify_only(&a)) {
                *status = local_sent(&a, "forward via file: %s", file);
                found = true;
            } else if (!local_been_here(a.st->dup, "forward %s", file)) {
                a.exp_from = a.local;
                if (res.outcome != DELIVER_SENT) {
                    msg_warn("%s", res.text);
                } else {
                    int count = 0;
                    a.notify = a.notify == DSN_NOTIFY_SUCCESS ? DSN_NOTIFY_NEVER
                                                              : a.notify & ~DSN_NOTIFY_SUCCESS;
                    *status = local_deliver_token_text(a, u, text.s ? text.s : "", text.len,
                                                       &count);
                    if (count > 0) {
                        found = true;
                        (void) local_been_here(a.st->dup, "forward-done %s", file);
                    }
                }
            } else if (local_been_here_check(a.st->dup, "forward-done %s", file)) {
                found = true;   /* already expanded for this recipient */
            }
            /* else: we are inside this very file's expansion: the mailbox */
        }
        sbuf_free(&text);
    }
    strv_free(&paths);
    strv_free(&ext_used);
    sbuf_free(&path);
    local_pw_free(&pw);
    return found;
}
