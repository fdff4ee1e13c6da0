/*
 * main_cf_edit.c - set, remove or comment out main.cf entries (see main_cf_edit.h).
 *
 * The text is cut into physical lines (cf_lines). Each entry's name is
 * the text of its first line up to white space or '='. Requests are
 * de-duplicated first (the last one for a name wins), then the lines are
 * copied with the requested change, then unmatched SET requests are
 * appended in name order.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mail/cf_lines.h"
#include "mail/main_cf_edit.h"
#include "util/cfg_file.h"
#include "util/mem.h"
#include "util/safe_file.h"

#define MAIN_CF_MAX_SIZE (64 * 1024 * 1024)

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

int main_cf_edit_parse(enum main_cf_edit_mode mode, const char *arg,
                       struct main_cf_edit *req, char **err)
{
    static const char *const optname[] = {"-e", "-X", "-#"};
    const char *opt = optname[mode];
    req->name = req->value = 0;
    if (strchr(arg, '\n')) {
        *err = msgf("%s accepts no multi-line input: \"%s\"", opt, arg);
        return -1;
    }
    const char *p = arg + strspn(arg, " \t\r\f\v");
    if (*p == '#') {
        *err = msgf("%s accepts no comment input: \"%s\"", opt, arg);
        return -1;
    }
    if (mode == MAIN_CF_SET) {
        char *copy = xstrdup(arg), *name, *value;
        const char *why;
        if (cfg_split_assignment(copy, &name, &value, &why) < 0) {
            *err = msgf("%s: \"%s\"", why, arg);
            xfree(copy);
            return -1;
        }
        req->name = xstrdup(name);
        req->value = xstrdup(value);
        xfree(copy);
        return 0;
    }
    size_t n = strlen(p);
    while (n > 0 && strchr(" \t\r\f\v", p[n - 1]))
        n--;
    if (n == 0) {
        *err = msgf("%s requires non-blank parameter names", opt);
        return -1;
    }
    if (memchr(p, '=', n)) {
        *err = msgf("%s requires parameter names without value: \"%s\"", opt, arg);
        return -1;
    }
    if (strcspn(p, " \t") < n) {
        *err = msgf("%s: bad parameter name: \"%s\"", opt, arg);
        return -1;
    }
    req->name = xstrndup(p, n);
    return 0;
}

void main_cf_edit_release(struct main_cf_edit *req)
{
    xfree(req->name);
    xfree(req->value);
    req->name = req->value = 0;
}

struct pending {
    const struct main_cf_edit *req;
    int found;
};

static int cmp_pending(const void *a, const void *b)
{
    return strcmp(((const struct pending *) a)->req->name,
                  ((const struct pending *) b)->req->name);
}

static struct pending *find_pending(struct pending *p, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(p[i].req->name) == len && memcmp(p[i].req->name, name, len) == 0)
            return &p[i];
    return 0;
}

static void add_line(sbuf *out, const char *prefix, const char *text, size_t len)
{
    sbuf_adds(out, prefix);
    sbuf_add(out, text, len);
    if (len == 0 || text[len - 1] != '\n')
        sbuf_addc(out, '\n');
}

static void add_assignment(sbuf *out, const struct main_cf_edit *req)
{
    /* Same spelling as Postfix, even for an empty value ("name = "). */
    sbuf_printf(out, "%s = %s\n", req->name, req->value ? req->value : "");
}

void main_cf_edit_text(enum main_cf_edit_mode mode, const struct main_cf_edit *reqs,
                       size_t n, const char *path, const char *text, size_t len, sbuf *out,
                       strv *warnings)
{
    /* One pending entry per distinct name; the last request wins. */
    struct pending *pend = xcalloc(n ? n : 1, sizeof(*pend));
    size_t npend = 0;
    for (size_t i = 0; i < n; i++) {
        struct pending *p = find_pending(pend, npend, reqs[i].name, strlen(reqs[i].name));
        if (p) {
            sbuf w = SBUF_INIT;
            if (p->req->value)
                sbuf_printf(&w, "ignoring earlier request: '%s = %s'", p->req->name,
                            p->req->value);
            else
                sbuf_printf(&w, "ignoring earlier request: '%s'", p->req->name);
            strv_add(warnings, sbuf_str(&w));
            sbuf_free(&w);
            p->req = &reqs[i];
        } else {
            pend[npend].req = &reqs[i];
            pend[npend].found = 0;
            npend++;
        }
    }

    struct cf_line *lines;
    size_t nlines = cf_lines_split(text, len, &lines);
    struct pending *cur = 0;        /* request matching the current entry */
    for (size_t i = 0; i < nlines; i++) {
        const struct cf_line *l = &lines[i];
        if (l->kind == CF_LINE_OTHER) {
            add_line(out, "", l->text, l->len);
            continue;
        }
        if (l->kind == CF_LINE_CONT) {
            if (!cur)
                add_line(out, "", l->text, l->len);
            else if (mode == MAIN_CF_COMMENT)
                add_line(out, "#", l->text, l->len);
            continue;           /* SET and REMOVE drop continuation lines */
        }
        size_t keylen = strcspn(l->text, " \t\r\n=");
        if (keylen > l->len)
            keylen = l->len;
        cur = find_pending(pend, npend, l->text, keylen);
        if (!cur) {
            add_line(out, "", l->text, l->len);
            continue;
        }
        if (cur->found++ == 1) {
            sbuf w = SBUF_INIT;
            sbuf_printf(&w, "%s: multiple entries for \"%s\"", path, cur->req->name);
            strv_add(warnings, sbuf_str(&w));
            sbuf_free(&w);
        }
        if (mode == MAIN_CF_SET)
            add_assignment(out, cur->req);
        else if (mode == MAIN_CF_COMMENT)
            add_line(out, "#", l->text, l->len);
    }
    xfree(lines);

    if (mode == MAIN_CF_SET) {
        qsort(pend, npend, sizeof(*pend), cmp_pending);
        for (size_t i = 0; i < npend; i++)
            if (!pend[i].found)
                add_assignment(out, pend[i].req);
    }
    xfree(pend);
}

int main_cf_edit_file(const char *path, enum main_cf_edit_mode mode,
                      const struct main_cf_edit *reqs, size_t n, strv *warnings, char **err)
{
    struct stat st;
    mode_t perm = 0644;
    size_t len = 0;
    char *text;
    sbuf e = SBUF_INIT;

    if (stat(path, &st) == 0) {
        perm = st.st_mode & 07777;
        if (!S_ISREG(st.st_mode)) {
            sbuf_printf(&e, "%s: not a regular file", path);
            *err = sbuf_steal(&e);
            return -1;
        }
    } else if (errno != ENOENT) {
        sbuf_printf(&e, "stat %s: %s", path, strerror(errno));
        *err = sbuf_steal(&e);
        return -1;
    }
    text = read_file(path, MAIN_CF_MAX_SIZE, &len);
    if (!text) {
        if (errno != ENOENT) {
            sbuf_printf(&e, "open %s for reading: %s", path, strerror(errno));
            *err = sbuf_steal(&e);
            return -1;
        }
        text = xstrdup("");
        len = 0;
    }
    if (memchr(text, 0, len)) {
        sbuf_printf(&e, "%s: file contains a NUL byte; not editing it", path);
        xfree(text);
        *err = sbuf_steal(&e);
        return -1;
    }
    sbuf out = SBUF_INIT;
    main_cf_edit_text(mode, reqs, n, path, text, len, &out, warnings);
    xfree(text);
    int rc = safe_replace(path, out.s ? out.s : "", out.len, perm);
    if (rc < 0) {
        sbuf_printf(&e, "write %s: %s", path, strerror(errno));
        *err = sbuf_steal(&e);
    }
    sbuf_free(&out);
    return rc;
}
