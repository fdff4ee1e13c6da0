/*
 * local_expand.c - $name expansion with caller-supplied values (see local_expand.h).
 *
 * A small recursive parser over (pointer, end) ranges: no copies of the
 * pattern, nesting bounded by MAX_DEPTH so hostile input cannot exhaust
 * the stack.
 *
 * NOT HERE: which names exist (the caller's lookup), main.cf expansion.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "local/local_expand.h"

#define MAX_DEPTH 20

struct exp {
    sbuf   *out;
    local_expand_fn lookup;
    void   *ctx;
    const char *filter;
    int     flags;
};

static bool name_char(int c)
{
    return isalnum((unsigned char) c) || c == '_';
}

static void add_value(struct exp *e, const char *v)
{
    for (; *v; v++)
        sbuf_addc(e->out, e->filter && !strchr(e->filter, *v) ? '_' : *v);
}

/* From p (just after an opening brace), the position of the matching '}'. */
static const char *match_brace(const char *p, const char *end)
{
    int depth = 1;
    for (; p < end; p++) {
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0)
            return p;
    }
    return 0;
}

static void expand_range(struct exp *e, const char *p, const char *end, int depth);

static void expand_text(struct exp *e, const char *p, const char *end, int depth)
{
    if (depth >= MAX_DEPTH) {
        e->flags |= LOCAL_EXP_ERROR;
        return;
    }
    expand_range(e, p, end, depth + 1);
}

/* ${name?...} / ${name:...}: p at the operator; returns the position after
 * the closing brace of the reference, or NULL on a syntax error. */
static const char *conditional(struct exp *e, const char *name, size_t nlen, const char *p,
                               const char *end, int depth)
{
    char op = *p++;
    const char *t1 = p, *t1_end, *t2 = 0, *t2_end = 0, *close;
    if (p < end && *p == '{') {
        t1 = p + 1;
        if (!(t1_end = match_brace(t1, end)))
            return 0;
        p = t1_end + 1;
        if (op == '?' && p + 1 < end && *p == ':' && p[1] == '{') {
            t2 = p + 2;
            if (!(t2_end = match_brace(t2, end)))
                return 0;
            p = t2_end + 1;
        }
        if (p >= end || *p != '}')
            return 0;
        close = p;
    } else {
        if (!(close = match_brace(p, end)))
            return 0;
        t1_end = close;
    }
    const char *v = e->lookup(name, nlen, e->ctx);
    bool nonempty = v && *v;
    if (op == '?') {
        if (nonempty)
            expand_text(e, t1, t1_end, depth);
        else if (t2)
            expand_text(e, t2, t2_end, depth);
    } else if (!nonempty) {
        expand_text(e, t1, t1_end, depth);
    }
    return close + 1;
}

static void expand_range(struct exp *e, const char *p, const char *end, int depth)
{
    while (p < end) {
        if (*p != '$') {
            sbuf_addc(e->out, *p++);
            continue;
        }
        p++;
        if (p >= end) {
            e->flags |= LOCAL_EXP_ERROR;
            return;
        }
        if (*p == '$') {
            sbuf_addc(e->out, '$');
            p++;
            continue;
        }
        char close = 0;
        if (*p == '{')
            close = '}';
        else if (*p == '(')
            close = ')';
        if (close)
            p++;
        const char *name = p;
        while (p < end && name_char(*p))
            p++;
        size_t nlen = (size_t) (p - name);
        if (nlen == 0) {
            e->flags |= LOCAL_EXP_ERROR;
            return;
        }
        if (close) {
            if (p < end && *p == close) {
                p++;
            } else if (close == '}' && p < end && (*p == '?' || *p == ':')) {
                const char *next = conditional(e, name, nlen, p, end, depth);
                if (!next) {
                    e->flags |= LOCAL_EXP_ERROR;
                    return;
                }
                p = next;
                continue;
            } else {
                e->flags |= LOCAL_EXP_ERROR;
                return;
            }
        }
        const char *v = e->lookup(name, nlen, e->ctx);
        if (v)
            add_value(e, v);
        else
            e->flags |= LOCAL_EXP_UNDEF;
    }
}

int local_expand(sbuf *out, const char *pattern, local_expand_fn lookup, void *ctx,
                 const char *filter)
{
    struct exp e = {out, lookup, ctx, filter, 0};
    sbuf_reset(out);
    sbuf_addc(out, 0);          /* make sure out->s exists */
    sbuf_reset(out);
    expand_range(&e, pattern, pattern + strlen(pattern), 0);
    return e.flags;
}
