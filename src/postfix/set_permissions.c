/*
 * set_permissions.c - "postfix set-permissions": repair ownership and modes.
 *
 * The queue directory tree and data_directory get the owners and modes
 * of queue_dirs.c (missing directories are created); postdrop and
 * postqueue in command_directory become group setgid_group with the
 * set-group-id bit (mode 2755), as Postfix installs them, so local users
 * can submit mail and list the queue. Problems that remain are printed;
 * the exit status is 1 when any remain.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

#include "postfix/postfix.h"
#include "mail/mail_conf.h"
#include "mail/queue_dirs.h"
#include "util/msg.h"
#include "util/strv.h"

static int fix_setgid(const char *name, gid_t gid)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", mail_conf_str("command_directory"), name);
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : (msg_warn("%s: %m", path), 1);
    if (!S_ISREG(st.st_mode)) {
        msg_warn("%s: not a regular file", path);
        return 1;
    }
    if (chown(path, 0, gid) < 0 || chmod(path, 02755) < 0) {
        msg_warn("set owner/mode of %s: %m", path);
        return 1;
    }
    return 0;
}

int postfix_set_permissions(void)
{
    script_require_root();
    strv problems;
    strv_init(&problems);
    int left = queue_dirs_check(true, &problems);
    for (size_t i = 0; i < problems.n; i++)
        msg_warn("%s", problems.v[i]);
    strv_free(&problems);
    struct group *gr = getgrnam(mail_conf_str("setgid_group"));
    if (!gr) {
        msg_warn("setgid_group: unknown group name: %s", mail_conf_str("setgid_group"));
        left++;
    } else {
        left += fix_setgid("postdrop", gr->gr_gid);
        left += fix_setgid("postqueue", gr->gr_gid);
    }
    return left ? 1 : 0;
}
