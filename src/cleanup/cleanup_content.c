/*
 * cleanup_content.c - content bytes -> lines -> MIME structure -> header and
 * body records.
 *
 * Content arrives in chunks that may split lines anywhere. Lines are
 * assembled here and handed, in pieces of at most line_length_limit
 * bytes (at least 1024), to the MIME parser (src/mail/mime_state.h),
 * which folds headers into logical headers and tells what each one is:
 *   - primary headers go to cleanup_header() (checks, rewriting, HEADER
 *     records), then cleanup_header_done() at the end of the block (RFC
 *     5322 2.2: up to the first empty line; as in Postfix, a line that is
 *     neither a header nor a continuation also ends it and starts the
 *     body). The empty line that separates header and body is not stored
 *     (readers put it back).
 *   - MIME part headers and headers of attached messages go through
 *     mime_header_checks / nested_header_checks and are stored as body
 *     text, like everything else after the primary headers;
 *   - body pieces go through body_checks (within body_checks_size_limit
 *     of their segment) and into BODY records of up to 64 KiB, lines
 *     spanning records.
 * MIME errors (nesting deeper than mime_nesting_limit, and with the
 * strict_* parameters 8-bit text or bad encodings) are logged as
 * "reject: mime-error ..." when seen and reject the message at the end of
 * the content with "5.6.0 <reason>", as Postfix does.
 *
 * Limits: message_size_limit on the content bytes received, and
 * header_size_limit on one logical header (the excess is discarded, as
 * Postfix does). Stray CR characters (not part of CR LF) become spaces
 * when cleanup_replace_stray_cr_lf is set; every stored line ends in LF.
 *
 * PASS-THROUGH. Once the parser is in the body of the message itself at
 * depth 0 (after the primary headers of a message that is not multipart
 * or message/rfc822, or in the epilogue after its outermost multipart
 * ended), nothing that follows can be a header or a boundary: every
 * further byte would come out of the parser unchanged as body text of
 * the same segment. When nothing else looks at those lines either (no
 * body_checks for them, no strict 8-bit body check), the rest of the
 * content is stored as it arrives, in blocks, with the same bytes as the
 * line-by-line path (stray CRs included) and no per-line work.
 *
 * NOT HERE: what happens to one primary header (cleanup_header.c), table
 * lookups and verdicts (cleanup_checks.c).
 */
#include <string.h>

#include "cleanup/cleanup.h"
#include "cleanup/cleanup_checks.h"
#include "util/msg.h"

#define BODY_RECORD_SIZE 65536      /* bytes per BODY record */
#define PIECE_MIN        1024       /* floor for the piece size (line_length_limit) */
#define HEADER_LINE_MIN  1024       /* floor for the header size limit */

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

/* Store body bytes (anything after the primary headers). */
static void body_store(struct cleanup_state *st, const char *s, size_t n)
{
    if (cleanup_failed(st))
        return;
    st->content_size += n;
    sbuf_add(&st->body, s, n);
    if (st->body.len >= BODY_RECORD_SIZE)
        body_flush(st);
}

/* Store a block of body bytes: records of at most BODY_RECORD_SIZE, a
 * big block with nothing pending is written as its own record (no copy). */
static void body_store_block(struct cleanup_state *st, const char *s, size_t n)
{
    if (cleanup_failed(st) || n == 0)
        return;
    st->content_size += n;
    if (st->body.len == 0 && n >= BODY_RECORD_SIZE / 2) {
        while (n > 0) {
            size_t k = n < BODY_RECORD_SIZE ? n : BODY_RECORD_SIZE;
            cleanup_put(st, QREC_BODY, s, k);
            s += k;
            n -= k;
        }
        return;
    }
    while (n > 0) {
        size_t k = BODY_RECORD_SIZE - st->body.len;
        if (k > n)
            k = n;
        sbuf_add(&st->body, s, k);
        s += k;
        n -= k;
        if (st->body.len >= BODY_RECORD_SIZE)
            body_flush(st);
    }
}

/* Store a line from a PREPEND or REPLACE verdict (it gets its LF). */
static void body_store_line(struct cleanup_state *st, const sbuf *text, bool lf)
{
    body_store(st, text->s ? text->s : "", text->len);
    if (lf)
        body_store(st, "\n", 1);
}

/* ---- MIME parser callbacks ---- */

static void on_header(void *ctx, int hdr_class, const char *text, size_t len)
{
    struct cleanup_state *st = ctx;
    if (hdr_class == MIME_HDR_PRIMARY) {
        cleanup_header(st, text, len);
        return;
    }
    if (cleanup_failed(st))
        return;
    /* A part's or an attached message's header: checked, then body text. */
    struct cleanup_verdict v = {CLEANUP_ACT_NONE, SBUF_INIT};
    enum cleanup_act act = cleanup_check_header(st, hdr_class, text, len, &v);
    cleanup_apply_verdict(st, "header", text, len, &v);
    if (act == CLEANUP_ACT_PREPEND)
        body_store_line(st, &v.text, true);
    if (act == CLEANUP_ACT_REPLACE)
        body_store_line(st, &v.text, true);
    else if (act != CLEANUP_ACT_IGNORE && act != CLEANUP_ACT_STRIP)
        body_store(st, text, len);
    sbuf_free(&v.text);
}

static void on_header_end(void *ctx)
{
    struct cleanup_state *st = ctx;
    st->headers_done = true;
    st->in_body = true;
    cleanup_header_done(st);
}

static void on_body(void *ctx, const char *text, size_t len, uint64_t offset)
{
    struct cleanup_state *st = ctx;
    st->seg_next = offset + len;
    if (cleanup_failed(st))
        return;
    struct cleanup_verdict v = {CLEANUP_ACT_NONE, SBUF_INIT};
    enum cleanup_act act = cleanup_check_body(st, text, len, offset, &v);
    bool lf = len && text[len - 1] == '\n';
    cleanup_apply_verdict(st, "body", text, len, &v);
    if (act == CLEANUP_ACT_PREPEND)
        body_store_line(st, &v.text, true);
    if (act == CLEANUP_ACT_REPLACE)
        body_store_line(st, &v.text, lf);
    else if (act != CLEANUP_ACT_IGNORE && act != CLEANUP_ACT_STRIP)
        body_store(st, text, len);
    sbuf_free(&v.text);
}

static void on_error(void *ctx, int code, const char *text, size_t len)
{
    struct cleanup_state *st = ctx;
    if (code == MIME_ERR_TRUNC_HEADER)
        return;                     /* the excess is dropped; not an error */
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    sbuf origin = SBUF_INIT;
    cleanup_log_origin(st, &origin);
    msg_info("%s: reject: mime-error %s: %.*s from %s; from=<%s> to=<%s>", st->queue_id,
             mime_state_error_text(code), (int) (len > 100 ? 100 : len), text,
             sbuf_str(&origin), st->sender ? st->sender : "",
             st->first_rcpt ? st->first_rcpt : "unknown");
    sbuf_free(&origin);
}

static size_t header_limit(void)
{
    long long lim = cleanup_par.header_size_limit;
    return lim < HEADER_LINE_MIN ? HEADER_LINE_MIN : (size_t) lim;
}

static size_t piece_limit(void)
{
    long lim = cleanup_par.line_length_limit;
    return lim < PIECE_MIN ? PIECE_MIN : (size_t) lim;
}

/* The parser for this message, made at the first content byte. */
static void mime_start(struct cleanup_state *st)
{
    static const struct mime_callbacks cb = {on_header, on_header_end, on_body, on_error};
    const struct cleanup_params *p = &cleanup_par;
    int options = MIME_OPT_REPORT_TRUNC_HEADER;
    if (p->disable_mime) {
        options |= MIME_OPT_DISABLE_MIME;
    } else if (st->flags & CLEANUP_FLAG_FILTER) {
        /* Strictness only for mail that is inspected at all (Postfix). */
        if (p->strict_8bitmime || p->strict_7bit_headers)
            options |= MIME_OPT_REPORT_8BIT_IN_HEADER;
        if (p->strict_8bitmime || p->strict_8bitmime_body) {
            options |= MIME_OPT_REPORT_8BIT_IN_7BIT_BODY;
            st->body_8bit_check = true;
        }
        if (p->strict_mime_encoding_domain)
            options |= MIME_OPT_REPORT_ENCODING_DOMAIN;
        if ((options & ~MIME_OPT_REPORT_TRUNC_HEADER) || cleanup_checks_header_tables())
            options |= MIME_OPT_REPORT_NESTING;
    }
    struct mime_limits lim = {header_limit(), (int) p->mime_nesting_limit,
                              (size_t) p->mime_boundary_length_limit};
    st->mime = mime_state_create(options, &lim, &cb, st);
}

/* One piece of a line (see mime_state.h): the whole line with its LF, or
 * a part of an over-long one. */
static void process_piece(struct cleanup_state *st, char *s, size_t n)
{
    if (cleanup_par.replace_stray_cr) {
        /* Only the CR of a final CR LF stays (a piece ends at its LF). */
        size_t keep = n >= 2 && s[n - 1] == '\n' && s[n - 2] == '\r' ? n - 2 : (size_t) -1;
        for (char *cr = memchr(s, '\r', n); cr; ) {
            size_t i = (size_t) (cr - s);
            if (i != keep)
                *cr = ' ';
            cr = i + 1 < n ? memchr(cr + 1, '\r', n - i - 1) : 0;
        }
    }
    if (!st->mime)
        mime_start(st);
    st->mime_errs = mime_state_update(st->mime, s, n);
    st->mid_line = n > 0 && s[n - 1] != '\n';
}

static void finish_line(struct cleanup_state *st)
{
    if (st->line.len == 0 || st->line.s[st->line.len - 1] != '\n')
        sbuf_addc(&st->line, '\n');
    process_piece(st, st->line.s, st->line.len);
    sbuf_reset(&st->line);
}

/* May the rest of the content bypass line parsing (PASS-THROUGH above)?
 * Asked between lines; once true it stays true for the message. */
static bool passthrough_ok(const struct cleanup_state *st)
{
    return st->headers_done && st->mime && st->line.len == 0
        && mime_state_depth(st->mime) == 0
        && (!st->body_8bit_check || (st->mime_errs & MIME_ERR_8BIT_IN_7BIT_BODY))
        && cleanup_checks_body_done(st, st->seg_next);
}

/*
 * PASS-THROUGH: the bytes go to BODY records as they are, except that a
 * stray CR becomes a space with cleanup_replace_stray_cr_lf, exactly as
 * process_piece() would have done: a CR followed by LF stays, and a CR
 * at the end of the block waits in st->line for the next byte.
 */
static void passthrough(struct cleanup_state *st, const char *p, size_t n)
{
    const char *end = p + n;
    if (n == 0)
        return;
    if (!cleanup_par.replace_stray_cr) {
        body_store_block(st, p, n);
        st->mid_line = end[-1] != '\n';
        return;
    }
    if (st->line.len) {                 /* the CR that ended the last block */
        sbuf_reset(&st->line);
        body_store_block(st, *p == '\n' ? "\r" : " ", 1);
    }
    while (p < end) {
        const char *cr = memchr(p, '\r', (size_t) (end - p));
        if (!cr) {
            body_store_block(st, p, (size_t) (end - p));
            break;
        }
        body_store_block(st, p, (size_t) (cr - p));
        if (cr + 1 == end) {
            sbuf_addc(&st->line, '\r');
            break;
        }
        body_store_block(st, cr[1] == '\n' ? "\r" : " ", 1);
        p = cr + 1;
    }
    st->mid_line = end[-1] != '\n';
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
    size_t max = piece_limit();
    const char *p = buf, *end = buf + len;
    while (p < end && !cleanup_failed(st)) {
        if (st->passthrough) {
            passthrough(st, p, (size_t) (end - p));
            return;
        }
        /* Here st->line holds less than max bytes of an unfinished line. */
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t n = nl ? (size_t) (nl - p) + 1 : (size_t) (end - p);
        size_t room = max - st->line.len;
        bool complete = nl != 0;
        if (n > room) {
            n = room;
            complete = false;
        }
        sbuf_add(&st->line, p, n);
        p += n;
        if (complete) {
            finish_line(st);
        } else if (st->line.len >= max) {
            /* Pass the piece on, but keep a trailing CR: an LF may follow. */
            size_t keep = st->line.s[st->line.len - 1] == '\r' ? 1 : 0;
            process_piece(st, st->line.s, st->line.len - keep);
            sbuf_reset(&st->line);
            if (keep)
                sbuf_addc(&st->line, '\r');
        } else {
            continue;                   /* the line goes on in the next data */
        }
        if (st->headers_done && passthrough_ok(st))
            st->passthrough = true;
    }
}

void cleanup_content_end(struct cleanup_state *st)
{
    if (!st->envelope_done)
        cleanup_env_flush(st);
    if (cleanup_failed(st))
        return;
    /* A last line without LF gets one. */
    if (st->passthrough) {
        if (st->line.len)           /* a final CR: CR LF, as finish_line makes it */
            body_store_block(st, "\r\n", 2);
        else if (st->mid_line)
            body_store_block(st, "\n", 1);
        sbuf_reset(&st->line);
    } else if (st->line.len) {
        finish_line(st);
    } else if (st->mid_line) {
        process_piece(st, (char[]) {'\n'}, 1);     /* it ended exactly at a piece's end */
    }
    if (!st->mime)
        mime_start(st);
    st->mime_errs = mime_state_end(st->mime);
    body_flush(st);
    int errs = st->mime_errs & ~MIME_ERR_TRUNC_HEADER;
    if (errs && !cleanup_failed(st) && !(st->errs & CLEANUP_STAT_CONT)) {
        sbuf why = SBUF_INIT;
        sbuf_printf(&why, "%s %s", mime_state_error_dsn(errs), mime_state_error_text(errs));
        cleanup_error(st, CLEANUP_STAT_CONT, sbuf_str(&why));
        sbuf_free(&why);
    }
}
