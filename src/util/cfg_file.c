/*
 * cfg_file.c - logical lines of Postfix-style configuration files (see cfg_file.h).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "util/cfg_file.h"
#include "util/safe_file.h"
#include "util/sbuf.h"
#include "util/mem.h"

#define CFG_MAX_FILE (64 * 1024 * 1024)

static int flush(sbuf *logical, int lineno, cfg_line_fn fn, void *ctx)
{
    if (logical->len == 0)
        return 0;
    while (logical->len && isspace((unsigned char) logical->s[logical->len - 1]))
        logical->len--;
    logical->s[logical->len] = 0;
    int rc = fn(logical->s, lineno, ctx);
    sbuf_reset(logical);
    return rc;
}

int cfg_parse_lines(const char *text, size_t len, cfg_line_fn fn, void *ctx)
{
    sbuf logical = SBUF_INIT;
    int start = 0, lineno = 0, rc = 0;
    const char *p = text, *end = text + len;

    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *eol = nl ? nl : end;
        lineno++;
        const char *q = p;
        while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q == eol || *q == '#') {
            /* blank or comment: skipped */
        } else if (q == p) {
            rc = flush(&logical, start, fn, ctx);
            start = lineno;
            sbuf_add(&logical, p, (size_t) (eol - p));
        } else if (logical.len == 0) {
            /* continuation without a line to continue: treat as its own line */
            start = lineno;
            sbuf_add(&logical, q, (size_t) (eol - q));
        } else {
            while (logical.len && isspace((unsigned char) logical.s[logical.len - 1]))
                logical.len--;
            sbuf_addc(&logical, ' ');
            sbuf_add(&logical, q, (size_t) (eol - q));
        }
        p = nl ? nl + 1 : end;
    }
    if (rc == 0)
        rc = flush(&logical, start, fn, ctx);
    sbuf_free(&logical);
    return rc;
}

int cfg_read_lines(const char *path, cfg_line_fn fn, void *ctx)
{
    size_t len;
    char *text = read_file(path, CFG_MAX_FILE, &len);
    if (!text)
        return -1;
    if (memchr(text, 0, len))
        len = strlen(text);
    int rc = cfg_parse_lines(text, len, fn, ctx);
    xfree(text);
    return rc;
}

int cfg_split_assignment(char *line, char **name, char **value, const char **why)
{
    char *p = line;
    while (isspace((unsigned char) *p))
        p++;
    char *n = p;
    while (*p && (isalnum((unsigned char) *p) || *p == '_' || *p == '-' || *p == '.'
                  || *p == '/'))
        p++;
    char *nend = p;
    while (isspace((unsigned char) *p))
        p++;
    if (nend == n) {
        *why = "missing attribute name";
        return -1;
    }
    if (*p != '=') {
        *why = "missing '=' after attribute name";
        return -1;
    }
    *nend = 0;
    p++;
    while (isspace((unsigned char) *p))
        p++;
    char *e = p + strlen(p);
    while (e > p && isspace((unsigned char) e[-1]))
        *--e = 0;
    *name = n;
    *value = p;
    return 0;
}
