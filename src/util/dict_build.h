/*
 * dict_build.h - building and updating indexed tables (hash, btree, lmdb) atomically.
 *
 * dict_build_begin() opens a new table file beside NAME.db (or NAME.lmdb)
 * under a temporary name; the caller adds entries through the returned
 * dict (dict_update/dict_remove); dict_build_commit() flushes it to disk
 * and renames it over the old file; dict_build_abort() throws it away.
 * A reader sees the old table or the new one, never a half-built one, and
 * a failed or interrupted build leaves the old table as it was.
 *
 * With DICT_BUILD_INCREMENTAL the temporary file starts as a copy of the
 * existing table (postmap -i, -d), else it starts empty. Concurrent
 * builders of the same table are serialised with an exclusive flock(2)
 * on the existing table file, re-taken when the file was replaced while
 * waiting.
 *
 * The new file keeps the mode (and, for root, the owner) of the table it
 * replaces; a first build takes the group/other read bits of the source
 * file NAME (mode 0600 | (source & 0044), as Postfix does), or 0644 with
 * DICT_BUILD_DEFAULT_MODE (postmap -p) or when there is no source file.
 * Nothing here drops privileges: callers do that first.
 */
#ifndef HK_UTIL_DICT_BUILD_H
#define HK_UTIL_DICT_BUILD_H

#include "util/dict.h"

#define DICT_BUILD_INCREMENTAL  (1 << 0)    /* start from the existing table */
#define DICT_BUILD_DEFAULT_MODE (1 << 1)    /* mode 0644, not the source file's */

typedef struct dict_build dict_build;

/* NULL with a malloc'd message in *err on failure. */
dict_build *dict_build_begin(const char *type, const char *name, int dict_flags,
                             int build_flags, char **err);
/* The table being built; its name is NAME, as for a normal open. */
dict *dict_build_dict(dict_build *b);
/* Finish: returns 0, or -1 with *err set (the old table is then untouched).
 * Frees b either way. */
int   dict_build_commit(dict_build *b, char **err);
/* Discard the new table; frees b. */
void  dict_build_abort(dict_build *b);
/* Remove every unfinished temporary file (for fatal-error and signal paths;
 * async-signal-safe). */
void  dict_build_cleanup(void);

#endif
