/*
 * local_include.c - :include:/path/name destinations (aliases(5)).
 *
 * The file is opened by a child with the current delivery rights (root
 * when the :include: sits in a root-owned alias table): it must be given
 * by absolute path, be a regular file (a symbolic link to one is fine)
 * and not be world-writable; otherwise the recipient bounces with
 * "mail system configuration error" (5.3.5) and a warning says why.
 * Lines have alias syntax; '#' starts a comment line. |command and
 * /file destinations in it need "include" in allow_mail_to_commands /
 * allow_mail_to_files. In a root-owned alias, a file owned by another
 * user lends that user's rights (so the file's owner cannot act as the
 * default_privs account); local addresses listed in it are always
 * resubmitted as a new message.
 *
 * NOT HERE: the line syntax (local_token.c), the child mechanics (local_child.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local/local.h"
#include "local/local_child.h"
#include "util/msg.h"

static void read_step(void *ctx, struct local_child_result *res, sbuf *data)
{
    const char *path = ctx;
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        local_child_set(res, DELIVER_BOUNCE, "5.3.5", "cannot open include file %s: %s", path,
                        strerror(errno));
        return;
    }
    if (fstat(fd, &st) < 0) {
        local_child_set(res, DELIVER_BOUNCE, "5.3.5", "unable to lookup :include: file %s: %s",
                        path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        local_child_set(res, DELIVER_BOUNCE, "5.3.5", ":include: file %s is not a regular file",
                        path);
    } else if (st.st_mode & S_IWOTH) {
        local_child_set(res, DELIVER_BOUNCE, "5.3.5", ":include: file %s is world writable",
                        path);
    } else {
        char buf[8192];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0 && data->len < LOCAL_LIST_FILE_MAX)
            sbuf_add(data, buf, (size_t) n);
        if (n < 0)
            local_child_set(res, DELIVER_BOUNCE, "5.3.5", "cannot read include file %s: %s",
                            path, strerror(errno));
        else
            local_child_set(res, DELIVER_SENT, "2.0.0", "read");
        res->aux = (long) st.st_uid;
    }
    close(fd);
}

int local_deliver_include(struct msg_attr a, struct usr_attr u, const char *path)
{
    a.level++;
    if (a.level > LOCAL_MAX_LEVEL) {
        msg_warn(":include: nesting limit exceeded for %s", path);
        return local_bounce(&a, "5.4.6", ":include: nesting limit exceeded");
    }
    if (local_been_here(a.st->dup, "include %ld %s", (long) (u.set ? u.uid : 0), path))
        return 0;
    a.exp_from = a.local;
    if (*path != '/') {
        msg_warn(":include:%s uses a relative path", path);
        return local_bounce(&a, "5.3.5", "mail system configuration error");
    }
    if (local_verify_only(&a))
        return local_sent(&a, "delivers to include file: %s", path);

    struct local_privs privs = {u.set ? u.uid : 0, u.set ? u.gid : 0};
    struct local_child_result res;
    sbuf text = SBUF_INIT;
    int status;
    if (local_child_run(&privs, read_step, (void *) path, &res, &text,
                        LOCAL_LIST_FILE_MAX) < 0) {
        status = local_defer(&a, res.dsn, "%s", res.text);
    } else if (res.outcome != DELIVER_SENT) {
        msg_warn("%s", res.text);
        status = local_bounce(&a, "5.3.5", "mail system configuration error");
    } else {
        a.exp_type = EXP_TYPE_INCLUDE;
        struct local_pw file_pw;
        local_pw_init(&file_pw);
        status = 0;
        if (!u.set || u.uid == 0) {
            int found = local_pw_byuid((uid_t) res.aux, &file_pw);
            if (found <= 0) {
                msg_warn("%s: cannot find :include: file owner username (uid %ld)", path,
                         res.aux);
                status = local_defer(&a, "4.3.5", "mail system configuration error");
            } else if (file_pw.uid != 0) {
                local_usr_set(&u, &file_pw);
            }
        }
        if (status == 0) {
            if (!a.owner)
                a.owner = a.address;
            if (!(local_cf.ext_prop_mask & EXT_PROP_INCLUDE))
                a.unmatched = 0;
            status = local_deliver_token_text(a, u, text.s ? text.s : "", text.len, 0);
        }
        local_pw_free(&file_pw);
    }
    sbuf_free(&text);
    return status;
}
