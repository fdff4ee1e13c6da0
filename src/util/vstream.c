/*
 * vstream.c - buffered streams over one file descriptor (see vstream.h).
 *
 * Input and output each have one buffer, VSTREAM_BUFSIZE bytes unless
 * vstream_set_bufsize() changed it. Read-side failures (EOF, timeout,
 * error) and write-side failures are kept apart, so a server whose client
 * timed out can still write its "421 timeout" reply. This file does not
 * set O_NONBLOCK on anybody's descriptor: the default transfer functions
 * cope with both blocking and non-blocking descriptors.
 *
 * System calls are what bulk transfers cost, so: on sockets the default
 * transfer functions try the operation with MSG_DONTWAIT first and poll
 * only when it would block (a write almost never does; a read is tried
 * first only while the previous read filled all the room it was given,
 * i.e. while a bulk transfer is under way); a write of at least a
 * buffer's worth goes out from the caller's memory without a copy; a read
 * of at least a buffer's worth with nothing buffered lands in the
 * caller's memory; vstream_get_line_ref() hands out lines in place.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "util/vstream.h"
#include "util/mem.h"
#include "util/msg.h"

struct vstream {
    int     fd;
    int     timeout_ms;         /* < 0: none */
    int     deadline_mode;      /* timeout per operation instead of per wait */
    int64_t deadline;           /* monotonic ms, valid while op_depth > 0 */
    int     op_depth;
    int     rflags;             /* VSTREAM_F_* from reading */
    int     wflags;             /* VSTREAM_F_* from writing */
    int     err;                /* errno of the last failure */
    vstream_read_fn rd;
    vstream_write_fn wr;
    vstream_write_fn wr_default;
    void   *ctx;
    int     is_sock;            /* fd is a socket (MSG_DONTWAIT works on it) */
    int     read_more;          /* the last read filled its room: try before polling */
    unsigned char *rbuf;
    size_t  rsize;              /* input buffer size */
    size_t  rpos;               /* next unread byte */
    size_t  rend;               /* end of valid input */
    unsigned char *wbuf;
    size_t  wsize;              /* output buffer size */
    size_t  wlen;               /* bytes waiting to be written */
};

/* ---- time ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int clamp_ms(int64_t left)
{
    if (left < 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int) left;
}

/* Wait until fd is ready for ev or the deadline passes (deadline < 0: none).
 * 1 ready (including error/hangup conditions), 0 timeout, -1 error. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = ev, .revents = 0 };
        int left = deadline < 0 ? -1 : clamp_ms(deadline - now_ms());
        int n = poll(&pfd, 1, left);
        if (n > 0)
            return 1;
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* ---- default transfer functions ---- */

static ssize_t default_read(void *ctx, int fd, void *buf, size_t len, int timeout_ms)
{
    (void) ctx;
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        int r = wait_fd(fd, POLLIN, deadline);
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (r < 0)
            return -1;
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
    }
}

static ssize_t write_common(int fd, const void *buf, size_t len, int timeout_ms, int sock)
{
    /* A socket almost always has room: try before polling. */
    if (sock) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        int r = wait_fd(fd, POLLOUT, deadline);
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (r < 0)
            return -1;
        ssize_t n = sock ? send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                         : write(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
    }
}

static ssize_t default_write_sock(void *ctx, int fd, const void *buf, size_t len, int timeout_ms)
{
    (void) ctx;
    return write_common(fd, buf, len, timeout_ms, 1);
}

static ssize_t default_write_plain(void *ctx, int fd, const void *buf, size_t len, int timeout_ms)
{
    (void) ctx;
    return write_common(fd, buf, len, timeout_ms, 0);
}

/* ---- open, close, settings ---- */

/*
 * One input buffer bigger than the default is kept when its stream goes
 * away, for the next vstream_set_bufsize() to that size: a server that
 * gives each connection a big buffer (smtpd during DATA) then does not
 * fault in fresh pages for every connection. At most SPARE_MAX bytes.
 */
#define SPARE_MAX (1024 * 1024)
static unsigned char *spare_buf;
static size_t spare_size;

vstream *vstream_open(int fd)
{
    if (fd < 0)
        msg_panic("vstream_open: bad descriptor %d", fd);
    vstream *s = xcalloc(1, sizeof(*s));
    struct stat st;
    s->fd = fd;
    s->timeout_ms = -1;
    s->deadline = -1;
    s->rd = default_read;
    s->is_sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    s->wr_default = s->is_sock ? default_write_sock : default_write_plain;
    s->wr = s->wr_default;
    s->rsize = s->wsize = VSTREAM_BUFSIZE;
    s->rbuf = xmalloc(s->rsize);
    s->wbuf = xmalloc(s->wsize);
    return s;
}

static void check_bufsize(size_t size)
{
    if (size != 0 && (size < VSTREAM_BUFSIZE_MIN || size > VSTREAM_BUFSIZE_MAX))
        msg_panic("vstream_set_bufsize: bad size %zu", size);
}

void vstream_set_bufsize(vstream *s, size_t rsize, size_t wsize)
{
    check_bufsize(rsize);
    check_bufsize(wsize);
    if (rsize) {
        /* Keep what is buffered, at the start of the new buffer. */
        size_t have = s->rend - s->rpos;
        if (have && s->rpos)
            memmove(s->rbuf, s->rbuf + s->rpos, have);
        s->rpos = 0;
        s->rend = have;
        if (rsize < have)
            rsize = have;
        if (rsize != s->rsize && rsize == spare_size && spare_buf) {
            if (have)
                memcpy(spare_buf, s->rbuf, have);
            xfree(s->rbuf);
            s->rbuf = spare_buf;
            s->rsize = rsize;
            spare_buf = 0;
            spare_size = 0;
        } else if (rsize != s->rsize) {
            s->rbuf = xrealloc(s->rbuf, rsize);
            s->rsize = rsize;
        }
    }
    if (wsize) {
        if (wsize < s->wlen)
            wsize = s->wlen;
        if (wsize != s->wsize) {
            s->wbuf = xrealloc(s->wbuf, wsize);
            s->wsize = wsize;
        }
    }
}

size_t vstream_bufsize(const vstream *s) { return s->rsize; }
size_t vstream_wbufsize(const vstream *s) { return s->wsize; }

static void vstream_free(vstream *s)
{
    if (s->rsize > VSTREAM_BUFSIZE && s->rsize <= SPARE_MAX) {
        xfree(spare_buf);
        spare_buf = s->rbuf;
        spare_size = s->rsize;
    } else {
        xfree(s->rbuf);
    }
    xfree(s->wbuf);
    xfree(s);
}

int vstream_close(vstream *s)
{
    int ret = 0;
    if (s->wlen > 0 && vstream_flush(s) < 0)
        ret = -1;
    if (close(s->fd) < 0)
        ret = -1;
    vstream_free(s);
    return ret;
}

int vstream_detach(vstream *s)
{
    int fd = s->fd;
    vstream_free(s);
    return fd;
}

int vstream_fd(const vstream *s) { return s->fd; }

void vstream_set_timeout(vstream *s, int timeout_ms)
{
    s->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

int vstream_timeout_ms(const vstream *s) { return s->timeout_ms; }
void vstream_set_deadline(vstream *s, int on) { s->deadline_mode = on != 0; }
void *vstream_io_context(const vstream *s) { return s->ctx; }

void vstream_set_io(vstream *s, vstream_read_fn rd, vstream_write_fn wr, void *ctx)
{
    s->rd = rd ? rd : default_read;
    s->wr = wr ? wr : s->wr_default;
    s->ctx = ctx;
}

int vstream_flags(const vstream *s) { return s->rflags | s->wflags; }
int vstream_eof(const vstream *s) { return (s->rflags & VSTREAM_F_EOF) != 0; }

int vstream_timed_out(const vstream *s)
{
    return ((s->rflags | s->wflags) & VSTREAM_F_TIMEOUT) != 0;
}

int vstream_errno(const vstream *s) { return s->err; }

int vstream_error(const vstream *s)
{
    return ((s->rflags | s->wflags) & (VSTREAM_F_ERROR | VSTREAM_F_TIMEOUT)) != 0;
}

void vstream_clearerr(vstream *s)
{
    s->rflags = s->wflags = 0;
    s->err = 0;
}

/* ---- per-operation deadline ---- */

static void op_begin(vstream *s)
{
    if (s->op_depth++ == 0)
        s->deadline = (s->deadline_mode && s->timeout_ms >= 0) ? now_ms() + s->timeout_ms : -1;
}

static void op_end(vstream *s)
{
    if (--s->op_depth == 0)
        s->deadline = -1;
}

static int time_left(const vstream *s)
{
    if (s->timeout_ms < 0)
        return -1;
    if (s->deadline < 0)
        return s->timeout_ms;
    return clamp_ms(s->deadline - now_ms());
}

static void set_fail(vstream *s, int *flags, int saved_errno)
{
    if (saved_errno == ETIMEDOUT) {
        *flags |= VSTREAM_F_TIMEOUT;
    } else {
        *flags |= VSTREAM_F_ERROR;
        if (saved_errno == 0)
            saved_errno = EIO;
    }
    s->err = saved_errno;
}

/* ---- output ---- */

/* Write all n bytes at p within the timeout; 0 or -1 (flags set). */
static int write_all(vstream *s, const unsigned char *p, size_t n)
{
    size_t done = 0;
    int ret = 0;
    op_begin(s);
    while (done < n) {
        if (s->wflags) {
            ret = -1;
            break;
        }
        ssize_t k = s->wr(s->ctx, s->fd, p + done, n - done, time_left(s));
        if (k > 0) {
            done += (size_t) k;
        } else {
            set_fail(s, &s->wflags, k == 0 ? EIO : errno);
            ret = -1;
            break;
        }
    }
    op_end(s);
    return ret;
}

static int flush_buffer(vstream *s)
{
    int ret = write_all(s, s->wbuf, s->wlen);
    s->wlen = 0;                /* written, or lost with the stream */
    return ret;
}

int vstream_flush(vstream *s)
{
    if (s->wflags)
        return -1;
    return flush_buffer(s);
}

size_t vstream_pending_output(const vstream *s) { return s->wlen; }

int vstream_write(vstream *s, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    if (s->wflags)
        return -1;
    if (n <= s->wsize - s->wlen) {
        if (n)
            memcpy(s->wbuf + s->wlen, p, n);
        s->wlen += n;
        return 0;
    }
    /* It does not fit: top the buffer up and send it, then send a big
     * rest straight from the caller's memory (order is kept). */
    if (s->wlen > 0) {
        size_t chunk = s->wsize - s->wlen;
        memcpy(s->wbuf + s->wlen, p, chunk);
        s->wlen += chunk;
        p += chunk;
        n -= chunk;
        if (flush_buffer(s) < 0)
            return -1;
    }
    if (n >= s->wsize)
        return write_all(s, p, n);
    memcpy(s->wbuf, p, n);
    s->wlen = n;
    return 0;
}

int vstream_puts(vstream *s, const char *str)
{
    return vstream_write(s, str, strlen(str));
}

int vstream_putc(vstream *s, int c)
{
    unsigned char ch = (unsigned char) c;
    return vstream_write(s, &ch, 1);
}

int vstream_vprintf(vstream *s, const char *fmt, va_list ap)
{
    if (s->wflags)
        return -1;
    size_t room = s->wsize - s->wlen;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf((char *) s->wbuf + s->wlen, room, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        msg_panic("vstream_vprintf: bad format \"%s\"", fmt);
    if ((size_t) n < room) {
        s->wlen += (size_t) n;
        return 0;
    }
    sbuf tmp = SBUF_INIT;
    sbuf_vprintf(&tmp, fmt, ap);
    int ret = vstream_write(s, tmp.s, tmp.len);
    sbuf_free(&tmp);
    return ret;
}

int vstream_printf(vstream *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int ret = vstream_vprintf(s, fmt, ap);
    va_end(ap);
    return ret;
}

/* ---- input ---- */

static size_t avail(const vstream *s) { return s->rend - s->rpos; }

/* One transfer into buf (at most len bytes): bytes, 0 at EOF, -1 with
 * errno. While a bulk transfer is under way (the previous read filled
 * its room), a socket is tried without waiting before the hook polls. */
static ssize_t read_once(vstream *s, void *buf, size_t len)
{
    ssize_t n;
    if (s->read_more && s->is_sock && s->rd == default_read) {
        n = recv(s->fd, buf, len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            n = s->rd(s->ctx, s->fd, buf, len, time_left(s));
    } else {
        n = s->rd(s->ctx, s->fd, buf, len, time_left(s));
    }
    s->read_more = n > 0 && (size_t) n == len;
    return n;
}

/* Make at least want (<= rsize) bytes available. 0, or -1 when EOF, a
 * timeout or an error came first (flags set; whatever did arrive stays
 * buffered). Flushes pending output before waiting for input. */
static int fill(vstream *s, size_t want)
{
    if (avail(s) >= want)
        return 0;
    if (s->rflags)
        return -1;
    if (s->rpos > 0) {
        size_t n = avail(s);
        if (n)
            memmove(s->rbuf, s->rbuf + s->rpos, n);
        s->rpos = 0;
        s->rend = n;
    }
    if (s->wlen > 0)
        (void) vstream_flush(s);    /* a write failure is the writer's news */
    while (avail(s) < want) {
        ssize_t n = read_once(s, s->rbuf + s->rend, s->rsize - s->rend);
        if (n > 0) {
            s->rend += (size_t) n;
        } else if (n == 0) {
            s->rflags |= VSTREAM_F_EOF;
            return -1;
        } else {
            set_fail(s, &s->rflags, errno);
            return -1;
        }
    }
    return 0;
}

static int line_end(sbuf *line)
{
    if (line->len > 0 && line->s[line->len - 1] == '\r') {
        sbuf_truncate(line, line->len - 1);
        return VSTREAM_LINE_CRLF;
    }
    return VSTREAM_LINE_LF;
}

static int get_line(vstream *s, sbuf *line, size_t max)
{
    /* Phase 1: copy up to max bytes, stopping after an LF. */
    while (line->len < max) {
        if (fill(s, 1) < 0)
            return (line->len > 0 && s->rflags == VSTREAM_F_EOF) ? VSTREAM_LINE_EOF
                                                                 : VSTREAM_LINE_ERR;
        const unsigned char *start = s->rbuf + s->rpos;
        size_t n = avail(s);
        if (n > max - line->len)
            n = max - line->len;
        const unsigned char *lf = memchr(start, '\n', n);
        if (lf) {
            size_t k = (size_t) (lf - start);
            sbuf_add(line, start, k);
            s->rpos += k + 1;
            return line_end(line);
        }
        sbuf_add(line, start, n);
        s->rpos += n;
    }

    /* Phase 2: max bytes read; complete only if LF or CR LF comes next. */
    if (fill(s, 1) < 0)
        return s->rflags == VSTREAM_F_EOF ? VSTREAM_LINE_EOF : VSTREAM_LINE_ERR;
    unsigned char c0 = s->rbuf[s->rpos];
    if (c0 == '\n') {
        s->rpos++;
        return line_end(line);
    }
    if (c0 == '\r') {
        if (fill(s, 2) < 0)
            return VSTREAM_LINE_LONG;   /* the CR and the failure come next time */
        if (s->rbuf[s->rpos + 1] == '\n') {
            s->rpos += 2;
            return VSTREAM_LINE_CRLF;
        }
    }
    return VSTREAM_LINE_LONG;
}

int vstream_get_line(vstream *s, sbuf *line, size_t max)
{
    if (max == 0)
        msg_panic("vstream_get_line: zero length limit");
    sbuf_reset(line);
    op_begin(s);
    int ret = get_line(s, line, max);
    op_end(s);
    if (ret == VSTREAM_LINE_ERR)
        sbuf_reset(line);
    return ret;
}

int vstream_get_line_ref(vstream *s, sbuf *spill, size_t max, const char **line,
                         size_t *len)
{
    if (max == 0)
        msg_panic("vstream_get_line_ref: zero length limit");
    int ret = VSTREAM_LINE_ERR;
    op_begin(s);
    for (;;) {
        /* The decisions of get_line(), taken on the buffered bytes. */
        const unsigned char *start = s->rbuf + s->rpos;
        size_t n = avail(s);
        const unsigned char *lf = n ? memchr(start, '\n', n < max ? n : max) : 0;
        size_t k = 0, eat = 0;
        if (lf) {
            k = (size_t) (lf - start);          /* LF within the first max bytes */
            eat = k + 1;
        } else if (n > max && start[max] == '\n') {
            k = max;                            /* max bytes, then LF */
            eat = max + 1;
        } else if (n > max && start[max] != '\r') {
            k = max;                            /* max bytes, the line goes on */
            ret = VSTREAM_LINE_LONG;
            eat = max;
        } else if (n > max + 1) {
            k = max;                            /* max bytes, then CR and something */
            ret = start[max + 1] == '\n' ? VSTREAM_LINE_CRLF : VSTREAM_LINE_LONG;
            eat = ret == VSTREAM_LINE_CRLF ? max + 2 : max;
        }
        if (eat) {
            if (eat == k + 1) {                 /* ended by an LF right after k bytes */
                ret = VSTREAM_LINE_LF;
                if (k > 0 && start[k - 1] == '\r') {
                    k--;
                    ret = VSTREAM_LINE_CRLF;
                }
            }
            s->rpos += eat;
            *line = (const char *) start;
            *len = k;
            break;
        }
        /* Undecided. More input, unless the buffer is full or input ended:
         * then the copying reader decides, on the same buffered bytes. */
        if (n >= s->rsize || fill(s, n + 1) < 0) {
            sbuf_reset(spill);
            ret = get_line(s, spill, max);
            if (ret == VSTREAM_LINE_ERR)
                sbuf_reset(spill);
            *line = spill->s ? spill->s : "";
            *len = spill->len;
            break;
        }
    }
    op_end(s);
    return ret;
}

int vstream_skip_line(vstream *s)
{
    int ret = 0;
    op_begin(s);
    for (;;) {
        if (fill(s, 1) < 0) {
            ret = -1;
            break;
        }
        const unsigned char *start = s->rbuf + s->rpos;
        const unsigned char *lf = memchr(start, '\n', avail(s));
        if (lf) {
            s->rpos += (size_t) (lf - start) + 1;
            break;
        }
        s->rpos = s->rend;
    }
    op_end(s);
    return ret;
}

int vstream_getc(vstream *s)
{
    if (avail(s) == 0) {
        op_begin(s);
        int r = fill(s, 1);
        op_end(s);
        if (r < 0)
            return -1;
    }
    return s->rbuf[s->rpos++];
}

/* Read n bytes straight into p, bypassing the buffer (which is empty).
 * 0, or -1 with the read flags set; *got counts the bytes that arrived. */
static int read_direct(vstream *s, unsigned char *p, size_t n, size_t *got)
{
    *got = 0;
    if (s->rflags)
        return -1;
    if (s->wlen > 0)
        (void) vstream_flush(s);    /* as fill(): flush before waiting */
    while (*got < n) {
        ssize_t k = read_once(s, p + *got, n - *got);
        if (k > 0) {
            *got += (size_t) k;
        } else if (k == 0) {
            s->rflags |= VSTREAM_F_EOF;
            return -1;
        } else {
            set_fail(s, &s->rflags, errno);
            return -1;
        }
    }
    return 0;
}

#define DIRECT_STEP (1024 * 1024)

static int read_chunks(vstream *s, void *buf, sbuf *b, size_t n)
{
    unsigned char *p = buf;
    int ret = 0;
    op_begin(s);
    while (n > 0) {
        if (avail(s) == 0 && n >= s->rsize) {
            /* A buffer's worth or more, nothing buffered: no copy. An sbuf
             * grows by at most DIRECT_STEP at a time, so a peer that only
             * announces a big length does not make us allocate it. */
            size_t got, step = n;
            unsigned char *dst = p;
            if (b) {
                step = n < DIRECT_STEP ? n : DIRECT_STEP;
                sbuf_reserve(b, step);
                dst = (unsigned char *) b->s + b->len;
            }
            ret = read_direct(s, dst, step, &got);
            if (b) {
                b->len += got;
                b->s[b->len] = 0;
            } else {
                p += got;
            }
            n -= got;
            if (ret < 0)
                break;
            continue;
        }
        if (fill(s, 1) < 0) {
            ret = -1;
            break;
        }
        size_t chunk = avail(s) < n ? avail(s) : n;
        if (b) {
            sbuf_add(b, s->rbuf + s->rpos, chunk);
        } else {
            memcpy(p, s->rbuf + s->rpos, chunk);
            p += chunk;
        }
        s->rpos += chunk;
        n -= chunk;
    }
    op_end(s);
    return ret;
}

int vstream_read_exact(vstream *s, void *buf, size_t n)
{
    return read_chunks(s, buf, 0, n);
}

int vstream_read_append(vstream *s, sbuf *b, size_t n)
{
    return read_chunks(s, 0, b, n);
}

ssize_t vstream_read_some(vstream *s, void *buf, size_t n)
{
    if (n == 0)
        return 0;
    if (avail(s) == 0) {
        op_begin(s);
        int r = fill(s, 1);
        op_end(s);
        if (r < 0)
            return s->rflags == VSTREAM_F_EOF ? 0 : -1;
    }
    size_t chunk = avail(s) < n ? avail(s) : n;
    memcpy(buf, s->rbuf + s->rpos, chunk);
    s->rpos += chunk;
    return (ssize_t) chunk;
}

size_t vstream_peek_pending(const vstream *s) { return avail(s); }

int vstream_input_waiting(vstream *s)
{
    if (avail(s) > 0)
        return 1;
    if (s->rflags)
        return 0;
    struct pollfd pfd = { .fd = s->fd, .events = POLLIN, .revents = 0 };
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

size_t vstream_purge_input(vstream *s)
{
    size_t n = avail(s);
    s->rpos = s->rend = 0;
    return n;
}
