/*
 * sbuf.h - growable byte strings with bounded operations.
 *
 * An sbuf holds arbitrary bytes (NULs allowed) and is always kept
 * NUL-terminated after its last byte, so sbuf_str() can be handed to C
 * string functions when the content is text. Growth is checked for
 * overflow; allocation failure is fatal (mem.h). An sbuf does not limit
 * its own size: callers that read outside input enforce their limits
 * before appending.
 */
#ifndef HK_UTIL_SBUF_H
#define HK_UTIL_SBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sbuf {
    char   *s;          /* data, NUL-terminated when cap > 0 */
    size_t  len;        /* bytes in use, excluding the terminator */
    size_t  cap;        /* bytes allocated */
} sbuf;

#define SBUF_INIT { 0, 0, 0 }

void sbuf_init(sbuf *b);
void sbuf_free(sbuf *b);
void sbuf_reset(sbuf *b);                           /* len = 0, keeps memory */
void sbuf_reserve(sbuf *b, size_t extra);           /* room for extra more bytes */
void sbuf_add(sbuf *b, const void *p, size_t n);
void sbuf_adds(sbuf *b, const char *s);
void sbuf_addc(sbuf *b, int c);
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vprintf(sbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void sbuf_set(sbuf *b, const char *s);              /* reset + adds */
void sbuf_truncate(sbuf *b, size_t len);            /* shrink to len (no-op if longer) */
const char *sbuf_str(const sbuf *b);                /* "" when empty */
char *sbuf_steal(sbuf *b);                          /* caller owns; b becomes empty */
void sbuf_lower(sbuf *b);                           /* ASCII fold to lower case */

#endif
