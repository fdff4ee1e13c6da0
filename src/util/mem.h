/*
 * mem.h - allocation that never returns NULL.
 *
 * Every allocator here either succeeds or ends the process through
 * msg_fatal ("out of memory"); callers never test for NULL. Sizes are
 * checked for multiplication overflow. Nothing here frees for you.
 */
#ifndef HK_UTIL_MEM_H
#define HK_UTIL_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t n);
void *xreallocarray(void *ptr, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
void xfree(void *ptr);

#endif
