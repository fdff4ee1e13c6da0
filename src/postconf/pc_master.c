/*
 * pc_master.c - postconf for master.cf: -M (entries), -F (fields),
 * -P (-o parameters), and their edits.
 *
 * Entries print in master_service_format_ex() layout (-f folds), fields as
 * "service/type/field = value", parameters as "service/type/name = value"
 * sorted by name within each service. Arguments narrow the output to
 * service[/type[/field-or-parameter]] patterns ("*" or a missing part
 * matches anything); a pattern that matches nothing is warned about.
 * With -x, -o values are expanded with that service's own -o settings
 * taking precedence over main.cf. Edits are mail/master_cf_edit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail_conf.h"
#include "mail/master_cf_edit.h"
#include "mail/param_usage.h"
#include "postconf/postconf.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"

struct req {
    const char *raw;
    strv    part;           /* name, type[, field or parameter] */
    int     field;          /* -F: index, or -1 for "*" */
    int     matches;
};

struct scope_ctx {
    const struct pc_options *o;
    sbuf    buf;
};

/* Make main.cf plus this service's -o settings the current configuration. */
static void enter_scope(const struct pc_options *o, const struct master_service *s)
{
    pc_load_main(o);
    /* What the daemon itself would see: its service name, then its -o. */
    mail_conf_override("service_name", s->name);
    for (size_t i = 0; i < s->overrides.n; i++)
        mail_conf_override_assignment(s->overrides.v[i]);
}

static const char *xform_expand(const char *value, void *vctx)
{
    struct scope_ctx *ctx = vctx;
    char *x = pc_expand(value);
    sbuf_set(&ctx->buf, x);
    xfree(x);
    return sbuf_str(&ctx->buf);
}

static void parse_reqs(const char *opt, int min, int max, char **args, int nargs,
                       struct req *reqs, int want_field)
{
    for (int i = 0; i < nargs; i++) {
        reqs[i].raw = args[i];
        reqs[i].matches = 0;
        reqs[i].field = -1;
        if (master_pattern_split(args[i], min, max, &reqs[i].part) < 0) {
            if (max == 2)
                msg_fatal("%s option requires service_name[/type]", opt);
            msg_fatal("%s option requires service_name[/type[/%s]]", opt,
                      want_field ? "field" : "parameter");
        }
        if (want_field && strcmp(reqs[i].part.v[2], "*") != 0
            && (reqs[i].field = master_field_index(reqs[i].part.v[2])) < 0)
            msg_fatal("-F option: invalid field name \"%s\" in \"%s\" (use service, type, "
                      "private, unprivileged, chroot, wakeup, process_limit or command)",
                      reqs[i].part.v[2], args[i]);
    }
}

static int req_match(const struct req *r, const struct master_service *s)
{
    return master_pattern_match(r->part.v[0], s->name)
           && master_pattern_match(r->part.v[1], s->type);
}

static void print_entry(const struct pc_options *o, const struct master_service *s)
{
    int flags = (o->mode & PC_FOLD_LINE) ? MASTER_FMT_FOLD : 0;
    struct scope_ctx ctx = {o, SBUF_INIT};
    int eval = (o->mode & PC_SHOW_EVAL) && s->overrides.n > 0;
    if (eval)
        enter_scope(o, s);
    char *text = master_service_format_ex(s, flags, eval ? xform_expand : 0, &ctx);
    fputs(text, stdout);
    fputc('\n', stdout);
    xfree(text);
    sbuf_free(&ctx.buf);
}

static void print_field(const struct pc_options *o, const struct master_service *s, int field)
{
    int flags = (o->mode & PC_FOLD_LINE) ? MASTER_FMT_FOLD : 0;
    sbuf line = SBUF_INIT;
    char *value = master_field_value(s, field);
    const char *first = field == 7 ? s->command : value;
    if (!(o->mode & PC_HIDE_NAME)) {
        sbuf_printf(&line, "%s/%s/%s", s->name, s->type, master_field_name(field));
        if (o->mode & PC_HIDE_VALUE) {
            printf("%s\n", sbuf_str(&line));
            sbuf_free(&line);
            xfree(value);
            return;
        }
        sbuf_adds(&line, " = ");
        if ((o->mode & PC_FOLD_LINE) && line.len + strlen(first) > PC_LINE_LIMIT) {
            sbuf_adds(&line, "\n" PC_INDENT);
        }
    }
    size_t col = line.len;
    const char *nl = strrchr(sbuf_str(&line), '\n');
    if (nl)
        col = line.len - (size_t) (nl + 1 - line.s);
    if (field == 7) {
        struct scope_ctx ctx = {o, SBUF_INIT};
        int eval = (o->mode & PC_SHOW_EVAL) && s->overrides.n > 0;
        if (eval)
            enter_scope(o, s);
        master_service_format_command(s, flags, (int) col, eval ? xform_expand : 0, &ctx,
                                      &line);
        sbuf_free(&ctx.buf);
    } else {
        sbuf_adds(&line, value);
    }
    printf("%s\n", sbuf_str(&line));
    sbuf_free(&line);
    xfree(value);
}

/* The service's -o settings, last one winning, sorted by name. */
static void service_params(const struct master_service *s, strv *names, strv *values)
{
    strv_init(names);
    strv_init(values);
    for (size_t i = 0; i < s->overrides.n; i++) {
        const char *eq = strchr(s->overrides.v[i], '=');
        if (!eq)
            continue;
        char *name = xstrndup(s->overrides.v[i], (size_t) (eq - s->overrides.v[i]));
        size_t at = names->n;
        for (size_t j = 0; j < names->n; j++)
            if (strcmp(names->v[j], name) == 0)
                at = j;
        if (at == names->n) {
            /* insertion sort keeps the list ordered */
            size_t pos = 0;
            while (pos < names->n && strcmp(names->v[pos], name) < 0)
                pos++;
            strv_add(names, name);
            strv_add(values, eq + 1);
            char *nn = names->v[names->n - 1], *vv = values->v[values->n - 1];
            memmove(names->v + pos + 1, names->v + pos, (names->n - 1 - pos) * sizeof(char *));
            memmove(values->v + pos + 1, values->v + pos,
                    (values->n - 1 - pos) * sizeof(char *));
            names->v[pos] = nn;
            values->v[pos] = vv;
        } else {
            xfree(values->v[at]);
            values->v[at] = xstrdup(eq + 1);
        }
        xfree(name);
    }
}

static void print_param(const struct pc_options *o, const struct master_service *s,
                        const char *name, const char *value)
{
    char *shown;
    if (o->mode & PC_SHOW_EVAL) {
        enter_scope(o, s);
        shown = pc_expand(value);
    } else {
        shown = xstrdup(value);
    }
    sbuf line = SBUF_INIT;
    if (o->mode & PC_HIDE_NAME)
        sbuf_adds(&line, shown);
    else if (o->mode & PC_HIDE_VALUE)
        sbuf_printf(&line, "%s/%s/%s", s->name, s->type, name);
    else
        sbuf_printf(&line, "%s/%s/%s = %s", s->name, s->type, name, shown);
    pc_print_line(o->mode, sbuf_str(&line));
    sbuf_free(&line);
    xfree(shown);
}

void pc_show_master(const struct pc_options *o, char **args, int nargs)
{
    struct master_cf cf;
    pc_read_master(o, &cf, 1);
    pc_load_main(o);
    struct req *reqs = xcalloc(nargs ? (size_t) nargs : 1, sizeof(*reqs));
    int mode = o->mode;

    if (mode & PC_MASTER_ENTRY)
        parse_reqs("-M", 1, 2, args, nargs, reqs, 0);
    else
        parse_reqs(mode & PC_MASTER_FLD ? "-F" : "-P", 1, 3, args, nargs, reqs,
                   (mode & PC_MASTER_FLD) != 0);

    for (size_t i = 0; i < cf.n; i++) {
        const struct master_service *s = &cf.svc[i];
        if (mode & PC_MASTER_ENTRY) {
            if (nargs == 0)
                print_entry(o, s);
            for (int r = 0; r < nargs; r++)
                if (req_match(&reqs[r], s)) {
                    reqs[r].matches++;
                    print_entry(o, s);
                }
        } else if (mode & PC_MASTER_FLD) {
            if (nargs == 0)
                for (int f = 0; f < MASTER_FIELD_COUNT; f++)
                    print_field(o, s, f);
            for (int r = 0; r < nargs; r++) {
                if (!req_match(&reqs[r], s))
                    continue;
                reqs[r].matches++;
                if (reqs[r].field < 0)
                    for (int f = 0; f < MASTER_FIELD_COUNT; f++)
                        print_field(o, s, f);
                else
                    print_field(o, s, reqs[r].field);
            }
        } else {
            strv names, values;
            service_params(s, &names, &values);
            for (int r = -1; r < nargs; r++) {
                if (r < 0 && nargs > 0)
                    continue;
                if (r >= 0 && !req_match(&reqs[r], s))
                    continue;
                const char *want = r < 0 ? "*" : reqs[r].part.v[2];
                for (size_t j = 0; j < names.n; j++)
                    if (master_pattern_match(want, names.v[j])) {
                        print_param(o, s, names.v[j], values.v[j]);
                        if (r >= 0)
                            reqs[r].matches++;
                    }
            }
            strv_free(&names);
            strv_free(&values);
        }
    }
    pc_flush();
    for (int r = 0; r < nargs; r++) {
        if (reqs[r].matches == 0)
            pc_warn("unmatched request: \"%s\"", reqs[r].raw);
        strv_free(&reqs[r].part);
    }
    xfree(reqs);

    if (!(mode & PC_QUIET)) {
        pc_load_main(o);            /* back to plain main.cf after any -x scopes */
        struct param_usage *u = param_usage_new(&cf, true);
        strv problems = {0};
        param_usage_problems(u, false, true, &problems);
        for (size_t i = 0; i < problems.n; i++)
            pc_warn("%s", problems.v[i]);
        strv_free(&problems);
        param_usage_free(u);
    }
    master_cf_free(&cf);
}

void pc_edit_master(const struct pc_options *o, char **args, int nargs)
{
    enum master_edit_kind kind = (o->mode & PC_MASTER_FLD) ? MASTER_EDIT_FIELD
                                 : (o->mode & PC_MASTER_PARAM) ? MASTER_EDIT_PARAM
                                 : MASTER_EDIT_ENTRY;
    enum master_edit_op op = (o->mode & PC_EDIT_EXCL) ? MASTER_EDIT_REMOVE
                             : (o->mode & PC_COMMENT_OUT) ? MASTER_EDIT_COMMENT
                             : MASTER_EDIT_SET;
    struct master_edit *reqs = xcalloc((size_t) nargs, sizeof(*reqs));
    for (int i = 0; i < nargs; i++) {
        char *err = 0;
        if (master_edit_parse(kind, op, args[i], &reqs[i], &err) < 0)
            msg_fatal("%s", err);
    }
    sbuf path = SBUF_INIT;
    sbuf_printf(&path, "%s/master.cf", pc_config_dir(o));
    strv warnings = {0};
    strv_init(&warnings);
    char *err = 0;
    int rc = master_edit_file(sbuf_str(&path), kind, op, reqs, (size_t) nargs, &warnings, &err);
    for (size_t i = 0; i < warnings.n; i++)
        pc_warn("%s", warnings.v[i]);
    if (rc < 0)
        msg_fatal("%s", err);
    strv_free(&warnings);
    for (int i = 0; i < nargs; i++)
        master_edit_release(&reqs[i]);
    xfree(reqs);
    sbuf_free(&path);
}
