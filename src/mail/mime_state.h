/*
 * mime_state.h - the MIME structure of a message, one input line at a time,
 * for content inspection (cleanup's header_checks, mime_header_checks,
 * nested_header_checks and body_checks).
 *
 *   ms = mime_state_create(options, &limits, &callbacks, ctx);
 *   for each piece of input: mime_state_update(ms, text, len);
 *   mime_state_end(ms);
 *   mime_state_free(ms);
 *
 * Input is the message as stored (LF line ends). A piece is a whole line
 * ending in LF, or part of a long line: a piece without LF is continued by
 * the next one, so callers may cut long lines (cleanup cuts them at
 * line_length_limit, as Postfix's body_checks see them). Only the first
 * piece of a line is looked at to recognize a header, an empty line or
 * a boundary: a header name or a boundary delimiter that does not fit in
 * it is not recognized (cleanup's pieces are at least 1024 bytes).
 *
 * What comes out, in input order:
 *
 *   header(ctx, class, text, len)   one logical header: its lines joined
 *       with their LFs kept (a folded header is one call), ending in LF,
 *       at most limits.header_size bytes (the excess is dropped, as
 *       header_size_limit says). class is MIME_HDR_PRIMARY for the
 *       message's own headers, MIME_HDR_MULTIPART for the headers of a
 *       part of a multipart entity, MIME_HDR_NESTED for the headers of
 *       an attached message (message/rfc822).
 *   header_end(ctx)   the primary header block ended. The empty line that
 *       ended it is not passed on; a non-header line that ended it is the
 *       first body piece.
 *   body(ctx, text, len, offset)   one piece of everything else: body
 *       lines, preambles and epilogues, boundary lines, the empty lines
 *       that end part headers. text ends in LF when the line ends in
 *       this piece. offset is the number of bytes of the current segment
 *       before this piece: a segment starts after each header block and
 *       at each boundary line (body_checks_size_limit counts per segment).
 *   error(ctx, code, text, len)   a MIME_ERR_* condition, reported once
 *       per code per message, with the input that caused it (for nesting
 *       and encoding errors: the start of the Content-Type header).
 *
 * Structure, as RFC 2045/2046 say and Postfix does it: a header block ends
 * at an empty line, or at a line that is neither a header nor a
 * continuation (which then belongs to what follows). After a header
 * block with Content-Type multipart/<anything> and a boundary parameter,
 * lines "--boundary" start a part (whose headers follow) and
 * "--boundary--" ends the multipart; a boundary line of an enclosing
 * multipart also ends the inner ones. After Content-Type message/rfc822
 * (the default type of a multipart/digest part) with an identity encoding
 * (7bit, 8bit, binary, or none), a nested header block follows. Other
 * message types and encoded entities are body. Boundaries are compared
 * on their first limits.boundary_len bytes. Every multipart or attached
 * message is one nesting level; beyond limits.nesting the structure is no
 * longer followed (MIME_ERR_NESTING with MIME_OPT_REPORT_NESTING).
 * With MIME_OPT_DISABLE_MIME only the primary header block is parsed.
 *
 * Guarantees: any bytes in, no crash; memory is bounded by header_size
 * plus nesting * boundary_len plus the caller's piece size; every input
 * byte goes out exactly once (through header or body) except the empty
 * line that ends the primary header block and header bytes past the
 * header_size limit. Not here: decoding (base64, quoted-printable,
 * RFC 2047), what the callbacks do, line assembly of the raw input.
 */
#ifndef HK_MAIL_MIME_STATE_H
#define HK_MAIL_MIME_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header classes. */
#define MIME_HDR_PRIMARY    1   /* the message's own headers */
#define MIME_HDR_MULTIPART  2   /* headers of a part of a multipart entity */
#define MIME_HDR_NESTED     3   /* headers of an attached message/rfc822 */

/* Options. */
#define MIME_OPT_DISABLE_MIME             (1 << 0)  /* disable_mime_input_processing */
#define MIME_OPT_REPORT_NESTING           (1 << 1)
#define MIME_OPT_REPORT_8BIT_IN_HEADER    (1 << 2)  /* strict_7bit_headers */
#define MIME_OPT_REPORT_8BIT_IN_7BIT_BODY (1 << 3)  /* strict_8bitmime_body */
#define MIME_OPT_REPORT_ENCODING_DOMAIN   (1 << 4)  /* strict_mime_encoding_domain */
#define MIME_OPT_REPORT_TRUNC_HEADER      (1 << 5)  /* a header longer than header_size */

/* Errors (the return value of update/end accumulates them). */
#define MIME_ERR_NESTING           (1 << 0)
#define MIME_ERR_TRUNC_HEADER      (1 << 1)
#define MIME_ERR_8BIT_IN_HEADER    (1 << 2)
#define MIME_ERR_8BIT_IN_7BIT_BODY (1 << 3)
#define MIME_ERR_ENCODING_DOMAIN   (1 << 4)

struct mime_limits {
    size_t  header_size;        /* header_size_limit (at least 2) */
    int     nesting;            /* mime_nesting_limit (at least 1) */
    size_t  boundary_len;       /* mime_boundary_length_limit (at least 1) */
};

struct mime_callbacks {
    void  (*header)(void *ctx, int hdr_class, const char *text, size_t len);
    void  (*header_end)(void *ctx);
    void  (*body)(void *ctx, const char *text, size_t len, uint64_t offset);
    void  (*error)(void *ctx, int code, const char *text, size_t len);   /* may be NULL */
};

typedef struct mime_state mime_state;

/* The callbacks are copied; ctx is passed to each of them. */
mime_state *mime_state_create(int options, const struct mime_limits *limits,
                              const struct mime_callbacks *cb, void *ctx);
/* Feed one piece (see above). Returns the MIME_ERR_* bits so far. */
int   mime_state_update(mime_state *ms, const char *text, size_t len);
/* End of input: a pending header goes out (with an LF added if its last
 * line had none) and header_end is called if the primary header block
 * never ended. Returns the MIME_ERR_* bits. Further updates are ignored. */
int   mime_state_end(mime_state *ms);
void  mime_state_free(mime_state *ms);

/* "MIME nesting exceeds safety limit" etc. for the most important bit. */
const char *mime_state_error_text(int errs);
/* The enhanced status code for a rejection because of errs ("5.6.0"). */
const char *mime_state_error_dsn(int errs);

/*
 * True when the header (name: value) is MIME-related: MIME-Version and
 * the Content-* headers of RFC 2045/2183 (Content-Type,
 * Content-Transfer-Encoding, Content-Disposition, Content-ID,
 * Content-Description). Postfix inspects these with mime_header_checks
 * wherever they appear.
 */
bool  mime_header_is_mime(const char *text, size_t len);

/* Current nesting depth (0 in the primary part); for tests. */
int   mime_state_depth(const mime_state *ms);

#endif
