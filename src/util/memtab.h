/*
 * memtab.h - a small in-memory string table (key -> value), in insertion order.
 *
 * Used by the in-memory lookup tables (internal, inline, texthash). Keys
 * and values are copied. Iteration visits live entries in the order they
 * were first added. Not thread-safe; no size limit of its own (callers
 * reading outside input bound what they add).
 */
#ifndef HK_UTIL_MEMTAB_H
#define HK_UTIL_MEMTAB_H

#include <stddef.h>

typedef struct memtab memtab;

memtab *memtab_create(void);
void memtab_free(memtab *t);
const char *memtab_get(const memtab *t, const char *key);
/* Returns 0 when added, 1 when the key existed (value replaced if replace). */
int  memtab_put(memtab *t, const char *key, const char *value, int replace);
/* Returns 0 when removed, 1 when absent. */
int  memtab_del(memtab *t, const char *key);
size_t memtab_count(const memtab *t);
/* *pos starts at 0; returns 1 and sets key/value, 0 at the end. */
int  memtab_next(const memtab *t, size_t *pos, const char **key, const char **value);

#endif
