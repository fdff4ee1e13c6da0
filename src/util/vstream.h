/*
 * vstream.h - buffered streams over one file descriptor, with timeouts.
 *
 * A vstream wraps a socket, pipe or file descriptor with an input buffer
 * and an output buffer. It is what SMTP (server and client) and the
 * attribute codec (attr.h) read and write through. It knows nothing about
 * mail.
 *
 * TIMEOUTS. Every wait for input or for room to write is bounded by the
 * stream's timeout (vstream_set_timeout, milliseconds; < 0 waits forever,
 * the default; 0 never waits). By default the limit applies to each wait
 * on the descriptor, like Postfix's smtpd_timeout. With
 * vstream_set_deadline(s, 1) it applies instead to a whole operation
 * (one vstream_get_line, vstream_read_exact, ... or vstream_flush), like
 * smtpd_per_record_deadline: a peer cannot keep a line alive by sending
 * one byte at a time.
 *
 * STATUS. A failed operation sets one sticky flag: VSTREAM_F_EOF (the
 * peer closed, or end of file), VSTREAM_F_TIMEOUT, or VSTREAM_F_ERROR
 * (errno from the failing call is kept in vstream_errno). Reads after
 * EOF, a timeout or an error fail at once, without touching the
 * descriptor, until vstream_clearerr. Writes after a write error or
 * timeout are discarded and vstream_flush reports -1.
 *
 * LINES. vstream_get_line returns one line without its terminator and
 * says how it ended: CRLF, bare LF, truncated at the caller's maximum
 * (VSTREAM_LINE_LONG: the rest of the line stays in the stream, to be
 * read as further chunks with vstream_get_line or dropped with
 * vstream_skip_line), or EOF before any terminator. A line that is
 * exactly max bytes long followed by CRLF or LF is complete, not long.
 * A bare CR inside a line is data.
 *
 * FLUSH BEFORE BLOCKING. When a read must wait for the descriptor (the
 * input buffer is empty), pending output is flushed first. So a server
 * that writes replies and then reads the next command answers a whole
 * pipelined group with one write, and a client that writes a request
 * and reads the reply never deadlocks on its own buffered request.
 * vstream_flush is still needed before close-less hand-offs and for
 * output that must leave now.
 *
 * I/O HOOK. The raw transfer functions can be replaced (vstream_set_io),
 * e.g. by a TLS layer after STARTTLS: the hook gets the descriptor, the
 * buffer and the time left (ms, < 0 forever) and returns what read(2)/
 * write(2) would (bytes, 0 for EOF on read, -1 with errno; a timeout is
 * -1 with errno ETIMEDOUT). It must not return -1/EAGAIN: it does its own
 * waiting. The default hook polls, then reads or sends (MSG_NOSIGNAL on
 * sockets, so a closed peer is EPIPE, never SIGPIPE); on a socket it
 * first tries to send without waiting, and during a bulk read (the last
 * read filled its room) to receive without waiting, so a busy stream
 * costs one system call per transfer instead of two.
 *
 * NOT HERE: no character set or SMTP knowledge, no line length policy
 * (the caller passes max), no thread safety (one stream, one thread).
 * Allocation failure is fatal (mem.h); nothing here exits otherwise.
 */
#ifndef HK_UTIL_VSTREAM_H
#define HK_UTIL_VSTREAM_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/sbuf.h"

typedef struct vstream vstream;

/* Raw transfer hooks; see I/O HOOK above. timeout_ms < 0: no limit. */
typedef ssize_t (*vstream_read_fn)(void *ctx, int fd, void *buf, size_t len, int timeout_ms);
typedef ssize_t (*vstream_write_fn)(void *ctx, int fd, const void *buf, size_t len,
                                    int timeout_ms);

/* Status flags (vstream_flags). */
enum {
    VSTREAM_F_EOF = 1,
    VSTREAM_F_TIMEOUT = 2,
    VSTREAM_F_ERROR = 4,
};

/* How vstream_get_line ended. */
enum {
    VSTREAM_LINE_ERR = -1,      /* nothing returned: EOF before the first byte, timeout or error */
    VSTREAM_LINE_CRLF = 1,      /* complete line, ended with CR LF */
    VSTREAM_LINE_LF = 2,        /* complete line, ended with a bare LF */
    VSTREAM_LINE_LONG = 3,      /* max bytes returned, the line continues in the stream */
    VSTREAM_LINE_EOF = 4,       /* data then end of file, no terminator (EOF flag set) */
};

#define VSTREAM_BUFSIZE 8192    /* input and output buffer size, unless changed */
#define VSTREAM_BUFSIZE_MIN 64
#define VSTREAM_BUFSIZE_MAX (16 * 1024 * 1024)

/* Wrap fd (not duplicated; owned by the stream until close/detach). */
vstream *vstream_open(int fd);
/* Flush, close the descriptor, free. -1 if the flush or close(2) failed. */
int vstream_close(vstream *s);
/* Free the stream without flushing or closing; returns the descriptor.
 * Unread input and unflushed output are lost (flush first). */
int vstream_detach(vstream *s);

/* Resize the input and the output buffer (VSTREAM_BUFSIZE_MIN..MAX
 * bytes; 0 leaves that one alone; anything else is a program bug).
 * Buffered data is kept: a buffer never shrinks below what it holds. A
 * bulk reader of lines (SMTP DATA) wants a big input buffer: fewer
 * system calls, and more lines found in place by vstream_get_line_ref.
 * Big writes need no big output buffer (see output below). */
void vstream_set_bufsize(vstream *s, size_t rsize, size_t wsize);
size_t vstream_bufsize(const vstream *s);       /* input buffer size */
size_t vstream_wbufsize(const vstream *s);      /* output buffer size */

int  vstream_fd(const vstream *s);
void vstream_set_timeout(vstream *s, int timeout_ms);
int  vstream_timeout_ms(const vstream *s);
void vstream_set_deadline(vstream *s, int on);  /* limit per operation, not per wait */
/* Replace the transfer functions; NULL restores the default for that one. */
void vstream_set_io(vstream *s, vstream_read_fn rd, vstream_write_fn wr, void *ctx);
void *vstream_io_context(const vstream *s);

int  vstream_flags(const vstream *s);       /* VSTREAM_F_* bits, 0 when all is well */
int  vstream_eof(const vstream *s);
int  vstream_timed_out(const vstream *s);
int  vstream_error(const vstream *s);       /* VSTREAM_F_ERROR or VSTREAM_F_TIMEOUT */
int  vstream_errno(const vstream *s);       /* errno of the failure; ETIMEDOUT for a timeout */
void vstream_clearerr(vstream *s);

/* ---- input ---- */

/* Read one line into line (reset first), at most max (>= 1) bytes of
 * content; returns a VSTREAM_LINE_* value (see LINES above). */
int vstream_get_line(vstream *s, sbuf *line, size_t max);
/* As vstream_get_line, without copying when it can: *line and *len
 * receive the line (without its terminator), which lies in the stream's
 * input buffer, or in spill (reset first) when it did not fit there or
 * input ended first. Same return values and the same line boundaries as
 * vstream_get_line(s, ..., max) on the same input. *line is valid until
 * the next operation on s or on spill; it is not NUL-terminated. */
int vstream_get_line_ref(vstream *s, sbuf *spill, size_t max, const char **line,
                         size_t *len);
/* Discard input up to and including the next LF. 0, or -1 on EOF/timeout/error. */
int vstream_skip_line(vstream *s);
/* One byte (0..255), or -1 on EOF/timeout/error. */
int vstream_getc(vstream *s);
/* Exactly n bytes into buf. 0, or -1 (EOF before n bytes sets the EOF flag).
 * With nothing buffered, n >= the buffer size goes straight into buf. */
int vstream_read_exact(vstream *s, void *buf, size_t n);
/* Exactly n bytes appended to b. 0 or -1; on -1, b holds what arrived. */
int vstream_read_append(vstream *s, sbuf *b, size_t n);
/* Between 1 and n bytes (waits only if nothing is buffered). Bytes, 0 at EOF, -1. */
ssize_t vstream_read_some(vstream *s, void *buf, size_t n);
/* Bytes already in the input buffer (no system call): a pipelining check,
 * or plaintext that must be discarded after STARTTLS. */
size_t vstream_peek_pending(const vstream *s);
/* 1 if input is buffered or the descriptor is readable right now, else 0.
 * Data held inside a replaced I/O layer (a TLS record) is not seen. */
int vstream_input_waiting(vstream *s);
/* Drop buffered input; returns how many bytes were dropped. */
size_t vstream_purge_input(vstream *s);

/* ---- output (buffered; 0 or -1 when the stream is in error) ----
 * A write that does not fit in the buffer tops it up and sends it; a
 * rest of at least the buffer size is then sent from the caller's memory
 * at once (bytes keep their order; only smaller rests stay buffered). */

int vstream_write(vstream *s, const void *buf, size_t n);
int vstream_puts(vstream *s, const char *str);          /* no newline added */
int vstream_putc(vstream *s, int c);
int vstream_printf(vstream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vstream_vprintf(vstream *s, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Write out everything buffered, within the timeout. 0 or -1. */
int vstream_flush(vstream *s);
size_t vstream_pending_output(const vstream *s);

#endif
