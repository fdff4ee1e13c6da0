/*
 * pc_main.c - postconf for main.cf: show parameters, edit the file.
 *
 * Showing: every known name (built-in, service-defined from master.cf,
 * user-defined - see mail/param_usage.h) or the names given, with the
 * main.cf value, the default (-d), only what main.cf sets (-n), the value
 * only (-h), the name only (-H), $names expanded (-x). Values are printed
 * raw unless -x, like Postfix. Afterwards, unused and undefined parameters
 * are reported on stderr (not with -d or -q).
 * Editing (-e, -X, -#) is mail/main_cf_edit; this file only checks the
 * arguments and reports. Nothing here validates values: postconf prints
 * what is written.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "mail/main_cf_edit.h"
#include "mail/param_usage.h"
#include "mail/params.h"
#include "postconf/postconf.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/safe_file.h"
#include "util/sbuf.h"

const char *pc_config_dir(const struct pc_options *o)
{
    const char *dir = o->config_dir;
    if (!dir || !*dir)
        dir = getenv("MAIL_CONFIG");
    if (!dir || !*dir)
        dir = DEF_CONFIG_DIR;
    return dir;
}

static char *conf_path(const struct pc_options *o, const char *file)
{
    sbuf p = SBUF_INIT;
    sbuf_printf(&p, "%s/%s", pc_config_dir(o), file);
    return sbuf_steal(&p);
}

void pc_load_main(const struct pc_options *o)
{
    char *path = conf_path(o, "main.cf");
    char *err = 0;
    /* Postfix refuses to show a configuration it cannot read, missing or not. */
    if (access(path, R_OK) < 0)
        msg_fatal("open %s: %s", path, strerror(errno));
    if (mail_conf_try_load(pc_config_dir(o), &err) < 0)
        msg_fatal("%s", err);
    for (size_t i = 0; i < o->overrides.n; i++)
        if (mail_conf_override_assignment(o->overrides.v[i]) < 0)
            msg_fatal("invalid parameter override: \"%s\": expected name=value",
                      o->overrides.v[i]);
    xfree(path);
}

int pc_read_master(const struct pc_options *o, struct master_cf *cf, int fail_on_open)
{
    char *path = conf_path(o, "master.cf");
    size_t len;
    char *text = read_file(path, 16 * 1024 * 1024, &len);
    memset(cf, 0, sizeof(*cf));
    if (!text) {
        if (fail_on_open)
            msg_fatal("open %s: %s", path, strerror(errno));
        pc_warn("open %s: %s", path, strerror(errno));
        xfree(path);
        return -1;
    }
    char *err = 0;
    int nul = memchr(text, 0, len) != 0;
    int rc = nul ? -1 : master_cf_parse(path, text, len, cf, &err);
    xfree(text);                /* before a fatal exit too (LeakSanitizer) */
    if (nul)
        msg_fatal("%s: file contains a NUL byte", path);
    if (rc < 0)
        msg_fatal("%s", err ? err : "cannot parse master.cf");
    xfree(path);
    return 0;
}

char *pc_expand(const char *value)
{
    sbuf out = SBUF_INIT, err = SBUF_INIT;
    if (mail_conf_expand(value, &out, &err) < 0)
        msg_fatal("%s: %s", mail_conf_file()[0] ? mail_conf_file() : "main.cf",
                  sbuf_str(&err));
    sbuf_free(&err);
    return sbuf_steal(&out);
}

/* Expand a parameter by name, so that a loop is reported from its start. */
static char *expand_param(const char *name, const char *value, int from_name)
{
    const char *p = name;
    while (isalnum((unsigned char) *p) || *p == '_' || *p == '-')
        p++;
    if (!from_name || *p || p == name)
        return pc_expand(value);
    sbuf text = SBUF_INIT, out = SBUF_INIT, err = SBUF_INIT;
    sbuf_printf(&text, "${%s}", name);
    if (mail_conf_expand(sbuf_str(&text), &out, &err) < 0) {
        int line = mail_conf_line(name);
        if (line)
            msg_fatal("%s, line %d: %s", mail_conf_file(), line, sbuf_str(&err));
        msg_fatal("%s: %s", mail_conf_file()[0] ? mail_conf_file() : "main.cf",
                  sbuf_str(&err));
    }
    sbuf_free(&text);
    sbuf_free(&err);
    return sbuf_steal(&out);
}

static void print_param(const struct pc_options *o, const struct param_usage *u,
                        const char *name)
{
    int mode = o->mode;
    int cls = param_usage_class(u, name);
    const char *value;
    int set = 0;

    if (mode & PC_SHOW_DEFS) {
        value = param_usage_default(u, name);
    } else if (param_usage_readonly_set(u, name)) {
        if (mode & PC_SHOW_NONDEF)
            return;
        value = param_usage_default(u, name);
    } else if (mail_conf_is_set(name)) {
        value = mail_conf_raw(name);
        set = 1;
    } else if (mode & PC_SHOW_NONDEF) {
        return;
    } else if (cls == PARAM_BUILTIN) {
        value = mail_conf_raw(name);        /* the -c directory for config_directory */
    } else {
        value = param_usage_default(u, name);
    }
    if (!value)
        return;

    char *shown = 0;
    const struct param_def *p = param_find(name);
    if ((mode & PC_SHOW_EVAL) && !(p && p->type == PT_RAW))
        shown = expand_param(name, value, set || cls == PARAM_BUILTIN);
    else
        shown = xstrdup(value);

    sbuf line = SBUF_INIT;
    if (mode & PC_HIDE_NAME)
        sbuf_adds(&line, shown);
    else if (mode & PC_HIDE_VALUE)
        sbuf_adds(&line, name);
    else
        sbuf_printf(&line, "%s = %s", name, shown);
    pc_print_line(mode, sbuf_str(&line));
    sbuf_free(&line);
    xfree(shown);
}

void pc_show_main(const struct pc_options *o, char **names, int nnames)
{
    int defs = (o->mode & PC_SHOW_DEFS) != 0;
    struct master_cf cf;
    if (!defs)
        pc_load_main(o);
    int have_cf = pc_read_master(o, &cf, 0) == 0;
    struct param_usage *u = param_usage_new(have_cf ? &cf : 0, !defs);

    /* A read-only parameter keeps its built-in value whatever main.cf says. */
    if (!defs) {
        for (size_t i = 0; i < param_count; i++)
            if (param_usage_readonly_set(u, param_table[i].name))
                mail_conf_override(param_table[i].name,
                                   mail_conf_default(param_table[i].name));
    }

    if (nnames == 0) {
        strv all = {0};
        param_usage_names(u, o->classes, &all);
        for (size_t i = 0; i < all.n; i++)
            print_param(o, u, all.v[i]);
        strv_free(&all);
    } else {
        for (int i = 0; i < nnames; i++) {
            if (!param_usage_class(u, names[i]))
                pc_warn("%s: unknown parameter", names[i]);
            else
                print_param(o, u, names[i]);
        }
    }
    pc_flush();

    if (!defs && !(o->mode & PC_QUIET)) {
        strv problems = {0};
        param_usage_problems(u, true, have_cf, &problems);
        for (size_t i = 0; i < problems.n; i++)
            pc_warn("%s", problems.v[i]);
        strv_free(&problems);
    }
    param_usage_free(u);
    if (have_cf)
        master_cf_free(&cf);
}

void pc_edit_main(const struct pc_options *o, char **args, int nargs)
{
    enum main_cf_edit_mode mode = (o->mode & PC_EDIT_EXCL) ? MAIN_CF_REMOVE
                                  : (o->mode & PC_COMMENT_OUT) ? MAIN_CF_COMMENT
                                  : MAIN_CF_SET;
    struct main_cf_edit *reqs = xcalloc((size_t) nargs, sizeof(*reqs));
    for (int i = 0; i < nargs; i++) {
        char *err = 0;
        if (main_cf_edit_parse(mode, args[i], &reqs[i], &err) < 0)
            msg_fatal("%s", err);
    }
    char *path = conf_path(o, "main.cf");
    strv warnings = {0};
    strv_init(&warnings);
    char *err = 0;
    int rc = main_cf_edit_file(path, mode, reqs, (size_t) nargs, &warnings, &err);
    for (size_t i = 0; i < warnings.n; i++)
        pc_warn("%s", warnings.v[i]);
    if (rc < 0)
        msg_fatal("%s", err);
    strv_free(&warnings);
    for (int i = 0; i < nargs; i++)
        main_cf_edit_release(&reqs[i]);
    xfree(reqs);
    xfree(path);
}
