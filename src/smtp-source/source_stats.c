/*
 * source_stats.c - latency percentiles (nearest rank). See source_stats.h.
 */
#include <stdlib.h>

#include "smtp-source/source_stats.h"
#include "util/mem.h"

void source_stats_init(source_stats *s)
{
    s->us = 0;
    s->n = s->cap = 0;
    s->sorted = 1;
}

void source_stats_free(source_stats *s)
{
    xfree(s->us);
    source_stats_init(s);
}

void source_stats_add(source_stats *s, int64_t microseconds)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->us = xreallocarray(s->us, s->cap, sizeof(*s->us));
    }
    if (microseconds < 0)
        microseconds = 0;
    if (microseconds > UINT32_MAX)
        microseconds = UINT32_MAX;
    s->us[s->n++] = (uint32_t) microseconds;
    s->sorted = 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return (x > y) - (x < y);
}

uint32_t source_stats_percentile(source_stats *s, double p)
{
    if (s->n == 0)
        return 0;
    if (!s->sorted) {
        qsort(s->us, s->n, sizeof(*s->us), cmp_u32);
        s->sorted = 1;
    }
    if (!(p > 0))
        return s->us[0];
    if (p >= 100)
        return s->us[s->n - 1];
    /* Nearest rank: the smallest sample with at least p% at or below it. */
    double x = p / 100.0 * (double) s->n;
    size_t rank = (size_t) x;
    if ((double) rank < x)
        rank++;                             /* ceil without libm */
    size_t i = rank < 1 ? 0 : rank - 1;
    if (i >= s->n)
        i = s->n - 1;
    return s->us[i];
}
