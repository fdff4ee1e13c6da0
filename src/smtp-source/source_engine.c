/*
 * source_engine.c - the SMTP/LMTP client sessions of smtp-source.
 *
 * One event loop, one state machine per connection. A session sends one
 * command and waits for its reply (with -P and a server that offers
 * PIPELINING, MAIL, all RCPTs and DATA go out in one write and their
 * replies are read in order). The message content is written from three
 * pieces without copying: the per-message headers, the shared payload
 * and the final ".". See source_engine.h for what is counted.
 *
 * Timeouts: every session has a deadline that moves forward whenever it
 * sends or receives something; one timer per second checks them all
 * (cheaper than a timer per step with hundreds of sessions).
 *
 * NOT HERE: option parsing, name lookups, printing the summary.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "smtp-source/source_content.h"
#include "smtp-source/source_engine.h"
#include "smtp-source/source_reply.h"
#include "util/event.h"
#include "util/mem.h"
#include "util/msg.h"

#define LINE_MAX_LEN 8192       /* longest reply line we accept */
#define READ_CHUNK 16384

enum state {
    S_IDLE,             /* no connection (waiting to connect or between messages) */
    S_CONNECTING,
    S_GREETING,
    S_HELO,             /* EHLO/LHLO sent */
    S_HELO2,            /* HELO sent after EHLO was refused */
    S_MAIL,
    S_RCPT,
    S_DATA,
    S_DOT,              /* content written (or being written), reply awaited */
    S_RSET,
    S_QUIT,
};

typedef struct run run;

typedef struct session {
    run    *r;
    int     id;
    int     fd;
    enum state state;
    int     tries;              /* connection attempts for this connection */
    int64_t connect_deadline_ms;    /* a full UNIX backlog is retried until then */
    int64_t deadline_ms;
    uint64_t wait_timer;
    unsigned long long seq;     /* number of the message in progress (1..m) */
    /* input */
    sbuf    in;
    size_t  in_off;
    source_reply reply;
    int     pipelining;         /* server offered it and -P asked for it */
    /* output: owned text (from out_off), then the shared content, then "." */
    sbuf    out;
    size_t  out_off;
    size_t  body_off;           /* in r->content; == len when none pending */
    int     body_pending;
    size_t  tail_off;
    int     tail_pending;
    /* the message in progress */
    int     msg;                /* a message is claimed */
    int     msg_failed;
    int     rcpt_replies;       /* RCPT replies seen */
    int     rcpt_ok;
    int     lmtp_left;          /* LMTP replies still expected after "." */
    int     eod_sent;           /* "." fully written */
    int64_t eod_us;
} session;

struct run {
    const source_opts *o;
    const source_target *t;
    const sbuf *content;
    const char *myhostname;
    const char *from;
    const char *to;
    event_loop *loop;
    session *sessions;
    int     nsessions;
    int     active;             /* sessions that still have work */
    long long claimed;
    unsigned long long rcpt_seq;
    int64_t start_us;
    int64_t last_us;
    source_result *res;
    long    pid;
};

static void session_next(session *s);
static void session_io(event_loop *loop, int fd, int ready, void *ctx);

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void touch(session *s)
{
    s->deadline_ms = event_time_ms() + s->r->o->timeout_ms;
}

/* ---- counting ---- */

static void conclude(session *s, int ok)
{
    run    *r = s->r;
    if (!s->msg)
        return;
    s->msg = 0;
    if (ok && !s->msg_failed)
        r->res->done++;
    else
        r->res->errors++;
    r->last_us = now_us();
    if (r->o->counter) {
        printf("%lld\r", r->res->done + r->res->errors);
        fflush(stdout);
    }
}

/* An unexpected event: fatal without -A, otherwise counted against the message. */
static void trouble(session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trouble(session *s, const char *fmt, ...)
{
    char    text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (!s->r->o->keep_going)
        msg_fatal("%s", text);
    if (s->r->o->verbose)
        msg_warn("session %d: %s", s->id, text);
    s->msg_failed = 1;
}

static int claim(session *s)
{
    run    *r = s->r;
    if (r->claimed >= r->o->messages)
        return 0;
    r->claimed++;
    s->seq = (unsigned long long) r->claimed;
    s->msg = 1;
    s->msg_failed = 0;
    return 1;
}

/* ---- connection ---- */

static void disconnect(session *s)
{
    if (s->wait_timer) {
        /* A wait between messages on this connection is moot now. */
        event_timer_cancel(s->r->loop, s->wait_timer);
        s->wait_timer = 0;
    }
    if (s->fd >= 0) {
        event_fd_remove(s->r->loop, s->fd);
        close(s->fd);
        s->fd = -1;
    }
    sbuf_reset(&s->in);
    s->in_off = 0;
    sbuf_reset(&s->out);
    s->out_off = 0;
    s->body_pending = s->tail_pending = 0;
    s->state = S_IDLE;
    s->pipelining = 0;
}

/* The connection is gone or useless: count the message, decide what next. */
static void drop(session *s, const char *why)
{
    if (s->msg)
        trouble(s, "%s", why);
    conclude(s, 0);
    disconnect(s);
    session_next(s);
}

static void start_connect(session *s);

static void retry_connect(event_loop *loop, void *ctx)
{
    session *s = ctx;
    s->wait_timer = 0;              /* fired */
    start_connect(s);
}

/* This session has no more work; the run ends with the last one. */
static void session_finish(session *s)
{
    if (--s->r->active == 0)
        event_loop_stop(s->r->loop);
}

static void start_connect(session *s)
{
    run    *r = s->r;
    const source_target *t = r->t;
    int     fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        msg_fatal("socket: %m");
    if (t->addr.ss_family != AF_UNIX) {
        int     one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (r->o->window > 0) {
            (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &r->o->window, sizeof(int));
            (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &r->o->window, sizeof(int));
        }
        if (t->bindlen > 0 && bind(fd, (const struct sockaddr *) &t->bind, t->bindlen) < 0)
            msg_fatal("bind %s: %m", r->o->bind);
    }
    s->fd = fd;
    if (s->tries++ == 0)
        s->connect_deadline_ms = event_time_ms() + r->o->timeout_ms;
    touch(s);
    if (event_fd_add(r->loop, fd, EVENT_WRITE, session_io, s) < 0)
        msg_fatal("event_fd_add: %m");
    s->state = S_CONNECTING;
    if (connect(fd, (const struct sockaddr *) &t->addr, t->addrlen) == 0 || errno == EINPROGRESS)
        return;
    if (errno == EAGAIN && t->addr.ss_family == AF_UNIX
        && event_time_ms() < s->connect_deadline_ms) {
        /* UNIX listener backlog full: try again shortly, within the deadline. */
        event_fd_remove(r->loop, fd);
        close(fd);
        s->fd = -1;
        s->tries--;
        s->state = S_IDLE;
        s->wait_timer = event_timer_add(r->loop, 5, 0, retry_connect, s);
        return;
    }
    int     err = errno;
    event_fd_remove(r->loop, fd);
    close(fd);
    s->fd = -1;
    s->state = S_IDLE;
    errno = err;
    if (s->tries < r->o->connect_tries) {
        s->wait_timer = event_timer_add(r->loop, 100, 0, retry_connect, s);
        return;
    }
    trouble(s, "connect: %m");
    conclude(s, 0);
    session_next(s);
}

/* ---- output ---- */

static void want(session *s, int events)
{
    if (s->fd >= 0)
        event_fd_modify(s->r->loop, s->fd, events);
}

static int output_pending(const session *s)
{
    return s->out_off < s->out.len || s->body_pending || s->tail_pending;
}

/* Write what we can; 0 when all is written, 1 when the rest waits, -1 on error. */
static int flush_out(session *s)
{
    while (output_pending(s)) {
        struct iovec iov[3];
        int     n = 0;
        if (s->out_off < s->out.len) {
            iov[n].iov_base = s->out.s + s->out_off;
            iov[n++].iov_len = s->out.len - s->out_off;
        }
        if (s->body_pending) {
            iov[n].iov_base = s->r->content->s + s->body_off;
            iov[n++].iov_len = s->r->content->len - s->body_off;
        }
        if (s->tail_pending) {
            iov[n].iov_base = (char *) ".\r\n" + s->tail_off;
            iov[n++].iov_len = 3 - s->tail_off;
        }
        ssize_t w = writev(s->fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 1;
            return -1;
        }
        touch(s);
        size_t  left = (size_t) w;
        size_t  k = s->out.len - s->out_off;
        if (k > left)
            k = left;
        s->out_off += k;
        left -= k;
        if (s->body_pending) {
            k = s->r->content->len - s->body_off;
            if (k > left)
                k = left;
            s->body_off += k;
            left -= k;
            if (s->body_off == s->r->content->len)
                s->body_pending = 0;
        }
        if (s->tail_pending) {
            s->tail_off += left;
            if (s->tail_off == 3) {
                s->tail_pending = 0;
                s->eod_sent = 1;
                s->eod_us = now_us();
            }
        }
    }
    sbuf_reset(&s->out);
    s->out_off = 0;
    return 0;
}

static void send_now(session *s)
{
    int     rc = flush_out(s);
    if (rc < 0) {
        char    why[128];
        snprintf(why, sizeof(why), "write: %s", strerror(errno));
        drop(s, why);
        return;
    }
    want(s, rc ? EVENT_READ | EVENT_WRITE : EVENT_READ);
}

static void cmd(session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cmd(session *s, const char *fmt, ...)
{
    va_list ap;
    size_t  start = s->out.len;
    va_start(ap, fmt);
    sbuf_vprintf(&s->out, fmt, ap);
    va_end(ap);
    if (s->r->o->verbose)
        fprintf(stderr, "%d > %s\n", s->id, s->out.s + start);
    sbuf_add(&s->out, "\r\n", 2);
}

/* ---- the conversation ---- */

static void rcpt_address(session *s, sbuf *buf, int i)
{
    run    *r = s->r;
    int     numbered = r->o->numbered || r->o->rcpts > 1;
    unsigned long long n = r->o->numbered ? ++r->rcpt_seq : (unsigned long long) i + 1;
    sbuf_reset(buf);
    source_recipient(buf, r->to, n, numbered);
}

static void send_helo(session *s)
{
    const char *verb = s->r->o->lmtp ? "LHLO" : "EHLO";
    cmd(s, "%s %s", verb, s->r->myhostname);
    s->state = S_HELO;
    send_now(s);
}

/* Start a transaction: MAIL (and with pipelining RCPTs and DATA too). */
static void send_mail(session *s)
{
    s->rcpt_replies = s->rcpt_ok = 0;
    s->eod_sent = 0;
    s->lmtp_left = 0;
    cmd(s, "MAIL FROM:<%s>", s->r->from);
    if (s->pipelining) {
        sbuf    a = SBUF_INIT;
        for (int i = 0; i < s->r->o->rcpts; i++) {
            rcpt_address(s, &a, i);
            cmd(s, "RCPT TO:<%s>", sbuf_str(&a));
        }
        sbuf_free(&a);
        cmd(s, "DATA");
    }
    s->state = S_MAIL;
    send_now(s);
}

static void send_rcpt(session *s)
{
    sbuf    a = SBUF_INIT;
    rcpt_address(s, &a, s->rcpt_replies);
    cmd(s, "RCPT TO:<%s>", sbuf_str(&a));
    sbuf_free(&a);
    s->state = S_RCPT;
    send_now(s);
}

static void send_content(session *s)
{
    run    *r = s->r;
    if (!r->o->old_mode && !r->o->file) {
        source_headers(&s->out, r->from, r->to, r->o->subject, r->myhostname, s->seq,
                       time(NULL), r->pid);
    }
    s->body_off = 0;
    s->body_pending = r->content->len > 0;
    s->tail_off = 0;
    s->tail_pending = 1;
    s->state = S_DOT;
    s->lmtp_left = r->o->lmtp ? s->rcpt_ok : 1;
    if (r->o->verbose)
        fprintf(stderr, "%d > (%zu bytes of content) .\n", s->id, r->content->len);
    send_now(s);
}

static void send_rset(session *s)
{
    cmd(s, "RSET");
    s->state = S_RSET;
    send_now(s);
}

static void send_quit(session *s)
{
    cmd(s, "QUIT");
    s->state = S_QUIT;
    send_now(s);
}

static void after_wait(event_loop *loop, void *ctx)
{
    session *s = ctx;
    s->wait_timer = 0;
    if (s->fd >= 0) {
        if (claim(s))
            send_mail(s);
        else
            send_quit(s);
    } else {
        if (claim(s)) {
            s->tries = 0;
            start_connect(s);
        } else {
            session_finish(s);
        }
    }
}

static int wait_between(const run *r)
{
    int     ms = r->o->wait_ms;
    if (r->o->random_wait_ms > 0)
        ms += (int) (random() % ((long) r->o->random_wait_ms + 1));
    return ms;
}

/* A message is over (or never started): what this session does next. */
static void session_next(session *s)
{
    run    *r = s->r;
    int     ms = wait_between(r);
    if (s->fd >= 0) {
        /* Connected: another message over the same connection (-d), or QUIT. */
        if (r->o->reuse && r->claimed < r->o->messages) {
            if (ms > 0) {
                want(s, EVENT_READ);
                s->state = S_IDLE;
                s->wait_timer = event_timer_add(r->loop, ms, 0, after_wait, s);
            } else if (claim(s)) {
                send_mail(s);
            }
            return;
        }
        send_quit(s);
        return;
    }
    if (r->claimed >= r->o->messages) {
        session_finish(s);
        return;
    }
    if (ms > 0) {
        s->wait_timer = event_timer_add(r->loop, ms, 0, after_wait, s);
        return;
    }
    claim(s);
    s->tries = 0;
    start_connect(s);
}

/* After MAIL/RCPT/DATA replies, with or without pipelining. */
static void transaction_step(session *s)
{
    int     rcpts = s->r->o->rcpts;
    if (s->pipelining) {
        /* Replies arrive in order: MAIL, each RCPT, DATA. */
        if (s->state == S_MAIL)
            s->state = S_RCPT;
        else if (s->state == S_RCPT && s->rcpt_replies == rcpts)
            s->state = S_DATA;
        return;
    }
    if (s->state == S_MAIL || (s->state == S_RCPT && s->rcpt_replies < rcpts)) {
        send_rcpt(s);
        return;
    }
    if (s->rcpt_ok == 0) {
        send_rset(s);
        return;
    }
    cmd(s, "DATA");
    s->state = S_DATA;
    send_now(s);
}

static void handle_reply(session *s, int code, const char *text)
{
    run    *r = s->r;
    if (code == 421 && s->state != S_QUIT) {
        drop(s, text);
        return;
    }
    switch (s->state) {
    case S_GREETING:
        if (code / 100 != 2) {
            trouble(s, "greeting: %s", text);
            conclude(s, 0);
            send_quit(s);
            return;
        }
        if (r->o->old_mode)
            send_mail(s);
        else
            send_helo(s);
        return;
    case S_HELO:
    case S_HELO2:
        if (code / 100 != 2) {
            if (s->state == S_HELO && !r->o->lmtp && code / 100 == 5) {
                cmd(s, "HELO %s", r->myhostname);
                s->state = S_HELO2;
                send_now(s);
                return;
            }
            trouble(s, "%s: %s", s->state == S_HELO2 ? "HELO" : "EHLO", text);
            conclude(s, 0);
            send_quit(s);
            return;
        }
        s->pipelining = r->o->pipelining && s->state == S_HELO && s->reply.pipelining;
        send_mail(s);
        return;
    case S_MAIL:
        if (code / 100 != 2) {
            trouble(s, "MAIL: %s", text);
            if (!s->pipelining) {
                send_rset(s);
                return;
            }
        }
        transaction_step(s);
        return;
    case S_RCPT:
        s->rcpt_replies++;
        if (code / 100 == 2)
            s->rcpt_ok++;
        else
            trouble(s, "RCPT: %s", text);
        transaction_step(s);
        return;
    case S_DATA:
        if (code != 354) {
            trouble(s, "DATA: %s", text);
            send_rset(s);
            return;
        }
        if (s->rcpt_ok == 0) {
            /* Pipelined, every RCPT refused, and still 354 (a broken
             * server): end the empty message; it counts as an error. */
            cmd(s, ".");
            s->state = S_DOT;
            s->lmtp_left = 1;
            s->eod_sent = 0;
            send_now(s);
            return;
        }
        send_content(s);
        return;
    case S_DOT:
        if (code / 100 != 2)
            trouble(s, "end of data: %s", text);
        if (--s->lmtp_left > 0)
            return;
        if (s->eod_sent)
            source_stats_add(&r->res->latency, now_us() - s->eod_us);
        conclude(s, code / 100 == 2);
        session_next(s);
        return;
    case S_RSET:
        conclude(s, 0);
        if (code / 100 != 2) {
            send_quit(s);
            return;
        }
        session_next(s);
        return;
    case S_QUIT:
        disconnect(s);
        session_next(s);
        return;
    default:
        trouble(s, "unexpected reply: %s", text);
        conclude(s, 0);
        disconnect(s);
        session_next(s);
        return;
    }
}

/* Complete lines in the input: feed the reply parser. */
static void read_replies(session *s)
{
    while (s->fd >= 0 && s->state != S_IDLE) {
        char   *base = s->in.s + s->in_off;
        size_t  avail = s->in.len - s->in_off;
        char   *nl = avail ? memchr(base, '\n', avail) : NULL;
        if (!nl) {
            if (avail > LINE_MAX_LEN) {
                drop(s, "reply line too long");
                return;
            }
            break;
        }
        size_t  len = (size_t) (nl - base);
        s->in_off += len + 1;
        if (len > 0 && base[len - 1] == '\r')
            len--;
        base[len] = 0;
        if (s->r->o->verbose)
            fprintf(stderr, "%d < %s\n", s->id, base);
        int     rc = source_reply_line(&s->reply, base, len);
        if (rc < 0) {
            char    why[200];
            snprintf(why, sizeof(why), "malformed reply: %.150s", base);
            drop(s, why);
            return;
        }
        if (rc == 1) {
            int     code = s->reply.code;
            char    text[300];
            snprintf(text, sizeof(text), "%s", base);
            handle_reply(s, code, text);
            source_reply_reset(&s->reply);
        }
    }
    if (s->in_off == s->in.len) {
        sbuf_reset(&s->in);
        s->in_off = 0;
    } else if (s->in_off > 65536) {
        memmove(s->in.s, s->in.s + s->in_off, s->in.len - s->in_off);
        sbuf_truncate(&s->in, s->in.len - s->in_off);
        s->in_off = 0;
    }
}

static void session_io(event_loop *loop, int fd, int ready, void *ctx)
{
    session *s = ctx;
    if (s->state == S_CONNECTING) {
        int     err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err == EINPROGRESS || err == EALREADY)
            return;
        if (err) {
            event_fd_remove(loop, fd);
            close(fd);
            s->fd = -1;
            s->state = S_IDLE;
            if (s->tries < s->r->o->connect_tries) {
                s->wait_timer = event_timer_add(loop, 100, 0, retry_connect, s);
                return;
            }
            errno = err;
            trouble(s, "connect: %m");
            conclude(s, 0);
            session_next(s);
            return;
        }
        touch(s);
        source_reply_reset(&s->reply);
        s->state = S_GREETING;
        want(s, EVENT_READ);
        return;
    }
    if ((ready & EVENT_WRITE) && output_pending(s)) {
        send_now(s);
        if (s->fd != fd || s->state == S_CONNECTING)
            return;             /* dropped (and maybe reconnected) */
    }
    if (!(ready & EVENT_READ))
        return;
    for (;;) {
        sbuf_reserve(&s->in, READ_CHUNK);
        ssize_t n = read(fd, s->in.s + s->in.len, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            if (s->state == S_QUIT || (s->state == S_IDLE && !s->msg)) {
                disconnect(s);
                session_next(s);
            } else {
                drop(s, n == 0 ? "lost connection" : "read error");
            }
            return;
        }
        touch(s);
        s->in.len += (size_t) n;
        s->in.s[s->in.len] = 0;
        if ((size_t) n < READ_CHUNK)
            break;
    }
    read_replies(s);
}

/* Once a second: end sessions that made no progress within the timeout. */
static void check_deadlines(event_loop *loop, void *ctx)
{
    run    *r = ctx;
    int64_t now = event_time_ms();
    for (int i = 0; i < r->nsessions; i++) {
        session *s = &r->sessions[i];
        if (s->fd >= 0 && s->state != S_IDLE && now > s->deadline_ms)
            drop(s, "timeout");
    }
}

void source_engine_run(const source_opts *o, const source_target *t, const sbuf *content,
                       const char *myhostname, const char *from, const char *to,
                       source_result *res)
{
    run     r;
    memset(&r, 0, sizeof(r));
    r.o = o;
    r.t = t;
    r.content = content;
    r.myhostname = myhostname;
    r.from = from;
    r.to = to;
    r.res = res;
    r.pid = (long) getpid();
    r.loop = event_loop_new();
    res->done = res->errors = 0;
    source_stats_init(&res->latency);

    long long n = o->sessions < o->messages ? o->sessions : o->messages;
    r.nsessions = (int) n;
    r.sessions = xcalloc((size_t) n, sizeof(session));
    r.start_us = r.last_us = now_us();
    r.active = r.nsessions;
    srandom((unsigned) (r.start_us ^ r.pid));
    for (int i = 0; i < r.nsessions; i++) {
        session *s = &r.sessions[i];
        s->r = &r;
        s->id = i + 1;
        s->fd = -1;
        sbuf_init(&s->in);
        sbuf_init(&s->out);
        claim(s);
        start_connect(s);
    }
    uint64_t tick = event_timer_add(r.loop, 1000, 1000, check_deadlines, &r);
    if (r.active > 0)
        event_loop_run(r.loop);
    event_timer_cancel(r.loop, tick);
    res->elapsed_us = r.last_us - r.start_us;
    if (o->counter)
        printf("\n");
    for (int i = 0; i < r.nsessions; i++) {
        disconnect(&r.sessions[i]);
        sbuf_free(&r.sessions[i].in);
        sbuf_free(&r.sessions[i].out);
    }
    xfree(r.sessions);
    event_loop_free(r.loop);
}
