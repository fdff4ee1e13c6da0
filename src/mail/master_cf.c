/*
 * master_cf.c - parse master.cf into services (see master_cf.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/master_cf.h"
#include "util/cfg_file.h"
#include "util/mem.h"
#include "util/safe_file.h"
#include "util/sbuf.h"

struct parse_ctx {
    struct master_cf *cf;
    const char *path;
    sbuf err;
};

static const char *const types[] = {"inet", "unix", "unix-dgram", "fifo", "pass", 0};

static int valid_flag(const char *s)
{
    return strcmp(s, "y") == 0 || strcmp(s, "n") == 0 || strcmp(s, "-") == 0;
}

/* Split a line into words; "{ ... }" groups stay one word (braces kept). */
static int split_words(const char *line, strv *words)
{
    const char *p = line;
    strv_init(words);
    while (*p) {
        while (isspace((unsigned char) *p))
            p++;
        if (!*p)
            break;
        const char *s = p;
        if (*p == '{') {
            int depth = 0;
            for (; *p; p++) {
                if (*p == '{')
                    depth++;
                else if (*p == '}' && --depth == 0) {
                    p++;
                    break;
                }
            }
            if (depth)
                return -1;
        } else {
            while (*p && !isspace((unsigned char) *p))
                p++;
        }
        strv_addn(words, s, (size_t) (p - s));
    }
    return 0;
}

static void strip_braces(const char *w, sbuf *out)
{
    size_t n = strlen(w);
    const char *b = w + 1, *e = w + n - 1;
    while (b < e && isspace((unsigned char) *b))
        b++;
    while (e > b && isspace((unsigned char) e[-1]))
        e--;
    sbuf_reset(out);
    sbuf_add(out, b, (size_t) (e - b));
}

/* "name = value" or "name=value" -> "name=value" */
static int normalise_override(const char *text, sbuf *out)
{
    char *copy = xstrdup(text), *name, *value;
    const char *why;
    int rc = cfg_split_assignment(copy, &name, &value, &why);
    if (rc == 0) {
        sbuf_reset(out);
        sbuf_printf(out, "%s=%s", name, value);
    }
    xfree(copy);
    return rc;
}

static int parse_line(const char *line, int lineno, void *vctx)
{
    struct parse_ctx *ctx = vctx;
    strv w = {0};
    if (split_words(line, &w) < 0) {
        sbuf_printf(&ctx->err, "%s, line %d: unbalanced '{' in \"%s\"", ctx->path, lineno, line);
        strv_free(&w);
        return 1;
    }
    if (w.n < 8) {
        sbuf_printf(&ctx->err, "%s, line %d: expected 8 or more fields, found %zu in \"%s\"",
                    ctx->path, lineno, w.n, line);
        strv_free(&w);
        return 1;
    }
    int tok = 0;
    for (int i = 0; types[i]; i++)
        if (strcmp(w.v[1], types[i]) == 0)
            tok = 1;
    if (!tok) {
        sbuf_printf(&ctx->err, "%s, line %d: invalid transport type \"%s\"", ctx->path, lineno,
                    w.v[1]);
        strv_free(&w);
        return 1;
    }
    for (int i = 2; i <= 4; i++)
        if (!valid_flag(w.v[i])) {
            sbuf_printf(&ctx->err, "%s, line %d: field %d: bad value \"%s\" (use y, n or -)",
                        ctx->path, lineno, i + 1, w.v[i]);
            strv_free(&w);
            return 1;
        }
    const char *wake = w.v[5];
    if (strcmp(wake, "-") != 0) {
        const char *p = wake;
        while (isdigit((unsigned char) *p))
            p++;
        if (p == wake || (*p && strcmp(p, "?") != 0)) {
            sbuf_printf(&ctx->err, "%s, line %d: bad wakeup time \"%s\"", ctx->path, lineno,
                        wake);
            strv_free(&w);
            return 1;
        }
    }
    const char *mp = w.v[6];
    if (strcmp(mp, "-") != 0) {
        for (const char *p = mp; *p; p++)
            if (!isdigit((unsigned char) *p)) {
                sbuf_printf(&ctx->err, "%s, line %d: bad process limit \"%s\"", ctx->path,
                            lineno, mp);
                strv_free(&w);
                return 1;
            }
    }
    struct master_cf *cf = ctx->cf;
    cf->svc = xreallocarray(cf->svc, cf->n + 1, sizeof(*cf->svc));
    struct master_service *s = &cf->svc[cf->n];
    memset(s, 0, sizeof(*s));
    s->name = xstrdup(w.v[0]);
    s->type = xstrdup(w.v[1]);
    s->private_ = w.v[2][0];
    s->unpriv = w.v[3][0];
    s->chroot = w.v[4][0];
    s->wakeup = xstrdup(wake);
    s->maxproc = xstrdup(mp);
    s->command = xstrdup(w.v[7]);
    s->line = lineno;
    strv_init(&s->args);
    strv_init(&s->overrides);
    sbuf tmp = SBUF_INIT, norm = SBUF_INIT;
    for (size_t i = 8; i < w.n; i++) {
        const char *a = w.v[i];
        if (strcmp(a, "-o") == 0 || strncmp(a, "-o", 2) == 0) {
            const char *val = a[2] ? a + 2 : (i + 1 < w.n ? w.v[++i] : 0);
            if (!val) {
                sbuf_printf(&ctx->err, "%s, line %d: -o without a value", ctx->path, lineno);
                break;
            }
            if (val[0] == '{') {
                strip_braces(val, &tmp);
                val = sbuf_str(&tmp);
            }
            if (normalise_override(val, &norm) < 0) {
                sbuf_printf(&ctx->err, "%s, line %d: bad -o option \"%s\": expected name=value",
                            ctx->path, lineno, val);
                break;
            }
            strv_add(&s->overrides, sbuf_str(&norm));
        } else if (a[0] == '{') {
            strip_braces(a, &tmp);
            strv_add(&s->args, sbuf_str(&tmp));
        } else {
            strv_add(&s->args, a);
        }
    }
    sbuf_free(&tmp);
    sbuf_free(&norm);
    cf->n++;
    strv_free(&w);
    return ctx->err.len ? 1 : 0;
}

int master_cf_parse(const char *path, const char *text, size_t len, struct master_cf *cf,
                    char **err)
{
    memset(cf, 0, sizeof(*cf));
    cf->path = xstrdup(path);
    struct parse_ctx ctx = {cf, path, SBUF_INIT};
    int rc = cfg_parse_lines(text, len, parse_line, &ctx);
    if (rc) {
        if (err)
            *err = sbuf_steal(&ctx.err);
        sbuf_free(&ctx.err);
        return -1;
    }
    sbuf_free(&ctx.err);
    /* A service name+type may appear once. */
    for (size_t i = 0; i < cf->n; i++)
        for (size_t j = i + 1; j < cf->n; j++)
            if (strcmp(cf->svc[i].name, cf->svc[j].name) == 0
                && strcmp(cf->svc[i].type, cf->svc[j].type) == 0) {
                if (err) {
                    sbuf e = SBUF_INIT;
                    sbuf_printf(&e, "%s, line %d: duplicate service %s/%s (first on line %d)",
                                path, cf->svc[j].line, cf->svc[j].name, cf->svc[j].type,
                                cf->svc[i].line);
                    *err = sbuf_steal(&e);
                }
                return -1;
            }
    return 0;
}

int master_cf_load(const char *path, struct master_cf *cf, char **err)
{
    size_t len;
    char *text = read_file(path, 16 * 1024 * 1024, &len);
    if (!text) {
        if (err) {
            sbuf e = SBUF_INIT;
            sbuf_printf(&e, "open %s: %s", path, strerror(errno));
            *err = sbuf_steal(&e);
        }
        memset(cf, 0, sizeof(*cf));
        return -1;
    }
    int rc = master_cf_parse(path, text, len, cf, err);
    xfree(text);
    return rc;
}

void master_cf_free(struct master_cf *cf)
{
    for (size_t i = 0; i < cf->n; i++) {
        struct master_service *s = &cf->svc[i];
        xfree(s->name);
        xfree(s->type);
        xfree(s->wakeup);
        xfree(s->maxproc);
        xfree(s->command);
        strv_free(&s->args);
        strv_free(&s->overrides);
    }
    xfree(cf->svc);
    xfree(cf->path);
    memset(cf, 0, sizeof(*cf));
}

bool master_service_private(const struct master_service *s)
{
    if (s->private_ == '-')
        return strcmp(s->type, "inet") != 0;
    return s->private_ == 'y';
}

bool master_service_unpriv(const struct master_service *s)
{
    return s->unpriv != 'n';
}

bool master_service_chroot(const struct master_service *s)
{
    return s->chroot == 'y';
}

int master_service_maxproc(const struct master_service *s, int default_limit)
{
    return strcmp(s->maxproc, "-") == 0 ? default_limit : atoi(s->maxproc);
}

int master_service_wakeup(const struct master_service *s, bool *conditional)
{
    *conditional = strchr(s->wakeup, '?') != 0;
    return strcmp(s->wakeup, "-") == 0 ? 0 : atoi(s->wakeup);
}

const struct master_service *master_cf_find(const struct master_cf *cf, const char *name,
                                            const char *type)
{
    for (size_t i = 0; i < cf->n; i++)
        if (strcmp(cf->svc[i].name, name) == 0 && (!type || strcmp(cf->svc[i].type, type) == 0))
            return &cf->svc[i];
    return 0;
}

char *master_service_format(const struct master_service *s)
{
    sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%-10s %-5s %-7c %-7c %-7c %-7s %-7s %s", s->name, s->type, s->private_,
                s->unpriv, s->chroot, s->wakeup, s->maxproc, s->command);
    for (size_t i = 0; i < s->overrides.n; i++)
        sbuf_printf(&b, " -o %s", s->overrides.v[i]);
    for (size_t i = 0; i < s->args.n; i++)
        sbuf_printf(&b, " %s", s->args.v[i]);
    return sbuf_steal(&b);
}
