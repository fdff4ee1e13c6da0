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
    if (n < 2 || w[0] != '{' || w[n - 1] != '}') {
        /* Not a whole group (e.g. the "{" glued to "-o{"): keep it as written. */
        sbuf_set(out, w);
        return;
    }
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
    strv_init(&s->words);
    sbuf tmp = SBUF_INIT, norm = SBUF_INIT;
    int in_options = 1;
    for (size_t i = 8; i < w.n; i++) {
        const char *a = w.v[i];
        if (in_options && (a[0] != '-' || strcmp(a, "--") == 0))
            in_options = 0;
        if (in_options && a[1] != 'o' && strchr(a + 1, 'o')) {
            /* "-vo name=value": "-v" then "-o name=value", as getopt sees it. */
            const char *o = strchr(a + 1, 'o');
            strv_addn(&s->words, a, (size_t) (o - a));
            strv_addn(&s->args, a, (size_t) (o - a));
            sbuf_reset(&tmp);
            sbuf_addc(&tmp, '-');
            sbuf_adds(&tmp, o);
            xfree(w.v[i]);
            w.v[i] = sbuf_steal(&tmp);
            i--;
            continue;
        }
        if (in_options && a[1] == 'o') {
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
            strv_add(&s->words, "-o");
            strv_add(&s->words, sbuf_str(&norm));
        } else if (a[0] == '{') {
            strip_braces(a, &tmp);
            strv_add(&s->args, sbuf_str(&tmp));
            strv_add(&s->words, sbuf_str(&tmp));
        } else {
            strv_add(&s->args, a);
            strv_add(&s->words, a);
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
        master_cf_free(cf);             /* on failure the caller has nothing to free */
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
                master_cf_free(cf);
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
        strv_free(&s->words);
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

/* ---- postconf -M layout ---- */

#define FMT_LINE_LIMIT 80
#define FMT_INDENT "    "
#define FMT_INDENT_LEN 4

static int has_blank(const char *s)
{
    return s[strcspn(s, " \t\r\n")] != 0;
}

/* Append the arguments after the command; *col is the current line length. */
static void format_args(const struct master_service *s, int flags, int col,
                        master_value_fn xform, void *ctx, sbuf *out, size_t opt_extra)
{
    int in_options = 1;
    size_t line_len = (size_t) col;
    const strv *w = &s->words;
    for (size_t i = 0; i < w->n; i++) {
        const char *arg = w->v[i];
        const char *aval = 0;
        size_t arg_len = strlen(arg);
        int braces = 0;
        if (in_options && (arg[0] != '-' || strcmp(arg, "--") == 0))
            in_options = 0;
        if (in_options) {
            if (strcmp(arg, "-o") == 0 && i + 1 < w->n) {
                aval = w->v[i + 1];
                if (xform)
                    aval = xform(aval, ctx);
                line_len = FMT_LINE_LIMIT;          /* each -o starts a line */
                arg_len += strlen(aval) + opt_extra;
                if ((braces = has_blank(aval)) != 0)
                    arg_len += 2;
            }
        } else {
            braces = has_blank(arg);
        }
        if (line_len > FMT_INDENT_LEN) {
            if (!(flags & MASTER_FMT_FOLD) || line_len + 1 + arg_len < FMT_LINE_LIMIT) {
                sbuf_addc(out, ' ');
                line_len++;
            } else {
                sbuf_adds(out, "\n" FMT_INDENT);
                line_len = FMT_INDENT_LEN;
            }
        }
        if (!in_options && braces)
            sbuf_addc(out, '{');
        sbuf_adds(out, arg);
        line_len += strlen(arg);
        if (!in_options && braces) {
            sbuf_addc(out, '}');
            line_len += 2;
        }
        if (aval) {
            sbuf_addc(out, ' ');
            if (braces)
                sbuf_addc(out, '{');
            sbuf_adds(out, aval);
            if (braces)
                sbuf_addc(out, '}');
            i++;
            line_len = FMT_LINE_LIMIT;              /* and ends it */
        }
    }
}

char *master_service_format_ex(const struct master_service *s, int flags,
                               master_value_fn xform, void *ctx)
{
    static const size_t goal[] = {0, 11, 17, 25, 33, 41, 49, 57};
    char flag[3][2] = {{s->private_, 0}, {s->unpriv, 0}, {s->chroot, 0}};
    const char *field[8] = {s->name, s->type, flag[0], flag[1], flag[2], s->wakeup,
                            s->maxproc, s->command};
    sbuf b = SBUF_INIT;
    for (int i = 0; i < 8; i++) {
        if (b.len > 0)
            do
                sbuf_addc(&b, ' ');
            while (b.len < goal[i]);
        sbuf_adds(&b, field[i]);
    }
    format_args(s, flags, (int) b.len, xform, ctx, &b, 3);
    return sbuf_steal(&b);
}

char *master_service_format(const struct master_service *s)
{
    return master_service_format_ex(s, 0, 0, 0);
}

void master_service_format_command(const struct master_service *s, int flags, int col,
                                   master_value_fn xform, void *ctx, sbuf *out)
{
    sbuf_adds(out, s->command);
    format_args(s, flags, col + (int) strlen(s->command), xform, ctx, out, 1);
}

bool master_pattern_match(const char *pattern, const char *text)
{
    return strcmp(pattern, "*") == 0 || strcmp(pattern, text) == 0;
}
