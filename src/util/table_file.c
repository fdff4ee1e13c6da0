/*
 * table_file.c - logical lines of lookup-table source files (see table_file.h).
 *
 * Reads line by line (tables can be large), so memory stays bounded by the
 * longest logical line. Does not interpret keys, values or patterns.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/table_file.h"
#include "util/sbuf.h"
#include "util/msg.h"

struct reader {
    const char *origin;
    table_line_fn fn;
    void   *ctx;
    sbuf    logical;
    int     start;          /* first physical line of logical, 0 if none */
    int     bad;            /* logical line is being skipped */
};

static int flush(struct reader *r)
{
    int rc = 0;
    if (r->start && !r->bad) {
        sbuf *b = &r->logical;
        while (b->len && isspace((unsigned char) b->s[b->len - 1]))
            b->len--;
        b->s[b->len] = 0;
        if (memchr(b->s, 0, b->len))
            msg_warn("%s, line %d: NUL character in line: skipping this line",
                     r->origin, r->start);
        else
            rc = r->fn(b->s, r->start, r->ctx);
    }
    sbuf_reset(&r->logical);
    r->start = 0;
    r->bad = 0;
    return rc;
}

/* One physical line (without its newline). */
static int physical(struct reader *r, const char *p, size_t len, int lineno)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char) p[i]))
        i++;
    if (i == len || p[i] == '#')
        return 0;                               /* blank or comment */
    if (i == 0) {
        int rc = flush(r);
        if (rc)
            return rc;
        r->start = lineno;
        sbuf_add(&r->logical, p, len);
        return 0;
    }
    if (!r->start) {
        /* A continuation with nothing to continue: Postfix skips it. */
        msg_warn("%s, line %d: logical line must not start with whitespace: \"%.*s\"",
                 r->origin, lineno, len > 100 ? 100 : (int) len, p);
        r->start = lineno;
        r->bad = 1;
        return 0;
    }
    if (r->bad)
        return 0;
    if (r->logical.len + len > TABLE_MAX_LINE) {
        msg_warn("%s, line %d: logical line longer than %d bytes: skipping this line",
                 r->origin, r->start, TABLE_MAX_LINE);
        r->bad = 1;
        return 0;
    }
    sbuf_add(&r->logical, p, len);
    return 0;
}

int table_read_stream(FILE *fp, const char *origin, table_line_fn fn, void *ctx)
{
    struct reader r = { origin, fn, ctx, SBUF_INIT, 0, 0 };
    sbuf line = SBUF_INIT;
    int lineno = 0, rc = 0, c = 0, toolong = 0;

    while (rc == 0) {
        sbuf_reset(&line);
        toolong = 0;
        while ((c = getc(fp)) != EOF && c != '\n') {
            if (line.len < TABLE_MAX_LINE)
                sbuf_addc(&line, c);
            else
                toolong = 1;
        }
        if (c == EOF && line.len == 0)
            break;
        lineno++;
        if (toolong) {
            msg_warn("%s, line %d: line longer than %d bytes: skipping this line",
                     origin, lineno, TABLE_MAX_LINE);
            if (flush(&r) != 0)
                break;
            continue;
        }
        rc = physical(&r, line.s ? line.s : "", line.len, lineno);
        if (c == EOF)
            break;
    }
    int saved = 0;
    if (rc == 0 && ferror(fp)) {
        saved = errno ? errno : EIO;
        rc = -1;
    }
    if (rc == 0)
        rc = flush(&r);
    sbuf_free(&line);
    sbuf_free(&r.logical);
    if (rc == -1 && saved)
        errno = saved;
    return rc;
}

int table_read_file(const char *path, table_line_fn fn, void *ctx)
{
    FILE *fp = fopen(path, "re");
    if (!fp)
        return -1;
    int rc = table_read_stream(fp, path, fn, ctx);
    int saved = errno;
    fclose(fp);
    errno = saved;
    return rc;
}

int table_parse_text(const char *text, size_t len, const char *origin,
                     table_line_fn fn, void *ctx)
{
    struct reader r = { origin, fn, ctx, SBUF_INIT, 0, 0 };
    const char *p = text, *end = text + len;
    int lineno = 0, rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *eol = nl ? nl : end;
        rc = physical(&r, p, (size_t) (eol - p), ++lineno);
        p = nl ? nl + 1 : end;
    }
    if (rc == 0)
        rc = flush(&r);
    sbuf_free(&r.logical);
    return rc;
}

int table_split_kv(char *line, char **key, char **value, const char **why)
{
    char *p = line;
    int quoted = 0;
    while (isspace((unsigned char) *p))
        p++;
    *key = p;
    for (; *p; p++) {
        if (quoted) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                quoted = 0;
        } else if (*p == '"') {
            quoted = 1;
        } else if (isspace((unsigned char) *p)) {
            break;
        }
    }
    if (quoted) {
        *why = "unbalanced '\"'";
        return -1;
    }
    if (*p == 0) {
        *why = "expected format: key whitespace value";
        return -1;
    }
    *p++ = 0;
    while (isspace((unsigned char) *p))
        p++;
    char *e = p + strlen(p);
    while (e > p && isspace((unsigned char) e[-1]))
        *--e = 0;
    if (*p == 0 || **key == 0) {
        *why = "expected format: key whitespace value";
        return -1;
    }
    *value = p;
    return 0;
}
