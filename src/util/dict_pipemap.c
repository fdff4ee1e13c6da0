/*
 * dict_pipemap.c - pipemap:{type:name, ...}: a pipeline of tables.
 *
 * The key goes to the first table; each result is the key for the next;
 * the last table's result is the answer. Any table finding nothing ends
 * the pipeline with "not found"; any error is the pipeline's error.
 * Read-only; the member tables are opened with the same flags.
 */
#include <fcntl.h>

#include "util/dict_impl.h"
#include "util/mem.h"
#include "util/sbuf.h"

struct list_priv {
    dict  **list;
    int     n;
    sbuf    buf;
};

static const char *pipemap_lookup(dict *d, const char *key)
{
    struct list_priv *p = d->priv;
    const char *q = key;
    for (int i = 0; i < p->n; i++) {
        const char *r = dict_lookup(p->list[i], q);
        if (!r) {
            d->error = p->list[i]->error;
            return 0;
        }
        sbuf_set(&p->buf, r);           /* the next lookup may reuse r's storage */
        q = sbuf_str(&p->buf);
    }
    return q;
}

static void list_close(dict *d)
{
    struct list_priv *p = d->priv;
    dict_close_list(p->list, p->n);
    sbuf_free(&p->buf);
    xfree(p);
    dict_free(d);
}

dict *dict_pipemap_open(const char *name, int open_flags, int dict_flags, char **err)
{
    if (open_flags & (O_WRONLY | O_RDWR)) {
        *err = dict_errorf("pipemap:%s map requires O_RDONLY access mode", name);
        return 0;
    }
    dict **list;
    int n = dict_open_list("pipemap", name, open_flags, dict_flags, &list, err);
    if (n < 0)
        return 0;
    dict *d = dict_alloc("pipemap", name, open_flags, dict_flags);
    struct list_priv *p = xcalloc(1, sizeof(*p));
    p->list = list;
    p->n = n;
    d->priv = p;
    d->lookup = pipemap_lookup;
    d->close = list_close;
    return d;
}
