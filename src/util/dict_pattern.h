/*
 * dict_pattern.h - the file grammar shared by regexp: and pcre: tables.
 *
 * dict_pattern.c reads the table (a file, or "{ {rule}, {rule} }" inline
 * text), parses "/pattern/flags result", "!/pattern/flags result",
 * "if /pattern/flags" ... "endif" (nesting), checks $n references in the
 * results, and at lookup time walks the rules and substitutes $1.. from
 * the match. The regular-expression engine is supplied by the caller
 * (dict_regexp.c: POSIX, dict_pcre.c: PCRE2) through struct pat_engine.
 * Bad rules are warned about as "<type> map <file>, line N: ..." and
 * skipped; only a file that cannot be read fails the open.
 */
#ifndef HK_UTIL_DICT_PATTERN_H
#define HK_UTIL_DICT_PATTERN_H

#include <stddef.h>
#include "util/dict.h"

#define PAT_MAX_GROUPS 100      /* $n up to 99 */

struct pat_engine {
    const char *type;           /* "regexp" or "pcre" */
    int     two_pattern;        /* accept /re1/!/re2/ (regexp only) */
    /*
     * Compile pattern (NUL-terminated) with the flag letters in flags.
     * where is "<type> map <file>, line N" for warnings. Returns NULL after
     * warning; sets *nsub to the number of capturing groups. *bad_flag is
     * set to the offending letter for an unknown flag.
     */
    void *(*compile)(const char *pattern, const char *flags, const char *where,
                     int *nsub, int *bad_flag);
    /* Match subject; fill ovec[2*i], ovec[2*i+1] (offsets, -1 when the group
     * did not take part) for i < ngroups. Returns 1, 0, or -1 on error. */
    int   (*exec)(void *re, const char *subject, long *ovec, int ngroups);
    void  (*free)(void *re);
};

dict *dict_pattern_open(const struct pat_engine *eng, const char *name, int open_flags,
                        int dict_flags, char **err);

#endif
