/*
 * cleanup_map.c - rewriting, canonical, masquerade and virtual alias mapping
 * (see cleanup_map.h).
 */
#include <string.h>
#include <strings.h>

#include "cleanup/cleanup.h"
#include "cleanup/cleanup_map.h"
#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/rewrite.h"
#include "util/dict.h"
#include "util/mem.h"
#include "util/msg.h"

#define CANON_NESTING_LIMIT 100     /* a canonical result that keeps changing */

static struct {
    bool    ready;
    maps   *canonical, *send_canon, *rcpt_canon, *virtual;
    int     canon_classes, send_canon_classes, rcpt_canon_classes, masq_classes;
    strv    masq_domains;
    strv    masq_except_names;      /* lower case; "!name" kept with its '!' */
    maps   *masq_except_maps;
    bool    propagate_canonical, propagate_virtual;
    long    recursion_limit, expansion_limit, length_limit;
} cfg;

static int parse_classes(const char *param)
{
    strv v = {0};
    int bits = 0;
    mail_conf_list(param, &v);
    for (size_t i = 0; i < v.n; i++) {
        if (strcasecmp(v.v[i], "envelope_sender") == 0)
            bits |= CLEANUP_CLS_ENV_SENDER;
        else if (strcasecmp(v.v[i], "envelope_recipient") == 0)
            bits |= CLEANUP_CLS_ENV_RCPT;
        else if (strcasecmp(v.v[i], "header_sender") == 0)
            bits |= CLEANUP_CLS_HDR_SENDER;
        else if (strcasecmp(v.v[i], "header_recipient") == 0)
            bits |= CLEANUP_CLS_HDR_RCPT;
        else
            msg_warn("%s: unknown address class: %s", param, v.v[i]);
    }
    strv_free(&v);
    return bits;
}

static maps *open_maps(const char *param)
{
    const char *spec = mail_conf_str(param);
    if (!*spec)
        return 0;
    return maps_open(param, spec, DICT_FLAG_DEFAULT | DICT_FLAG_LOCK);
}

void cleanup_map_init(void)
{
    if (cfg.ready)
        cleanup_map_free();
    cfg.canonical = open_maps("canonical_maps");
    cfg.send_canon = open_maps("sender_canonical_maps");
    cfg.rcpt_canon = open_maps("recipient_canonical_maps");
    cfg.virtual = open_maps("virtual_alias_maps");
    cfg.canon_classes = parse_classes("canonical_classes");
    cfg.send_canon_classes = parse_classes("sender_canonical_classes");
    cfg.rcpt_canon_classes = parse_classes("recipient_canonical_classes");
    cfg.masq_classes = parse_classes("masquerade_classes");
    strv_init(&cfg.masq_domains);
    mail_conf_list("masquerade_domains", &cfg.masq_domains);

    strv except = {0};
    sbuf tables = SBUF_INIT;
    strv_init(&cfg.masq_except_names);
    mail_conf_list("masquerade_exceptions", &except);
    for (size_t i = 0; i < except.n; i++) {
        const char *e = except.v[i];
        if (strchr(e, ':') && e[0] != '!') {
            sbuf_printf(&tables, "%s%s", tables.len ? ", " : "", e);
        } else {
            sbuf low = SBUF_INIT;
            sbuf_adds(&low, e);
            sbuf_lower(&low);
            strv_add(&cfg.masq_except_names, sbuf_str(&low));
            sbuf_free(&low);
        }
    }
    cfg.masq_except_maps = tables.len ? maps_open("masquerade_exceptions", sbuf_str(&tables),
                                                  DICT_FLAG_DEFAULT) : 0;
    strv_free(&except);
    sbuf_free(&tables);

    strv prop = {0};
    mail_conf_list("propagate_unmatched_extensions", &prop);
    cfg.propagate_canonical = cfg.propagate_virtual = false;
    for (size_t i = 0; i < prop.n; i++) {
        if (strcasecmp(prop.v[i], "canonical") == 0)
            cfg.propagate_canonical = true;
        else if (strcasecmp(prop.v[i], "virtual") == 0)
            cfg.propagate_virtual = true;
    }
    strv_free(&prop);
    cfg.recursion_limit = mail_conf_int("virtual_alias_recursion_limit");
    cfg.expansion_limit = mail_conf_int("virtual_alias_expansion_limit");
    cfg.length_limit = mail_conf_int("virtual_alias_address_length_limit");
    cfg.ready = true;
}

void cleanup_map_free(void)
{
    maps *all[] = {cfg.canonical, cfg.send_canon, cfg.rcpt_canon, cfg.virtual,
                   cfg.masq_except_maps};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i])
            maps_close(all[i]);
    strv_free(&cfg.masq_domains);
    strv_free(&cfg.masq_except_names);
    memset(&cfg, 0, sizeof(cfg));
}

bool cleanup_map_changed(void)
{
    maps *all[] = {cfg.canonical, cfg.send_canon, cfg.rcpt_canon, cfg.virtual,
                   cfg.masq_except_maps};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i] && maps_changed(all[i]))
            return true;
    return false;
}

/* ---- helpers ---- */

/* Insert ext ("+foo") before the '@' of addr. */
static void add_extension(sbuf *addr, const sbuf *ext)
{
    const char *at = strrchr(sbuf_str(addr), '@');
    size_t pos = at ? (size_t) (at - addr->s) : addr->len;
    sbuf tmp = SBUF_INIT;
    sbuf_add(&tmp, addr->s, pos);
    sbuf_add(&tmp, ext->s, ext->len);
    sbuf_adds(&tmp, addr->s + pos);
    sbuf_set(addr, sbuf_str(&tmp));
    sbuf_free(&tmp);
}

/*
 * A table result (external form, maybe without a domain) to a final
 * internal address: unquote, complete the domain, and carry over the
 * extension the lookup did not use (propagate_unmatched_extensions).
 */
static void finish_result(const char *result, const sbuf *unused_ext, bool propagate,
                          sbuf *out)
{
    sbuf unq = SBUF_INIT;
    address_unquote(result, &unq);
    rewrite_address(REWRITE_LOCAL, sbuf_str(&unq), out);
    if (propagate && unused_ext->len && out->len)
        add_extension(out, unused_ext);
    sbuf_free(&unq);
}

static const char *find_addr(maps *m, const char *addr, int *err, sbuf *unused_ext)
{
    return maps_find_addr_opt(m, addr, MAPS_FIND_ADDR_DEFAULT, -1, err, 0, unused_ext);
}

/* Split a table result "a, b c" into its elements (quotes respected). */
static void split_result(const char *res, strv *out)
{
    const char *p = res;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            break;
        const char *start = p;
        bool quoted = false;
        for (; *p; p++) {
            if (*p == '\\' && quoted && p[1]) {
                p++;
                continue;
            }
            if (*p == '"')
                quoted = !quoted;
            else if (!quoted && (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r'
                                 || *p == '\n'))
                break;
        }
        strv_addn(out, start, (size_t) (p - start));
    }
}

/* One-to-one mapping (canonical): repeat until the address stops changing. */
static int map11(maps *m, bool propagate, sbuf *addr, sbuf *why)
{
    sbuf ext = SBUF_INIT, next = SBUF_INIT;
    strv elems = {0};
    int rc = CLEANUP_MAP_OK;
    for (int count = 0;; count++) {
        if (count >= CANON_NESTING_LIMIT) {
            msg_warn("unreasonable %s map nesting for %s -- message not accepted",
                     maps_title(m), sbuf_str(addr));
            sbuf_set(why, "4.6.0 Error: address mapping loop");
            rc = CLEANUP_MAP_LIMIT;
            break;
        }
        int err = 0;
        const char *res = find_addr(m, sbuf_str(addr), &err, &ext);
        if (!res) {
            if (err) {
                msg_warn("%s map lookup problem for %s -- message not accepted, try again later",
                         maps_title(m), sbuf_str(addr));
                sbuf_set(why, "4.3.0 Error: address mapping table lookup failure");
                rc = CLEANUP_MAP_RETRY;
            }
            break;
        }
        strv_free(&elems);
        strv_init(&elems);
        split_result(res, &elems);
        if (elems.n == 0)
            break;
        if (elems.n > 1)
            msg_warn("multi-valued %s entry for %s", maps_title(m), sbuf_str(addr));
        finish_result(elems.v[0], &ext, propagate, &next);
        bool same = strcasecmp(sbuf_str(&next), sbuf_str(addr)) == 0;
        sbuf_set(addr, sbuf_str(&next));
        if (same)
            break;
    }
    strv_free(&elems);
    sbuf_free(&ext);
    sbuf_free(&next);
    return rc;
}

static bool masq_exception(const char *addr)
{
    const char *at = strrchr(addr, '@');
    size_t n = at ? (size_t) (at - addr) : strlen(addr);
    sbuf local = SBUF_INIT;
    sbuf_add(&local, addr, n);
    sbuf_lower(&local);
    bool hit = false, decided = false;
    for (size_t i = 0; i < cfg.masq_except_names.n && !decided; i++) {
        const char *e = cfg.masq_except_names.v[i];
        bool neg = *e == '!';
        if (strcmp(neg ? e + 1 : e, sbuf_str(&local)) == 0) {
            hit = !neg;
            decided = true;
        }
    }
    if (!decided && cfg.masq_except_maps) {
        int err = 0;
        hit = maps_find(cfg.masq_except_maps, sbuf_str(&local), &err) != 0;
    }
    sbuf_free(&local);
    return hit;
}

void cleanup_masquerade(const char *addr, sbuf *out)
{
    sbuf_set(out, addr);
    const char *at = strrchr(addr, '@');
    if (!at || !at[1] || cfg.masq_domains.n == 0 || masq_exception(addr))
        return;
    const char *domain = at + 1;
    size_t dlen = strlen(domain);
    for (size_t i = 0; i < cfg.masq_domains.n; i++) {
        const char *m = cfg.masq_domains.v[i];
        bool neg = *m == '!';
        if (neg)
            m++;
        size_t mlen = strlen(m);
        if (mlen == 0)
            continue;
        if (strcasecmp(domain, m) == 0)
            return;                     /* already the masquerade domain */
        if (dlen > mlen && domain[dlen - mlen - 1] == '.'
            && strcasecmp(domain + dlen - mlen, m) == 0) {
            if (neg)
                return;                 /* "!domain": leave its subdomains alone */
            sbuf_reset(out);
            sbuf_add(out, addr, (size_t) (at - addr) + 1);
            sbuf_adds(out, m);
            return;
        }
    }
}

int cleanup_map_addr(int cls, const char *context, bool map_ok, const char *in, sbuf *out,
                     sbuf *why)
{
    sbuf_reset(out);
    rewrite_address(context, in, out);
    if (!map_ok)
        return CLEANUP_MAP_OK;
    int rc = CLEANUP_MAP_OK;
    maps *first = 0;
    if ((cls & (CLEANUP_CLS_ENV_SENDER | CLEANUP_CLS_HDR_SENDER)) && (cls & cfg.send_canon_classes))
        first = cfg.send_canon;
    if ((cls & (CLEANUP_CLS_ENV_RCPT | CLEANUP_CLS_HDR_RCPT)) && (cls & cfg.rcpt_canon_classes))
        first = cfg.rcpt_canon;
    if (first)
        rc = map11(first, cfg.propagate_canonical, out, why);
    if (rc == CLEANUP_MAP_OK && cfg.canonical && (cls & cfg.canon_classes))
        rc = map11(cfg.canonical, cfg.propagate_canonical, out, why);
    if (rc == CLEANUP_MAP_OK && (cls & cfg.masq_classes) && cfg.masq_domains.n) {
        sbuf tmp = SBUF_INIT;
        cleanup_masquerade(sbuf_str(out), &tmp);
        sbuf_set(out, sbuf_str(&tmp));
        sbuf_free(&tmp);
    }
    return rc;
}

/* ---- virtual aliases ---- */

struct expansion {
    strv   *out;
    strv    path;           /* the addresses being expanded, outermost first */
    sbuf   *why;
    const char *top;
    size_t  base;           /* out->n before this expansion */
};

static bool on_path(const struct expansion *x, const char *addr)
{
    for (size_t i = 0; i < x->path.n; i++)
        if (strcasecmp(x->path.v[i], addr) == 0)
            return true;
    return false;
}

static int add_final(struct expansion *x, const char *addr)
{
    if ((long) (x->out->n - x->base) >= cfg.expansion_limit) {
        msg_warn("unreasonable virtual_alias_maps map expansion size for %s -- "
                 "message not accepted, try again later", x->top);
        sbuf_set(x->why, "4.6.0 Error: alias expansion error");
        return CLEANUP_MAP_LIMIT;
    }
    strv_add(x->out, addr);
    return CLEANUP_MAP_OK;
}

static int expand(struct expansion *x, const char *addr, long depth)
{
    if (depth > cfg.recursion_limit) {
        msg_warn("unreasonable virtual_alias_maps map nesting for %s -- "
                 "message not accepted, try again later", x->top);
        sbuf_set(x->why, "4.6.0 Error: alias expansion error");
        return CLEANUP_MAP_LIMIT;
    }
    int err = 0;
    sbuf ext = SBUF_INIT;
    const char *res = find_addr(cfg.virtual, addr, &err, &ext);
    if (!res) {
        sbuf_free(&ext);
        if (err) {
            msg_warn("%s map lookup problem for %s -- message not accepted, try again later",
                     maps_title(cfg.virtual), addr);
            sbuf_set(x->why, "4.3.0 Error: virtual alias table lookup failure");
            return CLEANUP_MAP_RETRY;
        }
        return add_final(x, addr);
    }
    strv elems = {0};
    split_result(res, &elems);      /* res is only valid until the next lookup */
    strv_add(&x->path, addr);
    int rc = CLEANUP_MAP_OK;
    sbuf next = SBUF_INIT;
    for (size_t i = 0; i < elems.n && rc == CLEANUP_MAP_OK; i++) {
        finish_result(elems.v[i], &ext, cfg.propagate_virtual, &next);
        if (next.len == 0)
            continue;
        if ((long) next.len > cfg.length_limit) {
            msg_warn("virtual_alias_maps: result address longer than %ld bytes for %s -- "
                     "ignored", cfg.length_limit, addr);
            continue;
        }
        if (strcasecmp(sbuf_str(&next), addr) == 0) {
            rc = add_final(x, sbuf_str(&next));     /* an alias may include itself, once */
        } else if (on_path(x, sbuf_str(&next))) {
            msg_warn("virtual_alias_maps: loop %s -> %s for %s -- message not accepted, "
                     "try again later", addr, sbuf_str(&next), x->top);
            sbuf_set(x->why, "4.6.0 Error: alias expansion loop");
            rc = CLEANUP_MAP_LIMIT;
        } else {
            char *copy = xstrdup(sbuf_str(&next));
            rc = expand(x, copy, depth + 1);
            xfree(copy);
        }
    }
    /* Pop this address off the path. */
    xfree(x->path.v[--x->path.n]);
    x->path.v[x->path.n] = 0;
    strv_free(&elems);
    sbuf_free(&next);
    sbuf_free(&ext);
    return rc;
}

int cleanup_map_virtual(const char *addr, strv *out, sbuf *why)
{
    if (!cfg.virtual) {
        strv_add(out, addr);
        return CLEANUP_MAP_OK;
    }
    size_t before = out->n;
    struct expansion x = {out, {0}, why, addr, before};
    strv_init(&x.path);
    int rc = expand(&x, addr, 0);
    strv_free(&x.path);
    if (rc != CLEANUP_MAP_OK) {
        /* Drop partial results: the message is not accepted anyway. */
        while (out->n > before) {
            xfree(out->v[--out->n]);
            out->v[out->n] = 0;
        }
    }
    return rc;
}
