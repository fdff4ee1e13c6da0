/*
 * dict_texthash.c - texthash: tables: a postmap source file read into memory.
 *
 * Reads "key whitespace value" lines (table_file.h grammar) once at open;
 * no .db file is involved and later changes to the file are not noticed
 * (as documented for Postfix). Duplicate keys keep the first value with a
 * warning (per the DICT_FLAG_DUP_* flags); malformed lines are warned
 * about with file and line and ignored. Keys fold to lower case with
 * DICT_FLAG_FOLD_FIX.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "util/dict_impl.h"
#include "util/memtab.h"
#include "util/table_file.h"
#include "util/mem.h"
#include "util/msg.h"

struct load {
    memtab *t;
    const char *path;
    int     flags;
};

static int load_line(char *line, int lineno, void *ctx)
{
    struct load *l = ctx;
    char *key, *value;
    const char *why;
    if (table_split_kv(line, &key, &value, &why) < 0) {
        if (why[0] == 'u')
            msg_warn("%s, line %d: %s in '%.100s' -- ignoring this line", l->path, lineno, why, line);
        else
            msg_warn("%s, line %d: %s -- ignoring this line", l->path, lineno, why);
        return 0;
    }
    if (l->flags & DICT_FLAG_FOLD_FIX)
        for (char *c = key; *c; c++)
            *c = (char) tolower((unsigned char) *c);
    int replace = (l->flags & DICT_FLAG_DUP_REPLACE) != 0;
    if (memtab_put(l->t, key, value, replace) == 1
        && !(l->flags & (DICT_FLAG_DUP_IGNORE | DICT_FLAG_DUP_REPLACE)))
        msg_warn("%s, line %d: duplicate entry: \"%s\"", l->path, lineno, key);
    return 0;
}

dict *dict_texthash_open(const char *name, int open_flags, int dict_flags, char **err)
{
    if (open_flags & (O_WRONLY | O_RDWR)) {
        *err = dict_errorf("texthash:%s map requires O_RDONLY access mode", name);
        return 0;
    }
    struct load l = { memtab_create(), name, dict_flags };
    if (table_read_file(name, load_line, &l) < 0) {
        *err = dict_errorf("open %s: %s", name, strerror(errno));
        memtab_free(l.t);
        return 0;
    }
    dict *d = dict_mem_wrap("texthash", name, open_flags, dict_flags, l.t);
    d->update = 0;             /* read-only, like Postfix */
    d->remove = 0;
    return d;
}
