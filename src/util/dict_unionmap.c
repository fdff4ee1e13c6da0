/*
 * dict_unionmap.c - unionmap:{type:name, ...}: every table's result, joined.
 *
 * The key goes to each table; the results found are joined with ","
 * (in table order). Nothing found is "not found"; an error in any table
 * is the union's error. Read-only.
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

static const char *unionmap_lookup(dict *d, const char *key)
{
    struct list_priv *p = d->priv;
    int found = 0;
    sbuf_reset(&p->buf);
    for (int i = 0; i < p->n; i++) {
        const char *r = dict_lookup(p->list[i], key);
        if (r) {
            if (found++)
                sbuf_addc(&p->buf, ',');
            sbuf_adds(&p->buf, r);
        } else if (p->list[i]->error) {
            d->error = p->list[i]->error;
            return 0;
        }
    }
    return found ? sbuf_str(&p->buf) : 0;
}

static void list_close(dict *d)
{
    struct list_priv *p = d->priv;
    dict_close_list(p->list, p->n);
    sbuf_free(&p->buf);
    xfree(p);
    dict_free(d);
}

dict *dict_unionmap_open(const char *name, int open_flags, int dict_flags, char **err)
{
    if (open_flags & (O_WRONLY | O_RDWR)) {
        *err = dict_errorf("unionmap:%s map requires O_RDONLY access mode", name);
        return 0;
    }
    dict **list;
    int n = dict_open_list("unionmap", name, open_flags, dict_flags, &list, err);
    if (n < 0)
        return 0;
    dict *d = dict_alloc("unionmap", name, open_flags, dict_flags);
    struct list_priv *p = xcalloc(1, sizeof(*p));
    p->list = list;
    p->n = n;
    d->priv = p;
    d->lookup = unionmap_lookup;
    d->close = list_close;
    return d;
}
