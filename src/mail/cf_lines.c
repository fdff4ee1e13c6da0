/*
 * cf_lines.c - physical line classification for config editors (see cf_lines.h).
 */
#include <string.h>

#include "mail/cf_lines.h"
#include "util/mem.h"

static enum cf_line_kind classify(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n' || *q == '\f'
                       || *q == '\v'))
        q++;
    if (q == end || *q == '#')
        return CF_LINE_OTHER;
    return q == p ? CF_LINE_START : CF_LINE_CONT;
}

size_t cf_lines_split(const char *text, size_t len, struct cf_line **lines)
{
    size_t n = 0, cap = 0;
    struct cf_line *v = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *next = nl ? nl + 1 : end;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = xreallocarray(v, cap, sizeof(*v));
        }
        v[n].text = p;
        v[n].len = (size_t) (next - p);
        v[n].kind = classify(p, nl ? nl : end);
        v[n].lineno = (int) n + 1;
        n++;
        p = next;
    }
    *lines = v;
    return n;
}

size_t cf_lines_entry_end(const struct cf_line *lines, size_t n, size_t start)
{
    size_t last = start;
    for (size_t i = start + 1; i < n && lines[i].kind != CF_LINE_START; i++)
        if (lines[i].kind == CF_LINE_CONT)
            last = i;
    return last;
}
