/*
 * dict_regexp.c - regexp: tables with POSIX regular expressions (regexp_table(5)).
 *
 * Supplies the POSIX engine to dict_pattern.c, which owns the file grammar
 * and lookups. Flags: i (case-insensitive, on by default), x (extended
 * syntax, on by default), m (newline-sensitive, off by default); each
 * letter toggles. Also accepts the /re1/!/re2/ form (match re1, not re2).
 *
 * glibc's regcomp() takes time and memory exponential in a run of stacked
 * repetition operators ("a+++++++++" took gigabytes): a pattern with more
 * than MAX_STACKED of them in a row is refused with a clear warning
 * instead ("a*?" style pairs stay accepted).
 */
#include <regex.h>
#include <stdio.h>

#include "util/dict_impl.h"
#include "util/dict_pattern.h"
#include "util/mem.h"
#include "util/msg.h"

#define MAX_STACKED 2

/* The longest run of repetition operators (*, +, ?, {m,n}) applied one
 * on top of another, outside bracket expressions and escapes. */
static int stacked_repetitions(const char *p)
{
    int run = 0, worst = 0;
    while (*p) {
        if (*p == '\\' && p[1]) {
            run = 0;
            p += 2;
        } else if (*p == '[') {
            /* A bracket expression: "]" first is a member, "[:...:]" classes. */
            p++;
            if (*p == '^')
                p++;
            if (*p == ']')
                p++;
            while (*p && *p != ']') {
                if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
                    char end = p[1];
                    p += 2;
                    while (*p && !(*p == end && p[1] == ']'))
                        p++;
                    if (*p)
                        p += 2;
                } else {
                    p++;
                }
            }
            if (*p)
                p++;
            run = 0;
        } else if (*p == '*' || *p == '+' || *p == '?') {
            if (++run > worst)
                worst = run;
            p++;
        } else if (*p == '{') {
            const char *q = p + 1;
            while (*q >= '0' && *q <= '9')
                q++;
            if (*q == ',')
                for (q++; *q >= '0' && *q <= '9'; q++)
                    ;
            if (*q == '}' && q > p + 1) {
                if (++run > worst)
                    worst = run;
                p = q + 1;
            } else {
                run = 0;
                p++;
            }
        } else {
            run = 0;
            p++;
        }
    }
    return worst;
}

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
    if (stacked_repetitions(pattern) > MAX_STACKED) {
        msg_warn("%s: more than %d repetition operators in a row (such as \"a+++\")",
                 where, MAX_STACKED);
        return 0;
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
