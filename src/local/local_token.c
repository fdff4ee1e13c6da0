/*
 * local_token.c - split an alias value, .forward line or :include: line into destinations.
 *
 * See local_token.h for the syntax. Pure string handling: no
 * configuration, no I/O, no failure other than running out of memory
 * (fatal, as everywhere).
 */
#include <string.h>
#include <strings.h>

#include "local/local_token.h"
#include "util/mem.h"
#include "util/sbuf.h"

#define INCLUDE_PREFIX "include:"   /* after the leading ':' */

static bool is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void add_token(struct local_token_list *l, enum local_token_type type, const char *text,
                      size_t len, bool backslash)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->t = xreallocarray(l->t, l->cap, sizeof(*l->t));
    }
    l->t[l->n].type = type;
    l->t[l->n].text = xstrndup(text, len);
    l->t[l->n].backslash = backslash;
    l->n++;
}

/* End of the item that starts at p: the first top-level comma, or the end. */
static const char *item_end(const char *p)
{
    int paren = 0, angle = 0;
    bool quoted = false;
    for (; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (quoted) {
            if (*p == '"')
                quoted = false;
            continue;
        }
        switch (*p) {
        case '"': quoted = true; break;
        case '(': paren++; break;
        case ')': if (paren > 0) paren--; break;
        case '<': if (!paren) angle++; break;
        case '>': if (!paren && angle > 0) angle--; break;
        case ',':
            if (!paren && !angle)
                return p;
            break;
        }
    }
    return p;
}

/* Remove double quotes; inside them resolve backslash escapes. Outside
 * quotes everything is kept (a command's backslashes belong to the shell). */
static void unquote_whole(const char *s, size_t len, sbuf *out)
{
    bool quoted = false;
    sbuf_reset(out);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            quoted = !quoted;
            continue;
        }
        if (quoted && c == '\\' && i + 1 < len) {
            sbuf_addc(out, s[++i]);
            continue;
        }
        sbuf_addc(out, c);
    }
}

/* Drop (comments) outside quotes; they nest, as in RFC 5322. */
static void strip_comments(const char *s, size_t len, sbuf *out)
{
    int depth = 0;
    bool quoted = false;
    sbuf_reset(out);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < len) {
            if (!depth) {
                sbuf_addc(out, c);
                sbuf_addc(out, s[i + 1]);
            }
            i++;
            continue;
        }
        if (quoted) {
            if (c == '"')
                quoted = false;
            sbuf_addc(out, c);
            continue;
        }
        if (c == '(') {
            depth++;
            continue;
        }
        if (c == ')' && depth > 0) {
            depth--;
            if (!depth)
                sbuf_addc(out, ' ');
            continue;
        }
        if (depth)
            continue;
        if (c == '"')
            quoted = true;
        sbuf_addc(out, c);
    }
}

/* One address word: a leading backslash marks \user; quotes and escapes go. */
static void add_address(struct local_token_list *l, const char *s, size_t len)
{
    while (len > 0 && is_blank(*s))
        s++, len--;
    while (len > 0 && is_blank(s[len - 1]))
        len--;
    bool backslash = false;
    if (len > 0 && *s == '\\') {
        backslash = true;
        s++, len--;
    }
    sbuf out = SBUF_INIT;
    bool quoted = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            quoted = !quoted;
            continue;
        }
        if (c == '\\' && i + 1 < len) {
            sbuf_addc(&out, s[++i]);
            continue;
        }
        sbuf_addc(&out, c);
    }
    if (out.len > 0)
        add_token(l, LOCAL_TOK_ADDRESS, out.s, out.len, backslash);
    sbuf_free(&out);
}

/* Address item: "Name <addr>" gives addr, otherwise blank-separated words. */
static size_t parse_addresses(struct local_token_list *l, const char *s, size_t len)
{
    size_t before = l->n;
    sbuf clean = SBUF_INIT;
    strip_comments(s, len, &clean);
    const char *p = sbuf_str(&clean), *end = p + clean.len;

    /* An angle address wins over everything else in the item. */
    bool quoted = false;
    for (const char *q = p; q < end; q++) {
        if (*q == '\\' && q + 1 < end) {
            q++;
            continue;
        }
        if (*q == '"')
            quoted = !quoted;
        else if (*q == '<' && !quoted) {
            const char *close = q + 1;
            bool inq = false;
            for (; close < end; close++) {
                if (*close == '\\' && close + 1 < end) {
                    close++;
                    continue;
                }
                if (*close == '"')
                    inq = !inq;
                else if (*close == '>' && !inq)
                    break;
            }
            add_address(l, q + 1, (size_t) (close - q - 1));
            sbuf_free(&clean);
            return l->n - before;
        }
    }

    /* Words separated by unquoted blanks. */
    const char *w = p;
    quoted = false;
    for (const char *q = p; q <= end; q++) {
        if (q < end && *q == '\\' && q + 1 < end) {
            q++;
            continue;
        }
        if (q < end && *q == '"') {
            quoted = !quoted;
            continue;
        }
        if (q == end || (!quoted && is_blank(*q))) {
            if (q > w)
                add_address(l, w, (size_t) (q - w));
            w = q + 1;
        }
    }
    sbuf_free(&clean);
    return l->n - before;
}

static size_t parse_item(struct local_token_list *l, const char *s, size_t len)
{
    while (len > 0 && is_blank(*s))
        s++, len--;
    while (len > 0 && is_blank(s[len - 1]))
        len--;
    if (len == 0)
        return 0;

    const char *lead = s;
    size_t lead_len = len;
    if (*lead == '"' && lead_len > 1)
        lead++, lead_len--;
    bool include = lead_len > strlen(INCLUDE_PREFIX) && lead[0] == ':'
        && strncasecmp(lead + 1, INCLUDE_PREFIX, strlen(INCLUDE_PREFIX)) == 0;
    if (*lead != '|' && *lead != '/' && *lead != '~' && !include)
        return parse_addresses(l, s, len);

    /* A file, command or include: the whole item, quotes removed. */
    sbuf text = SBUF_INIT;
    unquote_whole(s, len, &text);
    const char *t = sbuf_str(&text);
    size_t tlen = text.len;
    while (tlen > 0 && is_blank(*t))
        t++, tlen--;
    while (tlen > 0 && is_blank(t[tlen - 1]))
        tlen--;
    size_t added = 0;
    if (tlen > 0 && *t == '|') {
        t++, tlen--;
        while (tlen > 0 && is_blank(*t))
            t++, tlen--;
        if (tlen > 0) {
            add_token(l, LOCAL_TOK_COMMAND, t, tlen, false);
            added = 1;
        }
    } else if (include) {
        size_t skip = 1 + strlen(INCLUDE_PREFIX);
        t += skip, tlen -= skip;
        while (tlen > 0 && is_blank(*t))
            t++, tlen--;
        if (tlen > 0) {
            add_token(l, LOCAL_TOK_INCLUDE, t, tlen, false);
            added = 1;
        }
    } else if (tlen > 0) {
        add_token(l, LOCAL_TOK_FILE, t, tlen, false);
        added = 1;
    }
    sbuf_free(&text);
    return added;
}

size_t local_token_parse(const char *text, struct local_token_list *list)
{
    size_t found = 0;
    const char *p = text;
    while (*p) {
        while (*p && (is_blank(*p) || *p == ','))
            p++;
        if (!*p)
            break;
        const char *end = item_end(p);
        found += parse_item(list, p, (size_t) (end - p));
        p = end;
    }
    return found;
}

void local_token_list_free(struct local_token_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        xfree(list->t[i].text);
    xfree(list->t);
    memset(list, 0, sizeof(*list));
}
