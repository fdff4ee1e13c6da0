/*
 * param_usage.c - built-in, service-defined and user-defined parameter
 * names, and the unused/undefined findings (see param_usage.h).
 *
 * Service and user names live in one small list next to the static
 * parameter table; each master.cf service has a scope with its -o
 * settings and the user-defined names valid there. Scanning follows
 * postconf's order: master.cf -o values, defaults of parameters left at
 * their default, then main.cf values.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail_conf.h"
#include "mail/param_usage.h"
#include "mail/params.h"
#include "util/mem.h"
#include "util/sbuf.h"

struct known {
    char   *name;
    char   *def;            /* service default, NULL for user names */
    int     cls;
};

struct scope {
    strv    names;          /* -o names, first appearance order */
    strv    values;         /* their last values */
    strv    valid;          /* user-defined names valid in this scope */
};

struct param_usage {
    struct known *k;
    size_t  nk, capk;
    const struct master_cf *cf;
    struct scope *sc;       /* one per cf service */
    size_t  nsc;
    strv    rest_classes;   /* names in the global smtpd_restriction_classes */
    strv    readonly_set;
    strv    problems;       /* found while scanning */
    strv    undefined;      /* names already reported as undefined */
};

static const struct suffix {
    const char *suffix;
    const char *def;
} service_suffixes[] = {
    {"_time_limit", "command_time_limit"},          /* pipe and spawn only: keep first */
    {"_delivery_slot_cost", "default_delivery_slot_cost"},
    {"_delivery_slot_discount", "default_delivery_slot_discount"},
    {"_delivery_slot_loan", "default_delivery_slot_loan"},
    {"_destination_concurrency_failed_cohort_limit",
     "default_destination_concurrency_failed_cohort_limit"},
    {"_destination_concurrency_limit", "default_destination_concurrency_limit"},
    {"_destination_concurrency_negative_feedback",
     "default_destination_concurrency_negative_feedback"},
    {"_destination_concurrency_positive_feedback",
     "default_destination_concurrency_positive_feedback"},
    {"_destination_rate_delay", "default_destination_rate_delay"},
    {"_destination_recipient_limit", "default_destination_recipient_limit"},
    {"_extra_recipient_limit", "default_extra_recipient_limit"},
    {"_initial_destination_concurrency", "initial_destination_concurrency"},
    {"_minimum_delivery_slots", "default_minimum_delivery_slots"},
    {"_recipient_limit", "default_recipient_limit"},
    {"_recipient_refill_delay", "default_recipient_refill_delay"},
    {"_recipient_refill_limit", "default_recipient_refill_limit"},
    {"_transport_rate_delay", "default_transport_rate_delay"},
};
#define NSUFFIX (sizeof(service_suffixes) / sizeof(service_suffixes[0]))

static int strv_has(const strv *a, const char *s)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], s) == 0)
            return 1;
    return 0;
}

static int strv_index(const strv *a, const char *s)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], s) == 0)
            return (int) i;
    return -1;
}

static struct known *find_known(const struct param_usage *u, const char *name)
{
    for (size_t i = 0; i < u->nk; i++)
        if (strcmp(u->k[i].name, name) == 0)
            return &u->k[i];
    return 0;
}

static void add_known(struct param_usage *u, const char *name, const char *def, int cls)
{
    if (find_known(u, name))
        return;
    if (u->nk == u->capk) {
        u->capk = u->capk ? u->capk * 2 : 64;
        u->k = xreallocarray(u->k, u->capk, sizeof(*u->k));
    }
    u->k[u->nk].name = xstrdup(name);
    u->k[u->nk].def = def ? xstrdup(def) : 0;
    u->k[u->nk].cls = cls;
    u->nk++;
}

void param_refs(const char *text, strv *names)
{
    if (!names->v)
        strv_init(names);
    const char *p = text;
    while ((p = strchr(p, '$')) != 0) {
        p++;
        if (*p == '$') {
            p++;
            continue;
        }
        const char *s;
        size_t n;
        if (*p == '{' || *p == '(') {
            s = ++p;
            while (isalnum((unsigned char) *p) || *p == '_' || *p == '-')
                p++;
        } else {
            s = p;
            while (isalnum((unsigned char) *p) || *p == '_')
                p++;
        }
        n = (size_t) (p - s);
        if (n == 0)
            continue;
        char *name = xstrndup(s, n);
        if (!strv_has(names, name))
            strv_add(names, name);
        xfree(name);
    }
}

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void register_services(struct param_usage *u)
{
    static const char *const agents[] = {"local", "error", "virtual", "smtp", "lmtp", 0};
    for (size_t i = 0; u->cf && i < u->cf->n; i++) {
        const struct master_service *s = &u->cf->svc[i];
        const char *prog = basename_of(s->command);
        size_t first = 1, last = NSUFFIX;           /* delivery agents: all but _time_limit */
        int agent = 0;
        for (int a = 0; agents[a]; a++)
            if (strcmp(prog, agents[a]) == 0)
                agent = 1;
        if (strcmp(prog, "pipe") == 0)
            first = 0;
        else if (strcmp(prog, "spawn") == 0)
            first = 0, last = 1;
        else if (!agent)
            continue;
        for (size_t j = first; j < last; j++) {
            char name[512], def[128];
            snprintf(name, sizeof(name), "%s%s", s->name, service_suffixes[j].suffix);
            snprintf(def, sizeof(def), "$%s", service_suffixes[j].def);
            /* A built-in name (local_destination_concurrency_limit) keeps its
             * own default but counts as service-defined, as in Postfix. */
            const struct param_def *p = param_find(name);
            add_known(u, name, p ? p->def : def, PARAM_SERVICE);
        }
    }
}

static void init_scopes(struct param_usage *u)
{
    u->nsc = u->cf ? u->cf->n : 0;
    u->sc = xcalloc(u->nsc ? u->nsc : 1, sizeof(*u->sc));
    for (size_t i = 0; i < u->nsc; i++) {
        struct scope *sc = &u->sc[i];
        strv_init(&sc->names);
        strv_init(&sc->values);
        strv_init(&sc->valid);
        const strv *ov = &u->cf->svc[i].overrides;
        for (size_t j = 0; j < ov->n; j++) {
            const char *eq = strchr(ov->v[j], '=');
            if (!eq)
                continue;
            char *name = xstrndup(ov->v[j], (size_t) (eq - ov->v[j]));
            int at = strv_index(&sc->names, name);
            if (at < 0) {
                strv_add(&sc->names, name);
                strv_add(&sc->values, eq + 1);
            } else {
                xfree(sc->values.v[at]);
                sc->values.v[at] = xstrdup(eq + 1);
            }
            xfree(name);
        }
    }
}

static int known_global(const struct param_usage *u, const char *name)
{
    return param_find(name) || find_known(u, name);
}

/* A $name (or restriction class) seen in scope (NULL: main.cf). */
static void flag_user(struct param_usage *u, const char *name, struct scope *sc, int warn)
{
    int supplied = 0;
    if (sc && strv_has(&sc->names, name)) {
        supplied = 1;
        if (!strv_has(&sc->valid, name))
            strv_add(&sc->valid, name);
    } else if (mail_conf_is_set(name)) {
        supplied = 1;
        if (!known_global(u, name))
            add_known(u, name, 0, PARAM_USER);
    }
    if (!sc) {
        for (size_t i = 0; i < u->nsc; i++)
            if (strv_has(&u->sc[i].names, name)) {
                supplied = 1;
                if (!strv_has(&u->sc[i].valid, name))
                    strv_add(&u->sc[i].valid, name);
            }
    }
    if (!supplied && warn && !known_global(u, name) && !strv_has(&u->undefined, name)) {
        sbuf m = SBUF_INIT;
        sbuf_printf(&m, "%s/%s: undefined parameter: %s", mail_conf_dir(),
                    sc ? "master.cf" : "main.cf", name);
        strv_add(&u->problems, sbuf_str(&m));
        sbuf_free(&m);
        strv_add(&u->undefined, name);
    }
}

static void scan_value(struct param_usage *u, const char *value, struct scope *sc, int warn)
{
    strv refs = {0};
    param_refs(value, &refs);
    for (size_t i = 0; i < refs.n; i++)
        flag_user(u, refs.v[i], sc, warn);
    strv_free(&refs);
}

static void scan_classes(struct param_usage *u, const char *value, struct scope *sc)
{
    strv names = {0};
    strv_split(&names, value, ", \t\r\n");
    for (size_t i = 0; i < names.n; i++) {
        if (!sc && !strv_has(&u->rest_classes, names.v[i]))
            strv_add(&u->rest_classes, names.v[i]);
        flag_user(u, names.v[i], sc, 1);
    }
    strv_free(&names);
}

/* Returns 0 to skip value scanning (read-only or raw parameter). */
static int check_assignment(struct param_usage *u, const char *name, const char *value,
                            struct scope *sc)
{
    const struct param_def *p = param_find(name);
    if (!p)
        return 1;
    if (p->flags & PF_READONLY) {
        sbuf m = SBUF_INIT;
        sbuf_printf(&m, "%s/%s: read-only parameter assignment: %s=%s", mail_conf_dir(),
                    sc ? "master.cf" : "main.cf", name, value);
        strv_add(&u->problems, sbuf_str(&m));
        sbuf_free(&m);
        if (!sc && !strv_has(&u->readonly_set, name))
            strv_add(&u->readonly_set, name);
        return 0;
    }
    return p->type != PT_RAW;
}

struct main_scan {
    struct param_usage *u;
    int pass;
};

static int scan_main_cb(const char *name, const char *value, int line, void *ctx)
{
    struct main_scan *ms = ctx;
    if (mail_conf_line(name) != line)
        return 0;               /* a later assignment wins */
    if (ms->pass == 0) {
        if (strcmp(name, "smtpd_restriction_classes") == 0)
            scan_classes(ms->u, value, 0);
    } else if (check_assignment(ms->u, name, value, 0)) {
        scan_value(ms->u, value, 0, 1);
    }
    return 0;
}

static void register_users(struct param_usage *u)
{
    struct main_scan ms = {u, 0};
    mail_conf_foreach(scan_main_cb, &ms);           /* global restriction classes */
    for (size_t i = 0; i < u->nsc; i++) {
        struct scope *sc = &u->sc[i];
        for (size_t j = 0; j < sc->names.n; j++) {
            const char *name = sc->names.v[j], *value = sc->values.v[j];
            if (strv_has(&u->rest_classes, name) && !strv_has(&sc->valid, name))
                strv_add(&sc->valid, name);
            if (strcmp(name, "smtpd_restriction_classes") == 0)
                scan_classes(u, value, sc);
            if (check_assignment(u, name, value, sc))
                scan_value(u, value, sc, 1);
        }
    }
    /* Defaults may name legacy parameters: they validate, never warn. */
    for (size_t i = 0; i < param_count; i++) {
        const struct param_def *p = &param_table[i];
        if (p->type == PT_RAW || mail_conf_is_set(p->name))
            continue;
        scan_value(u, p->def, 0, 0);
    }
    ms.pass = 1;
    mail_conf_foreach(scan_main_cb, &ms);
}

struct param_usage *param_usage_new(const struct master_cf *cf, bool with_user)
{
    struct param_usage *u = xcalloc(1, sizeof(*u));
    u->cf = cf;
    strv_init(&u->rest_classes);
    strv_init(&u->readonly_set);
    strv_init(&u->problems);
    strv_init(&u->undefined);
    register_services(u);
    init_scopes(u);
    if (with_user)
        register_users(u);
    return u;
}

void param_usage_free(struct param_usage *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->nk; i++) {
        xfree(u->k[i].name);
        xfree(u->k[i].def);
    }
    xfree(u->k);
    for (size_t i = 0; i < u->nsc; i++) {
        strv_free(&u->sc[i].names);
        strv_free(&u->sc[i].values);
        strv_free(&u->sc[i].valid);
    }
    xfree(u->sc);
    strv_free(&u->rest_classes);
    strv_free(&u->readonly_set);
    strv_free(&u->problems);
    strv_free(&u->undefined);
    xfree(u);
}

int param_usage_class(const struct param_usage *u, const char *name)
{
    const struct known *k = find_known(u, name);
    if (k)
        return k->cls;
    return param_find(name) ? PARAM_BUILTIN : 0;
}

const char *param_usage_default(const struct param_usage *u, const char *name)
{
    const struct known *k = find_known(u, name);
    if (k && k->cls == PARAM_SERVICE)
        return k->def;
    const struct param_def *p = param_find(name);
    return p ? mail_conf_default(name) : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

void param_usage_names(const struct param_usage *u, int classes, strv *out)
{
    if (!out->v)
        strv_init(out);
    size_t start = out->n;
    for (size_t i = 0; i < param_count; i++) {
        const struct known *k = find_known(u, param_table[i].name);
        if ((k ? k->cls : PARAM_BUILTIN) & classes)
            strv_add(out, param_table[i].name);
    }
    for (size_t i = 0; i < u->nk; i++)
        if ((u->k[i].cls & classes) && !param_find(u->k[i].name))
            strv_add(out, u->k[i].name);
    qsort(out->v + start, out->n - start, sizeof(char *), cmp_str);
}

bool param_usage_readonly_set(const struct param_usage *u, const char *name)
{
    return strv_has(&u->readonly_set, name);
}

bool param_usage_local_valid(const struct param_usage *u, size_t service, const char *name)
{
    return service < u->nsc && strv_has(&u->sc[service].valid, name);
}

struct unused_ctx {
    const struct param_usage *u;
    strv *out;
    strv seen;
};

static int unused_cb(const char *name, const char *value, int line, void *ctx)
{
    struct unused_ctx *uc = ctx;
    if (mail_conf_line(name) != line || strv_has(&uc->seen, name))
        return 0;
    strv_add(&uc->seen, name);
    if (param_usage_class(uc->u, name))
        return 0;
    sbuf m = SBUF_INIT;
    sbuf_printf(&m, "%s/main.cf: unused parameter: %s=%s", mail_conf_dir(), name, value);
    strv_add(uc->out, sbuf_str(&m));
    sbuf_free(&m);
    return 0;
}

void param_usage_problems(const struct param_usage *u, bool main, bool master, strv *out)
{
    if (!out->v)
        strv_init(out);
    for (size_t i = 0; i < u->problems.n; i++)
        strv_add(out, u->problems.v[i]);
    if (main) {
        struct unused_ctx uc = {u, out, {0}};
        strv_init(&uc.seen);
        mail_conf_foreach(unused_cb, &uc);
        strv_free(&uc.seen);
    }
    if (master) {
        for (size_t i = 0; i < u->nsc; i++) {
            const struct scope *sc = &u->sc[i];
            for (size_t j = 0; j < sc->names.n; j++) {
                const char *name = sc->names.v[j];
                if (param_usage_class(u, name) || strv_has(&sc->valid, name))
                    continue;
                sbuf m = SBUF_INIT;
                sbuf_printf(&m, "%s/master.cf: unused parameter: %s=%s", mail_conf_dir(), name,
                            sc->values.v[j]);
                strv_add(out, sbuf_str(&m));
                sbuf_free(&m);
            }
        }
    }
}
