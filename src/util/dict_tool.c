/*
 * dict_tool.c - table queries, listings, deletions and builds for postmap/postalias
 * (see dict_tool.h).
 *
 * Does not parse source lines (the commands do) and does not read main.cf.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util/dict_tool.h"
#include "util/dict_build.h"
#include "util/table_file.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/strv.h"

void dict_tool_split(const char *spec, const char *default_type, char **type, char **name)
{
    const char *colon = strchr(spec, ':');
    if (colon) {
        *type = xstrndup(spec, (size_t) (colon - spec));
        *name = xstrdup(colon + 1);
    } else {
        *type = xstrdup(default_type);
        *name = xstrdup(spec);
    }
}

dict *dict_tool_open(const char *spec, const char *default_type, int dict_flags)
{
    char *type, *name, *err = 0;
    dict_tool_split(spec, default_type, &type, &name);
    dict *d = dict_open3(type, name, O_RDONLY, dict_flags, &err);
    if (!d)
        msg_fatal("%s", err);
    xfree(type);
    xfree(name);
    return d;
}

/* Read one line of keys; returns 0 at EOF. Strips the newline (and a CR). */
static int read_key(FILE *in, sbuf *line)
{
    int c;
    sbuf_reset(line);
    while ((c = getc(in)) != EOF && c != '\n')
        if (line->len < TABLE_MAX_LINE)
            sbuf_addc(line, c);
    if (c == EOF && line->len == 0)
        return 0;
    if (line->len && line->s[line->len - 1] == '\r')
        sbuf_truncate(line, line->len - 1);
    return 1;
}

static const char *lookup_all(dict **maps, int n, const char *key)
{
    for (int i = 0; i < n; i++) {
        const char *v = dict_lookup(maps[i], key);
        if (v)
            return v;
        if (maps[i]->error)
            msg_fatal("table %s:%s: query error", maps[i]->type, maps[i]->name);
    }
    return 0;
}

static dict **open_all(char **specs, int n, const char *default_type, int dict_flags)
{
    dict **maps = xcalloc((size_t) n, sizeof(dict *));
    for (int i = 0; i < n; i++)
        maps[i] = dict_tool_open(specs[i], default_type, dict_flags);
    return maps;
}

static void close_all(dict **maps, int n)
{
    for (int i = 0; i < n; i++)
        dict_close(maps[i]);
    xfree(maps);
}

int dict_tool_query(char **specs, int n, const char *default_type, int dict_flags,
                    const char *key, const char *sep, FILE *in)
{
    dict **maps = open_all(specs, n, default_type, dict_flags);
    int found = 0;
    if (strcmp(key, "-") != 0) {
        const char *v = lookup_all(maps, n, key);
        if (v) {
            printf("%s\n", v);
            found = 1;
        }
    } else {
        sbuf line = SBUF_INIT;
        while (read_key(in, &line)) {
            const char *v = lookup_all(maps, n, sbuf_str(&line));
            if (v) {
                printf("%s%s%s\n", sbuf_str(&line), sep, v);
                found = 1;
            }
        }
        sbuf_free(&line);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        msg_fatal("write error on standard output: %m");
    close_all(maps, n);
    return found ? 0 : 1;
}

int dict_tool_query_keys(char **specs, int n, const char *default_type, int dict_flags,
                         char **keys, size_t nkeys, const char *sep)
{
    dict **maps = open_all(specs, n, default_type, dict_flags);
    int found = 0;
    for (size_t k = 0; k < nkeys; k++) {
        const char *v = lookup_all(maps, n, keys[k]);
        if (v) {
            printf("%s%s%s\n", keys[k], sep, v);
            found = 1;
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        msg_fatal("write error on standard output: %m");
    close_all(maps, n);
    return found ? 0 : 1;
}

int dict_tool_dump(char **specs, int n, const char *default_type, int dict_flags,
                   const char *sep)
{
    for (int i = 0; i < n; i++) {
        dict *d = dict_tool_open(specs[i], default_type, dict_flags);
        if (!d->sequence)
            msg_fatal("table %s:%s: sequence operation is not supported", d->type, d->name);
        const char *k, *v;
        int rc;
        for (int first = 1; (rc = dict_sequence(d, first, &k, &v)) == 0; first = 0)
            printf("%s%s%s\n", k, sep, v);
        if (rc < 0)
            msg_fatal("table %s:%s: sequence error", d->type, d->name);
        dict_close(d);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        msg_fatal("write error on standard output: %m");
    return 0;
}

int dict_tool_delete(char **specs, int n, const char *default_type, int dict_flags,
                     const char *key, FILE *in)
{
    strv keys = { 0, 0, 0 };
    strv_init(&keys);
    if (strcmp(key, "-") == 0) {
        sbuf line = SBUF_INIT;
        while (read_key(in, &line))
            strv_add(&keys, sbuf_str(&line));
        sbuf_free(&line);
    } else {
        strv_add(&keys, key);
    }
    int found = 0;
    for (int i = 0; i < n; i++) {
        char *type, *name, *err = 0;
        dict_tool_split(specs[i], default_type, &type, &name);
        const char *suffix = dict_type_suffix(type);
        if (suffix) {
            sbuf path = SBUF_INIT;
            sbuf_printf(&path, "%s%s", name, suffix);
            struct stat st;
            if (stat(sbuf_str(&path), &st) < 0)
                msg_fatal("open database %s: %m", sbuf_str(&path));
            sbuf_free(&path);
        }
        dict_build *b = dict_build_begin(type, name, dict_flags, DICT_BUILD_INCREMENTAL, &err);
        if (!b)
            msg_fatal("%s", err);
        dict *d = dict_build_dict(b);
        int removed = 0;
        for (size_t k = 0; k < keys.n; k++) {
            int rc = dict_remove(d, keys.v[k]);
            if (rc < 0)
                msg_fatal("table %s:%s: delete error", type, name);
            if (rc == 0)
                removed++;
        }
        if (removed) {
            found = 1;
            if (dict_build_commit(b, &err) < 0)
                msg_fatal("%s", err);
        } else {
            dict_build_abort(b);
        }
        xfree(type);
        xfree(name);
    }
    strv_free(&keys);
    return found ? 0 : 1;
}

struct build_ctx {
    dict   *d;
    dict_tool_line_fn fn;
    void   *ctx;
    const char *origin;
};

static int build_line(char *line, int lineno, void *vctx)
{
    struct build_ctx *c = vctx;
    c->fn(c->d, line, lineno, c->origin, c->ctx);
    return 0;
}

void dict_tool_build(const char *type, const char *name, int dict_flags, int build_flags,
                     int incremental, dict_tool_line_fn fn,
                     void (*finish)(dict *d, void *ctx), void *ctx)
{
    FILE *in = stdin;
    const char *origin = "stdin";
    if (!dict_type_writable(type)) {
        if (!dict_type_known(type))
            msg_fatal("unsupported dictionary type: %s", type);
        msg_fatal("unsupported dictionary type: %s does not support bulk-mode creation.", type);
    }
    if (!incremental) {
        in = fopen(name, "re");
        if (!in)
            msg_fatal("open %s: %m", name);
        origin = name;
    }
    char *err = 0;
    dict_build *b = dict_build_begin(type, name, dict_flags,
                                     build_flags | (incremental ? DICT_BUILD_INCREMENTAL : 0),
                                     &err);
    if (!b)
        msg_fatal("%s", err);
    struct build_ctx c = { dict_build_dict(b), fn, ctx, origin };
    if (table_read_stream(in, origin, build_line, &c) < 0)
        msg_fatal("read %s: %m", origin);
    if (finish)
        finish(c.d, ctx);
    if (in != stdin)
        fclose(in);
    if (dict_build_commit(b, &err) < 0)
        msg_fatal("%s", err);
}

void dict_tool_run_as_owner(const char *path)
{
    if (getuid() != 0)
        return;
    struct stat st;
    if (geteuid() != 0 && seteuid(0) < 0)
        msg_fatal("seteuid(0): %m");
    if (setegid(0) < 0)
        msg_fatal("setegid(0): %m");
    if (stat(path, &st) < 0 || st.st_uid == 0)
        return;
    gid_t g = st.st_gid;
    if (setgroups(1, &g) < 0)
        msg_fatal("setgroups: %m");
    if (setegid(st.st_gid) < 0)
        msg_fatal("setegid(%ld): %m", (long) st.st_gid);
    if (seteuid(st.st_uid) < 0)
        msg_fatal("seteuid(%ld): %m", (long) st.st_uid);
}
