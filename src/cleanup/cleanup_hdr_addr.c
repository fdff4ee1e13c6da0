/*
 * cleanup_hdr_addr.c - addresses inside header values (see cleanup_hdr_addr.h).
 * RFC 5322 3.4 (address, mailbox, group, angle-addr), 3.2.2 (comments),
 * 4.4 (obs-route).
 */
#include <stdbool.h>
#include <string.h>

#include "cleanup/cleanup_hdr_addr.h"

/* v[i] == '(': index just past the matching ')' (or len). */
static size_t skip_comment(const char *v, size_t len, size_t i)
{
    int depth = 0;
    for (; i < len; i++) {
        if (v[i] == '\\') {
            i++;
        } else if (v[i] == '(') {
            depth++;
        } else if (v[i] == ')') {
            if (--depth == 0)
                return i + 1;
        }
    }
    return len;
}

/* v[i] == '"': index just past the closing quote (or len). */
static size_t skip_quoted(const char *v, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (v[i] == '\\')
            i++;
        else if (v[i] == '"')
            return i + 1;
    }
    return len;
}

/* v[i] == '<': index of the matching '>' (or len). */
static size_t skip_angle(const char *v, size_t len, size_t i)
{
    for (i++; i < len;) {
        if (v[i] == '"')
            i = skip_quoted(v, len, i);
        else if (v[i] == '(')
            i = skip_comment(v, len, i);
        else if (v[i] == '>')
            return i;
        else
            i++;
    }
    return len;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The address text of v[s..e): comments and unquoted white space dropped,
 * folding undone (RFC 5322 2.2.3: CR and LF go, also inside quotes). */
static void clean(const char *v, size_t s, size_t e, sbuf *out)
{
    sbuf_reset(out);
    for (size_t i = s; i < e;) {
        if (v[i] == '(') {
            i = skip_comment(v, e, i);
        } else if (v[i] == '"') {
            size_t j = skip_quoted(v, e, i);
            for (; i < j; i++)
                if (v[i] != '\r' && v[i] != '\n')
                    sbuf_addc(out, v[i]);
        } else if (v[i] == '\\' && i + 1 < e) {
            sbuf_add(out, v + i, 2);
            i += 2;
        } else if (is_space(v[i])) {
            i++;
        } else {
            sbuf_addc(out, v[i]);
            i++;
        }
    }
}

struct scan {
    const char *v;
    size_t  len, max, count, copied;
    hdr_addr_fn fn;
    void   *ctx;
    sbuf   *out;
    sbuf    text, repl;
    /* the current mailbox */
    bool    have_tok, angle;
    size_t  first, last_end, a_start, a_end;
};

static void reset_seg(struct scan *sc)
{
    sc->have_tok = sc->angle = false;
}

static void emit(struct scan *sc)
{
    size_t s, e;
    if (sc->angle) {
        s = sc->a_start;
        e = sc->a_end;
        if (s < e && sc->v[s] == '@') {
            /* obs-route "@a,@b:" before the address */
            for (size_t i = s; i < e; i++) {
                if (sc->v[i] == '"')
                    break;
                if (sc->v[i] == ':') {
                    s = i + 1;
                    break;
                }
            }
        }
    } else if (sc->have_tok) {
        s = sc->first;
        e = sc->last_end;
    } else {
        return;
    }
    reset_seg(sc);
    clean(sc->v, s, e, &sc->text);
    if (sc->text.len == 0 || sc->count >= sc->max)
        return;
    sc->count++;
    sbuf_reset(&sc->repl);
    if (sc->fn(sc->ctx, sbuf_str(&sc->text), &sc->repl) == 1 && sc->out) {
        sbuf_add(sc->out, sc->v + sc->copied, s - sc->copied);
        sbuf_add(sc->out, sc->repl.s ? sc->repl.s : "", sc->repl.len);
        sc->copied = e;
    }
}

static void token(struct scan *sc, size_t s, size_t e)
{
    if (!sc->have_tok) {
        sc->have_tok = true;
        sc->first = s;
    }
    sc->last_end = e;
}

size_t hdr_addr_scan(const char *value, size_t len, size_t max, hdr_addr_fn fn, void *ctx,
                     sbuf *out)
{
    struct scan sc;
    memset(&sc, 0, sizeof(sc));
    sc.v = value;
    sc.len = len;
    sc.max = max;
    sc.fn = fn;
    sc.ctx = ctx;
    sc.out = out;
    if (out)
        sbuf_reset(out);
    size_t i = 0;
    while (i < len) {
        char c = value[i];
        if (c == '(') {
            i = skip_comment(value, len, i);
        } else if (c == '"') {
            size_t j = skip_quoted(value, len, i);
            if (!sc.angle)
                token(&sc, i, j);
            i = j;
        } else if (c == '\\') {
            size_t j = i + 2 <= len ? i + 2 : len;
            if (!sc.angle)
                token(&sc, i, j);
            i = j;
        } else if (c == '<') {
            size_t j = skip_angle(value, len, i);
            if (!sc.angle) {
                sc.angle = true;
                sc.a_start = i + 1;
                sc.a_end = j;
            }
            i = j < len ? j + 1 : len;
        } else if (c == ':' && !sc.angle) {
            reset_seg(&sc);         /* "group name:" - the name is no address */
            i++;
        } else if (c == ',' || c == ';') {
            emit(&sc);
            i++;
        } else if (is_space(c)) {
            i++;
        } else {
            if (!sc.angle)
                token(&sc, i, i + 1);
            i++;
        }
    }
    emit(&sc);
    if (out)
        sbuf_add(out, value + sc.copied, len - sc.copied);
    sbuf_free(&sc.text);
    sbuf_free(&sc.repl);
    return sc.count;
}
