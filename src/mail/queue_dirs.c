/*
 * queue_dirs.c - check and create the queue directory tree (see queue_dirs.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mail/queue_dirs.h"
#include "mail/mail_conf.h"
#include "util/sbuf.h"

enum owner { OWN_ROOT, OWN_MAIL, OWN_MAIL_SGID };

struct qdir {
    const char *name;       /* relative to queue_directory; "" is the top */
    enum owner owner;
    mode_t mode;
};

static const struct qdir dirs[] = {
    {"", OWN_ROOT, 0755},
    {"pid", OWN_ROOT, 0755},
    {QUEUE_ACTIVE, OWN_MAIL, 0700},
    {QUEUE_BOUNCE, OWN_MAIL, 0700},
    {QUEUE_CORRUPT, OWN_MAIL, 0700},
    {QUEUE_DEFER, OWN_MAIL, 0700},
    {QUEUE_DEFERRED, OWN_MAIL, 0700},
    {QUEUE_FLUSH, OWN_MAIL, 0700},
    {QUEUE_HOLD, OWN_MAIL, 0700},
    {QUEUE_INCOMING, OWN_MAIL, 0700},
    {"private", OWN_MAIL, 0700},
    {QUEUE_SAVED, OWN_MAIL, 0700},
    {QUEUE_TRACE, OWN_MAIL, 0700},
    {QUEUE_MAILDROP, OWN_MAIL_SGID, 01730},
    {"public", OWN_MAIL_SGID, 0710},
};

__attribute__((format(printf, 2, 3)))
static void problem(strv *p, const char *fmt, ...)
{
    sbuf s = SBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&s, fmt, ap);
    va_end(ap);
    strv_add(p, sbuf_str(&s));
    sbuf_free(&s);
}

static int check_one(const char *path, uid_t uid, gid_t gid, mode_t mode, bool fix,
                     strv *problems)
{
    struct stat st;
    int left = 0;
    bool root = geteuid() == 0;
    if (lstat(path, &st) < 0) {
        if (errno != ENOENT || !fix) {
            problem(problems, "%s: %s", path, strerror(errno));
            return 1;
        }
        if (mkdir(path, mode) < 0 || lstat(path, &st) < 0) {
            problem(problems, "create directory %s: %s", path, strerror(errno));
            return 1;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        problem(problems, "%s: %s", path, "not a directory");
        return 1;
    }
    if (st.st_uid != uid || st.st_gid != gid) {
        if (fix && root && chown(path, uid, gid) == 0) {
            /* repaired */
        } else if (root || st.st_uid != geteuid()) {
            problem(problems, "%s: %s", path, "wrong owner or group");
            left++;
        }
    }
    if ((st.st_mode & 07777) != mode) {
        if (!(fix && chmod(path, mode) == 0)) {
            problem(problems, "%s: %s", path, "wrong permissions");
            left++;
        }
    }
    return left;
}

int queue_dirs_check(bool fix, strv *problems)
{
    const char *owner = mail_conf_str("mail_owner");
    const char *group = mail_conf_str("setgid_group");
    struct passwd *pw = getpwnam(owner);
    struct group *gr = getgrnam(group);
    int left = 0;
    if (!pw) {
        problem(problems, "mail_owner: unknown user name: %s", owner);
        return 1;
    }
    if (!gr) {
        problem(problems, "setgid_group: unknown group name: %s", group);
        return 1;
    }
    uid_t mail_uid = pw->pw_uid;
    gid_t mail_gid = pw->pw_gid, sgid = gr->gr_gid;
    const char *qdir = mail_conf_str("queue_directory");
    sbuf path = SBUF_INIT;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        sbuf_reset(&path);
        sbuf_adds(&path, qdir);
        if (*dirs[i].name)
            sbuf_printf(&path, "/%s", dirs[i].name);
        uid_t uid = dirs[i].owner == OWN_ROOT ? 0 : mail_uid;
        gid_t gid = dirs[i].owner == OWN_ROOT ? 0 : dirs[i].owner == OWN_MAIL ? mail_gid : sgid;
        if (geteuid() != 0 && dirs[i].owner == OWN_ROOT)
            uid = geteuid(), gid = getegid();
        left += check_one(sbuf_str(&path), uid, gid, dirs[i].mode, fix, problems);
    }
    left += check_one(mail_conf_str("data_directory"), mail_uid, mail_gid, 0700, fix, problems);
    sbuf_free(&path);
    return left;
}
