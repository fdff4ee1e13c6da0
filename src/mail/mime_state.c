/*
 * mime_state.c - MIME structure of a message, line by line (see mime_state.h).
 *
 * One state machine: either in a header block (of a class) or in a body
 * segment. A stack of frames holds the enclosing multipart boundaries.
 * Each logical header is collected (continuation lines appended, with
 * their LFs) up to the header size limit, handed to the header callback,
 * and, when it is Content-Type or Content-Transfer-Encoding, parsed for
 * the decision taken at the end of its block: multipart (push a frame),
 * message/rfc822 (a nested header block), or body.
 *
 * Content-Type is read with RFC 2045 5.1 syntax (comments and folding
 * allowed anywhere between tokens); unquoted parameter values are taken
 * up to ';' or white space, which also accepts the common but improper
 * boundary=----=_Part_1 form.
 *
 * NOT HERE: decoding, header checks, storage.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mail/mime_state.h"
#include "util/mem.h"
#include "util/sbuf.h"

/* Content types that matter for the structure. */
enum ctype { CT_NONE, CT_OTHER, CT_MULTIPART, CT_RFC822, CT_MESSAGE_OTHER };
/* Content-Transfer-Encoding: NONE (not given) counts as 7bit. */
enum enc { ENC_NONE, ENC_7BIT, ENC_8BIT, ENC_BINARY, ENC_ENCODED };

#define IDENTITY(e)     ((e) != ENC_ENCODED)
#define SEVEN_BIT(e)    ((e) == ENC_NONE || (e) == ENC_7BIT)
#define MAX_REPROCESS   8       /* header blocks a single line may end in a row */

struct frame {
    char   *boundary;           /* truncated to boundary_len */
    size_t  blen;
    bool    digest;             /* multipart/digest: parts default to message/rfc822 */
    int     depth;              /* depth of its parts */
    enum enc enc;               /* the multipart's own encoding (preamble, epilogue) */
};

enum line_dest { DEST_NONE, DEST_HEADER, DEST_BODY };

struct mime_state {
    int     options;
    struct mime_limits lim;
    struct mime_callbacks cb;
    void   *ctx;
    int     errs;
    bool    ended;

    bool    in_header;          /* in a header block (else a body segment) */
    int     hdr_class;          /* class of the current header block */
    bool    primary_done;       /* header_end was called */
    bool    at_line_start;      /* the next piece starts a new line */
    enum line_dest dest;        /* where the rest of the current line goes */

    sbuf    hdr;                /* logical header being collected */
    bool    hdr_trunc;          /* its excess is being dropped */

    /* What the current header block declared. */
    enum ctype ctype;
    bool    ct_digest;
    sbuf    ct_text;            /* the start of that Content-Type header (errors) */
    sbuf    boundary;
    enum enc enc;
    enum ctype default_ctype;   /* CT_RFC822 for parts of a multipart/digest */

    /* The current body segment. */
    uint64_t seg_offset;
    enum enc seg_enc;

    struct frame *stack;
    size_t  nstack, cap;
    int     depth;
};

/* ---- errors ---- */

static const struct {
    int     code;
    int     option;
    const char *text;
} err_table[] = {
    {MIME_ERR_NESTING, MIME_OPT_REPORT_NESTING, "MIME nesting exceeds safety limit"},
    {MIME_ERR_TRUNC_HEADER, MIME_OPT_REPORT_TRUNC_HEADER,
     "message header length exceeds safety limit"},
    {MIME_ERR_8BIT_IN_HEADER, MIME_OPT_REPORT_8BIT_IN_HEADER,
     "improper use of 8-bit data in message header"},
    {MIME_ERR_8BIT_IN_7BIT_BODY, MIME_OPT_REPORT_8BIT_IN_7BIT_BODY,
     "improper use of 8-bit data in message body"},
    {MIME_ERR_ENCODING_DOMAIN, MIME_OPT_REPORT_ENCODING_DOMAIN,
     "invalid message/* or multipart/* encoding domain"},
};
#define NERR (sizeof(err_table) / sizeof(err_table[0]))

const char *mime_state_error_text(int errs)
{
    for (size_t i = 0; i < NERR; i++)
        if (errs & err_table[i].code)
            return err_table[i].text;
    return "unknown MIME error";
}

const char *mime_state_error_dsn(int errs)
{
    (void) errs;
    return "5.6.0";             /* RFC 3463: other or undefined media error */
}

static void report(mime_state *ms, int code, const char *text, size_t len)
{
    for (size_t i = 0; i < NERR; i++) {
        if (err_table[i].code != code)
            continue;
        if (!(ms->options & err_table[i].option) || (ms->errs & code))
            return;
        ms->errs |= code;
        if (ms->cb.error)
            ms->cb.error(ms->ctx, code, text, len);
        return;
    }
}

static bool has_8bit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] & 0x80)
            return true;
    return false;
}

/* ---- lexical helpers for header values (RFC 2045, RFC 5322 CFWS) ---- */

static bool tspecial(int c)
{
    return strchr("()<>@,;:\\\"/[]?=", c) != 0;
}

static bool token_char(int c)
{
    return c > ' ' && c < 0x7f && !tspecial(c);
}

static const char *skip_cfws(const char *p, const char *end)
{
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
        } else if (*p == '(') {
            int level = 0;
            while (p < end) {
                if (*p == '\\' && p + 1 < end)
                    p += 2;
                else if (*p == '(')
                    level++, p++;
                else if (*p == ')' && --level == 0) {
                    p++;
                    break;
                } else
                    p++;
            }
        } else {
            break;
        }
    }
    return p;
}

static const char *get_token(const char *p, const char *end, const char **tok, size_t *n)
{
    *tok = p;
    while (p < end && token_char((unsigned char) *p))
        p++;
    *n = (size_t) (p - *tok);
    return p;
}

/* A parameter value: quoted-string, or everything up to ';' or white space. */
static const char *get_value(const char *p, const char *end, sbuf *out)
{
    sbuf_reset(out);
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end)
                p++;
            if (*p != '\r' && *p != '\n')
                sbuf_addc(out, *p);
        }
        return p < end ? p + 1 : p;
    }
    while (p < end && *p != ';' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n'
           && *p != '(')
        sbuf_addc(out, *p++);
    return p;
}

static bool word_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* Length of the header name, or 0 when text is not "name:" (RFC 5322 2.2;
 * white space before the colon is obsolete syntax, still accepted). */
static size_t header_name(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len && text[i] > ' ' && text[i] < 0x7f && text[i] != ':')
        i++;
    if (i == 0)
        return 0;
    size_t n = i;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    return i < len && text[i] == ':' ? n : 0;
}

static const char *header_value(const char *text, size_t len)
{
    const char *colon = memchr(text, ':', len);
    return colon ? colon + 1 : text + len;
}

bool mime_header_is_mime(const char *text, size_t len)
{
    static const char *const names[] = {
        "mime-version", "content-type", "content-transfer-encoding",
        "content-disposition", "content-id", "content-description",
    };
    size_t n = header_name(text, len);
    for (size_t i = 0; n && i < sizeof(names) / sizeof(names[0]); i++)
        if (word_is(text, n, names[i]))
            return true;
    return false;
}

/* ---- what a header block declares ---- */

#define CT_TEXT_MAX 200          /* bytes of a Content-Type header kept for error reports */

static void parse_content_type(mime_state *ms, const char *v, const char *end)
{
    const char *type, *sub;
    size_t tn, sn;
    ms->ctype = CT_OTHER;
    ms->ct_digest = false;
    sbuf_reset(&ms->boundary);
    v = skip_cfws(v, end);
    v = get_token(v, end, &type, &tn);
    v = skip_cfws(v, end);
    if (v >= end || *v != '/')
        return;
    v = skip_cfws(v + 1, end);
    v = get_token(v, end, &sub, &sn);
    if (word_is(type, tn, "multipart")) {
        ms->ctype = CT_MULTIPART;
        ms->ct_digest = word_is(sub, sn, "digest");
    } else if (word_is(type, tn, "message")) {
        ms->ctype = word_is(sub, sn, "rfc822") ? CT_RFC822 : CT_MESSAGE_OTHER;
    }
    /* Parameters: only boundary matters. */
    sbuf val = SBUF_INIT;
    while (v < end) {
        v = skip_cfws(v, end);
        if (v >= end)
            break;
        if (*v != ';') {
            /* Junk: resynchronize at the next ';'. */
            const char *semi = memchr(v, ';', (size_t) (end - v));
            if (!semi)
                break;
            v = semi;
        }
        const char *attr;
        size_t an;
        v = skip_cfws(v + 1, end);
        v = get_token(v, end, &attr, &an);
        v = skip_cfws(v, end);
        if (v >= end || *v != '=')
            continue;
        v = skip_cfws(v + 1, end);
        v = get_value(v, end, &val);
        if (word_is(attr, an, "boundary") && val.len && !ms->boundary.len) {
            size_t keep = val.len < ms->lim.boundary_len ? val.len : ms->lim.boundary_len;
            sbuf_add(&ms->boundary, val.s, keep);
        }
    }
    sbuf_free(&val);
}

static void parse_encoding(mime_state *ms, const char *v, const char *end)
{
    const char *tok;
    size_t n;
    v = skip_cfws(v, end);
    get_token(v, end, &tok, &n);
    if (word_is(tok, n, "7bit"))
        ms->enc = ENC_7BIT;
    else if (word_is(tok, n, "8bit"))
        ms->enc = ENC_8BIT;
    else if (word_is(tok, n, "binary"))
        ms->enc = ENC_BINARY;
    else
        ms->enc = ENC_ENCODED;  /* quoted-printable, base64, x-anything */
}

static void block_reset(mime_state *ms, int hdr_class, enum ctype default_ctype)
{
    ms->in_header = true;
    ms->hdr_class = hdr_class;
    ms->ctype = CT_NONE;
    ms->ct_digest = false;
    sbuf_reset(&ms->ct_text);
    sbuf_reset(&ms->boundary);
    ms->enc = ENC_NONE;
    ms->default_ctype = default_ctype;
    sbuf_reset(&ms->hdr);
    ms->hdr_trunc = false;
}

/* ---- headers ---- */

static void header_flush(mime_state *ms)
{
    if (!ms->hdr.len)
        return;
    if (ms->hdr.s[ms->hdr.len - 1] != '\n')
        sbuf_addc(&ms->hdr, '\n');
    const char *text = ms->hdr.s;
    size_t len = ms->hdr.len;
    if (has_8bit(text, len))
        report(ms, MIME_ERR_8BIT_IN_HEADER, text, len);
    size_t n = header_name(text, len);
    const char *v = header_value(text, len), *end = text + len;
    if (word_is(text, n, "content-type")) {
        sbuf_reset(&ms->ct_text);
        sbuf_add(&ms->ct_text, text, len - 1 < CT_TEXT_MAX ? len - 1 : CT_TEXT_MAX);
        parse_content_type(ms, v, end);
    }
    else if (word_is(text, n, "content-transfer-encoding"))
        parse_encoding(ms, v, end);
    ms->cb.header(ms->ctx, ms->hdr_class, text, len);
    sbuf_reset(&ms->hdr);
    ms->hdr_trunc = false;
}

/* Add bytes of the current header, within the size limit. */
static void header_add(mime_state *ms, const char *text, size_t len)
{
    if (ms->hdr_trunc)
        return;
    size_t room = ms->lim.header_size - 1 - ms->hdr.len;   /* keep one byte for the LF */
    if (len <= room) {
        sbuf_add(&ms->hdr, text, len);
        return;
    }
    sbuf_add(&ms->hdr, text, room);
    ms->hdr_trunc = true;
    report(ms, MIME_ERR_TRUNC_HEADER, ms->hdr.s, ms->hdr.len);
}

/* ---- body ---- */

static void body_out(mime_state *ms, const char *text, size_t len)
{
    if (SEVEN_BIT(ms->seg_enc) && has_8bit(text, len))
        report(ms, MIME_ERR_8BIT_IN_7BIT_BODY, text, len);
    ms->cb.body(ms->ctx, text, len, ms->seg_offset);
    ms->seg_offset += len;
}

static void segment_start(mime_state *ms, enum enc enc)
{
    ms->in_header = false;
    ms->seg_offset = 0;
    ms->seg_enc = enc;
}

/* ---- structure ---- */

static void push_frame(mime_state *ms)
{
    if (ms->nstack == ms->cap) {
        ms->cap = ms->cap ? 2 * ms->cap : 4;
        ms->stack = xreallocarray(ms->stack, ms->cap, sizeof(*ms->stack));
    }
    struct frame *f = &ms->stack[ms->nstack++];
    f->blen = ms->boundary.len;
    f->boundary = xmemdup(ms->boundary.s, f->blen);
    f->digest = ms->ct_digest;
    f->depth = ms->depth + 1;
    f->enc = ms->enc;
}

static void pop_frames(mime_state *ms, size_t keep)
{
    while (ms->nstack > keep)
        xfree(ms->stack[--ms->nstack].boundary);
}

/*
 * The current header block ended. Decide what follows: a multipart
 * preamble, a nested header block, or a body segment. Errors name the
 * block's Content-Type header.
 */
static void block_end(mime_state *ms)
{
    header_flush(ms);
    const char *line = ms->ct_text.s ? ms->ct_text.s : "";
    size_t len = ms->ct_text.len;
    if (ms->hdr_class == MIME_HDR_PRIMARY && !ms->primary_done) {
        ms->primary_done = true;
        if (ms->cb.header_end)
            ms->cb.header_end(ms->ctx);
    }
    if (ms->options & MIME_OPT_DISABLE_MIME) {
        segment_start(ms, ENC_ENCODED);     /* no 8-bit body checks without MIME */
        return;
    }
    enum ctype ct = ms->ctype != CT_NONE ? ms->ctype : ms->default_ctype;
    if ((ct == CT_MULTIPART || ct == CT_RFC822 || ct == CT_MESSAGE_OTHER)
        && !IDENTITY(ms->enc)) {
        /* RFC 2045 6.4: composite types take no encoding; do not parse inside. */
        report(ms, MIME_ERR_ENCODING_DOMAIN, line, len);
        segment_start(ms, ms->enc);
        return;
    }
    if (ct == CT_MULTIPART && ms->boundary.len) {
        if (ms->depth + 1 > ms->lim.nesting) {
            report(ms, MIME_ERR_NESTING, line, len);
            segment_start(ms, ms->enc);
            return;
        }
        push_frame(ms);
        ms->depth++;
        segment_start(ms, ms->enc);         /* the preamble */
        return;
    }
    if (ct == CT_RFC822) {
        if (ms->depth + 1 > ms->lim.nesting) {
            report(ms, MIME_ERR_NESTING, line, len);
            segment_start(ms, ms->enc);
            return;
        }
        ms->depth++;
        block_reset(ms, MIME_HDR_NESTED, CT_OTHER);
        return;
    }
    segment_start(ms, ms->enc);
}

/* Index of the innermost frame whose boundary starts this line, or -1. */
static long match_boundary(const mime_state *ms, const char *text, size_t len, bool *close)
{
    if (len < 2 || text[0] != '-' || text[1] != '-')
        return -1;
    for (size_t i = ms->nstack; i-- > 0;) {
        const struct frame *f = &ms->stack[i];
        if (len - 2 >= f->blen && memcmp(text + 2, f->boundary, f->blen) == 0) {
            size_t rest = 2 + f->blen;
            *close = len - rest >= 2 && text[rest] == '-' && text[rest + 1] == '-';
            return (long) i;
        }
    }
    return -1;
}

static void boundary_line(mime_state *ms, size_t idx, bool close, const char *text, size_t len)
{
    if (ms->in_header)
        header_flush(ms);           /* a part without the empty line after its headers */
    pop_frames(ms, idx + 1);
    struct frame *f = &ms->stack[idx];
    ms->depth = f->depth;
    bool digest = f->digest;
    enum enc enc = f->enc;
    segment_start(ms, enc);
    body_out(ms, text, len);
    if (close) {
        pop_frames(ms, idx);        /* the epilogue continues this segment */
        ms->depth--;
        return;
    }
    block_reset(ms, MIME_HDR_MULTIPART, digest ? CT_RFC822 : CT_OTHER);
}

static bool is_empty_line(const char *text, size_t len)
{
    return (len == 1 && text[0] == '\n') || (len == 2 && text[0] == '\r' && text[1] == '\n');
}

/* A piece that starts a new line. */
static void line_start(mime_state *ms, const char *text, size_t len)
{
    bool complete = len && text[len - 1] == '\n';
    for (int round = 0; round < MAX_REPROCESS; round++) {
        bool close = false;
        long idx = ms->nstack ? match_boundary(ms, text, len, &close) : -1;
        if (idx >= 0) {
            boundary_line(ms, (size_t) idx, close, text, len);
            ms->dest = DEST_BODY;
            return;
        }
        if (!ms->in_header) {
            body_out(ms, text, len);
            ms->dest = DEST_BODY;
            return;
        }
        if (complete && is_empty_line(text, len)) {
            int cls = ms->hdr_class;
            block_end(ms);
            if (cls != MIME_HDR_PRIMARY) {
                /* The empty line is content: keep it. The part's own
                 * body segment starts after it. */
                body_out(ms, text, len);
                if (!ms->in_header)
                    ms->seg_offset = 0;
            }
            ms->dest = DEST_NONE;
            return;
        }
        if ((text[0] == ' ' || text[0] == '\t') && ms->hdr.len) {
            header_add(ms, text, len);
            ms->dest = DEST_HEADER;
            return;
        }
        if (header_name(text, len)) {
            header_flush(ms);
            header_add(ms, text, len);
            ms->dest = DEST_HEADER;
            return;
        }
        /* Neither header nor continuation: the block ends, the line
         * belongs to whatever follows it. */
        block_end(ms);
    }
    /* Not reached with sane limits; stay safe anyway. */
    segment_start(ms, ENC_ENCODED);
    body_out(ms, text, len);
    ms->dest = DEST_BODY;
}

int mime_state_update(mime_state *ms, const char *text, size_t len)
{
    if (ms->ended || len == 0)
        return ms->errs;
    if (ms->at_line_start) {
        line_start(ms, text, len);
    } else {
        switch (ms->dest) {
        case DEST_HEADER:
            header_add(ms, text, len);
            break;
        case DEST_BODY:
            body_out(ms, text, len);
            break;
        case DEST_NONE:
            break;
        }
    }
    ms->at_line_start = text[len - 1] == '\n';
    return ms->errs;
}

int mime_state_end(mime_state *ms)
{
    if (ms->ended)
        return ms->errs;
    if (ms->in_header) {
        header_flush(ms);
        if (!ms->primary_done) {
            ms->primary_done = true;
            if (ms->cb.header_end)
                ms->cb.header_end(ms->ctx);
        }
    }
    ms->ended = true;
    return ms->errs;
}

mime_state *mime_state_create(int options, const struct mime_limits *limits,
                              const struct mime_callbacks *cb, void *ctx)
{
    mime_state *ms = xcalloc(1, sizeof(*ms));
    ms->options = options;
    ms->lim = *limits;
    if (ms->lim.header_size < 2)
        ms->lim.header_size = 2;
    if (ms->lim.nesting < 1)
        ms->lim.nesting = 1;
    if (ms->lim.boundary_len < 1)
        ms->lim.boundary_len = 1;
    ms->cb = *cb;
    ms->ctx = ctx;
    ms->at_line_start = true;
    sbuf_init(&ms->hdr);
    sbuf_init(&ms->ct_text);
    sbuf_init(&ms->boundary);
    block_reset(ms, MIME_HDR_PRIMARY, CT_OTHER);
    return ms;
}

void mime_state_free(mime_state *ms)
{
    if (!ms)
        return;
    pop_frames(ms, 0);
    xfree(ms->stack);
    sbuf_free(&ms->hdr);
    sbuf_free(&ms->ct_text);
    sbuf_free(&ms->boundary);
    xfree(ms);
}

int mime_state_depth(const mime_state *ms)
{
    return ms->depth;
}
