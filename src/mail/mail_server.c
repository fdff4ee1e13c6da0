/*
 * mail_server.c - the daemon skeleton (see mail_server.h).
 *
 * Owns: option parsing, configuration, logging set-up, privilege drop,
 * the accept/trigger loop, max_use/max_idle, and the busy/idle reports to
 * master. Knows nothing about what a daemon does with its clients.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "mail/mail_server.h"
#include "mail/mail_conf.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

static char service_name[256] = "";
static bool standalone;
static bool master_gone;
static bool have_master;
static volatile sig_atomic_t got_term;
static volatile sig_atomic_t orphaned;     /* master died; listeners closed */

const char *mail_server_service(void) { return service_name; }
bool mail_server_standalone(void) { return standalone; }

void mail_server_busy(bool busy)
{
    if (!have_master)
        return;
    struct master_status st = {getpid(), busy ? MASTER_STAT_TAKEN : MASTER_STAT_AVAIL};
    if (write(MASTER_STATUS_FD, &st, sizeof(st)) != (ssize_t) sizeof(st) && errno != EINTR)
        master_gone = true;
}

bool mail_server_should_exit(void)
{
    if (orphaned)
        master_gone = true;
    if (got_term || master_gone)
        return true;
    if (!have_master)
        return false;
    struct pollfd p = {MASTER_WATCH_FD, POLLIN, 0};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
        master_gone = true;
    return master_gone;
}

void mail_server_drop_privileges(void)
{
    if (geteuid() != 0)
        return;
    const char *owner = mail_conf_str("mail_owner");
    struct passwd *pw = getpwnam(owner);
    if (!pw)
        msg_fatal("mail_owner: unknown user name: %s", owner);
    if (pw->pw_uid == 0)
        msg_fatal("mail_owner %s must not be the super-user", owner);
    if (setgroups(0, 0) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
        msg_fatal("drop privileges to %s: %m", owner);
}

static void on_term(int sig)
{
    (void) sig;
    got_term = 1;
}

static void usage(const char *prog)
{
    msg_fatal("usage: %s [-S] [-u] [-v] [-n service] [-t type] [-s count] "
              "[-o name=value]...", prog);
}

/* The listening descriptors: fd 3, then 6, 7, ... (-s count). */
static int listen_fds[MASTER_MAX_LISTEN] = {MASTER_LISTEN_FD};
static int listen_count = 1;

static void set_listen_count(const char *arg)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || n < 1 || n > MASTER_MAX_LISTEN)
        msg_fatal("bad -s value: %s (expected 1..%d)", arg, MASTER_MAX_LISTEN);
    listen_count = (int) n;
    for (int i = 1; i < listen_count; i++)
        listen_fds[i] = MASTER_EXTRA_LISTEN_FD + i - 1;
}

/*
 * When master dies (kill -9), a worker in the middle of a session would
 * keep its copies of the listening sockets until the session ends, and a
 * new master could not bind the same address ("postfix start" fails with
 * "Address already in use"). The kernel tells us at once (parent-death
 * signal); the handler closes our copies, so the port is free while we
 * finish the session, and we exit after it. Listeners are closed only
 * once: afterwards their numbers may belong to other descriptors.
 */
static void on_master_death(int sig)
{
    (void) sig;
    if (orphaned)
        return;
    int saved = errno;
    for (int i = 0; i < listen_count; i++)
        close(listen_fds[i]);
    orphaned = 1;
    errno = saved;
}

static void watch_master_death(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_master_death;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGURG, &sa, 0);
    /* Set after the privilege drop, which would clear it. */
    if (prctl(PR_SET_PDEATHSIG, SIGURG) < 0)
        msg_warn("prctl PR_SET_PDEATHSIG: %m");
    /* Gone before we asked? Then its watch pipe is at end of file. */
    struct pollfd p = {MASTER_WATCH_FD, POLLIN, 0};
    if (poll(&p, 1, 0) > 0 && p.revents)
        on_master_death(SIGURG);
}

/*
 * Wait until a listener is ready, max_idle passes (0) or master wants us
 * gone (-1). Returns the ready descriptor, 0 on idle timeout, -1 to exit.
 */
static int wait_listeners(long max_idle)
{
    struct pollfd p[MASTER_MAX_LISTEN + 1];
    for (;;) {
        if (mail_server_should_exit())
            return -1;
        int n = 0;
        for (int i = 0; i < listen_count; i++)
            p[n++] = (struct pollfd) {listen_fds[i], POLLIN, 0};
        if (have_master)
            p[n++] = (struct pollfd) {MASTER_WATCH_FD, POLLIN, 0};
        int r = poll(p, (nfds_t) n, max_idle > 0 ? (int) (max_idle * 1000) : -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            msg_fatal("poll: %m");
        }
        if (r == 0)
            return 0;
        if (have_master && p[n - 1].revents) {
            master_gone = true;
            return -1;
        }
        for (int i = 0; i < listen_count; i++)
            if (p[i].revents)
                return listen_fds[i];
    }
}

static void nonblocking_listeners(void)
{
    for (int i = 0; i < listen_count; i++) {
        int fl = fcntl(listen_fds[i], F_GETFL);
        if (fl >= 0)
            fcntl(listen_fds[i], F_SETFL, fl | O_NONBLOCK);
    }
}

static void serve_stream(const struct mail_server *srv)
{
    long max_use = mail_conf_int("max_use");
    long max_idle = mail_conf_time("max_idle");
    long served = 0;
    nonblocking_listeners();
    for (;;) {
        int lfd = wait_listeners(max_idle);
        if (lfd == 0 && msg_verbose)
            msg_info("idle timeout -- exiting");
        if (lfd <= 0)
            break;
        int fd = accept4(lfd, 0, 0, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                || errno == ECONNABORTED)
                continue;   /* a sibling took it */
            if (orphaned)
                break;      /* on_master_death() closed it under us */
            msg_fatal("accept connection: %m");
        }
        mail_server_busy(true);
        vstream *client = vstream_open(fd);
        srv->serve(client, service_name);
        vstream_close(client);
        mail_server_busy(false);
        if (max_use > 0 && ++served >= max_use)
            break;
    }
}

#define TRIGGER_READ_MS 10000

/* One wake-up connection: read what the client sends, bounded in time. */
static ssize_t read_trigger_conn(int lfd, char *buf, size_t size)
{
    int fd = accept4(lfd, 0, 0, SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = -1;
    struct pollfd p = {fd, POLLIN, 0};
    int r;
    while ((r = poll(&p, 1, TRIGGER_READ_MS)) < 0 && errno == EINTR)
        ;
    if (r > 0)
        got = read(fd, buf, size);
    close(fd);
    return got;
}

static void serve_trigger(const struct mail_server *srv, bool dgram)
{
    long max_idle = mail_conf_time("max_idle");
    long max_use = mail_conf_int("max_use");
    long served = 0;
    static char buf[65536];
    nonblocking_listeners();
    for (;;) {
        int lfd = wait_listeners(max_idle);
        if (lfd <= 0)
            break;
        struct stat st;
        bool is_socket = fstat(lfd, &st) == 0 && S_ISSOCK(st.st_mode);
        mail_server_busy(true);
        if (dgram) {
            /* Everything queued now, then report idle once. */
            ssize_t got;
            while ((got = recv(lfd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
                buf[got] = 0;
                if (got > 0)
                    srv->trigger(buf, (size_t) got, service_name);
            }
        } else {
            ssize_t got = is_socket ? read_trigger_conn(lfd, buf, sizeof(buf) - 1)
                                    : read(lfd, buf, sizeof(buf) - 1);
            if (got > 0) {
                buf[got] = 0;
                srv->trigger(buf, (size_t) got, service_name);
            }
        }
        mail_server_busy(false);
        if (!dgram && max_use > 0 && ++served >= max_use)
            break;
    }
}

int mail_server_main(int argc, char **argv, const struct mail_server *srv)
{
    bool drop = false;
    strv overrides = {0};
    strv_init(&overrides);
    const char *type = "unix";
    int ch;

    msg_init(srv->program, MSG_TO_SYSLOG);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, 0);
    snprintf(service_name, sizeof(service_name), "%s", srv->program);

    while ((ch = getopt(argc, argv, "+c:n:t:o:s:Suvdz")) != -1) {
        switch (ch) {
        case 'c': setenv("MAIL_CONFIG", optarg, 1); break;
        case 'n': snprintf(service_name, sizeof(service_name), "%s", optarg); break;
        case 't': type = optarg; break;
        case 'o': strv_add(&overrides, optarg); break;
        case 's': set_listen_count(optarg); break;
        case 'S': standalone = true; break;
        case 'u': drop = true; break;
        case 'v': msg_verbose++; break;
        case 'd': case 'z': break;
        default: usage(argv[0]);
        }
    }
    (void) type;
    mail_conf_load(0);
    for (size_t i = 0; i < overrides.n; i++)
        if (mail_conf_override_assignment(overrides.v[i]) < 0)
            msg_fatal("bad -o option: %s (expected name=value)", overrides.v[i]);
    strv_free(&overrides);
    mail_conf_override("process_name", srv->program);
    mail_conf_override("service_name", service_name);
    mail_conf_setup_logging();
    if (standalone && isatty(2))
        msg_set_targets(msg_get_targets() | MSG_TO_STDERR);

    have_master = !standalone && fcntl(MASTER_STATUS_FD, F_GETFD) >= 0;
    for (int i = 0; !standalone && i < listen_count; i++)
        if (fcntl(listen_fds[i], F_GETFD) < 0)
            msg_fatal("no listening socket on fd %d: run me from master, or with -S",
                      listen_fds[i]);

    if (srv->pre_init)
        srv->pre_init();
    if (drop && !srv->stay_root)
        mail_server_drop_privileges();
    if (srv->post_init)
        srv->post_init();
    if (have_master && srv->kind != MAIL_SERVER_EVENT)
        watch_master_death();       /* EVENT servers own fd 3 in their own loop */

    if (standalone) {
        switch (srv->kind) {
        case MAIL_SERVER_STREAM: {
            vstream *client = vstream_open(0);
            srv->serve(client, service_name);
            vstream_flush(client);
            vstream_detach(client);
            break;
        }
        case MAIL_SERVER_TRIGGER:
        case MAIL_SERVER_DGRAM: {
            char buf[4096];
            ssize_t n;
            while ((n = read(0, buf, sizeof(buf))) > 0)
                srv->trigger(buf, (size_t) n, service_name);
            break;
        }
        case MAIL_SERVER_EVENT:
            srv->loop(-1, service_name);
            break;
        }
    } else {
        switch (srv->kind) {
        case MAIL_SERVER_STREAM: serve_stream(srv); break;
        case MAIL_SERVER_TRIGGER: serve_trigger(srv, false); break;
        case MAIL_SERVER_DGRAM: serve_trigger(srv, true); break;
        case MAIL_SERVER_EVENT: srv->loop(MASTER_LISTEN_FD, service_name); break;
        }
    }
    if (srv->pre_exit)
        srv->pre_exit();
    return 0;
}
