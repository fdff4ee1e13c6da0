/*
 * dict_internal.c - internal: tables (a private in-memory table per process),
 * and the in-memory table that inline: and texthash: are built on.
 *
 * Lookups fold the key when DICT_FLAG_FOLD_FIX is set; updates follow the
 * DICT_FLAG_DUP_* flags like the indexed types. Contents are lost when
 * the table is closed; nothing here touches files.
 */
#include <stdio.h>
#include <string.h>

#include "util/dict_impl.h"
#include "util/memtab.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"

struct mem_priv {
    memtab *t;
    size_t  pos;
    sbuf    keybuf;
};

static const char *mem_lookup(dict *d, const char *key)
{
    struct mem_priv *p = d->priv;
    return memtab_get(p->t, dict_fold_key(d, key, &p->keybuf));
}

static int mem_update(dict *d, const char *key, const char *value)
{
    struct mem_priv *p = d->priv;
    const char *k = dict_fold_key(d, key, &p->keybuf);
    int rc = memtab_put(p->t, k, value, (d->flags & DICT_FLAG_DUP_REPLACE) != 0);
    if (rc == 1 && !(d->flags & (DICT_FLAG_DUP_REPLACE | DICT_FLAG_DUP_IGNORE)))
        msg_warn("%s:%s: duplicate entry: \"%s\"", d->type, d->name, k);
    return rc;
}

static int mem_remove(dict *d, const char *key)
{
    struct mem_priv *p = d->priv;
    return memtab_del(p->t, dict_fold_key(d, key, &p->keybuf));
}

static int mem_sequence(dict *d, int first, const char **key, const char **value)
{
    struct mem_priv *p = d->priv;
    if (first)
        p->pos = 0;
    return memtab_next(p->t, &p->pos, key, value) ? 0 : 1;
}

static void mem_close(dict *d)
{
    struct mem_priv *p = d->priv;
    memtab_free(p->t);
    sbuf_free(&p->keybuf);
    xfree(p);
    dict_free(d);
}

dict *dict_mem_wrap(const char *type, const char *name, int open_flags, int dict_flags,
                    memtab *t)
{
    dict *d = dict_alloc(type, name, open_flags, dict_flags | DICT_FLAG_FIXED);
    struct mem_priv *p = xcalloc(1, sizeof(*p));
    p->t = t;
    d->priv = p;
    d->lookup = mem_lookup;
    d->update = mem_update;
    d->remove = mem_remove;
    d->sequence = mem_sequence;
    d->close = mem_close;
    return d;
}

dict *dict_internal_open(const char *name, int open_flags, int dict_flags, char **err)
{
    (void) err;
    return dict_mem_wrap("internal", name, open_flags, dict_flags, memtab_create());
}
