/*
 * dict_db.c - hash: and btree: tables in Berkeley DB 5.3 files (NAME.db).
 *
 * Opens NAME.db read-only for lookups, or read-write to build or update it
 * (table builders normally go through dict_build.c, which points this at a
 * temporary file and renames it into place). Keys are folded to lower case
 * with DICT_FLAG_FOLD_FIX; the trailing NUL of keys and values follows
 * DICT_FLAG_TRY1NULL/TRY0NULL (see dict.h). changed() reports that NAME.db
 * was replaced or modified since the open. No locking: files are replaced
 * by rename, never rewritten under a reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <db.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"

struct db_priv {
    DB     *db;
    DBC    *cursor;
    char   *path;               /* NAME.db */
    struct stat st;             /* of path at open */
    sbuf    keybuf, kout, vout;
};

#define PRIV(d) ((struct db_priv *) (d)->priv)

static const char *copy_out(sbuf *out, const DBT *v)
{
    size_t n = v->size;
    if (n && ((const char *) v->data)[n - 1] == 0)
        n--;
    sbuf_reset(out);
    sbuf_add(out, v->data, n);
    return sbuf_str(out);
}

static int get(struct db_priv *p, const char *key, size_t len, DBT *val, int *err)
{
    DBT k;
    memset(&k, 0, sizeof(k));
    memset(val, 0, sizeof(*val));
    k.data = (void *) key;
    k.size = (u_int32_t) len;
    int rc = p->db->get(p->db, 0, &k, val, 0);
    if (rc == 0)
        return 1;
    if (rc != DB_NOTFOUND) {
        msg_warn("%s: lookup error: %s", p->path, db_strerror(rc));
        *err = 1;
    }
    return 0;
}

static const char *db_lookup(dict *d, const char *key)
{
    struct db_priv *p = PRIV(d);
    const char *k = dict_fold_key(d, key, &p->keybuf);
    size_t len = strlen(k);
    DBT v;
    int err = 0;

    if ((d->flags & DICT_FLAG_TRY1NULL) && get(p, k, len + 1, &v, &err)) {
        d->flags &= ~DICT_FLAG_TRY0NULL;
        return copy_out(&p->vout, &v);
    }
    if (!err && (d->flags & DICT_FLAG_TRY0NULL) && get(p, k, len, &v, &err)) {
        d->flags &= ~DICT_FLAG_TRY1NULL;
        return copy_out(&p->vout, &v);
    }
    if (err)
        d->error = DICT_ERR_RETRY;
    return 0;
}

static int db_update(dict *d, const char *key, const char *value)
{
    struct db_priv *p = PRIV(d);
    const char *k = dict_fold_key(d, key, &p->keybuf);
    int nul = (d->flags & DICT_FLAG_TRY1NULL) ? 1 : 0;
    DBT kd, vd;
    memset(&kd, 0, sizeof(kd));
    memset(&vd, 0, sizeof(vd));
    kd.data = (void *) k;
    kd.size = (u_int32_t) (strlen(k) + nul);
    vd.data = (void *) value;
    vd.size = (u_int32_t) (strlen(value) + nul);
    int rc = p->db->put(p->db, 0, &kd, &vd,
                        (d->flags & DICT_FLAG_DUP_REPLACE) ? 0 : DB_NOOVERWRITE);
    if (rc == DB_KEYEXIST) {
        if (!(d->flags & DICT_FLAG_DUP_IGNORE))
            msg_warn("%s.db: duplicate entry: \"%s\"", d->name, k);
        return 1;
    }
    if (rc != 0) {
        msg_warn("%s: update error: %s", p->path, db_strerror(rc));
        d->error = DICT_ERR_RETRY;
        return -1;
    }
    return 0;
}

static int del(struct db_priv *p, const char *key, size_t len)
{
    DBT k;
    memset(&k, 0, sizeof(k));
    k.data = (void *) key;
    k.size = (u_int32_t) len;
    int rc = p->db->del(p->db, 0, &k, 0);
    if (rc == 0)
        return 0;
    if (rc == DB_NOTFOUND)
        return 1;
    msg_warn("%s: delete error: %s", p->path, db_strerror(rc));
    return -1;
}

static int db_remove(dict *d, const char *key)
{
    struct db_priv *p = PRIV(d);
    const char *k = dict_fold_key(d, key, &p->keybuf);
    size_t len = strlen(k);
    int rc = 1;
    if (d->flags & DICT_FLAG_TRY1NULL)
        rc = del(p, k, len + 1);
    if (rc == 1 && (d->flags & DICT_FLAG_TRY0NULL))
        rc = del(p, k, len);
    if (rc < 0)
        d->error = DICT_ERR_RETRY;
    return rc;
}

static int db_sequence(dict *d, int first, const char **key, const char **value)
{
    struct db_priv *p = PRIV(d);
    if (!p->cursor) {
        int rc = p->db->cursor(p->db, 0, &p->cursor, 0);
        if (rc != 0) {
            msg_warn("%s: cannot list: %s", p->path, db_strerror(rc));
            d->error = DICT_ERR_RETRY;
            return -1;
        }
        first = 1;
    }
    DBT k, v;
    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    int rc = p->cursor->get(p->cursor, &k, &v, first ? DB_FIRST : DB_NEXT);
    if (rc == DB_NOTFOUND) {
        p->cursor->close(p->cursor);
        p->cursor = 0;
        return 1;
    }
    if (rc != 0) {
        msg_warn("%s: cannot list: %s", p->path, db_strerror(rc));
        d->error = DICT_ERR_RETRY;
        return -1;
    }
    *key = copy_out(&p->kout, &k);
    *value = copy_out(&p->vout, &v);
    return 0;
}

static int db_sync(dict *d)
{
    struct db_priv *p = PRIV(d);
    if (!(d->open_flags & (O_RDWR | O_WRONLY)))
        return 0;
    int rc = p->db->sync(p->db, 0);
    if (rc != 0) {
        msg_warn("%s: sync error: %s", p->path, db_strerror(rc));
        errno = rc > 0 ? rc : EIO;
        return -1;
    }
    return 0;
}

static void db_close(dict *d)
{
    struct db_priv *p = PRIV(d);
    if (p->cursor)
        p->cursor->close(p->cursor);
    int rc = p->db->close(p->db, 0);
    if (rc != 0)
        msg_warn("%s: close error: %s", p->path, db_strerror(rc));
    sbuf_free(&p->keybuf);
    sbuf_free(&p->kout);
    sbuf_free(&p->vout);
    xfree(p->path);
    xfree(p);
    dict_free(d);
}

static int db_changed(dict *d)
{
    struct db_priv *p = PRIV(d);
    struct stat st;
    if (stat(p->path, &st) < 0)
        return 1;
    return st.st_ino != p->st.st_ino || st.st_dev != p->st.st_dev
        || st.st_mtime != p->st.st_mtime || st.st_size != p->st.st_size;
}

static void quiet(const DB_ENV *env, const char *prefix, const char *text)
{
    (void) env;
    (void) prefix;
    if (msg_verbose)
        msg_info("Berkeley DB: %s", text);
}

static dict *db_open(const char *type, DBTYPE dbtype, const char *name,
                     int open_flags, int dict_flags, char **err)
{
    const struct dict_tuning *tune = dict_get_tuning();
    char *path = dict_errorf("%s.db", name);
    DB *db = 0;
    int rc = db_create(&db, 0, 0);
    if (rc != 0) {
        *err = dict_errorf("open database %s: %s", path, db_strerror(rc));
        xfree(path);
        return 0;
    }
    db->set_errcall(db, quiet);         /* errors are reported from return codes */
    int writing = (open_flags & (O_RDWR | O_WRONLY)) != 0;
    size_t cache = writing ? tune->db_create_buffer : tune->db_read_buffer;
    if (cache < 20 * 1024)
        cache = 20 * 1024;
    db->set_cachesize(db, 0, (u_int32_t) cache, 0);
    u_int32_t flags = writing ? 0 : DB_RDONLY;
    if (writing && (open_flags & O_CREAT))
        flags |= DB_CREATE;
    if (writing && (open_flags & O_EXCL))
        flags |= DB_EXCL;
    if (writing && (open_flags & O_TRUNC))
        flags |= DB_TRUNCATE;
    rc = db->open(db, 0, path, 0, dbtype, flags, 0644);
    if (rc != 0) {
        *err = dict_errorf("open database %s: %s", path, db_strerror(rc));
        db->close(db, 0);
        xfree(path);
        return 0;
    }
    dict *d = dict_alloc(type, name, open_flags, dict_flags | DICT_FLAG_FIXED);
    struct db_priv *p = xcalloc(1, sizeof(*p));
    p->db = db;
    p->path = path;
    stat(path, &p->st);
    d->priv = p;
    d->lookup = db_lookup;
    d->update = db_update;
    d->remove = db_remove;
    d->sequence = db_sequence;
    d->close = db_close;
    d->changed = db_changed;
    d->sync = db_sync;
    d->mtime = p->st.st_mtime;

    struct stat src;
    if (!writing && stat(name, &src) == 0 && src.st_mtime > p->st.st_mtime)
        msg_warn("database %s is older than source file %s", path, name);
    return d;
}

dict *dict_hash_open(const char *name, int open_flags, int dict_flags, char **err)
{
    return db_open("hash", DB_HASH, name, open_flags, dict_flags, err);
}

dict *dict_btree_open(const char *name, int open_flags, int dict_flags, char **err)
{
    return db_open("btree", DB_BTREE, name, open_flags, dict_flags, err);
}
