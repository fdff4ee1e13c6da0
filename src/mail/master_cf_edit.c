/*
 * master_cf_edit.c - edit master.cf entries, fields and -o parameters
 * (see master_cf_edit.h).
 *
 * The text is cut into physical lines (cf_lines). An entry is its first
 * line plus the continuation lines up to the next entry; comment lines
 * inside it are copied through. An entry that must be rewritten is parsed
 * with master_cf_parse(), changed in memory and printed again in folded
 * form; other entries are never reparsed, so their spelling survives.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mail/cf_lines.h"
#include "mail/master_cf_edit.h"
#include "util/cfg_file.h"
#include "util/mem.h"
#include "util/safe_file.h"

#define MASTER_CF_MAX_SIZE (16 * 1024 * 1024)

static const char *const field_names[MASTER_FIELD_COUNT] = {
    "service", "type", "private", "unprivileged", "chroot", "wakeup", "process_limit",
    "command",
};

static char *msgf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *msgf(const char *fmt, ...)
{
    sbuf m = SBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&m, fmt, ap);
    va_end(ap);
    return sbuf_steal(&m);
}

int master_field_index(const char *name)
{
    for (int i = 0; i < MASTER_FIELD_COUNT; i++)
        if (strcmp(name, field_names[i]) == 0)
            return i;
    return -1;
}

const char *master_field_name(int index)
{
    return index >= 0 && index < MASTER_FIELD_COUNT ? field_names[index] : "?";
}

char *master_field_value(const struct master_service *s, int index)
{
    char flag[2] = {0, 0};
    switch (index) {
    case 0: return xstrdup(s->name);
    case 1: return xstrdup(s->type);
    case 2: flag[0] = s->private_; return xstrdup(flag);
    case 3: flag[0] = s->unpriv; return xstrdup(flag);
    case 4: flag[0] = s->chroot; return xstrdup(flag);
    case 5: return xstrdup(s->wakeup);
    case 6: return xstrdup(s->maxproc);
    default: {
        sbuf b = SBUF_INIT;
        master_service_format_command(s, 0, 0, 0, 0, &b);
        return sbuf_steal(&b);
    }
    }
}

int master_pattern_split(const char *pattern, int min, int max, strv *parts)
{
    strv_init(parts);
    const char *p = pattern;
    for (;;) {
        size_t len = strcspn(p, "/");
        if (len == 0 || (int) parts->n == max) {
            strv_free(parts);
            return -1;
        }
        strv_addn(parts, p, len);
        if (!p[len])
            break;
        p += len + 1;
    }
    if ((int) parts->n < min) {
        strv_free(parts);
        return -1;
    }
    int found = (int) parts->n;
    while ((int) parts->n < max)
        strv_add(parts, "*");
    return found;
}

static int has_blank(const char *s)
{
    return s[strcspn(s, " \t\r\n")] != 0;
}

int master_edit_parse(enum master_edit_kind kind, enum master_edit_op op, const char *arg,
                      struct master_edit *req, char **err)
{
    static const char *const usage[] = {
        "-Me, -MX or -M# requires service_name/type",
        "-Fe requires service_name/type/field_name",
        "-Pe or -PX requires service_name/type/parameter",
    };
    memset(req, 0, sizeof(*req));
    req->field = -1;
    if (strchr(arg, '\n')) {
        *err = msgf("-Me, -Fe, -Pe, -X, or -# accept no multi-line input: \"%s\"", arg);
        return -1;
    }
    const char *p = arg + strspn(arg, " \t\r\f\v");
    if (*p == '#') {
        *err = msgf("-Me, -Fe, -Pe, -X, or -# accept no comment input: \"%s\"", arg);
        return -1;
    }
    char *copy = xstrdup(p);
    char *pattern = copy, *value = 0;
    if (op == MASTER_EDIT_SET) {
        char *eq = strchr(copy, '=');
        if (!eq) {
            *err = msgf("missing '=' after %s: \"%s\"",
                        kind == MASTER_EDIT_ENTRY ? "service_name/type" : "attribute name",
                        arg);
            xfree(copy);
            return -1;
        }
        *eq = 0;
        value = eq + 1;
        while (isspace((unsigned char) *value))
            value++;
        char *e = value + strlen(value);
        while (e > value && isspace((unsigned char) e[-1]))
            *--e = 0;
    } else if (strchr(copy, '=')) {
        *err = msgf("-X or -# requires names without value: \"%s\"", arg);
        xfree(copy);
        return -1;
    }
    char *e = pattern + strlen(pattern);
    while (e > pattern && isspace((unsigned char) e[-1]))
        *--e = 0;
    strv parts;
    int want = kind == MASTER_EDIT_ENTRY ? 2 : 3;
    if (master_pattern_split(pattern, want, want, &parts) < 0 || has_blank(pattern)) {
        *err = msgf("%s: \"%s\"", usage[kind], arg);
        xfree(copy);
        return -1;
    }
    req->raw = xstrdup(arg);
    req->name = xstrdup(parts.v[0]);
    req->type = xstrdup(parts.v[1]);
    if (kind != MASTER_EDIT_ENTRY)
        req->attr = xstrdup(parts.v[2]);
    req->value = value ? xstrdup(value) : 0;
    strv_free(&parts);
    xfree(copy);

    const char *bad = 0;
    if (kind == MASTER_EDIT_FIELD) {
        if (op != MASTER_EDIT_SET)
            bad = "-F supports only -Fe";
        else if (strcmp(req->attr, "*") == 0)
            bad = "-Fe does not accept wild-card field name";
        else if ((req->field = master_field_index(req->attr)) < 0)
            bad = "-Fe: unknown field name (use service, type, private, unprivileged, "
                  "chroot, wakeup, process_limit or command)";
        else if (req->field < 7 && has_blank(req->value))
            bad = "-Fe does not accept whitespace in non-command field";
    } else if (kind == MASTER_EDIT_PARAM) {
        if (op == MASTER_EDIT_COMMENT)
            bad = "-P does not support -#";
        else if (strcmp(req->attr, "*") == 0)
            bad = "-Pe or -PX does not accept wild-card parameter name";
        else if (op == MASTER_EDIT_SET && has_blank(req->value))
            bad = "-Pe does not accept whitespace in parameter value";
        else if (strcspn(req->attr, " \t=") != strlen(req->attr))
            bad = "-Pe or -PX: bad parameter name";
    }
    if (bad) {
        *err = msgf("%s: \"%s\"", bad, arg);
        master_edit_release(req);
        return -1;
    }
    return 0;
}

void master_edit_release(struct master_edit *req)
{
    xfree(req->raw);
    xfree(req->name);
    xfree(req->type);
    xfree(req->attr);
    xfree(req->value);
    memset(req, 0, sizeof(*req));
}

/* Parse one entry's text into a one-service table. */
static int parse_entry(const char *path, int lineno, const char *text, struct master_cf *cf,
                       char **err)
{
    char *perr = 0;
    if (master_cf_parse(path, text, strlen(text), cf, &perr) < 0 || cf->n != 1) {
        if (!perr)
            perr = xstrdup(cf->n == 0 ? "empty entry" : "more than one entry");
        if (lineno > 0)
            *err = msgf("%s (entry starting at line %d)", perr, lineno);
        else
            *err = msgf("%s", perr);
        xfree(perr);
        master_cf_free(cf);
        return -1;
    }
    return 0;
}

/* First service name and type on a line; -1 if there are not two words. */
static int line_name_type(const char *text, size_t len, sbuf *name, sbuf *type)
{
    const char *p = text, *end = text + len;
    sbuf *dst[2] = {name, type};
    for (int i = 0; i < 2; i++) {
        while (p < end && isspace((unsigned char) *p))
            p++;
        const char *s = p;
        while (p < end && !isspace((unsigned char) *p))
            p++;
        if (p == s)
            return -1;
        sbuf_reset(dst[i]);
        sbuf_add(dst[i], s, (size_t) (p - s));
    }
    return 0;
}

static void add_line(sbuf *out, const char *prefix, const char *text, size_t len)
{
    sbuf_adds(out, prefix);
    sbuf_add(out, text, len);
    if (len == 0 || text[len - 1] != '\n')
        sbuf_addc(out, '\n');
}

static void add_entry(sbuf *out, const struct master_service *s)
{
    char *t = master_service_format_ex(s, MASTER_FMT_FOLD, 0, 0);
    sbuf_adds(out, t);
    sbuf_addc(out, '\n');
    xfree(t);
}

/* End of the daemon options in words: index of the first non-option. */
static size_t options_end(const strv *w)
{
    size_t i = 0;
    while (i < w->n && w->v[i][0] == '-' && strcmp(w->v[i], "--") != 0)
        i += strcmp(w->v[i], "-o") == 0 && i + 1 < w->n ? 2 : 1;
    return i;
}

static void strv_remove(strv *w, size_t at, size_t count)
{
    for (size_t k = at; k < at + count; k++)
        xfree(w->v[k]);
    memmove(w->v + at, w->v + at + count, (w->n - at - count + 1) * sizeof(char *));
    w->n -= count;
}

static void strv_insert(strv *w, size_t at, const char *s)
{
    strv_add(w, s);                             /* grow by one */
    char *last = w->v[w->n - 1];
    memmove(w->v + at + 1, w->v + at, (w->n - 1 - at) * sizeof(char *));
    w->v[at] = last;
}

/* -Pe / -PX on a parsed service (words and overrides both kept current). */
static void edit_param(struct master_service *s, enum master_edit_op op, const char *name,
                       const char *value)
{
    size_t nlen = strlen(name);
    int found = 0;
    size_t end = options_end(&s->words);
    for (size_t i = 0; i < end;) {
        if (strcmp(s->words.v[i], "-o") == 0 && i + 1 < end
            && strncmp(s->words.v[i + 1], name, nlen) == 0 && s->words.v[i + 1][nlen] == '=') {
            found = 1;
            if (op == MASTER_EDIT_SET) {
                sbuf nv = SBUF_INIT;
                sbuf_printf(&nv, "%s=%s", name, value);
                xfree(s->words.v[i + 1]);
                s->words.v[i + 1] = sbuf_steal(&nv);
                i += 2;
            } else {
                strv_remove(&s->words, i, 2);
                end -= 2;
            }
        } else {
            i += strcmp(s->words.v[i], "-o") == 0 ? 2 : 1;
        }
    }
    if (!found && op == MASTER_EDIT_SET) {
        sbuf nv = SBUF_INIT;
        sbuf_printf(&nv, "%s=%s", name, value);
        strv_insert(&s->words, end, "-o");
        strv_insert(&s->words, end + 1, sbuf_str(&nv));
        sbuf_free(&nv);
    }
    /* Rebuild overrides from words so the struct stays consistent. */
    strv_free(&s->overrides);
    strv_init(&s->overrides);
    end = options_end(&s->words);
    for (size_t i = 0; i < end; i++)
        if (strcmp(s->words.v[i], "-o") == 0 && i + 1 < end)
            strv_add(&s->overrides, s->words.v[++i]);
}

/* -Fe on a parsed service: rebuild the entry text with one field replaced. */
static int edit_field(const char *path, int lineno, struct master_cf *cf, int field,
                      const char *value, char **err)
{
    const struct master_service *s = &cf->svc[0];
    sbuf line = SBUF_INIT;
    for (int i = 0; i < 7; i++) {
        char *v = i == field ? xstrdup(value) : master_field_value(s, i);
        sbuf_printf(&line, "%s ", v);
        xfree(v);
    }
    if (field == 7)
        sbuf_adds(&line, value);
    else
        master_service_format_command(s, 0, 0, 0, 0, &line);
    struct master_cf edited;
    int rc = parse_entry(path, lineno, sbuf_str(&line), &edited, err);
    sbuf_free(&line);
    if (rc < 0)
        return -1;
    master_cf_free(cf);
    *cf = edited;
    return 0;
}

int master_edit_text(enum master_edit_kind kind, enum master_edit_op op,
                     struct master_edit *reqs, size_t n, const char *path, const char *text,
                     size_t len, sbuf *out, strv *warnings, char **err)
{
    int rc = 0;
    struct master_cf *newent = 0;       /* ENTRY SET: parsed new entries, one per request */
    if (kind == MASTER_EDIT_ENTRY && op == MASTER_EDIT_SET) {
        newent = xcalloc(n ? n : 1, sizeof(*newent));
        for (size_t r = 0; r < n; r++) {
            char *perr = 0;
            if (parse_entry("command line", 0, reqs[r].value, &newent[r], &perr) < 0) {
                *err = msgf("%s: \"%s\"", perr, reqs[r].raw);
                xfree(perr);
                for (size_t k = 0; k < r; k++)
                    master_cf_free(&newent[k]);
                xfree(newent);
                return -1;
            }
        }
    }
    for (size_t r = 0; r < n; r++)
        reqs[r].matches = 0;

    struct cf_line *lines;
    size_t nlines = cf_lines_split(text, len, &lines);
    sbuf name = SBUF_INIT, type = SBUF_INIT, entry = SBUF_INIT;
    int matched = 0;                    /* current entry is being removed/commented/replaced */
    for (size_t i = 0; i < nlines && rc == 0; i++) {
        const struct cf_line *l = &lines[i];
        if (l->kind == CF_LINE_OTHER) {
            add_line(out, "", l->text, l->len);
            continue;
        }
        if (l->kind == CF_LINE_CONT) {
            if (!matched)
                add_line(out, "", l->text, l->len);
            else if (op == MASTER_EDIT_COMMENT)
                add_line(out, "#", l->text, l->len);
            continue;
        }
        matched = 0;
        if (line_name_type(l->text, l->len, &name, &type) < 0) {
            *err = msgf("%s, line %d: specify service name and type on the same line", path,
                        l->lineno);
            rc = -1;
            break;
        }
        const char *sn = sbuf_str(&name), *st = sbuf_str(&type);

        if (kind == MASTER_EDIT_ENTRY) {
            const struct master_service *replacement = 0;
            for (size_t r = 0; r < n; r++) {
                int hit = master_pattern_match(reqs[r].name, sn)
                          && master_pattern_match(reqs[r].type, st);
                if (!hit && newent)
                    hit = strcmp(newent[r].svc[0].name, sn) == 0
                          && strcmp(newent[r].svc[0].type, st) == 0;
                if (!hit)
                    continue;
                matched = 1;
                if (++reqs[r].matches == 1 && newent)
                    replacement = &newent[r].svc[0];
            }
            if (!matched)
                add_line(out, "", l->text, l->len);
            else if (replacement)
                add_entry(out, replacement);
            else if (op == MASTER_EDIT_COMMENT)
                add_line(out, "#", l->text, l->len);
            continue;
        }

        /* Fields and parameters: rewrite the whole entry when any request matches. */
        int any = 0;
        for (size_t r = 0; r < n; r++)
            if (master_pattern_match(reqs[r].name, sn) && master_pattern_match(reqs[r].type, st))
                any = 1;
        if (!any) {
            add_line(out, "", l->text, l->len);
            continue;
        }
        size_t last = cf_lines_entry_end(lines, nlines, i);
        sbuf_reset(&entry);
        for (size_t k = i; k <= last; k++) {
            if (lines[k].kind == CF_LINE_OTHER)
                add_line(out, "", lines[k].text, lines[k].len);   /* comments inside */
            else
                add_line(&entry, "", lines[k].text, lines[k].len);
        }
        struct master_cf cf;
        if (parse_entry(path, l->lineno, sbuf_str(&entry), &cf, err) < 0) {
            rc = -1;
            break;
        }
        for (size_t r = 0; r < n && rc == 0; r++) {
            if (!master_pattern_match(reqs[r].name, sn) || !master_pattern_match(reqs[r].type, st))
                continue;
            reqs[r].matches++;
            if (kind == MASTER_EDIT_PARAM)
                edit_param(&cf.svc[0], op, reqs[r].attr, reqs[r].value);
            else if (edit_field(path, l->lineno, &cf, reqs[r].field, reqs[r].value, err) < 0)
                rc = -1;
        }
        if (rc == 0)
            add_entry(out, &cf.svc[0]);
        master_cf_free(&cf);
        i = last;
    }
    xfree(lines);
    sbuf_free(&name);
    sbuf_free(&type);
    sbuf_free(&entry);

    if (rc == 0) {
        for (size_t r = 0; r < n; r++) {
            if (reqs[r].matches)
                continue;
            if (newent) {
                add_entry(out, &newent[r].svc[0]);
            } else if (kind != MASTER_EDIT_ENTRY) {
                char *w = msgf("unmatched service_name/type: \"%s\"", reqs[r].raw);
                strv_add(warnings, w);
                xfree(w);
            }
        }
    }
    if (newent) {
        for (size_t r = 0; r < n; r++)
            master_cf_free(&newent[r]);
        xfree(newent);
    }
    return rc;
}

int master_edit_file(const char *path, enum master_edit_kind kind, enum master_edit_op op,
                     struct master_edit *reqs, size_t n, strv *warnings, char **err)
{
    struct stat st;
    size_t len;
    if (stat(path, &st) < 0) {
        *err = msgf("open %s for reading: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        *err = msgf("%s: not a regular file", path);
        return -1;
    }
    char *text = read_file(path, MASTER_CF_MAX_SIZE, &len);
    if (!text) {
        *err = msgf("open %s for reading: %s", path, strerror(errno));
        return -1;
    }
    if (memchr(text, 0, len)) {
        *err = msgf("%s: file contains a NUL byte; not editing it", path);
        xfree(text);
        return -1;
    }
    sbuf out = SBUF_INIT;
    int rc = master_edit_text(kind, op, reqs, n, path, text, len, &out, warnings, err);
    xfree(text);
    if (rc == 0 && safe_replace(path, out.s ? out.s : "", out.len, st.st_mode & 07777) < 0) {
        *err = msgf("write %s: %s", path, strerror(errno));
        rc = -1;
    }
    sbuf_free(&out);
    return rc;
}
