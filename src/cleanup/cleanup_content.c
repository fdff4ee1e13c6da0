/*
 * cleanup_content.c - content bytes -> lines -> header block and body records.
 *
 * Content arrives in chunks that may split lines anywhere. Lines are
 * assembled here; the header block (RFC 5322 2.2: up to the first empty
 * line; as in Postfix, a line that is neither a header nor a
 * continuation also ends it and starts the body) is folded into logical
 * headers and handed to cleanup_header(); the body is copied into BODY
 * records of up to 64 KiB, lines spanning records. The empty line that
 * separates header and body is not stored (readers put it back).
 *
 * Limits: message_size_limit on the content bytes received, and
 * header_size_limit on one logical header (the excess is discarded, as
 * Postfix does). Stray CR characters (not part of CR LF) become spaces
 * when cleanup_replace_stray_cr_lf is set; every stored line ends in LF.
 *
 * NOT HERE: what happens to one header (cleanup_header.c).
 */
#include <string.h>

#include "cleanup/cleanup.h"
#include "cleanup/cleanup_checks.h"
#include "util/msg.h"

#define BODY_RECORD_SIZE 65536      /* bytes per BODY record */
#define BODY_LINE_MAX    65536      /* a longer body "line" is passed on in pieces */
#define HEADER_LINE_MIN  1024       /* floor for the header line cap */

void cleanup_out_header(struct cleanup_state *st, const char *text, size_t len)
{
    cleanup_put(st, QREC_HEADER, text, len);
    st->content_size += len;
}

static void body_flush(struct cleanup_state *st)
{
    if (st->body.len) {
        cleanup_put(st, QREC_BODY, st->body.s, st->body.len);
        sbuf_reset(&st->body);
    }
}

static void body_out(struct cleanup_state *st, const char *s, size_t n)
{
    if (st->flags & CLEANUP_FLAG_FILTER)
        cleanup_check_body_line(st, s, n);
    st->content_size += n;
    sbuf_add(&st->body, s, n);
    if (st->body.len >= BODY_RECORD_SIZE)
        body_flush(st);
}

static void flush_header(struct cleanup_state *st)
{
    if (st->hdr.len) {
        cleanup_header(st, st->hdr.s, st->hdr.len);
        sbuf_reset(&st->hdr);
    }
    st->hdr_truncated = false;
}

static void end_headers(struct cleanup_state *st)
{
    flush_header(st);
    if (!st->headers_done) {
        st->headers_done = true;
        cleanup_header_done(st);
    }
    st->in_body = true;
}

static size_t header_limit(void)
{
    long long lim = cleanup_par.header_size_limit;
    return lim < HEADER_LINE_MIN ? HEADER_LINE_MIN : (size_t) lim;
}

/* One line of the header block (ends in LF). */
static void header_line(struct cleanup_state *st, const char *s, size_t n)
{
    size_t limit = header_limit();
    if (n == 1 || (n == 2 && s[0] == '\r')) {
        end_headers(st);            /* the separator itself is not stored */
        return;
    }
    if ((s[0] == ' ' || s[0] == '\t') && st->hdr.len) {
        /* A continuation line of the current header. */
        if (st->hdr.len + n <= limit)
            sbuf_add(&st->hdr, s, n);
        else
            st->hdr_truncated = true;
        return;
    }
    size_t name_len;
    if (cleanup_is_header(s, n, &name_len)) {
        flush_header(st);
        if (n <= limit) {
            sbuf_add(&st->hdr, s, n);
        } else {
            sbuf_add(&st->hdr, s, limit - 1);
            sbuf_addc(&st->hdr, '\n');
            st->hdr_truncated = true;
        }
        return;
    }
    /* Neither a header nor a continuation: the body starts here. */
    end_headers(st);
    body_out(st, s, n);
}

/* A complete line (or a piece of an over-long body line without LF). */
static void process_line(struct cleanup_state *st, char *s, size_t n)
{
    if (cleanup_par.replace_stray_cr) {
        size_t keep = n >= 2 && s[n - 1] == '\n' && s[n - 2] == '\r' ? n - 2 : (size_t) -1;
        for (size_t i = 0; i < n; i++)
            if (s[i] == '\r' && i != keep)
                s[i] = ' ';
    }
    if (!st->in_body)
        header_line(st, s, n);
    else
        body_out(st, s, n);
}

static void finish_line(struct cleanup_state *st)
{
    if (st->line.len == 0 || st->line.s[st->line.len - 1] != '\n')
        sbuf_addc(&st->line, '\n');
    process_line(st, st->line.s, st->line.len);
    sbuf_reset(&st->line);
}

void cleanup_content_data(struct cleanup_state *st, const char *buf, size_t len)
{
    if (!st->envelope_done)
        cleanup_env_flush(st);
    st->input_size += len;
    if (cleanup_par.message_size_limit > 0
        && st->input_size > (uint64_t) cleanup_par.message_size_limit
        && !(st->errs & CLEANUP_STAT_SIZE)) {
        msg_warn("%s: queue file size limit exceeded", st->queue_id);
        cleanup_error(st, CLEANUP_STAT_SIZE, 0);
    }
    const char *p = buf, *end = buf + len;
    while (p < end && !cleanup_failed(st)) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t n = nl ? (size_t) (nl - p) + 1 : (size_t) (end - p);
        if (st->line_skip) {
            /* The rest of an over-long header line: dropped. */
            if (nl) {
                st->line_skip = false;
                finish_line(st);
            }
            p += n;
            continue;
        }
        sbuf_add(&st->line, p, n);
        p += n;
        if (nl) {
            finish_line(st);
            continue;
        }
        if (!st->in_body && st->line.len >= header_limit()) {
            st->line_skip = true;
        } else if (st->in_body && st->line.len >= BODY_LINE_MAX) {
            /* Pass the piece on, but keep a trailing CR: an LF may follow. */
            size_t keep = st->line.s[st->line.len - 1] == '\r' ? 1 : 0;
            process_line(st, st->line.s, st->line.len - keep);
            if (keep) {
                sbuf_reset(&st->line);
                sbuf_addc(&st->line, '\r');
            } else {
                sbuf_reset(&st->line);
            }
        }
    }
}

void cleanup_content_end(struct cleanup_state *st)
{
    if (!st->envelope_done)
        cleanup_env_flush(st);
    if (cleanup_failed(st))
        return;
    if (st->line.len || st->line_skip) {
        st->line_skip = false;
        finish_line(st);            /* a last line without LF gets one */
    }
    if (!st->in_body || !st->headers_done)
        end_headers(st);
    body_flush(st);
}
