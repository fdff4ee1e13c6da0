/*
 * dict_tool.h - what postmap and postalias have in common: query, list,
 * delete and build tables named "[type:]name" on the command line.
 *
 * Output goes to stdout in postmap(1)/postalias(1) formats (sep is "\t"
 * for postmap, ":\t" for postalias); problems go through msg_* and the
 * unrecoverable ones are fatal, as in those commands. Building uses
 * dict_build.h, so a failed build leaves the old table in place. This
 * module knows nothing about main.cf: callers pass the default type.
 */
#ifndef HK_UTIL_DICT_TOOL_H
#define HK_UTIL_DICT_TOOL_H

#include <stdio.h>
#include "util/dict.h"

/* Split "[type:]name" (at the first ':'); *type and *name are malloc'd. */
void dict_tool_split(const char *spec, const char *default_type, char **type, char **name);

/* Open "[type:]name" for lookups or fatal. */
dict *dict_tool_open(const char *spec, const char *default_type, int dict_flags);

/*
 * -q key: print the first value found in specs[0..n). key "-" reads keys
 * from in, one per line, and prints "key<sep>value" for each key found.
 * Returns the exit status: 0 found (at least one), 1 not found.
 */
int dict_tool_query(char **specs, int n, const char *default_type, int dict_flags,
                    const char *key, const char *sep, FILE *in);
/* The same for keys already split out of a message (-h/-b modes). */
int dict_tool_query_keys(char **specs, int n, const char *default_type, int dict_flags,
                         char **keys, size_t nkeys, const char *sep);

/* -s: print every "key<sep>value" of each table. Returns 0. */
int dict_tool_dump(char **specs, int n, const char *default_type, int dict_flags,
                   const char *sep);

/* -d key (or "-" for keys from in): remove one entry per table, rebuilding
 * atomically. Returns 0 when something was removed, else 1. */
int dict_tool_delete(char **specs, int n, const char *default_type, int dict_flags,
                     const char *key, FILE *in);

/*
 * Build one table. Reads the source file NAME (or, with incremental, stdin
 * into the existing table), calls fn for each logical line (fn calls
 * dict_update and warns about bad lines itself), then finish (may be NULL),
 * then commits. Fatal on errors; the old table is left alone then.
 */
typedef void (*dict_tool_line_fn)(dict *d, char *line, int lineno, const char *origin,
                                  void *ctx);
void dict_tool_build(const char *type, const char *name, int dict_flags, int build_flags,
                     int incremental, dict_tool_line_fn fn,
                     void (*finish)(dict *d, void *ctx), void *ctx);

/* When running as root, switch the effective uid/gid to the owner of path
 * (unless it is root's); back to root first if an earlier call dropped. */
void dict_tool_run_as_owner(const char *path);

#endif
