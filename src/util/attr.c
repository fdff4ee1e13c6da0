/*
 * attr.c - the attribute codec (see attr.h; wire format in docs/ipc.md).
 *
 * Encoding: attribute = type byte, varint name length, name, varint value
 * length, value; a message ends with a zero byte. Varints are unsigned
 * LEB128 in canonical (shortest) form, at most 5 bytes. The decoder reads
 * through a small reader that works on a vstream or on a memory buffer,
 * and checks each length against the remaining budget (message limit, or
 * the enclosing nested list) before it allocates or reads anything.
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "util/attr.h"
#include "util/mem.h"
#include "util/msg.h"

/* Type bytes on the wire. */
#define WIRE_END  0x00
#define WIRE_INT  'I'
#define WIRE_LONG 'L'
#define WIRE_STR  'S'
#define WIRE_LIST 'N'

#define VARINT_MAX_BYTES 5
#define VALUE_LEN_MAX UINT32_MAX

/* ---- lists ---- */

void attr_list_init(attr_list *l)
{
    l->a = 0;
    l->n = l->cap = 0;
}

static void attr_free_value(attr *a)
{
    xfree(a->name);
    if (a->type == ATTR_STR) {
        xfree(a->v.str.data);
    } else if (a->type == ATTR_LIST) {
        attr_list_free(a->v.list);
        xfree(a->v.list);
    }
}

void attr_list_reset(attr_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        attr_free_value(&l->a[i]);
    l->n = 0;
}

void attr_list_free(attr_list *l)
{
    attr_list_reset(l);
    xfree(l->a);
    attr_list_init(l);
}

static int name_ok(const char *name, size_t len)
{
    if (len == 0 || len > ATTR_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) name[i];
        if (c <= 0x20 || c >= 0x7f)
            return 0;
    }
    return 1;
}

static void check_name(const char *name)
{
    if (!name || !name_ok(name, strlen(name)))
        msg_panic("attr: invalid attribute name \"%.300s\"", name ? name : "(null)");
}

static attr *attr_push(attr_list *l, enum attr_type type, char *name)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->a = xreallocarray(l->a, l->cap, sizeof(*l->a));
    }
    attr *a = &l->a[l->n++];
    memset(a, 0, sizeof(*a));
    a->type = type;
    a->name = name;
    return a;
}

void attr_add_int(attr_list *l, const char *name, int32_t v)
{
    check_name(name);
    attr_push(l, ATTR_INT, xstrdup(name))->v.i = v;
}

void attr_add_long(attr_list *l, const char *name, int64_t v)
{
    check_name(name);
    attr_push(l, ATTR_LONG, xstrdup(name))->v.l = v;
}

void attr_add_data(attr_list *l, const char *name, const void *p, size_t len)
{
    check_name(name);
    if (len > VALUE_LEN_MAX)
        msg_panic("attr_add_data: value of \"%s\" too long (%zu bytes)", name, len);
    attr *a = attr_push(l, ATTR_STR, xstrdup(name));
    a->v.str.data = xmalloc(len + 1);
    if (len)
        memcpy(a->v.str.data, p, len);
    a->v.str.data[len] = 0;
    a->v.str.len = len;
}

void attr_add_str(attr_list *l, const char *name, const char *s)
{
    attr_add_data(l, name, s, strlen(s));
}

attr_list *attr_add_list(attr_list *l, const char *name)
{
    check_name(name);
    attr_list *sub = xmalloc(sizeof(*sub));
    attr_list_init(sub);
    attr_push(l, ATTR_LIST, xstrdup(name))->v.list = sub;
    return sub;
}

/* ---- getters ---- */

long attr_find(const attr_list *l, const char *name, size_t from)
{
    for (size_t i = from; i < l->n; i++)
        if (strcmp(l->a[i].name, name) == 0)
            return (long) i;
    return -1;
}

static const attr *find_typed(const attr_list *l, const char *name, enum attr_type type)
{
    long i = attr_find(l, name, 0);
    if (i < 0 || l->a[i].type != type)
        return 0;
    return &l->a[i];
}

int attr_get_int(const attr_list *l, const char *name, int32_t *v)
{
    const attr *a = find_typed(l, name, ATTR_INT);
    if (!a)
        return -1;
    *v = a->v.i;
    return 0;
}

int attr_get_long(const attr_list *l, const char *name, int64_t *v)
{
    const attr *a = find_typed(l, name, ATTR_LONG);
    if (!a)
        return -1;
    *v = a->v.l;
    return 0;
}

int attr_get_data(const attr_list *l, const char *name, const char **p, size_t *len)
{
    const attr *a = find_typed(l, name, ATTR_STR);
    if (!a)
        return -1;
    *p = a->v.str.data;
    *len = a->v.str.len;
    return 0;
}

int attr_get_str(const attr_list *l, const char *name, const char **s)
{
    const attr *a = find_typed(l, name, ATTR_STR);
    if (!a || memchr(a->v.str.data, 0, a->v.str.len))
        return -1;
    *s = a->v.str.data;
    return 0;
}

const attr_list *attr_get_list(const attr_list *l, const char *name)
{
    const attr *a = find_typed(l, name, ATTR_LIST);
    return a ? a->v.list : 0;
}

static const char *type_name(enum attr_type t)
{
    switch (t) {
    case ATTR_INT: return "int";
    case ATTR_LONG: return "long";
    case ATTR_STR: case ATTR_DATA: return "string";
    case ATTR_LIST: return "list";
    default: return "end";
    }
}

/* Why attr_get_* failed, for attr_scan. */
static void explain(const attr_list *l, const char *name, enum attr_type want, sbuf *why)
{
    if (!why)
        return;
    long i = attr_find(l, name, 0);
    if (i < 0)
        sbuf_printf(why, "missing attribute \"%s\"", name);
    else if (l->a[i].type != (want == ATTR_DATA ? ATTR_STR : want))
        sbuf_printf(why, "attribute \"%s\" has type %s, expected %s", name,
                    type_name(l->a[i].type), type_name(want));
    else
        sbuf_printf(why, "attribute \"%s\" contains a NUL byte", name);
}

int attr_scan(const attr_list *l, sbuf *why, ...)
{
    va_list ap;
    int ret = 0;
    int type;
    va_start(ap, why);
    while (ret == 0 && (type = va_arg(ap, int)) != ATTR_END) {
        const char *name = va_arg(ap, const char *);
        int r;
        switch (type) {
        case ATTR_INT:
            r = attr_get_int(l, name, va_arg(ap, int32_t *));
            break;
        case ATTR_LONG:
            r = attr_get_long(l, name, va_arg(ap, int64_t *));
            break;
        case ATTR_STR:
            r = attr_get_str(l, name, va_arg(ap, const char **));
            break;
        case ATTR_DATA: {
            const char **p = va_arg(ap, const char **);
            size_t *len = va_arg(ap, size_t *);
            r = attr_get_data(l, name, p, len);
            break;
        }
        case ATTR_LIST: {
            const attr_list **p = va_arg(ap, const attr_list **);
            *p = attr_get_list(l, name);
            r = *p ? 0 : -1;
            break;
        }
        default:
            msg_panic("attr_scan: bad item type %d", type);
        }
        if (r < 0) {
            if (why)
                sbuf_reset(why);
            explain(l, name, (enum attr_type) type, why);
            ret = -1;
        }
    }
    va_end(ap);
    return ret;
}

/* ---- encoding ---- */

static void put_varint(sbuf *out, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = v & 0x7f;
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    sbuf_add(out, b, n);
}

static void put_head(sbuf *out, int wire, const char *name, size_t vlen)
{
    size_t nlen = strlen(name);
    sbuf_addc(out, wire);
    put_varint(out, nlen);
    sbuf_add(out, name, nlen);
    if (vlen > VALUE_LEN_MAX)
        msg_panic("attr: value of \"%s\" too long (%zu bytes)", name, vlen);
    put_varint(out, vlen);
}

static void put_int(sbuf *out, const char *name, int32_t v)
{
    uint32_t u = (uint32_t) v;
    unsigned char b[4] = { u >> 24, u >> 16, u >> 8, u };
    put_head(out, WIRE_INT, name, 4);
    sbuf_add(out, b, 4);
}

static void put_long(sbuf *out, const char *name, int64_t v)
{
    uint64_t u = (uint64_t) v;
    unsigned char b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = u & 0xff;
        u >>= 8;
    }
    put_head(out, WIRE_LONG, name, 8);
    sbuf_add(out, b, 8);
}

static void put_data(sbuf *out, const char *name, const void *p, size_t len)
{
    put_head(out, WIRE_STR, name, len);
    sbuf_add(out, p, len);
}

static void put_list(sbuf *out, const char *name, const attr_list *l)
{
    sbuf sub = SBUF_INIT;
    attr_encode(&sub, l);
    put_head(out, WIRE_LIST, name, sub.len);
    sbuf_add(out, sub.s, sub.len);
    sbuf_free(&sub);
}

void attr_encode(sbuf *out, const attr_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const attr *a = &l->a[i];
        switch (a->type) {
        case ATTR_INT:
            put_int(out, a->name, a->v.i);
            break;
        case ATTR_LONG:
            put_long(out, a->name, a->v.l);
            break;
        case ATTR_STR:
            put_data(out, a->name, a->v.str.data, a->v.str.len);
            break;
        case ATTR_LIST:
            put_list(out, a->name, a->v.list);
            break;
        default:
            msg_panic("attr_encode: bad attribute type %d", (int) a->type);
        }
    }
    sbuf_addc(out, WIRE_END);
}

static int send_encoded(vstream *s, const sbuf *msg)
{
    if (vstream_write(s, msg->s, msg->len) < 0)
        return -1;
    return vstream_flush(s);
}

int attr_write(vstream *s, const attr_list *l)
{
    sbuf msg = SBUF_INIT;
    attr_encode(&msg, l);
    int ret = send_encoded(s, &msg);
    sbuf_free(&msg);
    return ret;
}

int attr_print(vstream *s, ...)
{
    sbuf msg = SBUF_INIT;
    va_list ap;
    int type;
    va_start(ap, s);
    while ((type = va_arg(ap, int)) != ATTR_END) {
        const char *name = va_arg(ap, const char *);
        check_name(name);
        switch (type) {
        case ATTR_INT:
            put_int(&msg, name, (int32_t) va_arg(ap, int));
            break;
        case ATTR_LONG:
            put_long(&msg, name, va_arg(ap, int64_t));
            break;
        case ATTR_STR: {
            const char *str = va_arg(ap, const char *);
            put_data(&msg, name, str, strlen(str));
            break;
        }
        case ATTR_DATA: {
            const void *p = va_arg(ap, const void *);
            size_t len = va_arg(ap, size_t);
            put_data(&msg, name, p, len);
            break;
        }
        case ATTR_LIST:
            put_list(&msg, name, va_arg(ap, const attr_list *));
            break;
        default:
            msg_panic("attr_print: bad item type %d", type);
        }
    }
    va_end(ap);
    sbuf_addc(&msg, WIRE_END);
    int ret = send_encoded(s, &msg);
    sbuf_free(&msg);
    return ret;
}

/* ---- decoding ---- */

struct reader {
    vstream *s;                 /* stream, or NULL for the memory buffer */
    const unsigned char *p;     /* memory buffer */
    size_t  left;               /* bytes left in the memory buffer */
    size_t  used;               /* bytes of this message consumed so far */
    size_t  max;                /* message size limit */
    size_t  limit;              /* end of the innermost enclosing list (<= max) */
    size_t  count;              /* attributes so far */
    sbuf   *why;
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct reader *r, const char *fmt, ...)
{
    if (r->why) {
        va_list ap;
        sbuf_reset(r->why);
        va_start(ap, fmt);
        sbuf_vprintf(r->why, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int fail_budget(struct reader *r, size_t want)
{
    if (r->limit < r->max)
        return fail(r, "nested list overruns its length");
    return fail(r, "message too large (%zu+%zu bytes, limit %zu)", r->used, want, r->max);
}

static int fail_stream(struct reader *r)
{
    if (vstream_timed_out(r->s))
        return fail(r, "timeout after %zu bytes of a message", r->used);
    if (vstream_error(r->s))
        return fail(r, "read error after %zu bytes of a message: %s", r->used,
                    strerror(vstream_errno(r->s)));
    return fail(r, "unexpected end of stream after %zu bytes of a message", r->used);
}

/* Read n bytes (within budget) into buf. */
static int rd_bytes(struct reader *r, void *buf, size_t n)
{
    if (n > r->limit - r->used)
        return fail_budget(r, n);
    if (r->s) {
        if (vstream_read_exact(r->s, buf, n) < 0)
            return fail_stream(r);
    } else {
        if (n > r->left)
            return fail(r, "truncated message after %zu bytes", r->used + r->left);
        memcpy(buf, r->p, n);
        r->p += n;
        r->left -= n;
    }
    r->used += n;
    return 0;
}

static int rd_varint(struct reader *r, uint32_t *out, const char *what)
{
    uint64_t v = 0;
    for (int i = 0; i < VARINT_MAX_BYTES; i++) {
        unsigned char c;
        if (rd_bytes(r, &c, 1) < 0)
            return -1;
        v |= (uint64_t) (c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            if (i > 0 && c == 0)
                return fail(r, "non-canonical %s length", what);
            if (v > VALUE_LEN_MAX)
                return fail(r, "%s length out of range", what);
            *out = (uint32_t) v;
            return 0;
        }
    }
    return fail(r, "%s length too long", what);
}

static int read_list(struct reader *r, attr_list *l, int depth);

static int read_attr(struct reader *r, attr_list *l, int wire, int depth)
{
    uint32_t nlen, vlen;
    char name[ATTR_NAME_MAX + 1];

    if (wire != WIRE_INT && wire != WIRE_LONG && wire != WIRE_STR && wire != WIRE_LIST)
        return fail(r, "unknown attribute type 0x%02x", (unsigned) wire);
    if (++r->count > ATTR_MAX_COUNT)
        return fail(r, "too many attributes (limit %d)", ATTR_MAX_COUNT);
    if (rd_varint(r, &nlen, "name") < 0)
        return -1;
    if (nlen == 0 || nlen > ATTR_NAME_MAX)
        return fail(r, "bad attribute name length %u", (unsigned) nlen);
    if (rd_bytes(r, name, nlen) < 0)
        return -1;
    name[nlen] = 0;
    if (!name_ok(name, nlen))
        return fail(r, "bad attribute name (non-printable byte)");
    if (rd_varint(r, &vlen, "value") < 0)
        return -1;

    switch (wire) {
    case WIRE_INT: {
        unsigned char b[4];
        if (vlen != 4)
            return fail(r, "int attribute \"%s\" has length %u", name, (unsigned) vlen);
        if (rd_bytes(r, b, 4) < 0)
            return -1;
        uint32_t u = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
        attr_push(l, ATTR_INT, xstrdup(name))->v.i = (int32_t) u;
        return 0;
    }
    case WIRE_LONG: {
        unsigned char b[8];
        uint64_t u = 0;
        if (vlen != 8)
            return fail(r, "long attribute \"%s\" has length %u", name, (unsigned) vlen);
        if (rd_bytes(r, b, 8) < 0)
            return -1;
        for (int i = 0; i < 8; i++)
            u = u << 8 | b[i];
        attr_push(l, ATTR_LONG, xstrdup(name))->v.l = (int64_t) u;
        return 0;
    }
    case WIRE_STR: {
        if (vlen > r->limit - r->used)       /* before allocating */
            return fail_budget(r, vlen);
        attr *a = attr_push(l, ATTR_STR, xstrdup(name));
        a->v.str.data = xmalloc((size_t) vlen + 1);
        a->v.str.data[0] = 0;               /* valid if the read fails */
        if (rd_bytes(r, a->v.str.data, vlen) < 0)
            return -1;
        a->v.str.data[vlen] = 0;
        a->v.str.len = vlen;
        return 0;
    }
    case WIRE_LIST: {
        if (depth >= ATTR_MAX_DEPTH)
            return fail(r, "lists nested too deeply (limit %d)", ATTR_MAX_DEPTH);
        if (vlen > r->limit - r->used)
            return fail_budget(r, vlen);
        size_t outer = r->limit;
        size_t end = r->used + vlen;
        attr_list *sub = attr_add_list(l, name);
        r->limit = end;
        if (read_list(r, sub, depth + 1) < 0)
            return -1;
        r->limit = outer;
        if (r->used != end)
            return fail(r, "nested list \"%s\" shorter than its length", name);
        return 0;
    }
    default:
        msg_panic("attr: read_attr: type 0x%02x", (unsigned) wire);
    }
}

static int read_list(struct reader *r, attr_list *l, int depth)
{
    for (;;) {
        unsigned char t;
        if (rd_bytes(r, &t, 1) < 0)
            return -1;
        if (t == WIRE_END)
            return 0;
        if (read_attr(r, l, t, depth) < 0)
            return -1;
    }
}

int attr_read(vstream *s, attr_list *out, size_t max_size, sbuf *why)
{
    struct reader r = { .s = s, .max = max_size ? max_size : ATTR_MAX_SIZE_DEFAULT, .why = why };
    r.limit = r.max;
    attr_list_reset(out);
    /* The first byte decides between a clean end of session and a message. */
    int c = vstream_getc(s);
    if (c < 0) {
        if (vstream_eof(s) && !vstream_error(s)) {
            fail(&r, "connection closed");
            return ATTR_CLOSED;
        }
        fail_stream(&r);
        return ATTR_ERROR;
    }
    r.used = 1;
    if (c != WIRE_END && read_attr(&r, out, c, 0) < 0)
        goto bad;
    if (c != WIRE_END && read_list(&r, out, 0) < 0)
        goto bad;
    return ATTR_OK;
bad:
    attr_list_reset(out);
    return ATTR_ERROR;
}

int attr_decode(const void *buf, size_t len, attr_list *out, size_t max_size, sbuf *why)
{
    struct reader r = { .p = buf, .left = len, .max = max_size ? max_size : ATTR_MAX_SIZE_DEFAULT,
                        .why = why };
    r.limit = r.max;
    attr_list_reset(out);
    if (read_list(&r, out, 0) < 0)
        goto bad;
    if (r.left > 0) {
        fail(&r, "%zu bytes after the end of the message", r.left);
        goto bad;
    }
    return ATTR_OK;
bad:
    attr_list_reset(out);
    return ATTR_ERROR;
}

/* ---- formatting ---- */

#define FORMAT_STR_MAX 256

static void format_str(sbuf *out, const char *p, size_t len)
{
    sbuf_addc(out, '"');
    for (size_t i = 0; i < len && i < FORMAT_STR_MAX; i++) {
        unsigned char c = (unsigned char) p[i];
        if (c == '"' || c == '\\')
            sbuf_printf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            sbuf_printf(out, "\\x%02x", c);
        else
            sbuf_addc(out, c);
    }
    sbuf_addc(out, '"');
    if (len > FORMAT_STR_MAX)
        sbuf_printf(out, "...(%zu bytes)", len);
}

void attr_format(sbuf *out, const attr_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const attr *a = &l->a[i];
        if (i)
            sbuf_adds(out, ", ");
        sbuf_printf(out, "%s=", a->name);
        switch (a->type) {
        case ATTR_INT:
            sbuf_printf(out, "%d", (int) a->v.i);
            break;
        case ATTR_LONG:
            sbuf_printf(out, "%lld", (long long) a->v.l);
            break;
        case ATTR_STR:
            format_str(out, a->v.str.data, a->v.str.len);
            break;
        case ATTR_LIST:
            sbuf_addc(out, '{');
            attr_format(out, a->v.list);
            sbuf_addc(out, '}');
            break;
        default:
            break;
        }
    }
}
