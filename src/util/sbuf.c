/*
 * sbuf.c - growable byte strings (see sbuf.h).
 */
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <ctype.h>

#include "util/sbuf.h"
#include "util/mem.h"
#include "util/msg.h"

void sbuf_init(sbuf *b)
{
    b->s = 0;
    b->len = b->cap = 0;
}

void sbuf_free(sbuf *b)
{
    xfree(b->s);
    sbuf_init(b);
}

void sbuf_reset(sbuf *b)
{
    b->len = 0;
    if (b->cap)
        b->s[0] = 0;
}

void sbuf_reserve(sbuf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        msg_panic("sbuf_reserve: length overflow");
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    b->s = xrealloc(b->s, ncap);
    b->cap = ncap;
    b->s[b->len] = 0;
}

void sbuf_add(sbuf *b, const void *p, size_t n)
{
    sbuf_reserve(b, n);
    if (n)
        memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}

void sbuf_adds(sbuf *b, const char *s)
{
    sbuf_add(b, s, strlen(s));
}

void sbuf_addc(sbuf *b, int c)
{
    sbuf_reserve(b, 1);
    b->s[b->len++] = (char) c;
    b->s[b->len] = 0;
}

void sbuf_vprintf(sbuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        msg_panic("sbuf_vprintf: bad format \"%s\"", fmt);
    if ((size_t) n < sizeof(tmp)) {
        sbuf_add(b, tmp, (size_t) n);
        return;
    }
    sbuf_reserve(b, (size_t) n);
    vsnprintf(b->s + b->len, (size_t) n + 1, fmt, ap);
    b->len += (size_t) n;
}

void sbuf_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void sbuf_set(sbuf *b, const char *s)
{
    sbuf_reset(b);
    sbuf_adds(b, s);
}

void sbuf_truncate(sbuf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->s[len] = 0;
    }
}

const char *sbuf_str(const sbuf *b)
{
    return b->cap ? b->s : "";
}

char *sbuf_steal(sbuf *b)
{
    char *p = b->cap ? b->s : xstrdup("");
    sbuf_init(b);
    return p;
}

void sbuf_lower(sbuf *b)
{
    for (size_t i = 0; i < b->len; i++)
        b->s[i] = (char) tolower((unsigned char) b->s[i]);
}
