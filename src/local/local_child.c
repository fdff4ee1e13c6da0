/*
 * local_child.c - fork, become the user, run one delivery step, report (see local_child.h).
 *
 * Report format on the pipe: struct local_child_result, then data_len
 * bytes. Parent and child are the same program, so a raw struct is fine;
 * the parent still checks every length it reads.
 *
 * NOT HERE: what a step does; choosing the rights (the callers do).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local/local.h"
#include "local/local_child.h"
#include "mail/mail_conf.h"
#include "util/msg.h"
#include "util/safe_file.h"

void local_child_set(struct local_child_result *res, int outcome, const char *dsn,
                     const char *fmt, ...)
{
    va_list ap;
    res->outcome = outcome;
    snprintf(res->dsn, sizeof(res->dsn), "%s", dsn);
    va_start(ap, fmt);
    vsnprintf(res->text, sizeof(res->text), fmt, ap);
    va_end(ap);
}

void local_child_warn(struct local_child_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->warning, sizeof(res->warning), fmt, ap);
    va_end(ap);
}

const char *local_errno_dsn(int err, const char *def)
{
    switch (err) {
    case ENOSPC: return "4.3.0";
    case EFBIG:
    case EDQUOT: return "5.2.2";
    case EAGAIN:
    case ESTALE: return "4.2.0";
    default: return def;
    }
}

/* In the child: give up root for good. */
static int become(const struct local_privs *p, struct local_child_result *res)
{
    if (p->uid == 0) {
        if (setgid(p->gid) < 0) {
            local_child_set(res, DELIVER_DEFER, "4.3.0", "setgid %ld: %s", (long) p->gid,
                            strerror(errno));
            return -1;
        }
        return 0;
    }
    if (setgroups(1, &p->gid) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0) {
        local_child_set(res, DELIVER_DEFER, "4.3.0", "cannot switch to uid %ld gid %ld: %s",
                        (long) p->uid, (long) p->gid, strerror(errno));
        return -1;
    }
    if (getuid() != p->uid || geteuid() != p->uid || setuid(0) == 0) {
        local_child_set(res, DELIVER_DEFER, "4.3.0", "privileges not dropped to uid %ld",
                        (long) p->uid);
        return -1;
    }
    return 0;
}

static void child_main(int wfd, const struct local_privs *p, local_child_fn fn, void *ctx)
{
    struct local_child_result res;
    sbuf data = SBUF_INIT;
    memset(&res, 0, sizeof(res));
    local_child_set(&res, DELIVER_DEFER, "4.3.0", "delivery step gave no result");

    signal(SIGXFSZ, SIG_IGN);       /* a write past the size limit fails with EFBIG */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    umask(077);
    if (local_cf.mailbox_limit > 0) {
        struct rlimit rl = {(rlim_t) local_cf.mailbox_limit, (rlim_t) local_cf.mailbox_limit};
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            local_child_warn(&res, "setrlimit file size %ld: %s", local_cf.mailbox_limit,
                             strerror(errno));
    }
    if (become(p, &res) == 0)
        fn(ctx, &res, &data);
    res.text[sizeof(res.text) - 1] = 0;
    res.dsn[sizeof(res.dsn) - 1] = 0;
    res.warning[sizeof(res.warning) - 1] = 0;
    res.data_len = data.len;
    if (write_full(wfd, &res, sizeof(res)) == 0 && data.len)
        (void) write_full(wfd, data.s, data.len);
    _exit(0);
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *) buf + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t) n;
    }
    return (ssize_t) got;
}

int local_child_run(const struct local_privs *privs, local_child_fn fn, void *ctx,
                    struct local_child_result *res, sbuf *data, size_t data_max)
{
    int fds[2];
    memset(res, 0, sizeof(*res));
    if (data)
        sbuf_reset(data);
    if (pipe2(fds, O_CLOEXEC) < 0) {
        local_child_set(res, DELIVER_DEFER, "4.3.0", "cannot create pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = -1;
    long attempts = mail_conf_int("fork_attempts");
    for (long i = 0; i < attempts; i++) {
        if ((pid = fork()) >= 0)
            break;
        msg_warn("fork: %m");
        sleep((unsigned) mail_conf_time("fork_delay"));
    }
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        local_child_set(res, DELIVER_DEFER, "4.3.0", "cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], privs, fn, ctx);
    }
    close(fds[1]);
    int rc = 0;
    ssize_t n = read_full(fds[0], res, sizeof(*res));
    if (n != (ssize_t) sizeof(*res)) {
        rc = -1;
    } else {
        res->text[sizeof(res->text) - 1] = 0;
        res->dsn[sizeof(res->dsn) - 1] = 0;
        res->warning[sizeof(res->warning) - 1] = 0;
        if (res->warning[0])
            msg_warn("%s", res->warning);
        size_t want = res->data_len;
        char buf[8192];
        while (want > 0) {
            size_t chunk = want < sizeof(buf) ? want : sizeof(buf);
            ssize_t m = read_full(fds[0], buf, chunk);
            if (m <= 0)
                break;
            if (data && data->len < data_max) {
                size_t room = data_max - data->len;
                sbuf_add(data, buf, (size_t) m < room ? (size_t) m : room);
            }
            want -= (size_t) m;
        }
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc < 0) {
        if (WIFSIGNALED(status))
            local_child_set(res, DELIVER_DEFER, "4.3.0",
                            "delivery process killed by signal %d", WTERMSIG(status));
        else
            local_child_set(res, DELIVER_DEFER, "4.3.0",
                            "delivery process exited with status %d without a result",
                            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        msg_warn("%s", res->text);
    }
    return rc;
}
