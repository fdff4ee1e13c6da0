/*
 * match_list.c - Postfix pattern lists for domains and hosts (see match_list.h).
 *
 * A list is parsed once at open time into typed patterns: names, ".names",
 * IPv4/IPv6 networks, and type:table lookups (opened through maps.h so
 * one table is shared by every list that names it). "/file/name" patterns
 * are read at open time and replaced by the file's patterns. A pattern
 * that cannot be used (bad network, table that does not open, file that
 * does not read) is logged once, naming the parameter (and the file and
 * line), and makes every match on the list return -1: the caller defers
 * rather than guessing what the administrator meant.
 *
 * Not here: DNS (hostnames are compared as given), the access(5) style of
 * truncated address lookups (smtpd's business).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/match_list.h"
#include "util/dict.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/strv.h"

#define MATCH_FILE_DEPTH 5      /* /file patterns nested in /file patterns */
#define MATCH_FILE_MAX (64 * 1024 * 1024)

enum pat_kind { PAT_NAME, PAT_DOTNAME, PAT_NET, PAT_TABLE };

struct pattern {
    enum pat_kind kind;
    bool negate;
    char *text;                 /* folded name, or the table spec */
    int family;                 /* PAT_NET: AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
    maps *table;                /* PAT_TABLE */
};

struct match_list {
    char *title;
    bool parent_bare;           /* title in parent_domain_matches_subdomains */
    bool broken;                /* a pattern could not be used: answer -1 */
    struct pattern *pat;
    size_t n, cap;
};

/* ---- list splitting ---- */

void match_list_split(const char *s, strv *out)
{
    static const char delims[] = ", \t\r\n";
    if (!out->v)
        strv_init(out);
    while (*s) {
        s += strspn(s, delims);
        if (!*s)
            break;
        const char *start = s;
        int depth = 0;
        for (; *s; s++) {
            if (*s == '{')
                depth++;
            else if (*s == '}' && depth > 0)
                depth--;
            else if (depth == 0 && strchr(delims, *s))
                break;
        }
        const char *end = s;
        if (*start == '{' && end[-1] == '}' && depth == 0) {
            /* "{ text }" as a whole item: drop the braces if they pair up. */
            int d = 0;
            const char *m = start;
            for (; m < end; m++)
                if (*m == '{')
                    d++;
                else if (*m == '}' && --d == 0)
                    break;
            if (m == end - 1) {
                start++;
                end--;
                while (start < end && isspace((unsigned char) *start))
                    start++;
                while (end > start && isspace((unsigned char) end[-1]))
                    end--;
            }
        }
        strv_addn(out, start, (size_t) (end - start));
    }
}

/* ---- address parsing ---- */

/*
 * Parse "a.b.c.d", "a.b.c.d/n", "[v6]", "[v6]/n", "v6", "v6/n" (and
 * "[a.b.c.d]"). Returns 1 parsed, 0 not an address at all, -1 looks like
 * one but is bad (why set).
 */
static int parse_net(const char *text, struct pattern *p, const char **why)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t) (slash - text) : strlen(text);
    if (alen >= sizeof(buf))
        return 0;
    memcpy(buf, text, alen);
    buf[alen] = 0;
    char *a = buf;
    bool bracket = false;
    if (a[0] == '[') {
        if (alen < 3 || a[alen - 1] != ']') {
            *why = "missing ']'";
            return -1;
        }
        a[alen - 1] = 0;
        a++;
        bracket = true;
    }
    if (inet_pton(AF_INET, a, p->addr) == 1) {
        p->family = AF_INET;
        p->bits = 32;
    } else if (inet_pton(AF_INET6, a, p->addr) == 1) {
        p->family = AF_INET6;
        p->bits = 128;
    } else {
        if (bracket) {
            *why = "bad address in []";
            return -1;
        }
        return 0;
    }
    if (slash) {
        char *end;
        errno = 0;
        long bits = strtol(slash + 1, &end, 10);
        if (!isdigit((unsigned char) slash[1]) || *end || errno || bits < 0 || bits > p->bits) {
            *why = "bad network mask length";
            return -1;
        }
        int alen_bytes = p->family == AF_INET ? 4 : 16;
        for (int i = 0; i < alen_bytes; i++) {
            int keep = (int) bits - i * 8;
            unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char) (0xff << (8 - keep));
            if (p->addr[i] & (unsigned char) ~mask) {
                *why = "non-null host address bits (use the network address)";
                return -1;
            }
        }
        p->bits = (int) bits;
    }
    return 1;
}

/* Client address text -> family and bytes; ::ffff:a.b.c.d becomes IPv4. */
static int parse_client_addr(const char *text, unsigned char *out)
{
    char buf[INET6_ADDRSTRLEN + 2];
    size_t len = strlen(text);
    if (len >= sizeof(buf))
        return 0;
    memcpy(buf, text, len + 1);
    char *a = buf;
    if (a[0] == '[' && len > 2 && a[len - 1] == ']') {
        a[len - 1] = 0;
        a++;
    }
    if (strncasecmp(a, "ipv6:", 5) == 0)
        a += 5;
    if (inet_pton(AF_INET, a, out) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, a, out) == 1) {
        static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
        if (memcmp(out, mapped, 12) == 0) {
            memmove(out, out + 12, 4);
            return AF_INET;
        }
        return AF_INET6;
    }
    return 0;
}

static bool net_match(const struct pattern *p, int family, const unsigned char *a)
{
    if (family != p->family)
        return false;
    int full = p->bits / 8, rest = p->bits % 8;
    if (memcmp(a, p->addr, (size_t) full) != 0)
        return false;
    if (rest) {
        unsigned char mask = (unsigned char) (0xff << (8 - rest));
        if ((a[full] & mask) != (p->addr[full] & mask))
            return false;
    }
    return true;
}

/* ---- building ---- */

static struct pattern *add_pattern(match_list *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->pat = xreallocarray(l->pat, l->cap, sizeof(*l->pat));
    }
    struct pattern *p = &l->pat[l->n++];
    memset(p, 0, sizeof(*p));
    return p;
}

static void bad_pattern(match_list *l, const char *origin, int line, const char *item,
                        const char *why)
{
    if (origin && line)
        msg_warn("%s: %s, line %d: %s: \"%s\"", l->title, origin, line, why, item);
    else
        msg_warn("%s: %s: \"%s\"", l->title, why, item);
    l->broken = true;
}

static void parse_items(match_list *l, const char *text, bool negate, int depth,
                        const char *origin, int line);

static void read_pattern_file(match_list *l, const char *path, bool negate, int depth)
{
    if (depth >= MATCH_FILE_DEPTH) {
        msg_warn("%s: %s: /file patterns nested too deeply", l->title, path);
        l->broken = true;
        return;
    }
    FILE *fp = fopen(path, "r");
    if (!fp) {
        msg_warn("%s: open %s: %s", l->title, path, strerror(errno));
        l->broken = true;
        return;
    }
    sbuf linebuf = SBUF_INIT;
    int lineno = 0, c;
    size_t total = 0;
    for (;;) {
        sbuf_reset(&linebuf);
        while ((c = getc(fp)) != EOF && c != '\n') {
            if (++total > MATCH_FILE_MAX)
                break;
            sbuf_addc(&linebuf, c);
        }
        if (total > MATCH_FILE_MAX) {
            msg_warn("%s: %s: file too large", l->title, path);
            l->broken = true;
            break;
        }
        if (c == EOF && linebuf.len == 0)
            break;
        lineno++;
        if (memchr(linebuf.s, 0, linebuf.len)) {
            bad_pattern(l, path, lineno, "", "NUL byte in line");
            continue;
        }
        char *hash = strchr(sbuf_str(&linebuf), '#');
        if (hash)
            sbuf_truncate(&linebuf, (size_t) (hash - linebuf.s));
        parse_items(l, sbuf_str(&linebuf), negate, depth + 1, path, lineno);
        if (c == EOF)
            break;
    }
    if (ferror(fp)) {
        msg_warn("%s: read %s: %s", l->title, path, strerror(errno));
        l->broken = true;
    }
    fclose(fp);
    sbuf_free(&linebuf);
}

static void parse_one(match_list *l, const char *item, bool negate, int depth,
                      const char *origin, int line)
{
    const char *s = item;
    while (*s == '!') {
        negate = !negate;
        s++;
    }
    if (*s == 0) {
        bad_pattern(l, origin, line, item, "empty pattern after '!'");
        return;
    }
    if (*s == '/') {
        read_pattern_file(l, s, negate, depth);
        return;
    }
    struct pattern tmp;
    memset(&tmp, 0, sizeof(tmp));
    const char *why = 0;
    int rc = parse_net(s, &tmp, &why);
    if (rc < 0) {
        bad_pattern(l, origin, line, item, why);
        return;
    }
    if (rc > 0) {
        struct pattern *p = add_pattern(l);
        *p = tmp;
        p->kind = PAT_NET;
        p->negate = negate;
        p->text = xstrdup(s);
        return;
    }
    const char *colon = strchr(s, ':');
    if (colon && colon > s) {
        struct pattern *p = add_pattern(l);
        p->kind = PAT_TABLE;
        p->negate = negate;
        p->text = xstrdup(s);
        p->table = maps_open(l->title, s, DICT_FLAG_DEFAULT);
        /* maps_open logged a failure; lookups on it report DICT_ERR_CONFIG. */
        return;
    }
    if (colon || strchr(s, '[') || strchr(s, ']')) {
        bad_pattern(l, origin, line, item, "bad pattern");
        return;
    }
    struct pattern *p = add_pattern(l);
    p->kind = *s == '.' ? PAT_DOTNAME : PAT_NAME;
    p->negate = negate;
    p->text = xstrdup(s);
    for (char *c = p->text; *c; c++)
        *c = (char) tolower((unsigned char) *c);
}

static void parse_items(match_list *l, const char *text, bool negate, int depth,
                        const char *origin, int line)
{
    strv items = {0};
    match_list_split(text, &items);
    for (size_t i = 0; i < items.n; i++)
        parse_one(l, items.v[i], negate, depth, origin, line);
    strv_free(&items);
}

match_list *match_list_open(const char *title, const char *patterns)
{
    match_list *l = xcalloc(1, sizeof(*l));
    l->title = xstrdup(title ? title : "match list");
    strv feat = {0};
    match_list_split(mail_conf_str("parent_domain_matches_subdomains"), &feat);
    for (size_t i = 0; i < feat.n; i++)
        if (strcmp(feat.v[i], l->title) == 0)
            l->parent_bare = true;
    strv_free(&feat);
    parse_items(l, patterns ? patterns : "", false, 0, 0, 0);
    return l;
}

void match_list_free(match_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        xfree(l->pat[i].text);
        if (l->pat[i].table)
            maps_close(l->pat[i].table);
    }
    xfree(l->pat);
    xfree(l->title);
    xfree(l);
}

bool match_list_parent_style(const match_list *l)
{
    return l->parent_bare;
}

bool match_list_changed(const match_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->pat[i].table && maps_changed(l->pat[i].table))
            return true;
    return false;
}

const char *match_list_title(const match_list *l)
{
    return l->title;
}

/* ---- matching ---- */

/* name (folded) against a literal pattern. */
static bool name_match(const match_list *l, const struct pattern *p, const char *name)
{
    size_t nlen = strlen(name), plen = strlen(p->text);
    if (p->kind == PAT_DOTNAME)
        return nlen > plen && strcmp(name + nlen - plen, p->text) == 0;
    if (strcmp(name, p->text) == 0)
        return true;
    return l->parent_bare && nlen > plen + 1 && name[nlen - plen - 1] == '.'
        && strcmp(name + nlen - plen, p->text) == 0;
}

/* Table lookup of name, then its parents ("parent" or ".parent" keys). */
static int table_name_match(const match_list *l, const struct pattern *p, const char *name)
{
    int err = 0;
    if (maps_find(p->table, name, &err))
        return 1;
    if (err)
        return -1;
    for (const char *dot = strchr(name + (*name == '.'), '.'); dot && dot[1];
         dot = strchr(dot + 1, '.')) {
        if (maps_find(p->table, l->parent_bare ? dot + 1 : dot, &err))
            return 1;
        if (err)
            return -1;
    }
    return 0;
}

static void fold_name(const char *in, sbuf *out)
{
    sbuf_set(out, in ? in : "");
    sbuf_lower(out);
}

int match_domain(match_list *l, const char *domain)
{
    if (l->broken)
        return -1;
    sbuf name = SBUF_INIT;
    fold_name(domain, &name);
    int result = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct pattern *p = &l->pat[i];
        int hit = 0;
        switch (p->kind) {
        case PAT_NAME:
        case PAT_DOTNAME:
            hit = name_match(l, p, sbuf_str(&name));
            break;
        case PAT_NET:
            hit = strcasecmp(sbuf_str(&name), p->text) == 0;
            break;
        case PAT_TABLE:
            hit = table_name_match(l, p, sbuf_str(&name));
            break;
        }
        if (hit < 0) {              /* maps.c logged the table and key */
            result = -1;
            break;
        }
        if (hit) {
            result = p->negate ? 0 : 1;
            break;
        }
    }
    sbuf_free(&name);
    return result;
}

int match_host(match_list *l, const char *hostname, const char *addr)
{
    if (l->broken)
        return -1;
    sbuf name = SBUF_INIT;
    fold_name(hostname ? hostname : "unknown", &name);
    unsigned char a[16];
    int family = addr && *addr ? parse_client_addr(addr, a) : 0;
    int result = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct pattern *p = &l->pat[i];
        int hit = 0;
        switch (p->kind) {
        case PAT_NAME:
        case PAT_DOTNAME:
            hit = name_match(l, p, sbuf_str(&name));
            break;
        case PAT_NET:
            hit = family && net_match(p, family, a);
            break;
        case PAT_TABLE:
            hit = table_name_match(l, p, sbuf_str(&name));
            if (hit == 0 && addr && *addr) {
                int err = 0;
                hit = maps_find(p->table, addr, &err) ? 1 : err ? -1 : 0;
            }
            break;
        }
        if (hit < 0) {
            result = -1;
            break;
        }
        if (hit) {
            result = p->negate ? 0 : 1;
            break;
        }
    }
    sbuf_free(&name);
    return result;
}
