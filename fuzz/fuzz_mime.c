/*
 * fuzz_mime.c - libFuzzer target for the MIME structure parser
 * (src/mail/mime_state.c), which sees every message cleanup receives.
 *
 * Input: byte 0 the options (MIME_OPT_* bits), byte 1 the piece size
 * (lines are cut into pieces of 1..256 bytes; 0 = whole lines), byte 2
 * the nesting limit (1..16), byte 3 the boundary length limit (1..64) and
 * whether the header size limit is small (bit 7: 64 bytes) or larger than
 * any input; the rest is the message. Checks, for every input:
 *   - every header callback is one logical header ending in LF, no
 *     longer than the header size limit, with a valid class;
 *   - the nesting depth never exceeds the limit;
 *   - only errors whose report option is on are reported, each once, and
 *     the returned bits are exactly the reported ones;
 *   - header_end is called exactly once, before any body piece that
 *     follows the primary headers;
 *   - with the large header limit, headers + body pieces are the input
 *     with at most the one empty line that ended the primary headers
 *     taken out, at the place header_end was called.
 */
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "mail/mime_state.h"
#include "util/sbuf.h"

#define MAX_INPUT (64 * 1024)

struct fuzz_rec {
    mime_state *ms;
    sbuf    out;
    size_t  hsize;
    int     nesting;
    int     reported;
    int     header_ends;
    size_t  end_at;             /* out.len when header_end was called */
};

static void on_header(void *ctx, int cls, const char *text, size_t len)
{
    struct fuzz_rec *r = ctx;
    if (len == 0 || text[len - 1] != '\n' || len > r->hsize)
        abort();
    if (cls != MIME_HDR_PRIMARY && cls != MIME_HDR_MULTIPART && cls != MIME_HDR_NESTED)
        abort();
    if (cls == MIME_HDR_PRIMARY && r->header_ends)
        abort();
    sbuf_add(&r->out, text, len);
}

static void on_header_end(void *ctx)
{
    struct fuzz_rec *r = ctx;
    r->header_ends++;
    r->end_at = r->out.len;
}

static void on_body(void *ctx, const char *text, size_t len, uint64_t offset)
{
    struct fuzz_rec *r = ctx;
    (void) offset;
    if (len == 0 || r->header_ends != 1)
        abort();
    if (mime_state_depth(r->ms) > r->nesting)
        abort();
    sbuf_add(&r->out, text, len);
}

static void on_error(void *ctx, int code, const char *text, size_t len)
{
    struct fuzz_rec *r = ctx;
    (void) text;
    (void) len;
    if ((r->reported & code) || (code & (code - 1)))
        abort();
    r->reported |= code;
}

static const int report_option[][2] = {
    {MIME_ERR_NESTING, MIME_OPT_REPORT_NESTING},
    {MIME_ERR_TRUNC_HEADER, MIME_OPT_REPORT_TRUNC_HEADER},
    {MIME_ERR_8BIT_IN_HEADER, MIME_OPT_REPORT_8BIT_IN_HEADER},
    {MIME_ERR_8BIT_IN_7BIT_BODY, MIME_OPT_REPORT_8BIT_IN_7BIT_BODY},
    {MIME_ERR_ENCODING_DOMAIN, MIME_OPT_REPORT_ENCODING_DOMAIN},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    if (size < 4 || size > MAX_INPUT)
        return 0;
    int options = data[0] & 0x3f;
    size_t piece = data[1];
    struct mime_limits lim = {
        (data[3] & 0x80) ? 64 : MAX_INPUT + 2,
        1 + data[2] % 16,
        1 + (size_t) (data[3] & 0x3f),
    };
    const char *msg = (const char *) data + 4;
    size_t len = size - 4;

    static const struct mime_callbacks cb = {on_header, on_header_end, on_body, on_error};
    struct fuzz_rec r;
    memset(&r, 0, sizeof(r));
    sbuf_init(&r.out);
    r.hsize = lim.header_size;
    r.nesting = lim.nesting;
    r.ms = mime_state_create(options, &lim, &cb, &r);
    int errs = 0;
    for (const char *p = msg, *end = msg + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t n = nl ? (size_t) (nl - p) + 1 : (size_t) (end - p);
        if (piece && n > piece)
            n = piece;
        errs = mime_state_update(r.ms, p, n);
        if (errs != r.reported)
            abort();
        p += n;
    }
    errs = mime_state_end(r.ms);
    mime_state_free(r.ms);
    if (errs != r.reported || r.header_ends != 1)
        abort();
    for (size_t i = 0; i < sizeof(report_option) / sizeof(report_option[0]); i++)
        if ((errs & report_option[i][0]) && !(options & report_option[i][1]))
            abort();

    if (!(data[3] & 0x80)) {
        /* Nothing truncated: the output is the input, less the empty line
         * that ended the primary headers (at end_at), plus the LF a header
         * at the very end of the input lacked. */
        const char *out = r.out.s ? r.out.s : "";
        size_t added = len && msg[len - 1] != '\n' && r.out.len && out[r.out.len - 1] == '\n';
        size_t at = r.end_at;
        if (r.out.len > len + added || len + added - r.out.len > 2 || at > r.out.len)
            abort();
        if (at > r.out.len - added)
            at = r.out.len - added;         /* header_end came after the added LF */
        size_t skip = len + added - r.out.len;
        if (memcmp(out, msg, at) != 0)
            abort();
        if (skip == 1 && msg[at] != '\n')
            abort();
        if (skip == 2 && (msg[at] != '\r' || msg[at + 1] != '\n'))
            abort();
        if (memcmp(out + at, msg + at + skip, len - at - skip) != 0)
            abort();
    }
    sbuf_free(&r.out);
    return 0;
}
