/*
 * memtab.c - in-memory string table with chained hashing (see memtab.h).
 *
 * Entries live in an array in insertion order (deleted ones are marked,
 * not moved); buckets hold indexes into it. Grows by doubling.
 */
#include <stdint.h>
#include <string.h>

#include "util/memtab.h"
#include "util/mem.h"

struct ent {
    char   *key;
    char   *value;
    size_t  next;               /* next index in the bucket chain, or NONE */
    int     dead;
};

#define NONE ((size_t) -1)

struct memtab {
    struct ent *ents;
    size_t  n, cap;             /* entries used / allocated */
    size_t  live;
    size_t *buckets;
    size_t  nbuckets;
};

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;        /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 1099511628211ULL;
    }
    return (size_t) h;
}

memtab *memtab_create(void)
{
    memtab *t = xcalloc(1, sizeof(*t));
    t->nbuckets = 16;
    t->buckets = xmalloc(t->nbuckets * sizeof(size_t));
    for (size_t i = 0; i < t->nbuckets; i++)
        t->buckets[i] = NONE;
    return t;
}

void memtab_free(memtab *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        xfree(t->ents[i].key);
        xfree(t->ents[i].value);
    }
    xfree(t->ents);
    xfree(t->buckets);
    xfree(t);
}

static size_t find(const memtab *t, const char *key)
{
    for (size_t i = t->buckets[hash(key) % t->nbuckets]; i != NONE; i = t->ents[i].next)
        if (!t->ents[i].dead && strcmp(t->ents[i].key, key) == 0)
            return i;
    return NONE;
}

const char *memtab_get(const memtab *t, const char *key)
{
    size_t i = find(t, key);
    return i == NONE ? 0 : t->ents[i].value;
}

static void rehash(memtab *t)
{
    size_t nb = t->nbuckets * 2;
    xfree(t->buckets);
    t->buckets = xreallocarray(0, nb, sizeof(size_t));
    t->nbuckets = nb;
    for (size_t i = 0; i < nb; i++)
        t->buckets[i] = NONE;
    for (size_t i = 0; i < t->n; i++) {
        size_t b = hash(t->ents[i].key) % nb;
        t->ents[i].next = t->buckets[b];
        t->buckets[b] = i;
    }
}

int memtab_put(memtab *t, const char *key, const char *value, int replace)
{
    size_t i = find(t, key);
    if (i != NONE) {
        if (replace) {
            xfree(t->ents[i].value);
            t->ents[i].value = xstrdup(value);
        }
        return 1;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->ents = xreallocarray(t->ents, t->cap, sizeof(*t->ents));
    }
    if (t->n + 1 > t->nbuckets)
        rehash(t);
    struct ent *e = &t->ents[t->n];
    e->key = xstrdup(key);
    e->value = xstrdup(value);
    e->dead = 0;
    size_t b = hash(key) % t->nbuckets;
    e->next = t->buckets[b];
    t->buckets[b] = t->n++;
    t->live++;
    return 0;
}

int memtab_del(memtab *t, const char *key)
{
    size_t i = find(t, key);
    if (i == NONE)
        return 1;
    t->ents[i].dead = 1;
    t->live--;
    return 0;
}

size_t memtab_count(const memtab *t)
{
    return t->live;
}

int memtab_next(const memtab *t, size_t *pos, const char **key, const char **value)
{
    while (*pos < t->n) {
        const struct ent *e = &t->ents[(*pos)++];
        if (!e->dead) {
            *key = e->key;
            *value = e->value;
            return 1;
        }
    }
    return 0;
}
