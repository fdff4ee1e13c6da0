/*
 * smtp-sink - parallel SMTP/LMTP test server that counts and discards mail
 * (smtp-sink(1)).
 *
 *   smtp-sink [options] [inet:][host]:port backlog
 *   smtp-sink [options] unix:pathname backlog
 *
 * One process, one event loop, non-blocking sockets: up to -m
 * connections at once (further ones wait in the listen queue). Each
 * connection's input is split into lines and answered by sink_proto.c;
 * replies to all complete lines are sent together, so pipelined clients
 * get pipelined answers. Options: sink_opts.h.
 *
 * COUNTERS: messages (accepted at "."), recipients (of those messages),
 * sessions (connections accepted), bytes (message bytes, LF line ends),
 * and the times of the first and last accepted message on the system's
 * monotonic clock (CLOCK_MONOTONIC, seconds; 0 before the first), so a
 * benchmark can time a run exactly. They are written as one line
 * "messages=N recipients=R sessions=S bytes=B first=T last=T" to --count-file (replaced by rename at most ten times a
 * second while they change, and at exit), to stdout on SIGUSR1, and at
 * exit with --summary. -c shows them as a running counter.
 *
 * ENDING: SIGTERM, SIGINT or SIGHUP; -M messages; -n sessions;
 * --max-time. Replies already made are sent before exit when the
 * socket takes them at once. Exit status 0.
 *
 * PRIVILEGES: with -R the process chroots after opening the socket;
 * with -u it then runs as that user (its uid, gid and groups). A dump
 * directory (-d) and the directory of the count file must be writable
 * by that user; both paths are then relative to the new root.
 *
 * NOT HERE: the protocol (sink_proto.c), dump files (sink_dump.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtp-sink/sink_dump.h"
#include "smtp-sink/sink_opts.h"
#include "smtp-sink/sink_proto.h"
#include "util/event.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/safe_file.h"
#include "util/sock.h"

#define READ_CHUNK 65536
#define DATA_PIECE 65536            /* longest data line kept in the buffer */
#define OUT_HIGH 262144             /* stop reading while this much is unsent */

typedef struct sink_main sink_main;

typedef struct conn {
    sink_main *m;
    int     fd;
    sink_session ps;
    sbuf    in;
    size_t  in_off;
    sbuf    out;
    size_t  out_off;
    int64_t deadline_ms;
    int     closing;                /* close once out is sent */
    int     paused;                 /* a -w/-W delay is running */
    uint64_t delay_timer;
    struct conn *prev, *next;
} conn;

struct sink_main {
    const sink_opts *o;
    event_loop *loop;
    int     lfd;
    int     listening;
    conn   *conns;
    int     nconns;
    long long sessions;
    long long sessions_done;
    long long messages;
    long long recipients;
    unsigned long long bytes;
    double  first, last;            /* CLOCK_MONOTONIC of the first and last message */
    int     dirty;                  /* counters changed since the count file was written */
};

static void conn_io(event_loop *loop, int fd, int ready, void *ctx);
static int process(conn *c);

/* ---- counters ---- */

static void counts_line(const sink_main *m, sbuf *out)
{
    sbuf_printf(out, "messages=%lld recipients=%lld sessions=%lld bytes=%llu first=%.6f "
                "last=%.6f\n", m->messages, m->recipients, m->sessions, m->bytes, m->first,
                m->last);
}

/* Replace the count file (no fsync: it is a progress report, not data). */
static void write_count_file(sink_main *m)
{
    if (!m->o->count_file)
        return;
    sbuf    text = SBUF_INIT, tmp = SBUF_INIT;
    counts_line(m, &text);
    sbuf_printf(&tmp, "%s.%ld.tmp", m->o->count_file, (long) getpid());
    int     fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_full(fd, text.s, text.len) < 0 || close(fd) < 0
        || rename(tmp.s, m->o->count_file) < 0) {
        msg_warn("count file %s: %m", m->o->count_file);
        if (fd >= 0)
            unlink(tmp.s);
    }
    m->dirty = 0;
    sbuf_free(&text);
    sbuf_free(&tmp);
}

static void count_timer(event_loop *loop, void *ctx)
{
    sink_main *m = ctx;
    if (m->dirty)
        write_count_file(m);
}

static void show_counter(sink_main *m)
{
    m->dirty = 1;
    if (m->o->counter) {
        printf("sessions=%lld messages=%lld\r", m->sessions, m->messages);
        fflush(stdout);
    }
}

/* ---- connections ---- */

static void want(conn *c)
{
    int     ev = 0;
    size_t  pending = c->out.len - c->out_off;
    if (!c->paused && !c->closing && pending < OUT_HIGH)
        ev |= EVENT_READ;
    if (!c->paused && pending > 0)
        ev |= EVENT_WRITE;
    event_fd_modify(c->m->loop, c->fd, ev);
}

static void conn_close(conn *c)
{
    sink_main *m = c->m;
    if (c->delay_timer)
        event_timer_cancel(m->loop, c->delay_timer);
    event_fd_remove(m->loop, c->fd);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        m->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    m->nconns--;
    m->sessions_done++;
    sink_session_free(&c->ps);
    sbuf_free(&c->in);
    sbuf_free(&c->out);
    xfree(c);
    show_counter(m);
    if (m->o->max_sessions && m->sessions_done >= m->o->max_sessions)
        event_loop_stop(m->loop);
    if (!m->listening && m->nconns < m->o->max_conns) {
        event_fd_modify(m->loop, m->lfd, EVENT_READ);
        m->listening = 1;
    }
}

/* Send what we can. 0 when the connection is still there. */
static int flush(conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = write(c->fd, c->out.s + c->out_off, c->out.len - c->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            conn_close(c);
            return -1;
        }
        c->out_off += (size_t) n;
        c->deadline_ms = event_time_ms() + c->m->o->timeout_ms;
    }
    if (c->out_off == c->out.len) {
        sbuf_reset(&c->out);
        c->out_off = 0;
        if (c->closing) {
            conn_close(c);
            return -1;
        }
    }
    want(c);
    return 0;
}

static void delay_done(event_loop *loop, void *ctx)
{
    conn   *c = ctx;
    c->delay_timer = 0;
    c->paused = 0;
    if (flush(c) == 0)
        (void) process(c);
}

static void verbose_replies(conn *c, size_t from)
{
    const char *p = c->out.s + from, *end = c->out.s + c->out.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t  n = nl ? (size_t) (nl - p) : (size_t) (end - p);
        fprintf(stderr, "%s: < %.*s\n", c->ps.client, (int) (n && p[n - 1] == '\r' ? n - 1 : n),
                p);
        p += n + 1;
    }
}

/* What sink_greet/sink_input asked for besides the reply. */
static void apply(conn *c, int flags, int delay_ms)
{
    sink_main *m = c->m;
    if (flags & SINK_R_MESSAGE) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        m->last = ts.tv_sec + ts.tv_nsec / 1e9;
        if (m->messages == 0)
            m->first = m->last;
        m->messages++;
        m->recipients += (long long) c->ps.rcpts.n;
        m->bytes += c->ps.data_bytes;
        if (m->o->dump && sink_dump_write(m->o->dump, &c->ps, time(NULL)) < 0)
            msg_warn("dump %s: %m", c->ps.queue_id);
        show_counter(m);
        if (m->o->max_messages && m->messages >= m->o->max_messages)
            event_loop_stop(m->loop);
    }
    if (flags & SINK_R_CLOSE)
        c->closing = 1;
    if (flags & SINK_R_DELAY) {
        c->paused = 1;
        c->delay_timer = event_timer_add(m->loop, delay_ms, 0, delay_done, c);
    }
}

/* Answer every complete line in the input, then send. -1 when c was closed. */
static int process(conn *c)
{
    const sink_opts *o = c->m->o;
    while (!c->paused && !c->closing) {
        char   *base = c->in.s + c->in_off;
        size_t  avail = c->in.len - c->in_off;
        char   *nl = avail ? memchr(base, '\n', avail) : NULL;
        size_t  before = c->out.len;
        int     delay = 0, flags;
        int     was_data = c->ps.in_data;
        if (nl) {
            size_t  n = (size_t) (nl - base);
            c->in_off += n + 1;
            if (n > 0 && base[n - 1] == '\r')
                n--;
            if (o->verbose && !was_data)
                fprintf(stderr, "%s: > %.*s\n", c->ps.client, (int) (n > 200 ? 200 : n), base);
            flags = sink_input(&c->ps, base, n, 1, &c->out, &delay);
        } else {
            size_t  limit = c->ps.in_data ? DATA_PIECE : SINK_LINE_MAX + 2;
            if (avail <= limit)
                break;
            size_t  n = avail;
            if (base[n - 1] == '\r')
                n--;                        /* may be half of a CRLF */
            c->in_off += n;
            flags = sink_input(&c->ps, base, n, 0, &c->out, &delay);
        }
        if (o->verbose && c->out.len > before)
            verbose_replies(c, before);
        apply(c, flags, delay);
    }
    if (c->in_off == c->in.len) {
        sbuf_reset(&c->in);
        c->in_off = 0;
    } else if (c->in_off > 0) {
        memmove(c->in.s, c->in.s + c->in_off, c->in.len - c->in_off);
        sbuf_truncate(&c->in, c->in.len - c->in_off);
        c->in_off = 0;
    }
    if (!c->paused)
        return flush(c);
    want(c);
    return 0;
}

static void conn_io(event_loop *loop, int fd, int ready, void *ctx)
{
    conn   *c = ctx;
    if (ready & EVENT_WRITE) {
        if (flush(c) < 0)
            return;
    }
    if (!(ready & EVENT_READ) || c->paused || c->closing)
        return;
    for (int rounds = 0; rounds < 16; rounds++) {
        sbuf_reserve(&c->in, READ_CHUNK);
        ssize_t n = read(fd, c->in.s + c->in.len, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            if (c->m->o->verbose)
                fprintf(stderr, "%s: %s\n", c->ps.client, n == 0 ? "disconnect" : "read error");
            conn_close(c);
            return;
        }
        c->in.len += (size_t) n;
        c->in.s[c->in.len] = 0;
        c->deadline_ms = event_time_ms() + c->m->o->timeout_ms;
        if (process(c) < 0 || (size_t) n < READ_CHUNK || c->paused || c->closing)
            return;
    }
}

static void on_accept(event_loop *loop, int lfd, int ready, void *ctx)
{
    sink_main *m = ctx;
    while (m->nconns < m->o->max_conns) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int     fd = accept4(lfd, (struct sockaddr *) &ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                msg_warn("accept: %m");
            return;
        }
        char    addr[SOCK_ADDR_STRLEN + 8];
        if (ss.ss_family == AF_INET6) {
            char    a6[SOCK_ADDR_STRLEN];
            snprintf(addr, sizeof(addr), "ipv6:%s",
                     sock_addr_str((struct sockaddr *) &ss, len, a6));
        } else if (ss.ss_family == AF_INET) {
            sock_addr_str((struct sockaddr *) &ss, len, addr);
        } else {
            snprintf(addr, sizeof(addr), "localhost");
        }
        conn   *c = xcalloc(1, sizeof(*c));
        c->m = m;
        c->fd = fd;
        sink_session_init(&c->ps, m->o, addr);
        sbuf_init(&c->in);
        sbuf_init(&c->out);
        c->deadline_ms = event_time_ms() + m->o->timeout_ms;
        c->next = m->conns;
        if (m->conns)
            m->conns->prev = c;
        m->conns = c;
        m->nconns++;
        m->sessions++;
        show_counter(m);
        if (event_fd_add(loop, fd, EVENT_READ, conn_io, c) < 0)
            msg_fatal("event_fd_add: %m");
        if (m->o->verbose)
            fprintf(stderr, "%s: connect\n", addr);
        int     delay = 0;
        int     flags = sink_greet(&c->ps, &c->out, &delay);
        if (m->o->verbose)
            verbose_replies(c, 0);
        apply(c, flags, delay);
        if (!c->paused)
            (void) flush(c);
        else
            want(c);
    }
    event_fd_modify(loop, lfd, 0);          /* full: resume when one closes */
    m->listening = 0;
}

/* Once a second: close connections idle beyond -t. */
static void check_idle(event_loop *loop, void *ctx)
{
    sink_main *m = ctx;
    int64_t now = event_time_ms();
    conn   *next;
    for (conn *c = m->conns; c; c = next) {
        next = c->next;
        if (!c->paused && now > c->deadline_ms) {
            if (c->closing) {
                conn_close(c);
                continue;
            }
            sbuf_printf(&c->out, "421 4.4.2 %s Error: timeout exceeded\r\n", m->o->hostname);
            c->closing = 1;
            c->deadline_ms = now + 5000;
            (void) flush(c);
        }
    }
}

static void on_stop(event_loop *loop, int signo, void *ctx)
{
    event_loop_stop(loop);
}

static void on_usr1(event_loop *loop, int signo, void *ctx)
{
    sink_main *m = ctx;
    sbuf    line = SBUF_INIT;
    counts_line(m, &line);
    fputs(line.s, stdout);
    fflush(stdout);
    sbuf_free(&line);
    write_count_file(m);
}

static void max_time(event_loop *loop, void *ctx)
{
    event_loop_stop(loop);
}

static int open_listener(const sink_opts *o)
{
    int     fd;
    if (o->listen.kind == SOCK_EP_UNIX) {
        fd = sock_listen_unix(o->listen.path, o->backlog, 0666);
    } else {
        const char *host = o->listen.host[0] ? o->listen.host : NULL;
        int     family = o->family;
        if (family == AF_UNSPEC && !host)
            family = AF_INET;               /* ":port": all IPv4 interfaces */
        fd = sock_listen_inet(host, o->listen.port, family, o->backlog);
        if (fd < 0 && errno == EINVAL && host) {
            /* A host name rather than an address: ask the resolver once. */
            struct sockaddr_storage ss;
            if (sock_lookup(host, o->listen.port, family, &ss, 1) == 1)
                fd = sock_listen_addr((struct sockaddr *) &ss,
                                      sock_addr_len((struct sockaddr *) &ss), o->backlog);
        }
    }
    if (fd < 0)
        msg_fatal("listen on %s%s%s: %m", o->listen.kind == SOCK_EP_UNIX ? o->listen.path
                  : o->listen.host, o->listen.kind == SOCK_EP_UNIX ? "" : ":",
                  o->listen.kind == SOCK_EP_UNIX ? "" : o->listen.port);
    return fd;
}

static void drop_privileges(const sink_opts *o)
{
    struct passwd *pw = NULL;
    if (o->user) {
        pw = getpwnam(o->user);
        if (!pw)
            msg_fatal("-u: unknown user: %s", o->user);
    }
    if (o->chroot_dir) {
        if (chroot(o->chroot_dir) < 0 || chdir("/") < 0)
            msg_fatal("chroot %s: %m", o->chroot_dir);
    }
    if (pw) {
        if (geteuid() == 0 && initgroups(pw->pw_name, pw->pw_gid) < 0)
            msg_fatal("initgroups %s: %m", pw->pw_name);
        if (setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
            msg_fatal("cannot run as %s: %m", pw->pw_name);
        if (pw->pw_uid != 0 && (setuid(0) == 0))
            msg_fatal("cannot drop root privileges");
    }
}

int main(int argc, char **argv)
{
    sink_opts o;
    sbuf    why = SBUF_INIT;
    sink_main m;

    msg_init("smtp-sink", MSG_TO_STDERR);
    sink_opts_init(&o);
    if (sink_opts_parse(&o, argc, argv, &why) < 0) {
        fprintf(stderr, "smtp-sink: %s\n%s", sbuf_str(&why), sink_usage);
        sbuf_free(&why);
        sink_opts_free(&o);
        return 1;
    }
    sbuf_free(&why);
    if (o.help) {
        fputs(sink_usage, stdout);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);

    memset(&m, 0, sizeof(m));
    m.o = &o;
    m.lfd = open_listener(&o);
    drop_privileges(&o);
    m.loop = event_loop_new();
    if (sock_set_nonblock(m.lfd, 1) < 0 || event_fd_add(m.loop, m.lfd, EVENT_READ, on_accept, &m) < 0)
        msg_fatal("listener: %m");
    m.listening = 1;
    event_signal(m.loop, SIGTERM, on_stop, &m);
    event_signal(m.loop, SIGINT, on_stop, &m);
    event_signal(m.loop, SIGHUP, on_stop, &m);
    event_signal(m.loop, SIGUSR1, on_usr1, &m);
    event_timer_add(m.loop, 1000, 1000, check_idle, &m);
    if (o.count_file) {
        write_count_file(&m);
        event_timer_add(m.loop, 100, 100, count_timer, &m);
    }
    if (o.max_time_ms)
        event_timer_add(m.loop, o.max_time_ms, 0, max_time, &m);

    event_loop_run(m.loop);

    /* Send what was answered (best effort, no waiting), then close. */
    while (m.conns) {
        conn   *c = m.conns;
        if (c->out_off < c->out.len)
            (void) write(c->fd, c->out.s + c->out_off, c->out.len - c->out_off);
        c->closing = 0;
        conn_close(c);
    }
    event_fd_remove(m.loop, m.lfd);
    close(m.lfd);
    if (o.listen.kind == SOCK_EP_UNIX)
        (void) unlink(o.listen.path);
    write_count_file(&m);
    if (o.counter)
        printf("\n");
    if (o.summary) {
        sbuf    line = SBUF_INIT;
        counts_line(&m, &line);
        fputs(line.s, stdout);
        sbuf_free(&line);
    }
    fflush(stdout);
    event_loop_free(m.loop);
    sink_opts_free(&o);
    return 0;
}
