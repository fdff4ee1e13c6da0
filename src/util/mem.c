/*
 * mem.c - allocation that never returns NULL (see mem.h).
 */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "util/mem.h"
#include "util/msg.h"

static void *oom(size_t n)
{
    msg_fatal("out of memory allocating %zu bytes", n);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    return p ? p : oom(n);
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    return p ? p : oom(count * size);
}

void *xrealloc(void *ptr, size_t n)
{
    void *p = realloc(ptr, n ? n : 1);
    return p ? p : oom(n);
}

void *xreallocarray(void *ptr, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        msg_panic("xreallocarray: %zu * %zu overflows", count, size);
    return xrealloc(ptr, count * size);
}

char *xstrdup(const char *s)
{
    return xmemdup(s, strlen(s) + 1);
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = 0;
    return p;
}

void *xmemdup(const void *src, size_t n)
{
    void *p = xmalloc(n);
    if (n)
        memcpy(p, src, n);
    return p;
}

void xfree(void *ptr)
{
    free(ptr);
}
