/*
 * dict_randmap.c - randmap:{result, ...}: a random choice per lookup.
 *
 * Every lookup returns one of the listed results, chosen at random
 * (list a result more than once to weigh it). The key is ignored. Not for
 * anything that needs unpredictability: this is load spreading.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "util/dict_impl.h"
#include "util/mem.h"
#include "util/strv.h"

static const char *randmap_lookup(dict *d, const char *key)
{
    strv *v = d->priv;
    (void) key;
    return v->v[(size_t) random() % v->n];
}

static void randmap_close(dict *d)
{
    strv_free(d->priv);
    xfree(d->priv);
    dict_free(d);
}

dict *dict_randmap_open(const char *name, int open_flags, int dict_flags, char **err)
{
    static int seeded;
    char *inner = 0;
    strv *v = xcalloc(1, sizeof(*v));
    if (dict_braced_name(name, &inner) != 1 || dict_split_braced(inner, v) < 0 || v->n == 0) {
        *err = dict_errorf("bad syntax: \"randmap:%s\"; need \"randmap:{value...}\"", name);
        xfree(inner);
        strv_free(v);
        xfree(v);
        return 0;
    }
    xfree(inner);
    if (!seeded++)
        srandom((unsigned) time(0) ^ (unsigned) getpid());
    dict *d = dict_alloc("randmap", name, open_flags, dict_flags);
    d->priv = v;
    d->lookup = randmap_lookup;
    d->close = randmap_close;
    return d;
}
