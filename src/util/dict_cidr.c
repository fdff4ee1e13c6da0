/*
 * dict_cidr.c - cidr: tables (cidr_table(5)): IPv4/IPv6 networks in file order.
 *
 * Rules are "[!]network[/len] result", "if [!]network[/len]" ... "endif"
 * (nesting); addresses may be written inside [] in the table. Lookup keys
 * are IP address strings (no brackets); a key that is not an address, or
 * a rule of the other address family, never matches (negated rules
 * included). Bad rules are warned about ("cidr map FILE, line N: ...")
 * and skipped. Does not look at host names or do DNS.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/dict_impl.h"
#include "util/table_file.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/strv.h"

enum { C_MATCH, C_IF, C_ENDIF };

struct cidr_rule {
    int     kind;
    int     lineno;
    int     neg;
    int     family;             /* AF_INET or AF_INET6 */
    unsigned char net[16];
    unsigned char mask[16];
    char   *result;
    size_t  skip;               /* C_IF: index after its ENDIF */
};

struct cidr_priv {
    struct cidr_rule *rules;
    size_t  n, cap;
    size_t *stack;
    size_t  depth, stack_cap;
    const char *origin;
    sbuf    where;
};

static const char *where(struct cidr_priv *p, int lineno)
{
    sbuf_reset(&p->where);
    sbuf_printf(&p->where, "cidr map %s, line %d", p->origin, lineno);
    return sbuf_str(&p->where);
}

/* Parse an address string (no brackets, no mask). Returns family or 0. */
static int parse_addr(const char *s, unsigned char *out)
{
    if (strchr(s, ':'))
        return inet_pton(AF_INET6, s, out) == 1 ? AF_INET6 : 0;
    return inet_pton(AF_INET, s, out) == 1 ? AF_INET : 0;
}

/* Parse "[addr]/len" or "addr/len" or "addr" into r; warns and returns -1. */
static int parse_net(struct cidr_priv *p, const char *pat, int lineno, struct cidr_rule *r)
{
    char buf[128];
    size_t len = strlen(pat);
    if (len >= sizeof(buf)) {
        msg_warn("%s: bad address pattern: \"%.60s...\": skipping this rule", where(p, lineno), pat);
        return -1;
    }
    memcpy(buf, pat, len + 1);
    char *slash = strchr(buf, '/');
    char *maskstr = 0;
    if (slash) {
        *slash = 0;
        maskstr = slash + 1;
    }
    char *addr = buf;
    size_t alen = strlen(addr);
    if (alen >= 2 && addr[0] == '[' && addr[alen - 1] == ']') {
        addr[alen - 1] = 0;
        addr++;
    }
    memset(r->net, 0, sizeof(r->net));
    r->family = parse_addr(addr, r->net);
    if (!r->family) {
        msg_warn("%s: bad address pattern: \"%s\": skipping this rule", where(p, lineno), pat);
        return -1;
    }
    int bits = r->family == AF_INET ? 32 : 128;
    int plen = bits;
    if (maskstr) {
        size_t ml = strlen(maskstr);
        if (ml == 0 || ml > 3 || strspn(maskstr, "0123456789") != ml) {
            msg_warn("%s: bad mask value in \"%s\": skipping this rule", where(p, lineno), pat);
            return -1;
        }
        plen = atoi(maskstr);
        if (plen > bits) {
            msg_warn("%s: bad mask length in \"%s\": skipping this rule", where(p, lineno), pat);
            return -1;
        }
    }
    memset(r->mask, 0, sizeof(r->mask));
    for (int i = 0; i < plen; i++)
        r->mask[i / 8] |= (unsigned char) (0x80 >> (i % 8));
    int nbytes = bits / 8, dirty = 0;
    for (int i = 0; i < nbytes; i++)
        if (r->net[i] & ~r->mask[i])
            dirty = 1;
    if (dirty) {
        unsigned char fixed[16];
        char txt[INET6_ADDRSTRLEN];
        for (int i = 0; i < 16; i++)
            fixed[i] = r->net[i] & r->mask[i];
        inet_ntop(r->family, fixed, txt, sizeof(txt));
        msg_warn("%s: non-null host address bits in \"%s\", perhaps you should use "
                 "\"%s/%d\" instead: skipping this rule", where(p, lineno), pat, txt, plen);
        return -1;
    }
    return 0;
}

static struct cidr_rule *add_rule(struct cidr_priv *p, const struct cidr_rule *src)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->rules = xreallocarray(p->rules, p->cap, sizeof(*p->rules));
    }
    p->rules[p->n] = *src;
    return &p->rules[p->n++];
}

static int keyword(const char *s, const char *kw)
{
    size_t n = strlen(kw);
    return strncasecmp(s, kw, n) == 0 && (s[n] == 0 || isspace((unsigned char) s[n]));
}

static int parse_line(char *line, int lineno, void *ctx)
{
    struct cidr_priv *p = ctx;
    struct cidr_rule r;
    memset(&r, 0, sizeof(r));
    r.lineno = lineno;
    char *s = line;

    if (keyword(s, "endif")) {
        s += 5;
        while (isspace((unsigned char) *s))
            s++;
        if (p->depth == 0) {
            msg_warn("%s: ENDIF without IF: skipping this rule", where(p, lineno));
            return 0;
        }
        if (*s)
            msg_warn("%s: ignoring extra text after ENDIF", where(p, lineno));
        r.kind = C_ENDIF;
        add_rule(p, &r);
        p->rules[p->stack[--p->depth]].skip = p->n;
        return 0;
    }
    int is_if = keyword(s, "if");
    if (is_if) {
        s += 2;
        while (isspace((unsigned char) *s))
            s++;
        if (!*s) {
            msg_warn("%s: no address pattern: skipping this rule", where(p, lineno));
            return 0;
        }
    }
    if (*s == '!') {
        r.neg = 1;
        s++;
        while (isspace((unsigned char) *s))
            s++;
    }
    char *pat = s;
    while (*s && !isspace((unsigned char) *s))
        s++;
    if (*s)
        *s++ = 0;
    while (isspace((unsigned char) *s))
        s++;
    if (!*pat) {
        msg_warn("%s: no address pattern: skipping this rule", where(p, lineno));
        return 0;
    }
    if (parse_net(p, pat, lineno, &r) < 0)
        return 0;
    if (is_if) {
        if (*s)
            msg_warn("%s: ignoring extra text after IF statement: \"%s\"", where(p, lineno), s);
        r.kind = C_IF;
        add_rule(p, &r);
        if (p->depth == p->stack_cap) {
            p->stack_cap = p->stack_cap ? p->stack_cap * 2 : 8;
            p->stack = xreallocarray(p->stack, p->stack_cap, sizeof(size_t));
        }
        p->stack[p->depth++] = p->n - 1;
        return 0;
    }
    if (!*s) {
        msg_warn("%s: no lookup result: skipping this rule", where(p, lineno));
        return 0;
    }
    r.kind = C_MATCH;
    r.result = xstrdup(s);
    add_rule(p, &r);
    return 0;
}

static int rule_matches(const struct cidr_rule *r, int family, const unsigned char *addr)
{
    if (r->family != family)
        return 0;
    int nbytes = family == AF_INET ? 4 : 16, in = 1;
    for (int i = 0; i < nbytes; i++)
        if ((addr[i] & r->mask[i]) != r->net[i])
            in = 0;
    return r->neg ? !in : in;
}

static const char *cidr_lookup(dict *d, const char *key)
{
    struct cidr_priv *p = d->priv;
    unsigned char addr[16];
    char buf[INET6_ADDRSTRLEN + 1];
    if (strlen(key) >= sizeof(buf))
        return 0;
    int family = parse_addr(key, addr);
    if (!family)
        return 0;
    size_t i = 0;
    while (i < p->n) {
        const struct cidr_rule *r = &p->rules[i];
        if (r->kind == C_ENDIF) {
            i++;
        } else if (r->kind == C_IF) {
            i = rule_matches(r, family, addr) ? i + 1 : r->skip;
        } else if (rule_matches(r, family, addr)) {
            return r->result;
        } else {
            i++;
        }
    }
    return 0;
}

static void free_priv(struct cidr_priv *p)
{
    for (size_t i = 0; i < p->n; i++)
        xfree(p->rules[i].result);
    xfree(p->rules);
    xfree(p->stack);
    sbuf_free(&p->where);
    xfree(p);
}

static void cidr_close(dict *d)
{
    free_priv(d->priv);
    dict_free(d);
}

dict *dict_cidr_open(const char *name, int open_flags, int dict_flags, char **err)
{
    if (open_flags & (O_WRONLY | O_RDWR)) {
        *err = dict_errorf("cidr:%s map requires O_RDONLY access mode", name);
        return 0;
    }
    struct cidr_priv *p = xcalloc(1, sizeof(*p));
    p->origin = name;
    char *inner = 0;
    int braced = dict_braced_name(name, &inner), rc;
    if (braced < 0) {
        *err = dict_errorf("cidr:%s: bad syntax: expected \"{ {rule}, {rule}... }\"", name);
        free_priv(p);
        return 0;
    } else if (braced) {
        strv rules = { 0, 0, 0 };
        if (dict_split_braced(inner, &rules) < 0) {
            *err = dict_errorf("cidr:%s: unbalanced braces", name);
            strv_free(&rules);
            xfree(inner);
            free_priv(p);
            return 0;
        }
        char *text = strv_join(&rules, "\n");
        rc = table_parse_text(text, strlen(text), name, parse_line, p);
        xfree(text);
        strv_free(&rules);
        xfree(inner);
    } else {
        rc = table_read_file(name, parse_line, p);
    }
    if (rc < 0) {
        *err = dict_errorf("open %s: %s", name, strerror(errno));
        free_priv(p);
        return 0;
    }
    while (p->depth > 0) {
        size_t i = p->stack[--p->depth];
        msg_warn("%s: IF has no matching ENDIF", where(p, p->rules[i].lineno));
        p->rules[i].skip = p->n;
    }
    dict *d = dict_alloc("cidr", name, open_flags,
                         (dict_flags & ~DICT_FLAG_FOLD_FIX) | DICT_FLAG_PATTERN);
    p->origin = d->name;
    d->priv = p;
    d->lookup = cidr_lookup;
    d->close = cidr_close;
    return d;
}
