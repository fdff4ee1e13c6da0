/*
 * source_stats.h - latency samples and their percentiles.
 *
 * Samples are microseconds (saturating at about 71 minutes), kept in a
 * growable array: 4 bytes each, so ten million messages cost 40 MB.
 * source_stats_percentile() uses the nearest-rank method on the sorted
 * samples (it sorts them the first time and after each new sample).
 *
 * NOT HERE: no clock; the caller measures.
 */
#ifndef HK_SMTP_SOURCE_STATS_H
#define HK_SMTP_SOURCE_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct source_stats {
    uint32_t *us;
    size_t  n;
    size_t  cap;
    int     sorted;
} source_stats;

void source_stats_init(source_stats *s);
void source_stats_free(source_stats *s);
void source_stats_add(source_stats *s, int64_t microseconds);
/* p in [0, 100]; microseconds; 0 when there are no samples. */
uint32_t source_stats_percentile(source_stats *s, double p);

#endif
