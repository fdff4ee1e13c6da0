/*
 * dict_regexp.c - regexp: tables with POSIX regular expressions (regexp_table(5)).
 *
 * Supplies the POSIX engine to dict_pattern.c, which owns the file grammar
 * and lookups. Flags: i (case-insensitive, on by default), x (extended
 * syntax, on by default), m (newline-sensitive, off by default); each
 * letter toggles. Also accepts the /re1/!/re2/ form (match re1, not re2).
 */
#include <regex.h>
#include <stdio.h>

#include "util/dict_impl.h"
#include "util/dict_pattern.h"
#include "util/mem.h"
#include "util/msg.h"

static void *rx_compile(const char *pattern, const char *flags, const char *where,
                        int *nsub, int *bad_flag)
{
    int cflags = REG_EXTENDED | REG_ICASE;
    for (const char *f = flags; *f; f++) {
        switch (*f) {
        case 'i': cflags ^= REG_ICASE; break;
        case 'x': cflags ^= REG_EXTENDED; break;
        case 'm': cflags ^= REG_NEWLINE; break;
        default:
            *bad_flag = (unsigned char) *f;
            return 0;
        }
    }
    regex_t *re = xmalloc(sizeof(*re));
    int rc = regcomp(re, pattern, cflags);
    if (rc != 0) {
        char buf[256];
        regerror(rc, re, buf, sizeof(buf));
        msg_warn("%s: %s", where, buf);
        xfree(re);
        return 0;
    }
    *nsub = (int) re->re_nsub;
    return re;
}

static int rx_exec(void *re, const char *subject, long *ovec, int ngroups)
{
    regmatch_t m[PAT_MAX_GROUPS];
    int rc = regexec(re, subject, (size_t) ngroups, m, 0);
    if (rc == REG_NOMATCH)
        return 0;
    if (rc != 0) {
        char buf[256];
        regerror(rc, re, buf, sizeof(buf));
        msg_warn("regexp map: matching error: %s", buf);
        return 0;
    }
    for (int i = 0; i < ngroups; i++) {
        ovec[2 * i] = m[i].rm_so;
        ovec[2 * i + 1] = m[i].rm_eo;
    }
    return 1;
}

static void rx_free(void *re)
{
    regfree(re);
    xfree(re);
}

static const struct pat_engine posix_engine = {
    "regexp", 1, rx_compile, rx_exec, rx_free,
};

dict *dict_regexp_open(const char *name, int open_flags, int dict_flags, char **err)
{
    return dict_pattern_open(&posix_engine, name, open_flags, dict_flags, err);
}
