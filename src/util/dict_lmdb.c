/*
 * dict_lmdb.c - lmdb: tables in OpenLDAP LMDB files (NAME.lmdb, no subdirectory).
 *
 * Same key conventions as hash: (folding, trailing NUL). The environment is
 * opened with MDB_NOLOCK: table files are replaced by rename (dict_build.c),
 * never changed under a reader, so readers need no lock file. Writers keep
 * one transaction open in bulk mode and remember its operations, so that
 * when the map is full they can abort, double the map size and replay
 * (LMDB cannot grow a map inside a transaction). The initial map size is
 * lmdb_map_size (dict_set_tuning). changed() as for hash:.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"

#define BULK_COMMIT 20000       /* operations per transaction when building */

struct op {
    int     del;                /* 1 delete, 0 put */
    unsigned put_flags;
    size_t  klen, vlen;
    char   *data;               /* key bytes then value bytes */
};

struct lmdb_priv {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *wtxn;              /* open write transaction, or NULL */
    MDB_txn *rtxn;              /* read transaction of a sequence() */
    MDB_cursor *cursor;
    size_t  map_size;
    struct op *ops;             /* journal of wtxn */
    size_t  nops, capops;
    char   *path;
    struct stat st;
    sbuf    keybuf, kout, vout;
};

#define PRIV(d) ((struct lmdb_priv *) (d)->priv)

static const char *copy_out(sbuf *out, const MDB_val *v)
{
    size_t n = v->mv_size;
    if (n && ((const char *) v->mv_data)[n - 1] == 0)
        n--;
    sbuf_reset(out);
    sbuf_add(out, v->mv_data, n);
    return sbuf_str(out);
}

static void journal_clear(struct lmdb_priv *p)
{
    for (size_t i = 0; i < p->nops; i++)
        xfree(p->ops[i].data);
    p->nops = 0;
}

static int txn_begin(struct lmdb_priv *p)
{
    if (p->wtxn)
        return 0;
    int rc = mdb_txn_begin(p->env, 0, 0, &p->wtxn);
    if (rc == 0)
        rc = mdb_dbi_open(p->wtxn, 0, 0, &p->dbi);
    if (rc != 0 && p->wtxn) {
        mdb_txn_abort(p->wtxn);
        p->wtxn = 0;
    }
    return rc;
}

static int txn_commit(struct lmdb_priv *p)
{
    if (!p->wtxn)
        return 0;
    int rc = mdb_txn_commit(p->wtxn);
    p->wtxn = 0;
    journal_clear(p);
    return rc;
}

static int apply(struct lmdb_priv *p, const struct op *o)
{
    MDB_val k = { o->klen, o->data }, v = { o->vlen, o->data + o->klen };
    if (o->del)
        return mdb_del(p->wtxn, p->dbi, &k, 0);
    return mdb_put(p->wtxn, p->dbi, &k, &v, o->put_flags);
}

/* Map full: abort, grow, replay the journal. Returns 0 or an LMDB error. */
static int grow(struct lmdb_priv *p)
{
    for (;;) {
        mdb_txn_abort(p->wtxn);
        p->wtxn = 0;
        if (p->map_size > ((size_t) 1 << 40))
            return MDB_MAP_FULL;
        p->map_size *= 2;
        int rc = mdb_env_set_mapsize(p->env, p->map_size);
        if (rc == 0)
            rc = txn_begin(p);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < p->nops && rc == 0; i++) {
            rc = apply(p, &p->ops[i]);
            if (rc == MDB_KEYEXIST || rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc == 0)
            return 0;
        if (rc != MDB_MAP_FULL && rc != MDB_TXN_FULL)
            return rc;
    }
}

/* Run one write operation; returns 0, MDB_KEYEXIST, MDB_NOTFOUND or an error. */
static int write_op(dict *d, int is_del, unsigned put_flags, const char *key, size_t klen,
                    const char *val, size_t vlen)
{
    struct lmdb_priv *p = PRIV(d);
    int rc = txn_begin(p);
    if (rc != 0)
        return rc;
    if (p->nops == p->capops) {
        p->capops = p->capops ? p->capops * 2 : 64;
        p->ops = xreallocarray(p->ops, p->capops, sizeof(*p->ops));
    }
    struct op *o = &p->ops[p->nops];
    o->del = is_del;
    o->put_flags = put_flags;
    o->klen = klen;
    o->vlen = vlen;
    o->data = xmalloc(klen + vlen + 1);
    memcpy(o->data, key, klen);
    if (vlen)
        memcpy(o->data + klen, val, vlen);
    p->nops++;
    for (;;) {
        rc = apply(p, o);
        if (rc != MDB_MAP_FULL && rc != MDB_TXN_FULL)
            break;
        p->nops--;                      /* replay what came before, then retry */
        rc = grow(p);
        p->nops++;
        if (rc != 0)
            break;
    }
    if (rc != 0 && rc != MDB_KEYEXIST && rc != MDB_NOTFOUND) {
        if (p->wtxn)
            mdb_txn_abort(p->wtxn);
        p->wtxn = 0;
        journal_clear(p);
        return rc;
    }
    if (!(d->flags & DICT_FLAG_BULK) || p->nops >= BULK_COMMIT) {
        int crc = txn_commit(p);
        if (crc != 0)
            return crc;
    }
    return rc;
}

static int get(dict *d, const char *key, size_t len, sbuf *out, int *err)
{
    struct lmdb_priv *p = PRIV(d);
    MDB_txn *txn = p->wtxn;
    int rc = 0;
    if (!txn && (rc = mdb_txn_begin(p->env, 0, MDB_RDONLY, &txn)) != 0) {
        msg_warn("%s: lookup error: %s", p->path, mdb_strerror(rc));
        *err = 1;
        return 0;
    }
    MDB_val k = { len, (void *) key }, v;
    rc = mdb_get(txn, p->dbi, &k, &v);
    if (rc == 0)
        copy_out(out, &v);
    else if (rc != MDB_NOTFOUND) {
        msg_warn("%s: lookup error: %s", p->path, mdb_strerror(rc));
        *err = 1;
    }
    if (txn != p->wtxn)
        mdb_txn_abort(txn);
    return rc == 0;
}

static const char *lmdb_lookup(dict *d, const char *key)
{
    struct lmdb_priv *p = PRIV(d);
    const char *k = dict_fold_key(d, key, &p->keybuf);
    size_t len = strlen(k);
    int err = 0;
    if ((d->flags & DICT_FLAG_TRY1NULL) && get(d, k, len + 1, &p->vout, &err)) {
        d->flags &= ~DICT_FLAG_TRY0NULL;
        return sbuf_str(&p->vout);
    }
    if (!err && (d->flags & DICT_FLAG_TRY0NULL) && get(d, k, len, &p->vout, &err)) {
        d->flags &= ~DICT_FLAG_TRY1NULL;
        return sbuf_str(&p->vout);
    }
    if (err)
        d->error = DICT_ERR_RETRY;
    return 0;
}

static int lmdb_update(dict *d, const char *key, const char *value)
{
    struct lmdb_priv *p = PRIV(d);
    const char *k = dict_fold_key(d, key, &p->keybuf);
    size_t nul = (d->flags & DICT_FLAG_TRY1NULL) ? 1 : 0;
    size_t klen = strlen(k) + nul;
    if (klen == 0 || klen > (size_t) mdb_env_get_maxkeysize(p->env)) {
        msg_warn("%s: key too long or empty for lmdb: \"%.100s\"", p->path, k);
        d->error = DICT_ERR_CONFIG;
        return -1;
    }
    int rc = write_op(d, 0, (d->flags & DICT_FLAG_DUP_REPLACE) ? 0 : MDB_NOOVERWRITE,
                      k, klen, value, strlen(value) + nul);
    if (rc == MDB_KEYEXIST) {
        if (!(d->flags & DICT_FLAG_DUP_IGNORE))
            msg_warn("lmdb:%s: duplicate entry: \"%s\"", d->name, k);
        return 1;
    }
    if (rc != 0) {
        msg_warn("%s: update error: %s", p->path, mdb_strerror(rc));
        d->error = DICT_ERR_RETRY;
        return -1;
    }
    return 0;
}

static int lmdb_remove(dict *d, const char *key)
{
    struct lmdb_priv *p = PRIV(d);
    const char *k = dict_fold_key(d, key, &p->keybuf);
    size_t len = strlen(k);
    int rc = MDB_NOTFOUND;
    if (len == 0 || len + 1 > (size_t) mdb_env_get_maxkeysize(p->env))
        return 1;
    if (d->flags & DICT_FLAG_TRY1NULL)
        rc = write_op(d, 1, 0, k, len + 1, "", 0);
    if (rc == MDB_NOTFOUND && (d->flags & DICT_FLAG_TRY0NULL))
        rc = write_op(d, 1, 0, k, len, "", 0);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc != 0) {
        msg_warn("%s: delete error: %s", p->path, mdb_strerror(rc));
        d->error = DICT_ERR_RETRY;
        return -1;
    }
    return 0;
}

static void seq_end(struct lmdb_priv *p)
{
    if (p->cursor)
        mdb_cursor_close(p->cursor);
    p->cursor = 0;
    if (p->rtxn)
        mdb_txn_abort(p->rtxn);
    p->rtxn = 0;
}

static int lmdb_sequence(dict *d, int first, const char **key, const char **value)
{
    struct lmdb_priv *p = PRIV(d);
    int rc = 0;
    if (first || !p->cursor) {
        seq_end(p);
        if (p->wtxn && (rc = txn_commit(p)) != 0)
            goto bad;
        if ((rc = mdb_txn_begin(p->env, 0, MDB_RDONLY, &p->rtxn)) != 0
            || (rc = mdb_cursor_open(p->rtxn, p->dbi, &p->cursor)) != 0)
            goto bad;
        first = 1;
    }
    MDB_val k, v;
    rc = mdb_cursor_get(p->cursor, &k, &v, first ? MDB_FIRST : MDB_NEXT);
    if (rc == MDB_NOTFOUND) {
        seq_end(p);
        return 1;
    }
    if (rc != 0)
        goto bad;
    *key = copy_out(&p->kout, &k);
    *value = copy_out(&p->vout, &v);
    return 0;
bad:
    msg_warn("%s: cannot list: %s", p->path, mdb_strerror(rc));
    seq_end(p);
    d->error = DICT_ERR_RETRY;
    return -1;
}

static int lmdb_sync(dict *d)
{
    struct lmdb_priv *p = PRIV(d);
    if (!(d->open_flags & (O_RDWR | O_WRONLY)))
        return 0;
    int rc = txn_commit(p);
    if (rc == 0)
        rc = mdb_env_sync(p->env, 1);
    if (rc != 0) {
        msg_warn("%s: sync error: %s", p->path, mdb_strerror(rc));
        errno = rc > 0 ? rc : EIO;
        return -1;
    }
    return 0;
}

static void lmdb_close(dict *d)
{
    struct lmdb_priv *p = PRIV(d);
    seq_end(p);
    if (p->wtxn)
        lmdb_sync(d);
    else if (d->open_flags & (O_RDWR | O_WRONLY))
        mdb_env_sync(p->env, 1);
    mdb_env_close(p->env);
    journal_clear(p);
    xfree(p->ops);
    sbuf_free(&p->keybuf);
    sbuf_free(&p->kout);
    sbuf_free(&p->vout);
    xfree(p->path);
    xfree(p);
    dict_free(d);
}

static int lmdb_changed(dict *d)
{
    struct lmdb_priv *p = PRIV(d);
    struct stat st;
    if (stat(p->path, &st) < 0)
        return 1;
    return st.st_ino != p->st.st_ino || st.st_dev != p->st.st_dev
        || st.st_mtime != p->st.st_mtime || st.st_size != p->st.st_size;
}

dict *dict_lmdb_open(const char *name, int open_flags, int dict_flags, char **err)
{
    char *path = dict_errorf("%s.lmdb", name);
    int writing = (open_flags & (O_RDWR | O_WRONLY)) != 0;
    MDB_env *env = 0;
    MDB_txn *txn = 0;
    MDB_dbi dbi = 0;
    size_t map_size = dict_get_tuning()->lmdb_map_size;
    int rc;

    if (!writing && access(path, F_OK) < 0) {
        *err = dict_errorf("open database %s: %s", path, strerror(errno));
        xfree(path);
        return 0;
    }
    if (writing && (open_flags & O_TRUNC))
        unlink(path);
    if ((rc = mdb_env_create(&env)) != 0)
        env = 0;
    else if ((rc = mdb_env_set_mapsize(env, map_size)) == 0
             && (rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK
                                   | (writing ? MDB_NOSYNC : MDB_RDONLY), 0644)) == 0
             && (rc = mdb_txn_begin(env, 0, writing ? 0 : MDB_RDONLY, &txn)) == 0) {
        if ((rc = mdb_dbi_open(txn, 0, 0, &dbi)) != 0)
            mdb_txn_abort(txn);
        else
            rc = mdb_txn_commit(txn);           /* frees txn either way */
    }
    if (rc != 0) {
        *err = dict_errorf("open database %s: %s", path, mdb_strerror(rc));
        if (env)
            mdb_env_close(env);
        xfree(path);
        return 0;
    }
    MDB_envinfo info;
    if (mdb_env_info(env, &info) == 0 && info.me_mapsize > map_size)
        map_size = info.me_mapsize;

    dict *d = dict_alloc("lmdb", name, open_flags, dict_flags | DICT_FLAG_FIXED);
    struct lmdb_priv *p = xcalloc(1, sizeof(*p));
    p->env = env;
    p->dbi = dbi;
    p->map_size = map_size;
    p->path = path;
    stat(path, &p->st);
    d->priv = p;
    d->mtime = p->st.st_mtime;
    d->lookup = lmdb_lookup;
    d->update = lmdb_update;
    d->remove = lmdb_remove;
    d->sequence = lmdb_sequence;
    d->close = lmdb_close;
    d->changed = lmdb_changed;
    d->sync = lmdb_sync;

    struct stat src;
    if (!writing && stat(name, &src) == 0 && src.st_mtime > p->st.st_mtime)
        msg_warn("database %s is older than source file %s", path, name);
    return d;
}
