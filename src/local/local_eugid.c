/*
 * local_eugid.c - run one delivery step inside the local process, with a
 * user's effective ids (see local_child.h: local_eugid_run).
 *
 * The mailbox deliveries (mbox and Maildir in the user's home or in
 * mail_spool_directory) and the search for ~/.forward are the steps every
 * message takes; forking a child for each one cost more CPU than all the
 * other daemons together spend on the message. Here, as Postfix's
 * local(8) does, the process switches its effective ids for the step and
 * back afterwards:
 *
 *   setgroups(1, {gid}); setresgid(-1, gid, -1); setresuid(-1, uid, -1);
 *   ... the step: every file access is checked against uid/gid, and new
 *   files belong to uid/gid ...
 *   setresuid(-1, 0, -1); setresgid(-1, egid, -1); setgroups(root's)
 *
 * While the effective uid is not 0 the kernel clears every effective
 * capability, so disk quotas and the root-reserved blocks bind as for
 * the user (setfsuid() alone would keep CAP_SYS_RESOURCE and let a
 * mailbox grow past its quota). The real and saved uids stay 0, so the
 * user cannot signal or trace the process (a change of effective ids
 * also makes it non-dumpable). The step runs umask 077 and with
 * mailbox_size_limit as the soft file size limit; SIGXFSZ is ignored by
 * the whole process (local.c), so a write past the limit fails with
 * EFBIG. A change of effective ids clears the parent-death signal
 * (prctl(2)); it is set again afterwards. Not being able to get root
 * back is fatal: the process must not go on as someone else.
 *
 * What runs this way is our own code on files: opening, writing,
 * linking. Anything that runs a user's program (|command,
 * mailbox_command), writes to a file named in an alias or .forward
 * (/file, /dir/), or reads an :include: file still runs in a child that
 * gives up root for good (local_child.c).
 *
 * NOT HERE: choosing the rights (the callers), what a step does.
 */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local/local.h"
#include "local/local_child.h"
#include "util/mem.h"
#include "util/msg.h"

/* The supplementary groups the process had at its first switch (root's). */
static gid_t *saved_groups;
static int saved_ngroups = -1;

static void save_groups(void)
{
    if (saved_ngroups >= 0)
        return;
    int n = getgroups(0, 0);
    if (n < 0)
        msg_fatal("getgroups: %m");
    saved_groups = xcalloc((size_t) (n > 0 ? n : 1), sizeof(gid_t));
    if (n > 0 && (n = getgroups(n, saved_groups)) < 0)
        msg_fatal("getgroups: %m");
    saved_ngroups = n;
}

/* Back to root: anything else is fatal. */
static void restore_ids(gid_t egid)
{
    if (setresuid((uid_t) -1, 0, (uid_t) -1) < 0)
        msg_fatal("cannot restore effective uid 0: %m");
    if (setresgid((gid_t) -1, egid, (gid_t) -1) < 0)
        msg_fatal("cannot restore effective gid %ld: %m", (long) egid);
    if (setgroups((size_t) saved_ngroups, saved_groups) < 0)
        msg_fatal("cannot restore the supplementary groups: %m");
}

/* Become p (effective ids). 0, or -1 with res set (and the ids restored). */
static int become(const struct local_privs *p, gid_t egid, struct local_child_result *res)
{
    if (setgroups(1, &p->gid) < 0 || setresgid((gid_t) -1, p->gid, (gid_t) -1) < 0) {
        int err = errno;
        (void) setresgid((gid_t) -1, egid, (gid_t) -1);
        (void) setgroups((size_t) saved_ngroups, saved_groups);
        local_child_set(res, DELIVER_DEFER, "4.3.0", "cannot switch to uid %ld gid %ld: %s",
                        (long) p->uid, (long) p->gid, strerror(err));
        return -1;
    }
    if (p->uid != 0 && setresuid((uid_t) -1, p->uid, (uid_t) -1) < 0) {
        int err = errno;
        restore_ids(egid);
        local_child_set(res, DELIVER_DEFER, "4.3.0", "cannot switch to uid %ld gid %ld: %s",
                        (long) p->uid, (long) p->gid, strerror(err));
        return -1;
    }
    if (geteuid() != p->uid || getegid() != p->gid) {
        restore_ids(egid);
        local_child_set(res, DELIVER_DEFER, "4.3.0", "privileges not switched to uid %ld",
                        (long) p->uid);
        return -1;
    }
    return 0;
}

int local_eugid_run(const struct local_privs *privs, local_child_fn fn, void *ctx,
                    struct local_child_result *res, sbuf *data, size_t data_max)
{
    sbuf scratch = SBUF_INIT;
    sbuf *out = data ? data : &scratch;
    memset(res, 0, sizeof(*res));
    sbuf_reset(out);
    local_child_set(res, DELIVER_DEFER, "4.3.0", "delivery step gave no result");

    if (geteuid() != 0) {
        /* Only root can switch; the forked variant fails the same way. */
        local_child_set(res, DELIVER_DEFER, "4.3.0", "cannot switch to uid %ld gid %ld: %s",
                        (long) privs->uid, (long) privs->gid, strerror(EPERM));
        msg_warn("%s", res->text);
        return -1;
    }
    save_groups();
    gid_t egid = getegid();
    int pdeath = 0;
    if (prctl(PR_GET_PDEATHSIG, &pdeath) < 0)
        pdeath = 0;
    mode_t old_mask = umask(077);
    struct rlimit old_fsize;
    bool limited = false;
    if (local_cf.mailbox_limit > 0 && getrlimit(RLIMIT_FSIZE, &old_fsize) == 0) {
        struct rlimit rl = old_fsize;
        rl.rlim_cur = (rlim_t) local_cf.mailbox_limit;
        if (old_fsize.rlim_max != RLIM_INFINITY && rl.rlim_cur > old_fsize.rlim_max)
            rl.rlim_cur = old_fsize.rlim_max;
        if (setrlimit(RLIMIT_FSIZE, &rl) == 0)
            limited = true;
        else
            local_child_warn(res, "setrlimit file size %ld: %s", local_cf.mailbox_limit,
                             strerror(errno));
    }

    int rc = -1;
    if (become(privs, egid, res) == 0) {
        fn(ctx, res, out);
        restore_ids(egid);
        rc = 0;
    }

    if (limited && setrlimit(RLIMIT_FSIZE, &old_fsize) < 0)
        msg_warn("cannot restore the file size limit: %m");
    umask(old_mask);
    if (pdeath > 0 && prctl(PR_SET_PDEATHSIG, pdeath) < 0)
        msg_warn("prctl PR_SET_PDEATHSIG: %m");

    res->text[sizeof(res->text) - 1] = 0;
    res->dsn[sizeof(res->dsn) - 1] = 0;
    res->warning[sizeof(res->warning) - 1] = 0;
    if (res->warning[0])
        msg_warn("%s", res->warning);
    if (rc < 0)
        msg_warn("%s", res->text);
    sbuf_truncate(out, data_max);
    res->data_len = out->len;
    sbuf_free(&scratch);
    return rc;
}
