/*
 * pa_parse.c - aliases(5) lines: "name: value1, value2, ..." (see postalias.h).
 *
 * A small RFC 822 tokenizer (atoms, "quoted strings", (comments), [domain
 * literals], specials) and the rules for writing the tokens back out. The
 * name ends at the first ':' outside quotes, comments and brackets. Values
 * are not checked as addresses here: local(8) interprets them
 * (:include:, |command, /file, address) at delivery time.
 */
#include <ctype.h>
#include <string.h>

#include "postalias.h"
#include "util/mem.h"

enum { T_ATOM = 256, T_QSTRING, T_COMMENT, T_DLIT };

struct tok {
    int     type;               /* T_* or the special character */
    char   *text;               /* atom: unescaped; others: as written */
};

struct toks {
    struct tok *v;
    size_t  n, cap;
};

#define SPECIALS "()<>@,;:\\\".[]"

static void add(struct toks *t, int type, const char *s, size_t len)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
    }
    t->v[t->n].type = type;
    t->v[t->n].text = xstrndup(s, len);
    t->n++;
}

static void free_toks(struct toks *t)
{
    for (size_t i = 0; i < t->n; i++)
        xfree(t->v[i].text);
    xfree(t->v);
}

/* Text of a bracketed token, closing it when the line ends early. */
static const char *scan_group(const char *s, char open, char close, sbuf *out)
{
    int depth = 0;
    sbuf_reset(out);
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            sbuf_addc(out, *s++);
            sbuf_addc(out, *s);
            continue;
        }
        sbuf_addc(out, *s);
        if (*s == open)
            depth++;
        else if (*s == close && --depth == 0)
            return s + 1;
    }
    sbuf_addc(out, close);              /* unterminated: close it */
    return s;
}

static void tokenize(const char *s, struct toks *t)
{
    sbuf buf = SBUF_INIT;
    while (*s) {
        unsigned char c = (unsigned char) *s;
        if (isspace(c)) {
            s++;
        } else if (c == '(') {
            s = scan_group(s, '(', ')', &buf);
            add(t, T_COMMENT, buf.s, buf.len);
        } else if (c == '"') {
            sbuf_reset(&buf);
            sbuf_addc(&buf, '"');
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\' && s[1])
                    sbuf_addc(&buf, *s++);
                sbuf_addc(&buf, *s);
            }
            if (*s == '"')
                s++;
            sbuf_addc(&buf, '"');
            add(t, T_QSTRING, buf.s, buf.len);
        } else if (c == '[') {
            sbuf_reset(&buf);
            for (; *s && *s != ']'; s++) {
                if (*s == '\\' && s[1])
                    sbuf_addc(&buf, *s++);
                sbuf_addc(&buf, *s);
            }
            if (*s == ']')
                s++;
            sbuf_addc(&buf, ']');
            add(t, T_DLIT, buf.s, buf.len);
        } else if (c != '\\' && strchr(SPECIALS, c)) {
            add(t, c, s, 1);
            s++;
        } else {
            sbuf_reset(&buf);
            while (*s && !isspace((unsigned char) *s)) {
                if (*s == '\\') {
                    if (s[1])
                        sbuf_addc(&buf, s[1]);
                    s += s[1] ? 2 : 1;
                    continue;
                }
                if (strchr(SPECIALS, *s))
                    break;
                sbuf_addc(&buf, *s++);
            }
            if (buf.len)
                add(t, T_ATOM, buf.s, buf.len);
        }
    }
    sbuf_free(&buf);
}

static int wordish(int type)
{
    return type == T_ATOM || type == T_QSTRING || type == T_COMMENT || type == T_DLIT;
}

static int needs_quotes(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char) *s) || strchr(SPECIALS, *s))
            return 1;
    return 0;
}

/* Write tokens [from, to) back out. plain: names (no quotes at all). */
static void externalize(const struct toks *t, size_t from, size_t to, int plain, sbuf *out)
{
    int prev = 0;
    sbuf_reset(out);
    for (size_t i = from; i < to; i++) {
        const struct tok *k = &t->v[i];
        if (wordish(k->type)) {
            if (wordish(prev))
                sbuf_addc(out, ' ');
            if (k->type == T_QSTRING && plain) {
                size_t n = strlen(k->text);
                for (size_t j = 1; j + 1 < n; j++) {
                    if (k->text[j] == '\\' && j + 2 < n)
                        j++;
                    sbuf_addc(out, k->text[j]);
                }
            } else if (k->type == T_ATOM && !plain && needs_quotes(k->text)) {
                sbuf_addc(out, '"');
                for (const char *c = k->text; *c; c++) {
                    if (*c == '"' || *c == '\\')
                        sbuf_addc(out, '\\');
                    sbuf_addc(out, *c);
                }
                sbuf_addc(out, '"');
            } else {
                sbuf_adds(out, k->text);
            }
        } else if (k->type == ',') {
            sbuf_adds(out, ", ");
        } else if (k->type == '<') {
            if (out->len && out->s[out->len - 1] != ' ')
                sbuf_addc(out, ' ');
            sbuf_addc(out, '<');
        } else {
            sbuf_addc(out, (char) k->type);
        }
        prev = k->type;
    }
}

int alias_parse_line(const char *line, sbuf *name, sbuf *value, const char **why)
{
    struct toks t = { 0, 0, 0 };
    tokenize(line, &t);
    size_t colon = 0;
    while (colon < t.n && t.v[colon].type != ':')
        colon++;
    int rc = 0;
    if (t.n == 0 || colon == 0 || colon + 1 >= t.n) {
        *why = "need name:value pair";
        rc = -1;
    } else {
        for (size_t i = 0; i < colon; i++)
            if (t.v[i].type == '@') {
                *why = "name must be local";
                rc = -1;
            }
    }
    if (rc == 0) {
        externalize(&t, 0, colon, 1, name);
        externalize(&t, colon + 1, t.n, 0, value);
        if (name->len == 0 || value->len == 0) {
            *why = "need name:value pair";
            rc = -1;
        }
    }
    free_toks(&t);
    return rc;
}
