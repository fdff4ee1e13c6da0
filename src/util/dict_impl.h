/*
 * dict_impl.h - what dict.c needs from each table type; private to src/util.
 *
 * Each dict_<type>.c defines one opener with this signature. An opener
 * returns a struct dict from dict_alloc() with its operations filled in,
 * or NULL with a malloc'd message in *err (err is never NULL here).
 * Callers use dict_open() (dict.h), never these.
 */
#ifndef HK_UTIL_DICT_IMPL_H
#define HK_UTIL_DICT_IMPL_H

#include "util/dict.h"

typedef dict *(*dict_open_fn)(const char *name, int open_flags, int dict_flags, char **err);

dict *dict_hash_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_btree_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_lmdb_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_regexp_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_pcre_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_cidr_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_static_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_inline_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_internal_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_texthash_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_unix_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_fail_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_environ_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_nis_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_pipemap_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_unionmap_open(const char *name, int open_flags, int dict_flags, char **err);
dict *dict_randmap_open(const char *name, int open_flags, int dict_flags, char **err);

/*
 * An in-memory table over t (dict_internal.c): lookup, update, remove,
 * sequence; folds keys per dict_flags. Takes ownership of t. inline: and
 * texthash: fill a memtab and wrap it with this.
 */
struct memtab;
dict *dict_mem_wrap(const char *type, const char *name, int open_flags, int dict_flags,
                    struct memtab *t);

/* malloc'd printf, for *err messages. */
char *dict_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Split the inside of "{ a, b, { c d } }" (the text between the outer
 * braces) into elements separated by comma or white space; "{...}"
 * elements keep their inner text without the braces and without white
 * space after '{' and before '}'. Returns 0, or -1 on unbalanced braces.
 */
struct strv;
int dict_split_braced(const char *text, struct strv *out);
/* If name is "{ ... }", store the inside in *inner (malloc'd) and return 1;
 * 0 if it does not start with '{'; -1 if the closing brace is missing or
 * text follows it. */
int dict_braced_name(const char *name, char **inner);


/*
 * Open the tables listed in "{type:name, type:name ...}" (pipemap:,
 * unionmap:). Returns the count (>= 1) and a malloc'd array in *out, or
 * -1 with *err set.
 */
int dict_open_list(const char *type, const char *name, int open_flags, int dict_flags,
                   dict ***out, char **err);
void dict_close_list(dict **list, int n);

#endif
