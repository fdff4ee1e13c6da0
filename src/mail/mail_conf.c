/*
 * mail_conf.c - main.cf loading, expansion and typed access (see mail_conf.h).
 *
 * Entries live in a small chained hash keyed by parameter name. Each entry
 * remembers where its value came from (main.cf line, override, default)
 * and caches its expansion until the next change. Expansion is recursive
 * with an "in progress" mark per entry, which is how loops are found.
 */
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "mail/params.h"
#include "util/cfg_file.h"
#include "util/mem.h"
#include "util/msg.h"

enum source { SRC_DEFAULT, SRC_MAIN_CF, SRC_OVERRIDE };

struct entry {
    char   *name;
    char   *value;          /* raw */
    enum source src;
    int     line;
    int     visiting;       /* expansion in progress */
    char   *expanded;       /* cache */
    struct entry *next;
};

struct assignment {         /* main.cf in file order, for -n and foreach */
    char *name;
    char *value;
    int line;
};

#define NBUCKET 1024
static struct entry *buckets[NBUCKET];
static struct assignment *assigns;
static size_t nassign, assign_cap;
static char config_dir[PATH_MAX];
static char config_file[PATH_MAX + 16];
static sbuf expand_error = SBUF_INIT;

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char) *s++) * 16777619u;
    return h % NBUCKET;
}

static struct entry *find(const char *name)
{
    for (struct entry *e = buckets[hash(name)]; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return 0;
}

/*
 * Forget every expansion, and every default entry (table defaults and the
 * computed ones are re-created on demand, so a computed default such as
 * mynetworks follows an override of inet_protocols or mynetworks_style).
 */
static void invalidate_all(const struct entry *keep)
{
    for (int i = 0; i < NBUCKET; i++) {
        struct entry **link = &buckets[i];
        while (*link) {
            struct entry *e = *link;
            if (e->src == SRC_DEFAULT && e != keep && !e->visiting) {
                *link = e->next;
                xfree(e->name);
                xfree(e->value);
                xfree(e->expanded);
                xfree(e);
                continue;
            }
            xfree(e->expanded);
            e->expanded = 0;
            link = &e->next;
        }
    }
}

static struct entry *put(const char *name, const char *value, enum source src, int line)
{
    int changed_existing = 0;
    struct entry *e = find(name);
    if (!e) {
        unsigned h = hash(name);
        e = xcalloc(1, sizeof(*e));
        e->name = xstrdup(name);
        e->next = buckets[h];
        buckets[h] = e;
    } else {
        changed_existing = 1;
    }
    char *copy = xstrdup(value);     /* value may point into e->value */
    xfree(e->value);
    e->value = copy;
    e->src = src;
    e->line = line;
    /* A new default entry changes no other expansion; anything else may. */
    if (changed_existing || src != SRC_DEFAULT)
        invalidate_all(e);
    return e;
}

static void clear_all(void)
{
    for (int i = 0; i < NBUCKET; i++) {
        struct entry *e = buckets[i];
        while (e) {
            struct entry *n = e->next;
            xfree(e->name);
            xfree(e->value);
            xfree(e->expanded);
            xfree(e);
            e = n;
        }
        buckets[i] = 0;
    }
    for (size_t i = 0; i < nassign; i++) {
        xfree(assigns[i].name);
        xfree(assigns[i].value);
    }
    nassign = 0;
}

/* ---- computed defaults ---- */

static const char *expand_name(const char *name, sbuf *err, int depth);

/* Expanded value for computing a default: never exits; "" on a loop or
 * other expansion error (mail_conf_validate reports those separately). */
static const char *soft_str(const char *name)
{
    sbuf err = SBUF_INIT;
    const char *v = expand_name(name, &err, 0);
    sbuf_free(&err);
    return v ? v : "";
}

static char *computed_hostname(void)
{
    char host[256];
    if (gethostname(host, sizeof(host) - 1) < 0)
        return xstrdup("localhost");
    host[sizeof(host) - 1] = 0;
    for (char *p = host; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    /* Like Postfix: a name without a dot gets .$mydomain when main.cf sets
     * mydomain, else .localdomain, so myhostname is always qualified. */
    if (!strchr(host, '.')) {
        sbuf b = SBUF_INIT;
        sbuf_printf(&b, "%s.%s", host,
                    mail_conf_is_set("mydomain") ? soft_str("mydomain") : "localdomain");
        return sbuf_steal(&b);
    }
    return xstrdup(host);
}

static char *computed_mydomain(void)
{
    const char *host = soft_str("myhostname");
    const char *dot = strchr(host, '.');
    return xstrdup(dot && dot[1] ? dot + 1 : "localdomain");
}

static int want_protocol(int family)
{
    const char *p = soft_str("inet_protocols");
    if (strstr(p, "all"))
        return 1;
    if (family == AF_INET)
        return strstr(p, "ipv4") != 0;
    return strstr(p, "ipv6") != 0;
}

static void add_net(sbuf *b, int family, const void *addr, const void *mask, const char *style)
{
    char text[INET6_ADDRSTRLEN];
    int bits;
    unsigned char a[16];
    int alen = family == AF_INET ? 4 : 16;
    memcpy(a, addr, (size_t) alen);
    if (strcmp(style, "host") == 0) {
        bits = alen * 8;
    } else if (strcmp(style, "class") == 0 && family == AF_INET) {
        bits = a[0] < 128 ? 8 : a[0] < 192 ? 16 : 24;
    } else {
        const unsigned char *m = mask;
        bits = 0;
        for (int i = 0; i < alen; i++)
            for (int j = 7; j >= 0; j--)
                if (m[i] & (1 << j))
                    bits++;
    }
    for (int i = 0; i < alen; i++) {
        int keep = bits - i * 8;
        if (keep <= 0)
            a[i] = 0;
        else if (keep < 8)
            a[i] &= (unsigned char) (0xff << (8 - keep));
    }
    inet_ntop(family, a, text, sizeof(text));
    char item[INET6_ADDRSTRLEN + 16];
    if (family == AF_INET)
        snprintf(item, sizeof(item), "%s/%d", text, bits);
    else
        snprintf(item, sizeof(item), "[%s]/%d", text, bits);
    size_t ilen = strlen(item);
    for (const char *hit = strstr(sbuf_str(b), item); hit; hit = strstr(hit + 1, item))
        if ((hit == b->s || hit[-1] == ' ') && (hit[ilen] == 0 || hit[ilen] == ' '))
            return;                 /* already listed (whole item, not a suffix) */
    if (b->len)
        sbuf_addc(b, ' ');
    sbuf_adds(b, item);
}

static char *computed_mynetworks(void)
{
    sbuf b = SBUF_INIT;
    const char *style = soft_str("mynetworks_style");
    if (want_protocol(AF_INET))
        sbuf_adds(&b, "127.0.0.0/8");
    if (want_protocol(AF_INET6)) {
        if (want_protocol(AF_INET))
            sbuf_adds(&b, " [::ffff:127.0.0.0]/104");
        sbuf_adds(&b, b.len ? " [::1]/128" : "[::1]/128");
    }
    struct ifaddrs *ifa = 0;
    if (getifaddrs(&ifa) == 0) {
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
            if (!i->ifa_addr || !i->ifa_netmask)
                continue;
            int fam = i->ifa_addr->sa_family;
            if ((fam != AF_INET && fam != AF_INET6) || !want_protocol(fam))
                continue;
            if (fam == AF_INET) {
                struct in_addr *a = &((struct sockaddr_in *) i->ifa_addr)->sin_addr;
                if ((ntohl(a->s_addr) >> 24) == 127)
                    continue;
                add_net(&b, fam, a, &((struct sockaddr_in *) i->ifa_netmask)->sin_addr, style);
            } else {
                struct in6_addr *a = &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;
                if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a))
                    continue;
                add_net(&b, fam, a, &((struct sockaddr_in6 *) i->ifa_netmask)->sin6_addr,
                        style);
            }
        }
        freeifaddrs(ifa);
    }
    return sbuf_steal(&b);
}

/*
 * Install-relative directories: a program installed as PREFIX/sbin/X or
 * PREFIX/libexec/postfix/X takes PREFIX for command_directory and
 * daemon_directory, so "cmake --install build --prefix DIR" gives a tree
 * whose defaults point into DIR. Anything else (the build tree) keeps the
 * compiled-in paths.
 */
static char *install_relative(const char *name)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return 0;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = 0;                         /* exe = the program's directory */
    size_t len = strlen(exe);
    const char *sbin = "/sbin", *libexec = "/libexec/postfix";
    size_t prefix_len;
    if (len >= strlen(sbin) && strcmp(exe + len - strlen(sbin), sbin) == 0)
        prefix_len = len - strlen(sbin);
    else if (len >= strlen(libexec) && strcmp(exe + len - strlen(libexec), libexec) == 0)
        prefix_len = len - strlen(libexec);
    else
        return 0;
    sbuf b = SBUF_INIT;
    sbuf_add(&b, exe, prefix_len);
    sbuf_adds(&b, strcmp(name, "command_directory") == 0 ? sbin : libexec);
    return sbuf_steal(&b);
}

static char *computed_default(const char *name)
{
    if (strcmp(name, "myhostname") == 0)
        return computed_hostname();
    if (strcmp(name, "mydomain") == 0)
        return computed_mydomain();
    if (strcmp(name, "mynetworks") == 0)
        return computed_mynetworks();
    if (strcmp(name, "process_id") == 0) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%ld", (long) getpid());
        return xstrdup(buf);
    }
    if (strcmp(name, "command_directory") == 0 || strcmp(name, "daemon_directory") == 0)
        return install_relative(name);
    if (strcmp(name, "process_name") == 0)
        return xstrdup(msg_program());
    return 0;
}

const char *mail_conf_default(const char *name)
{
    const struct param_def *p = param_find(name);
    if (!p)
        return 0;
    if (p->flags & PF_COMPUTED) {
        /* Cached under a private name so the main.cf entry is untouched. */
        char key[300];
        snprintf(key, sizeof(key), " default %s", name);
        struct entry *e = find(key);
        if (!e) {
            char *v = computed_default(name);
            e = put(key, v ? v : p->def, SRC_DEFAULT, 0);
            xfree(v);
        }
        return e->value;
    }
    return p->def;
}

/* ---- loading ---- */

struct load_ctx {
    sbuf *err;
};

static int load_line(const char *line, int lineno, void *ctx)
{
    struct load_ctx *lc = ctx;
    char *copy = xstrdup(line);
    char *name, *value;
    const char *why;
    if (cfg_split_assignment(copy, &name, &value, &why) < 0) {
        sbuf_printf(lc->err, "%s, line %d: %s: \"%s\"", config_file, lineno, why, line);
        xfree(copy);
        return 1;
    }
    struct entry *old = find(name);
    if (old && old->src == SRC_MAIN_CF && msg_verbose)
        msg_info("%s, line %d: overriding earlier entry: %s=%s", config_file, lineno, name,
                 old->value);
    put(name, value, SRC_MAIN_CF, lineno);
    if (nassign == assign_cap) {
        assign_cap = assign_cap * 2 + 32;
        assigns = xreallocarray(assigns, assign_cap, sizeof(*assigns));
    }
    assigns[nassign].name = xstrdup(name);
    assigns[nassign].value = xstrdup(value);
    assigns[nassign].line = lineno;
    nassign++;
    xfree(copy);
    return 0;
}

int mail_conf_try_load(const char *dir, char **err)
{
    if (!dir || !*dir)
        dir = getenv("MAIL_CONFIG");
    if (!dir || !*dir)
        dir = DEF_CONFIG_DIR;
    clear_all();
    snprintf(config_dir, sizeof(config_dir), "%s", dir);
    snprintf(config_file, sizeof(config_file), "%s/main.cf", config_dir);
    put("config_directory", config_dir, SRC_OVERRIDE, 0);
    sbuf e = SBUF_INIT;
    struct load_ctx lc = {&e};
    int rc = cfg_read_lines(config_file, load_line, &lc);
    if (rc < 0 && errno != ENOENT) {
        sbuf_printf(&e, "open %s: %s", config_file, strerror(errno));
        rc = 1;
    } else if (rc < 0) {
        rc = 0;
    }
    /* config_directory in main.cf is ignored, as in Postfix: the directory
     * we read from is the truth. */
    put("config_directory", config_dir, SRC_OVERRIDE, 0);
    if (rc) {
        if (err)
            *err = sbuf_steal(&e);
        sbuf_free(&e);
        return -1;
    }
    sbuf_free(&e);
    return 0;
}

void mail_conf_load(const char *dir)
{
    char *err = 0;
    if (mail_conf_try_load(dir, &err) < 0)
        msg_fatal("%s", err);
}

const char *mail_conf_dir(void) { return config_dir; }
const char *mail_conf_file(void) { return config_file; }

void mail_conf_override(const char *name, const char *value)
{
    put(name, value, SRC_OVERRIDE, 0);
}

int mail_conf_override_assignment(const char *assignment)
{
    char *copy = xstrdup(assignment);
    char *name, *value;
    const char *why;
    int rc = cfg_split_assignment(copy, &name, &value, &why);
    if (rc == 0)
        mail_conf_override(name, value);
    xfree(copy);
    return rc;
}

bool mail_conf_is_set(const char *name)
{
    struct entry *e = find(name);
    return e && (e->src == SRC_MAIN_CF || (e->src == SRC_OVERRIDE &&
                                           strcmp(name, "config_directory") != 0));
}

int mail_conf_line(const char *name)
{
    struct entry *e = find(name);
    return e && e->src == SRC_MAIN_CF ? e->line : 0;
}

const char *mail_conf_raw(const char *name)
{
    struct entry *e = find(name);
    if (e && e->src != SRC_DEFAULT)
        return e->value;
    return mail_conf_default(name);
}

/* ---- expansion ---- */

static int expand(const char *text, sbuf *out, sbuf *err, int depth);

/* Entries being expanded, outermost first, to name a loop's members. */
#define EXP_STACK_MAX 128
static struct entry *exp_stack[EXP_STACK_MAX];
static int exp_depth;

static const char *expand_name(const char *name, sbuf *err, int depth)
{
    struct entry *e = find(name);
    if (!e) {
        const char *def = mail_conf_default(name);
        if (!def)
            return 0;
        e = put(name, def, SRC_DEFAULT, 0);
        /* put() on a new default entry must not lose main.cf state: it only
         * creates entries for names that had none. An existing default
         * entry is reused: replacing it would throw away every cached
         * expansion (and free strings callers still hold). */
    }
    if (e->expanded)
        return e->expanded;
    const struct param_def *p = param_find(name);
    if (p && p->type == PT_RAW)
        return e->value;
    if (e->visiting) {
        /* Name the whole loop: "$a -> $b -> $a". */
        if (!err->len) {
            int from = 0;
            while (from < exp_depth && exp_stack[from] != e)
                from++;
            sbuf_printf(err, "parameter %s: recursive reference: ", name);
            for (int i = from; i < exp_depth; i++)
                sbuf_printf(err, "$%s -> ", exp_stack[i]->name);
            sbuf_printf(err, "$%s", name);
        }
        return 0;
    }
    if (depth > 100 || exp_depth >= EXP_STACK_MAX) {
        sbuf_printf(err, "parameter %s: expansion too deep", name);
        return 0;
    }
    e->visiting = 1;
    exp_stack[exp_depth++] = e;
    sbuf tmp = SBUF_INIT;
    int rc = expand(e->value, &tmp, err, depth + 1);
    exp_depth--;
    e->visiting = 0;
    if (rc < 0) {
        sbuf_free(&tmp);
        if (!strstr(sbuf_str(err), name))
            sbuf_printf(err, " (while expanding %s)", name);
        return 0;
    }
    e->expanded = sbuf_steal(&tmp);
    return e->expanded;
}

/* Find the end of "{...}" starting at p (p points at '{'); NULL if unbalanced. */
static const char *brace_end(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0)
            return p;
    }
    return 0;
}

/* Find the bracket that closes an open one (already consumed) at p, counting
 * nested pairs of the same kind; NULL when there is none. */
static const char *close_end(const char *p, char close)
{
    char open = close == '}' ? '{' : '(';
    int depth = 1;
    for (; *p; p++) {
        if (*p == open)
            depth++;
        else if (*p == close && --depth == 0)
            return p;
    }
    return 0;
}

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static int expand_span(const char *s, size_t len, sbuf *out, sbuf *err, int depth)
{
    char *sub = xstrndup(s, len);
    int rc = expand(sub, out, err, depth + 1);
    xfree(sub);
    return rc;
}

/*
 * The part of ${X?...} or ${X:...} after the operator, where truth says
 * whether X counts as set (a non-empty parameter, or a relation that
 * holds). Forms: "?text", "?{a}", "?{a}:{b}", "?{a}:b", ":text", ":{a}".
 * Blanks around a {value} are ignored. *pp is left past the closing bracket.
 */
static int expand_choice(const char **pp, char op, int truth, char close, const char *text,
                         sbuf *out, sbuf *err, int depth)
{
    const char *p = *pp, *a, *b = 0;
    size_t alen, blen = 0;
    const char *q = skip_blanks(p);
    if (*q == '{') {
        const char *e1 = brace_end(q);
        if (!e1) {
            sbuf_printf(err, "unbalanced '{' in \"%s\"", text);
            return -1;
        }
        a = q + 1;
        alen = (size_t) (e1 - a);
        p = skip_blanks(e1 + 1);
        if (op == '?' && *p == ':') {
            p = skip_blanks(p + 1);
            if (*p == '{') {
                const char *e2 = brace_end(p);
                if (!e2) {
                    sbuf_printf(err, "unbalanced '{' in \"%s\"", text);
                    return -1;
                }
                b = p + 1;
                blen = (size_t) (e2 - b);
                p = skip_blanks(e2 + 1);
            } else {                /* the second value may go without braces */
                b = p;
                if (!(p = close_end(p, close))) {
                    sbuf_printf(err, "missing '%c' in \"%s\"", close, text);
                    return -1;
                }
                blen = (size_t) (p - b);
            }
        }
        if (*p != close) {
            sbuf_printf(err, "missing '%c' in \"%s\"", close, text);
            return -1;
        }
    } else {                        /* ${X?text}: text runs to the close */
        a = p;
        if (!(p = close_end(p, close))) {
            sbuf_printf(err, "missing '%c' in \"%s\"", close, text);
            return -1;
        }
        alen = (size_t) (p - a);
    }
    *pp = p + 1;
    if (op == '?') {
        if (truth)
            return expand_span(a, alen, out, err, depth);
        return b ? expand_span(b, blen, out, err, depth) : 0;
    }
    return truth ? 0 : expand_span(a, alen, out, err, depth);
}

/* Compatibility levels compare as major.minor.patch numbers ("3.10" > "3.9"). */
static int parse_level(const char *s, long v[3])
{
    v[0] = v[1] = v[2] = 0;
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char) *s))
            return -1;
        errno = 0;
        char *end;
        v[i] = strtol(s, &end, 10);
        if (errno)
            return -1;
        s = end;
        if (*s == 0)
            return 0;
        if (*s != '.')
            return -1;
        s++;
    }
    return -1;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char) *s))
            return 0;
    return 1;
}

/* Numeric comparison of digit strings of any length. */
static int compare_digits(const char *a, const char *b)
{
    while (*a == '0' && a[1])
        a++;
    while (*b == '0' && b[1])
        b++;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

/*
 * ${{value1} OP {value2} ? ... : ...}, with OP one of == != < <= > >=
 * (numeric when both sides are all digits, else by bytes), or the same
 * followed by "level" to compare compatibility levels. *pp points at the
 * first '{' and is left past the closing bracket.
 */
static int expand_relation(const char **pp, char close, const char *text, sbuf *out,
                           sbuf *err, int depth)
{
    sbuf left = SBUF_INIT, right = SBUF_INIT;
    const char *p = *pp, *e;
    int rc = -1;
    if (!(e = brace_end(p))) {
        sbuf_printf(err, "unbalanced '{' in \"%s\"", text);
        goto done;
    }
    if (expand_span(p + 1, (size_t) (e - p - 1), &left, err, depth) < 0)
        goto done;
    p = skip_blanks(e + 1);
    char opname[3] = "";
    size_t n = 0;
    while (n < 2 && *p && strchr("=!<>", *p))
        opname[n++] = *p++;
    opname[n] = 0;
    int level = strncmp(p, "level", 5) == 0;
    if (level)
        p += 5;
    static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
    int op = -1;
    for (int i = 0; i < 6; i++)
        if (strcmp(opname, ops[i]) == 0)
            op = i;
    if (op < 0) {
        sbuf_printf(err, "bad relational operator in \"%s\"", text);
        goto done;
    }
    p = skip_blanks(p);
    if (*p != '{' || !(e = brace_end(p))) {
        sbuf_printf(err, "expected '{value}' after \"%s\" in \"%s\"", opname, text);
        goto done;
    }
    if (expand_span(p + 1, (size_t) (e - p - 1), &right, err, depth) < 0)
        goto done;
    p = skip_blanks(e + 1);
    if (*p != '?' && *p != ':') {
        sbuf_printf(err, "expected '?' or ':' after relational expression in \"%s\"", text);
        goto done;
    }
    const char *l = sbuf_str(&left), *r = sbuf_str(&right);
    int cmp;
    if (level) {
        long lv[3], rv[3];
        if (parse_level(l, lv) < 0 || parse_level(r, rv) < 0) {
            sbuf_printf(err, "bad compatibility level \"%s\" or \"%s\" in \"%s\"", l, r, text);
            goto done;
        }
        cmp = 0;
        for (int i = 0; i < 3 && cmp == 0; i++)
            cmp = lv[i] < rv[i] ? -1 : lv[i] > rv[i];
    } else if (all_digits(l) && all_digits(r)) {
        cmp = compare_digits(l, r);
    } else {
        cmp = strcmp(l, r);
    }
    int truth = op == 0 ? cmp == 0 : op == 1 ? cmp != 0 : op == 2 ? cmp < 0
              : op == 3 ? cmp <= 0 : op == 4 ? cmp > 0 : cmp >= 0;
    char which = *p++;
    rc = expand_choice(&p, which, truth, close, text, out, err, depth);
    *pp = p;
done:
    sbuf_free(&left);
    sbuf_free(&right);
    return rc;
}

/* "${...}" or "$(...)"; *pp points at the opening bracket and is left
 * past the closing one. */
static int expand_bracketed(const char **pp, const char *text, sbuf *out, sbuf *err, int depth)
{
    const char *p = *pp;
    char close = *p == '{' ? '}' : ')';
    p++;
    if (*skip_blanks(p) == '{') {
        p = skip_blanks(p);
        int rc = expand_relation(&p, close, text, out, err, depth);
        *pp = p;
        return rc;
    }
    const char *s = p;
    while (isalnum((unsigned char) *p) || *p == '_')
        p++;
    size_t n = (size_t) (p - s);
    char name[256];
    if (n == 0 || n >= sizeof(name)) {
        sbuf_printf(err, "bad parameter name in \"%s\"", text);
        return -1;
    }
    memcpy(name, s, n);
    name[n] = 0;
    if (*p != close && *p != '?' && *p != ':') {
        sbuf_printf(err, "bad $%c...%c syntax in \"%s\"", close == '}' ? '{' : '(', close, text);
        return -1;
    }
    const char *v = expand_name(name, err, depth);
    if (!v && err->len)
        return -1;
    if (*p == close) {
        if (v)
            sbuf_adds(out, v);
        *pp = p + 1;
        return 0;
    }
    char op = *p++;
    int rc = expand_choice(&p, op, v && *v, close, text, out, err, depth);
    *pp = p;
    return rc;
}

static int expand(const char *text, sbuf *out, sbuf *err, int depth)
{
    const char *p = text;
    while (*p) {
        if (*p != '$') {
            sbuf_addc(out, *p++);
            continue;
        }
        p++;
        if (*p == '$') {
            sbuf_addc(out, '$');
            p++;
            continue;
        }
        if (*p == '{' || *p == '(') {
            if (expand_bracketed(&p, text, out, err, depth) < 0)
                return -1;
            continue;
        }
        char name[256];
        size_t n = 0;
        while (isalnum((unsigned char) *p) || *p == '_') {
            if (n + 1 >= sizeof(name)) {
                sbuf_printf(err, "parameter name too long in \"%s\"", text);
                return -1;
            }
            name[n++] = *p++;
        }
        name[n] = 0;
        if (n == 0) {
            sbuf_addc(out, '$');
            continue;
        }
        const char *v = expand_name(name, err, depth);
        if (!v && err->len)
            return -1;
        if (v)
            sbuf_adds(out, v);
    }
    return 0;
}

int mail_conf_expand(const char *text, sbuf *out, sbuf *err)
{
    return expand(text, out, err, 0);
}

static void conf_fatal_at(const char *name, const char *fmt, const char *value)
{
    int line = mail_conf_line(name);
    if (line)
        msg_fatal("%s, line %d: %s: %s = %s", config_file, line, fmt, name, value);
    msg_fatal("%s: %s = %s", fmt, name, value);
}

const char *mail_conf_str(const char *name)
{
    sbuf_reset(&expand_error);
    const char *v = expand_name(name, &expand_error, 0);
    if (!v && expand_error.len) {
        int line = mail_conf_line(name);
        if (line)
            msg_fatal("%s, line %d: %s", config_file, line, sbuf_str(&expand_error));
        msg_fatal("%s: %s", config_file, sbuf_str(&expand_error));
    }
    return v ? v : "";
}

/* ---- typed parsing ---- */

int mail_conf_parse_bool(const char *s, int *out)
{
    if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = 1;
    else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

int mail_conf_parse_long(const char *s, long long *out)
{
    char *end;
    if (!*s || !(isdigit((unsigned char) *s) || *s == '-'))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int mail_conf_parse_time(const char *s, char default_unit, long *seconds)
{
    char *end;
    if (!isdigit((unsigned char) *s))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno)
        return -1;
    char unit = *end ? *end : default_unit;
    if (*end && end[1])
        return -1;
    long long mult;
    switch (unit) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    case 'w': mult = 604800; break;
    default: return -1;
    }
    if (v > LONG_MAX / mult)
        return -1;
    *seconds = (long) (v * mult);
    return 0;
}

/*
 * A time parameter's default unit is the unit its default is written with
 * ("300s", "5d", "${stress?{10}:{300}}s"). A default that is just another
 * parameter ("$postscreen_dnsbl_ttl") takes that parameter's unit.
 */
static char default_unit(const struct param_def *p)
{
    for (int hops = 0; p && hops < 8; hops++) {
        const char *d = p->def;
        size_t n = strlen(d);
        if (n >= 2 && strchr("smhdw", d[n - 1]) &&
            (isdigit((unsigned char) d[n - 2]) || d[n - 2] == '}'))
            return d[n - 1];
        if (d[0] != '$')
            break;
        char ref[128];
        size_t i = 0;
        const char *q = d + 1 + (d[1] == '{');
        while (i + 1 < sizeof(ref) && (isalnum((unsigned char) q[i]) || q[i] == '_'))
            ref[i] = q[i], i++;
        ref[i] = 0;
        if (q[i] != (d[1] == '{' ? '}' : 0) || (d[1] == '{' && q[i + 1]))
            break;
        p = param_find(ref);
        if (p && p->type != PT_TIME)
            break;
    }
    return 's';
}

static int time_below_min(const struct param_def *p, long secs)
{
    return p && (((p->flags & PF_MIN0) && secs < 0) || ((p->flags & PF_MIN1) && secs < 1));
}

int mail_conf_bool(const char *name)
{
    const char *v = mail_conf_str(name);
    int b;
    if (mail_conf_parse_bool(v, &b) < 0)
        conf_fatal_at(name, "bad boolean configuration", v);
    return b;
}

long long mail_conf_long(const char *name)
{
    const char *v = mail_conf_str(name);
    long long n;
    if (mail_conf_parse_long(v, &n) < 0)
        conf_fatal_at(name, "bad numerical configuration", v);
    const struct param_def *p = param_find(name);
    if (p && (p->flags & PF_MIN0) && n < 0)
        conf_fatal_at(name, "invalid numerical configuration (must be >= 0)", v);
    if (p && (p->flags & PF_MIN1) && n < 1)
        conf_fatal_at(name, "invalid numerical configuration (must be >= 1)", v);
    return n;
}

long mail_conf_int(const char *name)
{
    long long n = mail_conf_long(name);
    if (n > INT_MAX || n < INT_MIN)
        conf_fatal_at(name, "numerical configuration out of range", mail_conf_str(name));
    return (long) n;
}

long mail_conf_time(const char *name)
{
    const char *v = mail_conf_str(name);
    const struct param_def *p = param_find(name);
    long secs;
    if (mail_conf_parse_time(v, p ? default_unit(p) : 's', &secs) < 0)
        conf_fatal_at(name, "bad time configuration", v);
    if (time_below_min(p, secs))
        conf_fatal_at(name, "invalid time configuration (must be > 0)", v);
    return secs;
}

/*
 * Split a list value on commas and white space, keeping "{...}" groups
 * whole: "inline:{ a=1, b=2 }" stays one item, and an item that is all
 * one group ("{ inet:host:port, timeout=10s }") loses its outer braces
 * and the blanks just inside them, as with strv_split_list(). An
 * unbalanced '{' makes the rest of the value one item.
 */
void mail_conf_list(const char *name, strv *out)
{
    const char *s = mail_conf_str(name);
    if (!out->v)
        strv_init(out);
    while (*s) {
        s += strspn(s, STRV_LIST_DELIMS);
        if (!*s)
            break;
        const char *start = s;
        int depth = 0;
        for (; *s; s++) {
            if (*s == '{')
                depth++;
            else if (*s == '}' && depth > 0)
                depth--;
            else if (depth == 0 && strchr(STRV_LIST_DELIMS, *s))
                break;
        }
        const char *end = s;
        if (*start == '{' && end > start + 1 && end[-1] == '}' && depth == 0) {
            int d = 0;
            const char *match = start;
            for (; match < end; match++)
                if (*match == '{')
                    d++;
                else if (*match == '}' && --d == 0)
                    break;
            if (match == end - 1) {     /* the first '{' closes at the end */
                start++;
                end--;
                while (start < end && strchr(" \t\r\n", *start))
                    start++;
                while (end > start && strchr(" \t\r\n", end[-1]))
                    end--;
            }
        }
        strv_addn(out, start, (size_t) (end - start));
    }
}

/* ---- validation ---- */

static int check_value(const struct param_def *p, const char *v, const char **why)
{
    int b;
    long long n;
    long t;
    switch (p->type) {
    case PT_BOOL:
        *why = "bad boolean configuration";
        return mail_conf_parse_bool(v, &b);
    case PT_INT:
    case PT_LONG:
        *why = "bad numerical configuration";
        if (mail_conf_parse_long(v, &n) < 0)
            return -1;
        if (p->type == PT_INT && (n > INT_MAX || n < INT_MIN))
            return -1;
        if (((p->flags & PF_MIN0) && n < 0) || ((p->flags & PF_MIN1) && n < 1)) {
            *why = "invalid numerical configuration";
            return -1;
        }
        return 0;
    case PT_TIME:
        *why = "bad time configuration";
        if (mail_conf_parse_time(v, default_unit(p), &t) < 0)
            return -1;
        if (time_below_min(p, t)) {
            *why = "invalid time configuration";
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

int mail_conf_validate(strv *errs)
{
    int count = 0;
    for (size_t i = 0; i < nassign; i++) {
        const char *name = assigns[i].name;
        struct entry *e = find(name);
        if (!e || e->src != SRC_MAIN_CF || e->line != assigns[i].line)
            continue;       /* a later line overrides this one */
        const struct param_def *p = param_find(name);
        sbuf err = SBUF_INIT;
        const char *v = expand_name(name, &err, 0);
        if (!v && err.len) {
            char *m;
            sbuf line = SBUF_INIT;
            sbuf_printf(&line, "%s, line %d: %s", config_file, e->line, sbuf_str(&err));
            m = sbuf_steal(&line);
            strv_add(errs, m);
            xfree(m);
            count++;
        } else if (p && v) {
            const char *why;
            if (check_value(p, v, &why) < 0) {
                sbuf line = SBUF_INIT;
                sbuf_printf(&line, "%s, line %d: %s: %s = %s", config_file, e->line, why,
                            name, v);
                strv_add(errs, sbuf_str(&line));
                sbuf_free(&line);
                count++;
            }
        }
        sbuf_free(&err);
    }
    return count;
}

static int is_service_param(const char *name, const strv *services)
{
    static const char *const suffixes[] = {
        "_destination_concurrency_limit", "_destination_recipient_limit",
        "_destination_rate_delay", "_destination_concurrency_failed_cohort_limit",
        "_destination_concurrency_negative_feedback",
        "_destination_concurrency_positive_feedback", "_initial_destination_concurrency",
        "_extra_recipient_limit", "_recipient_limit", "_recipient_refill_limit",
        "_recipient_refill_delay", "_delivery_slot_cost", "_delivery_slot_discount",
        "_delivery_slot_loan", "_minimum_delivery_slots", "_time_limit",
        "_transport_rate_delay", "_delivery_status_filter",
    };
    if (!services)
        return 0;
    for (size_t i = 0; i < services->n; i++) {
        size_t n = strlen(services->v[i]);
        if (strncmp(name, services->v[i], n) != 0 || name[n] != '_')
            continue;
        for (size_t j = 0; j < sizeof(suffixes) / sizeof(suffixes[0]); j++)
            if (strcmp(name + n, suffixes[j]) == 0)
                return 1;
    }
    return 0;
}

bool mail_conf_name_known(const char *name, const strv *services)
{
    return param_find(name) || is_service_param(name, services);
}

void mail_conf_warn_unknown(const strv *services)
{
    for (size_t i = 0; i < nassign; i++) {
        const char *name = assigns[i].name;
        if (param_find(name) || is_service_param(name, services))
            continue;
        /* A name some other set parameter refers to is a user-defined
         * macro, which Postfix accepts silently. */
        int used = 0;
        char ref1[300], ref2[300];
        snprintf(ref1, sizeof(ref1), "$%s", name);
        snprintf(ref2, sizeof(ref2), "${%s", name);
        for (size_t j = 0; j < nassign && !used; j++)
            if (strstr(assigns[j].value, ref1) || strstr(assigns[j].value, ref2))
                used = 1;
        if (!used)
            msg_warn("%s, line %d: %s: unknown parameter", config_file, assigns[i].line, name);
    }
}

int mail_conf_foreach(mail_conf_iter_fn fn, void *ctx)
{
    for (size_t i = 0; i < nassign; i++) {
        int rc = fn(assigns[i].name, assigns[i].value, assigns[i].line, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

void mail_conf_setup_logging(void)
{
    msg_set_syslog_name(mail_conf_str("syslog_name"));
    msg_set_facility(mail_conf_str("syslog_facility"));
    const char *file = mail_conf_str("maillog_file");
    if (*file) {
        char sock[PATH_MAX + 32];
        snprintf(sock, sizeof(sock), "%s/public/postlog", mail_conf_str("queue_directory"));
        msg_set_postlog(sock);
        msg_set_logfile(file);
        msg_set_targets((msg_get_targets() & ~MSG_TO_SYSLOG) | MSG_TO_POSTLOG);
    }
}
