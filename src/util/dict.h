/*
 * dict.h - the one lookup-table interface: "type:name" -> open, lookup, close.
 *
 * Every table type (hash, btree, lmdb, regexp, pcre, cidr, static, inline,
 * texthash, unix, fail, ...) lives in its own dict_<type>.c and registers
 * an opener in dict.c's type list. Callers only ever see struct dict.
 *
 * lookup() returns the value for key, or NULL. After NULL, d->error tells
 * "not found" (DICT_ERR_NONE) from "could not look" (DICT_ERR_RETRY: a
 * temporary failure, the caller should defer; DICT_ERR_CONFIG: the table
 * is broken). The returned string belongs to the table and stays valid
 * until the next call on the same table.
 *
 * Indexed tables (hash, btree, lmdb) fold keys to lower case when
 * DICT_FLAG_FOLD_FIX is set, as Postfix does; pattern tables
 * (regexp, pcre, cidr) match the whole key as given.
 *
 * update() returns 0 (stored), 1 (duplicate: kept or replaced per the
 * DICT_FLAG_DUP_* flags; DUP_WARN/no flag logs "duplicate entry"), -1
 * (error, d->error set); remove() 0 removed, 1 absent, -1 error. Operations
 * a type does not have (a NULL pointer) fail with DICT_ERR_CONFIG through
 * the dict_*() wrappers. Bad lines in table files are logged with msg_warn
 * ("FILE, line N: ...") and skipped; opening fails only when the table
 * cannot be read at all.
 *
 * To build or rewrite an indexed table use dict_build.h (temporary file,
 * atomic rename), not dict_open(O_RDWR). postmap/postalias logic shared by
 * both commands is in dict_tool.h. See docs/tables.md for the formats.
 *
 * This interface does not know about mail addresses: the Postfix search
 * order (user@domain, user, @domain) is in src/mail/.
 */
#ifndef HK_UTIL_DICT_H
#define HK_UTIL_DICT_H

#include <time.h>

struct sbuf;

enum dict_error {
    DICT_ERR_NONE = 0,      /* found, or simply not found */
    DICT_ERR_RETRY = -1,    /* temporary failure: try again later */
    DICT_ERR_CONFIG = -2,   /* the table is unusable as configured */
};

/* dict_flags */
#define DICT_FLAG_NONE        0
#define DICT_FLAG_DUP_WARN    (1 << 0)  /* duplicate key: warn, keep first */
#define DICT_FLAG_DUP_IGNORE  (1 << 1)  /* duplicate key: silently keep first */
#define DICT_FLAG_DUP_REPLACE (1 << 2)  /* duplicate key: replace */
#define DICT_FLAG_TRY0NULL    (1 << 3)  /* keys stored without trailing NUL */
#define DICT_FLAG_TRY1NULL    (1 << 4)  /* keys stored with trailing NUL */
#define DICT_FLAG_FOLD_FIX    (1 << 5)  /* fold fixed-string keys to lower case */
#define DICT_FLAG_PATTERN     (1 << 6)  /* set by the type: keys are patterns */
#define DICT_FLAG_FIXED       (1 << 7)  /* set by the type: exact-match keys */
#define DICT_FLAG_LOCK        (1 << 8)  /* lock the file while reading/writing */
#define DICT_FLAG_PARANOID    (1 << 9)  /* refuse $n substitution of unsafe chars */
#define DICT_FLAG_BULK        (1 << 10) /* many updates, one commit (table builders) */
#define DICT_FLAG_NO_SUBST    (1 << 11) /* pattern tables: no $n substitution (aliases) */
/*
 * With both TRY flags set (the default), lookups try the key with its
 * trailing NUL, then without, and stick to whichever form hits first;
 * updates store the NUL. postmap -N leaves only TRY1NULL, -n only TRY0NULL.
 */
#define DICT_FLAG_DEFAULT     (DICT_FLAG_DUP_WARN | DICT_FLAG_FOLD_FIX | \
                               DICT_FLAG_TRY1NULL | DICT_FLAG_TRY0NULL)
#define DICT_FLAG_DUP_MASK    (DICT_FLAG_DUP_WARN | DICT_FLAG_DUP_IGNORE | DICT_FLAG_DUP_REPLACE)

typedef struct dict dict;
struct dict {
    char   *type;               /* "hash" */
    char   *name;               /* "/etc/postfix/transport", or the pattern text */
    int     open_flags;         /* O_RDONLY, or O_RDWR|O_CREAT|O_TRUNC to build */
    int     flags;              /* DICT_FLAG_* */
    int     error;              /* enum dict_error of the last operation */
    time_t  mtime;              /* source or db modification time when opened */
    const char *(*lookup)(dict *d, const char *key);
    int   (*update)(dict *d, const char *key, const char *value);     /* 0, 1 dup, -1 err */
    int   (*remove)(dict *d, const char *key);                        /* 0, 1 absent, -1 */
    /* first != 0 starts over; returns 0 and sets key and value, 1 at end, -1 on error */
    int   (*sequence)(dict *d, int first, const char **key, const char **value);
    void  (*close)(dict *d);
    int   (*changed)(dict *d);                                        /* file rebuilt? */
    void   *priv;               /* the type's own state */
    int   (*sync)(dict *d);                                           /* flush; 0 or -1 */
};

/*
 * Open "type:name". open_flags is O_RDONLY for lookups; table builders
 * use dict_open with O_RDWR|O_CREAT|O_TRUNC on indexed types. On failure
 * returns NULL and, if err is not NULL, a malloc'd message for the
 * administrator ("open /etc/postfix/x.db: No such file or directory").
 */
dict *dict_open(const char *spec, int open_flags, int dict_flags, char **err);
dict *dict_open3(const char *type, const char *name, int open_flags, int dict_flags, char **err);
const char *dict_lookup(dict *d, const char *key);
int   dict_update(dict *d, const char *key, const char *value);
int   dict_remove(dict *d, const char *key);
void  dict_close(dict *d);
int   dict_changed(dict *d);

/* sequence() through the table; -1 with a message when the type cannot list. */
int   dict_sequence(dict *d, int first, const char **key, const char **value);
/* Flush pending bulk updates to the file (indexed types); 0 or -1 (errno set). */
int   dict_sync(dict *d);

/* Names of the supported types, for postconf -m; NULL-terminated. */
const char *const *dict_type_names(void);
int dict_type_known(const char *type);
/* File suffix an indexed type adds ("hash" -> ".db", "lmdb" -> ".lmdb"), or NULL. */
const char *dict_type_suffix(const char *type);

/* Types postmap/postalias can create (hash, btree, lmdb). */
int dict_type_writable(const char *type);

/*
 * Sizes that main.cf controls (berkeley_db_*_buffer_size, lmdb_map_size).
 * Programs set them once after loading main.cf; tables opened later use
 * them. Zero fields keep the built-in defaults (128 KiB, 16 MiB, 16 MiB).
 */
struct dict_tuning {
    size_t  db_read_buffer;
    size_t  db_create_buffer;
    size_t  lmdb_map_size;
};
void dict_set_tuning(const struct dict_tuning *t);
const struct dict_tuning *dict_get_tuning(void);

/* Helper for type implementations: allocate a dict with common fields set. */
dict *dict_alloc(const char *type, const char *name, int open_flags, int dict_flags);
void  dict_free(dict *d);
/* Helpers for implementations: fold a key per flags into buf (returns buf's text). */
const char *dict_fold_key(dict *d, const char *key, struct sbuf *buf);

#endif
