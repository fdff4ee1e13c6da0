/*
 * local_dup.c - duplicate filter for one request recipient's expansion.
 *
 * Remembers keys such as "mailbox alice" or "command alice:1000 /bin/x"
 * so that an alias tree reaching the same destination twice delivers
 * once (local(8)). At most duplicate_filter_limit keys are remembered
 * (0 = no limit); past that, new keys are not remembered, so a huge
 * expansion costs bounded memory and at worst delivers a duplicate.
 * A small open hash table of owned strings.
 *
 * NOT HERE: what the keys mean; nothing survives the request recipient.
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "local/local.h"
#include "util/mem.h"

struct local_dup {
    char  **slot;
    size_t  cap;                /* power of two */
    size_t  used;
    long    limit;
};

struct local_dup *local_dup_create(long limit)
{
    struct local_dup *d = xcalloc(1, sizeof(*d));
    d->cap = 64;
    d->slot = xcalloc(d->cap, sizeof(*d->slot));
    d->limit = limit;
    return d;
}

void local_dup_free(struct local_dup *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->cap; i++)
        xfree(d->slot[i]);
    xfree(d->slot);
    xfree(d);
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;        /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    return h;
}

static char **find(struct local_dup *d, const char *key)
{
    size_t i = (size_t) hash(key) & (d->cap - 1);
    while (d->slot[i] && strcmp(d->slot[i], key) != 0)
        i = (i + 1) & (d->cap - 1);
    return &d->slot[i];
}

static void grow(struct local_dup *d)
{
    char **old = d->slot;
    size_t oldcap = d->cap;
    d->cap *= 2;
    d->slot = xcalloc(d->cap, sizeof(*d->slot));
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            *find(d, old[i]) = old[i];
    xfree(old);
}

__attribute__((format(printf, 3, 0)))
static bool lookup(struct local_dup *d, bool remember, const char *fmt, va_list ap)
{
    sbuf key = SBUF_INIT;
    sbuf_vprintf(&key, fmt, ap);
    char **s = find(d, sbuf_str(&key));
    bool seen = *s != 0;
    if (!seen && remember && (d->limit <= 0 || (long) d->used < d->limit)) {
        *s = sbuf_steal(&key);
        if (++d->used * 2 > d->cap)
            grow(d);
    }
    sbuf_free(&key);
    return seen;
}

bool local_been_here(struct local_dup *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool seen = lookup(d, true, fmt, ap);
    va_end(ap);
    return seen;
}

bool local_been_here_check(struct local_dup *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool seen = lookup(d, false, fmt, ap);
    va_end(ap);
    return seen;
}
