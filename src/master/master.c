/*
 * master.c - the master daemon: start-up, daemonising, the event loop.
 *
 * Usage: master [-c config_dir] [-d] [-s] [-t] [-v] [-w]
 *   -d  stay in the foreground and log to stderr as well (postfix start-fg)
 *   -s  keep stdout open (maillog_file = /dev/stdout)
 *   -t  test: exit 0 when master is NOT running, 1 when it is
 *   -v  verbose logging, passed on to every worker
 *   -w  accepted for compatibility; master always waits (below)
 *
 * Start-up reads main.cf and master.cf, then forks: the child becomes
 * the daemon (new session), takes the pid file lock, creates every
 * listener and writes its pid; only then does it tell the waiting parent,
 * which exits 0. Any failure before that point is a fatal error on the
 * parent's stderr (the child shares it) and a non-zero exit, so
 * "postfix start" reports start-up problems synchronously. The daemon
 * then drops stdin/stdout/stderr, logs "daemon started -- version V,
 * configuration DIR" and runs its loop until SIGTERM or SIGINT.
 * master runs as root throughout; its workers drop privileges themselves
 * (mail_server.c) when master.cf says unpriv.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "master/master.h"
#include "mail/mail_conf.h"
#include "mail/master_pid.h"
#include "util/mem.h"
#include "util/msg.h"

#define READY_TIMEOUT_MS (120 * 1000)
#define START_PATIENCE_MS 3000     /* for an inet address a dead master's worker holds */

struct master M = {.watch_rd = -1, .watch_wr = -1, .pid_fd = -1};

int master_open_watch(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    M.watch_rd = fds[0];
    M.watch_wr = fds[1];
    return 0;
}

/* Drop master's connection to the postlog socket; the next line makes a
 * new one (or is appended directly when nobody answers). */
void master_log_reconnect(void)
{
    if (*M.par.maillog_file) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/public/postlog", M.par.queue_dir);
        msg_set_postlog(path);
    }
}

static void usage(void)
{
    msg_fatal("usage: master [-c config_dir] [-d] [-s] [-t] [-v] [-w]");
}

/*
 * Fork; the parent waits for the child's "ready" byte and exits with 0,
 * or 1 when the child died first. The child returns the pipe's write end.
 */
static int daemonize(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        msg_fatal("pipe: %m");
    pid_t pid = fork();
    if (pid < 0)
        msg_fatal("fork: %m");
    if (pid > 0) {
        close(p[1]);
        struct pollfd pf = {p[0], POLLIN, 0};
        char c = 0;
        int n = poll(&pf, 1, READY_TIMEOUT_MS);
        if (n > 0 && read(p[0], &c, 1) == 1 && c == 'R')
            _exit(0);
        if (n == 0)
            msg_error("master did not finish its start-up within %d seconds",
                      READY_TIMEOUT_MS / 1000);
        _exit(1);
    }
    close(p[0]);
    if (setsid() < 0)
        msg_fatal("setsid: %m");
    return p[1];
}

static void detach_stdio(bool keep_stdout)
{
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        msg_fatal("open /dev/null: %m");
    dup2(fd, 0);
    if (!keep_stdout)
        dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
}

static char *absolute_dir(const char *dir)
{
    char buf[PATH_MAX];
    if (dir[0] == '/' || !realpath(dir, buf))
        return xstrdup(dir);
    return xstrdup(buf);
}

static void start_services(void)
{
    for (struct svc *s = M.services; s; s = s->next) {
        char *err = 0;
        if (listen_open(s, START_PATIENCE_MS, &err) < 0)
            msg_fatal("service %s: %s", svc_label(s), err);
    }
}

static bool has_postlog_service(void)
{
    for (struct svc *s = M.services; s; s = s->next)
        if (s->kind == SVC_DGRAM && s->path && strstr(s->path, "/public/postlog"))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    const char *config_dir = 0;
    bool test_mode = false, keep_stdout = false;
    int ch;

    /* Nothing inherited beyond stdin/stdout/stderr reaches the workers. */
    close_range(3, ~0U, 0);
    umask(022);
    /* Whatever our caller blocked, master must hear HUP, TERM and CHLD. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, 0);
    signal(SIGPIPE, SIG_IGN);
    msg_init("master", MSG_TO_STDERR | MSG_TO_SYSLOG);
    while ((ch = getopt(argc, argv, "c:De:distvw")) != -1) {
        switch (ch) {
        case 'c': config_dir = optarg; break;
        case 'd': M.foreground = true; break;
        case 's': keep_stdout = true; break;
        case 't': test_mode = true; break;
        case 'v': M.verbose++; msg_verbose++; break;
        case 'D': case 'e': case 'i': case 'w': break;
        default: usage();
        }
    }
    if (optind < argc)
        usage();
    char *dir = absolute_dir(config_dir ? config_dir
                             : getenv("MAIL_CONFIG") ? getenv("MAIL_CONFIG") : DEF_CONFIG_DIR);
    setenv("MAIL_CONFIG", dir, 1);
    mail_conf_load(dir);
    xfree(dir);
    mail_conf_override("process_name", "master");
    mail_conf_setup_logging();
    msg_set_targets(msg_get_targets() | MSG_TO_STDERR);
    /* master owns the postlog socket and starts postlogd from its loop:
     * waiting for room there could only wait for itself. */
    msg_set_postlog_wait(0);

    if (test_mode)
        return master_pid_running() > 0 ? 1 : 0;
    if (geteuid() != 0)
        msg_fatal("the master daemon must be started by the super-user");

    strv errs;
    strv_init(&errs);
    if (master_params_load(&M.par, &errs) < 0) {
        for (size_t i = 0; i + 1 < errs.n; i++)
            msg_error("%s", errs.v[i]);
        msg_fatal("%s", errs.n ? errs.v[errs.n - 1] : "bad configuration");
    }
    strv_free(&errs);
    char *err = 0;
    M.services = master_conf_load(&M.par, &err);
    if (!M.services)
        msg_fatal("%s", err);
    if (*M.par.maillog_file && !has_postlog_service())
        msg_warn("maillog_file is set but master.cf has no \"postlog unix-dgram\" service: "
                 "daemons cannot log");
    if (chdir(M.par.queue_dir) < 0)
        msg_fatal("chdir %s: %m", M.par.queue_dir);

    int ready_fd = M.foreground ? -1 : daemonize();

    pid_t holder = 0;
    M.pid_fd = master_pid_lock(&holder);
    if (M.pid_fd < 0) {
        if (errno == EAGAIN)
            msg_fatal("the Postfix mail system is already running (master pid %ld)",
                      (long) holder);
        msg_fatal("lock pid file in %s/pid: %m", M.par.queue_dir);
    }
    M.loop = event_loop_new();
    if (master_open_watch() < 0)
        msg_fatal("create watch pipe: %m");
    start_services();
    if (master_pid_write(M.pid_fd, getpid()) < 0)
        msg_fatal("write pid file: %m");
    if (event_signal(M.loop, SIGHUP, master_reload, 0) < 0
        || event_signal(M.loop, SIGTERM, master_stop, 0) < 0
        || event_signal(M.loop, SIGINT, master_stop, 0) < 0
        || event_signal(M.loop, SIGCHLD, spawn_reap, 0) < 0)
        msg_fatal("set up signal handlers: %m");
    master_params_apply_env(&M.par);
    for (struct svc *s = M.services; s; s = s->next)
        spawn_init_service(s);

    if (ready_fd >= 0) {
        if (write(ready_fd, "R", 1) != 1)
            msg_fatal("tell the parent process that start-up is done: %m");
        close(ready_fd);
        detach_stdio(keep_stdout);
        msg_set_targets(msg_get_targets() & ~MSG_TO_STDERR);
    }
    msg_info("daemon started -- version %s, configuration %s", HK_VERSION, M.par.config_dir);
    for (struct svc *s = M.services; s; s = s->next)
        wakeup_start(s, true);
    event_loop_run(M.loop);
    return 0;
}
