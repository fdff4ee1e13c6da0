/*
 * local_copy.h - the message as local delivery writes it out.
 *
 * Reads the content records of a queue file (QREC_HEADER lines, then
 * QREC_BODY bytes; the empty line between them is not stored, so it is
 * put back here) and produces, depending on flags, in this order:
 *   From sender  Www Mmm dd hh:mm:ss yyyy     (mbox envelope line; the
 *                                             null sender is MAILER-DAEMON)
 *   Return-Path: <sender>
 *   X-Original-To: orig_rcpt                  (when orig_rcpt is not empty)
 *   Delivered-To: delivered                   (lower case)
 *   extra header lines                        (forwarding: Received:)
 *   the message headers, an empty line, the body, with ">From " quoting
 *   of body lines that begin with "From " (mbox)
 *   an empty line                             (mbox: separates messages)
 * Addresses in the added headers are in external (quoted) form.
 *
 * The iterator hands out chunks so a caller can interleave writing with
 * other work (a command's output, a cleanup connection); the fd helper
 * writes everything to one descriptor. Nothing here locks, opens files
 * or changes privileges.
 */
#ifndef HK_LOCAL_COPY_H
#define HK_LOCAL_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "mail/qfile.h"
#include "util/sbuf.h"

#define LOCAL_COPY_FROM_LINE   (1 << 0)
#define LOCAL_COPY_QUOTE       (1 << 1)
#define LOCAL_COPY_RETURN_PATH (1 << 2)
#define LOCAL_COPY_ORIG_RCPT   (1 << 3)
#define LOCAL_COPY_DELIVERED   (1 << 4)
#define LOCAL_COPY_BLANK       (1 << 5)
#define LOCAL_COPY_MBOX (LOCAL_COPY_FROM_LINE | LOCAL_COPY_QUOTE | LOCAL_COPY_RETURN_PATH \
                         | LOCAL_COPY_ORIG_RCPT | LOCAL_COPY_DELIVERED | LOCAL_COPY_BLANK)

struct local_copy_attr {
    int     flags;
    const char *sender;         /* internal form, "" for the null sender */
    const char *orig_rcpt;      /* may be NULL or "" */
    const char *delivered;      /* may be NULL when LOCAL_COPY_DELIVERED is off */
    const char *extra_headers;  /* complete header lines, or NULL */
    time_t  now;                /* for the From_ line */
};

/* ">From " quoting state: carried across chunks of the body. */
struct local_quote {
    bool    mid_line;           /* false: the next byte starts a line */
    int     held;               /* bytes of "From " seen at a line start, not yet written */
};

struct local_copy {
    qfile  *qf;
    const struct local_copy_attr *attr;
    int     phase;
    struct local_quote quote;
    bool    last_nl;            /* the last byte produced was '\n' */
    sbuf    rec;
};

/* Position at the content (offset of the QREC_CONTENT record). 0 or -1 (errno). */
int  local_copy_start(struct local_copy *c, qfile *qf, off_t content_offset,
                      const struct local_copy_attr *attr);
/* Next chunk into out (replaced): 1 data, 0 end of message, -1 damaged
 * queue file or read error (errno). */
int  local_copy_next(struct local_copy *c, sbuf *out);
void local_copy_end(struct local_copy *c);

/* Everything to fd: 0; -1 write error (errno); -2 queue file unreadable. */
int  local_copy_to_fd(qfile *qf, off_t content_offset, const struct local_copy_attr *attr,
                      int fd);

/* Pure helpers (unit tests). */
/* "From sender  Thu Jun 17 18:44:56 2016\n" (local time, C locale names). */
void local_from_line(sbuf *out, const char *sender, time_t when);
/* Append n bytes of body to out, prefixing '>' to lines that start with
 * "From ". A line start split between calls is still recognised: up to
 * four bytes may be held back until the next call or local_quote_flush().
 * Start with a zeroed struct local_quote. */
void local_quote_from(struct local_quote *q, const char *p, size_t n, sbuf *out);
void local_quote_flush(struct local_quote *q, sbuf *out);

#endif
