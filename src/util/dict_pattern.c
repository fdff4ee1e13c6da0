/*
 * dict_pattern.c - regexp:/pcre: table grammar, rule list and lookup (see dict_pattern.h).
 *
 * Does not compile or run regular expressions itself: the engine does.
 * Does not fold keys: pattern flags decide about case.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/dict_pattern.h"
#include "util/dict_impl.h"
#include "util/table_file.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/strv.h"

enum { R_MATCH, R_IF, R_ENDIF };

struct rule {
    int     kind;
    int     lineno;
    int     neg;                /* !/re/ */
    void   *re;
    void   *re2;                /* /re/!/re2/: must not match */
    int     nsub;
    char   *result;
    size_t  skip;               /* R_IF: index after the matching ENDIF */
};

struct pat_priv {
    const struct pat_engine *eng;
    struct rule *rules;
    size_t  n, cap;
    size_t *stack;              /* open IFs while loading */
    size_t  depth, stack_cap;
    int     flags;              /* dict flags while loading */
    const char *origin;
    sbuf    where;
    sbuf    out;
};

static const char *where(struct pat_priv *p, int lineno)
{
    sbuf_reset(&p->where);
    sbuf_printf(&p->where, "%s map %s, line %d", p->eng->type, p->origin, lineno);
    return sbuf_str(&p->where);
}

static struct rule *add_rule(struct pat_priv *p, int kind, int lineno)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->rules = xreallocarray(p->rules, p->cap, sizeof(*p->rules));
    }
    struct rule *r = &p->rules[p->n++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->lineno = lineno;
    return r;
}

/*
 * Parse [!]<d>pattern<d>flags at *pp. Returns the compiled pattern or
 * NULL (after a warning). *pp ends after the flags.
 */
static void *get_pattern(struct pat_priv *p, const char **pp, int lineno, int *neg,
                         int *nsub, int stop_at_bang)
{
    const char *s = *pp;
    *neg = 0;
    if (*s == '!') {
        *neg = 1;
        s++;
        while (isspace((unsigned char) *s))
            s++;
    }
    unsigned char delim = (unsigned char) *s;
    if (!delim || isalnum(delim) || isspace(delim)) {
        msg_warn("%s: ignoring unrecognized request", where(p, lineno));
        return 0;
    }
    const char *start = ++s;
    while (*s && (unsigned char) *s != delim) {
        if (*s == '\\' && s[1])
            s++;
        s++;
    }
    if (!*s) {
        msg_warn("%s: no closing regexp delimiter \"%c\": skipping this rule",
                 where(p, lineno), delim);
        return 0;
    }
    char *re = xstrndup(start, (size_t) (s - start));
    s++;
    const char *fstart = s;
    while (*s && !isspace((unsigned char) *s) && !(stop_at_bang && *s == '!'))
        s++;
    char *flags = xstrndup(fstart, (size_t) (s - fstart));
    *pp = s;
    int bad_flag = 0;
    void *c = p->eng->compile(re, flags, where(p, lineno), nsub, &bad_flag);
    if (!c && bad_flag)
        msg_warn("%s: unknown regexp option \"%c\": skipping this rule",
                 where(p, lineno), bad_flag);
    xfree(re);
    xfree(flags);
    return c;
}

/*
 * Check the $n references in a result. Returns 1 when the result uses
 * substitution, 0 when it does not, -1 (after a warning) when it is bad.
 */
static int check_result(struct pat_priv *p, const char *res, int nsub, int neg, int lineno)
{
    int used = 0;
    for (const char *s = res; *s; s++) {
        if (*s != '$')
            continue;
        s++;
        if (*s == '$')
            continue;
        const char *name, *end;
        if (*s == '{' || *s == '(') {
            char close = *s == '{' ? '}' : ')';
            name = s + 1;
            end = strchr(name, close);
            if (!end) {
                msg_warn("%s: bad replacement syntax: skipping this rule", where(p, lineno));
                return -1;
            }
            s = end;
        } else {
            name = s;
            end = s;
            while (isalnum((unsigned char) *end) || *end == '_')
                end++;
            s = end - 1;
        }
        if (end == name) {
            msg_warn("empty macro name: \"%s\"", res);
            msg_warn("%s: bad replacement syntax: skipping this rule", where(p, lineno));
            return -1;
        }
        int numeric = 1;
        for (const char *q = name; q < end; q++)
            if (!isdigit((unsigned char) *q))
                numeric = 0;
        if (!numeric) {
            msg_warn("%s: non-numeric replacement index \"%.*s\"", where(p, lineno),
                     (int) (end - name), name);
            msg_warn("%s: bad replacement syntax: skipping this rule", where(p, lineno));
            return -1;
        }
        if (neg) {
            msg_warn("%s: $number found in negative match replacement text: "
                     "skipping this rule", where(p, lineno));
            return -1;
        }
        long n = end - name > 3 ? 9999 : strtol(name, 0, 10);
        if (n < 1 || n > nsub || n >= PAT_MAX_GROUPS) {
            msg_warn("%s: out of range replacement index \"%.*s\": skipping this rule",
                     where(p, lineno), (int) (end - name), name);
            return -1;
        }
        used = 1;
    }
    return used;
}

static int is_keyword(const char *s, const char *kw)
{
    size_t n = strlen(kw);
    if (strncasecmp(s, kw, n) != 0)
        return 0;
    unsigned char c = (unsigned char) s[n];
    return c == 0 || !isalnum(c);
}

static int parse_line(char *line, int lineno, void *ctx)
{
    struct pat_priv *p = ctx;
    const char *s = line;
    int neg = 0, nsub = 0;

    if (is_keyword(s, "endif")) {
        s += 5;
        while (isspace((unsigned char) *s))
            s++;
        if (*s)
            msg_warn("%s: ignoring extra text after ENDIF", where(p, lineno));
        if (p->depth == 0) {
            msg_warn("%s: ignoring ENDIF without matching IF", where(p, lineno));
            return 0;
        }
        add_rule(p, R_ENDIF, lineno);
        p->rules[p->stack[--p->depth]].skip = p->n;
        return 0;
    }
    if (is_keyword(s, "if")) {
        s += 2;
        while (isspace((unsigned char) *s))
            s++;
        void *re = get_pattern(p, &s, lineno, &neg, &nsub, 0);
        if (!re)
            return 0;   /* Postfix skips a bad IF line; its ENDIF then warns */
        while (isspace((unsigned char) *s))
            s++;
        if (*s)
            msg_warn("%s: ignoring extra text after IF statement: \"%s\"", where(p, lineno), s);
        struct rule *r = add_rule(p, R_IF, lineno);
        r->re = re;
        r->neg = neg;
        if (p->depth == p->stack_cap) {
            p->stack_cap = p->stack_cap ? p->stack_cap * 2 : 8;
            p->stack = xreallocarray(p->stack, p->stack_cap, sizeof(size_t));
        }
        p->stack[p->depth++] = p->n - 1;
        return 0;
    }
    void *re = get_pattern(p, &s, lineno, &neg, &nsub, p->eng->two_pattern);
    if (!re)
        return 0;
    void *re2 = 0;
    if (p->eng->two_pattern && *s == '!' && !neg) {
        int neg2 = 0, nsub2 = 0;
        s++;
        re2 = get_pattern(p, &s, lineno, &neg2, &nsub2, 1);
        if (!re2) {
            p->eng->free(re);
            return 0;
        }
    } else if (*s == '!') {
        msg_warn("%s: unknown regexp option \"!\": skipping this rule", where(p, lineno));
        p->eng->free(re);
        return 0;
    }
    while (isspace((unsigned char) *s))
        s++;
    if (!*s)
        msg_warn("%s: no replacement text: using empty string", where(p, lineno));
    int used = check_result(p, s, nsub, neg, lineno);
    if (used > 0 && (p->flags & DICT_FLAG_NO_SUBST)) {
        msg_warn("%s: regular expression substitution is not allowed: skipping this rule",
                 where(p, lineno));
        used = -1;
    }
    if (used < 0) {
        p->eng->free(re);
        if (re2)
            p->eng->free(re2);
        return 0;
    }
    struct rule *r = add_rule(p, R_MATCH, lineno);
    r->re = re;
    r->re2 = re2;
    r->neg = neg;
    r->nsub = nsub;
    r->result = xstrdup(s);
    return 0;
}

static const char *expand(struct pat_priv *p, const char *tmpl, const char *subject,
                          const long *ovec)
{
    sbuf_reset(&p->out);
    for (const char *s = tmpl; *s; s++) {
        if (*s != '$') {
            sbuf_addc(&p->out, *s);
            continue;
        }
        s++;
        if (*s == '$') {
            sbuf_addc(&p->out, '$');
            continue;
        }
        const char *name = s;
        if (*s == '{' || *s == '(') {
            name = s + 1;
            s = strchr(name, *s == '{' ? '}' : ')');
        } else {
            while (isdigit((unsigned char) s[1]))
                s++;
        }
        int n = atoi(name);                     /* validated when loading */
        long b = ovec[2 * n], e = ovec[2 * n + 1];
        if (b >= 0 && e >= b)
            sbuf_add(&p->out, subject + b, (size_t) (e - b));
    }
    return sbuf_str(&p->out);
}

static const char *pat_lookup(dict *d, const char *key)
{
    struct pat_priv *p = d->priv;
    long ovec[2 * PAT_MAX_GROUPS];
    size_t i = 0;
    while (i < p->n) {
        struct rule *r = &p->rules[i];
        if (r->kind == R_ENDIF) {
            i++;
            continue;
        }
        int ngroups = r->kind == R_MATCH && !r->neg ? r->nsub + 1 : 1;
        if (ngroups > PAT_MAX_GROUPS)
            ngroups = PAT_MAX_GROUPS;
        int m = p->eng->exec(r->re, key, ovec, ngroups);
        if (m < 0) {
            msg_warn("%s map %s, line %d: matching error", p->eng->type, d->name, r->lineno);
            d->error = DICT_ERR_RETRY;
            return 0;
        }
        if (r->neg)
            m = !m;
        if (r->kind == R_IF) {
            i = m ? i + 1 : r->skip;
            continue;
        }
        if (m && r->re2) {
            long ovec2[2];
            int m2 = p->eng->exec(r->re2, key, ovec2, 1);
            if (m2 < 0) {
                d->error = DICT_ERR_RETRY;
                return 0;
            }
            m = !m2;
        }
        if (m)
            return expand(p, r->result, key, ovec);
        i++;
    }
    return 0;
}

static void free_priv(struct pat_priv *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->rules[i].re)
            p->eng->free(p->rules[i].re);
        if (p->rules[i].re2)
            p->eng->free(p->rules[i].re2);
        xfree(p->rules[i].result);
    }
    xfree(p->rules);
    xfree(p->stack);
    sbuf_free(&p->where);
    sbuf_free(&p->out);
    xfree(p);
}

static void pat_close(dict *d)
{
    free_priv(d->priv);
    dict_free(d);
}

dict *dict_pattern_open(const struct pat_engine *eng, const char *name, int open_flags,
                        int dict_flags, char **err)
{
    if (open_flags & (O_WRONLY | O_RDWR)) {
        *err = dict_errorf("%s:%s map requires O_RDONLY access mode", eng->type, name);
        return 0;
    }
    struct pat_priv *p = xcalloc(1, sizeof(*p));
    p->eng = eng;
    p->flags = dict_flags;
    p->origin = name;
    char *inner = 0;
    int braced = dict_braced_name(name, &inner);
    int rc;
    if (braced < 0) {
        *err = dict_errorf("%s:%s: bad syntax: expected \"{ {rule}, {rule}... }\"", eng->type, name);
        xfree(p);
        return 0;
    } else if (braced) {
        strv rules = { 0, 0, 0 };
        if (dict_split_braced(inner, &rules) < 0) {
            *err = dict_errorf("%s:%s: unbalanced braces", eng->type, name);
            strv_free(&rules);
            xfree(inner);
            xfree(p);
            return 0;
        }
        char *text = strv_join(&rules, "\n");
        rc = table_parse_text(text, strlen(text), name, parse_line, p);
        xfree(text);
        strv_free(&rules);
        xfree(inner);
    } else {
        rc = table_read_file(name, parse_line, p);
    }
    if (rc < 0) {
        *err = dict_errorf("open %s: %s", name, strerror(errno));
        free_priv(p);
        return 0;
    }
    while (p->depth > 0) {
        size_t i = p->stack[--p->depth];
        msg_warn("%s: IF has no matching ENDIF", where(p, p->rules[i].lineno));
        p->rules[i].skip = p->n;
    }
    dict *d = dict_alloc(eng->type, name, open_flags, (dict_flags & ~DICT_FLAG_FOLD_FIX)
                         | DICT_FLAG_PATTERN);
    p->origin = d->name;
    d->priv = p;
    d->lookup = pat_lookup;
    d->close = pat_close;
    return d;
}
