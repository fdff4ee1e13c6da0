/*
 * smtpd_rbl.c - DNS block and allow lists (DNSBL, RHSBL, DNSWL, RHSWL).
 *
 * Restrictions (the argument is "domain" or "domain=filter"):
 *   reject_rbl_client d       the client address, reversed, under d:
 *                             2.0.0.127.d for 127.0.0.2; IPv6 as 32
 *                             reversed nibbles
 *   reject_rhsbl_client d     the (verified) client name under d
 *   reject_rhsbl_reverse_client d   the unverified reverse name
 *   reject_rhsbl_helo d       the HELO name
 *   reject_rhsbl_sender d     the sender domain
 *   reject_rhsbl_recipient d  the recipient domain
 *   permit_dnswl_client d     permit a listed client address
 *   permit_rhswl_client d     permit a listed client name
 *   reject_maps_rbl           reject_rbl_client for each $maps_rbl_domains
 *                             (obsolete; warned about once)
 * A name is listed when it has an A record, and with "=filter" when one
 * of its A records matches the filter: four dot-separated bytes, each a
 * number or "[" numbers and "n..m" ranges separated by ";" "]"
 * ("127.0.0.[2..11;20]"). Names that are not valid host names, end in a
 * numeric label or are address literals are not looked up (RHSBL).
 * A lookup error other than "not found" is logged ("warning: QUERY: RBL
 * lookup error: ...") and the list is skipped; for the allow lists it
 * arms defer_if_reject ("450 4.7.1 <x>: Client host rejected: Service
 * unavailable"). The allow lists never permit a recipient that
 * permit_auth_destination would not.
 *
 * Replies: the template from rbl_reply_maps (key: the argument as
 * written), else default_rbl_reply, expanded with $rbl_code
 * (maps_rbl_reject_code), $rbl_class ("Client host", ...), $rbl_what (the
 * listed address, name or e-mail address), $rbl_domain (without the
 * filter), $rbl_reason and $rbl_txt (the TXT records, joined with " / ",
 * at most 500 bytes), $client, $client_address, $client_name,
 * $reverse_client_name, $helo_name, $sender, $sender_name,
 * $sender_domain, $recipient, $recipient_name, $recipient_domain. The
 * result must start with a 4xx/5xx code (else a warning and "450 4.7.1
 * Service unavailable"); an enhanced status code may follow, else 5.7.1.
 * Values pass through smtpd_expansion_filter.
 *
 * Results are cached per process for 60 seconds (a message with many
 * recipients asks once).
 *
 * Does not: talk to the DNS itself (mail/dns.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/address.h"
#include "mail/dns.h"
#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#include "smtpd/smtpd_restrict.h"

#define RBL_TXT_LIMIT 500
#define RBL_CACHE_SIZE 100
#define RBL_CACHE_TTL 60

/* ---- the lookup and its cache ---- */

enum { RBL_NOT_LISTED, RBL_LISTED, RBL_SOFT };

struct rbl_result {
    int     status;
    unsigned char (*a)[4];          /* the A records */
    size_t  na;
    char   *txt;                    /* "" when none */
};

struct rbl_cache_entry {
    char   *query;
    time_t  when;
    struct rbl_result r;
};
static struct rbl_cache_entry cache[RBL_CACHE_SIZE];
static size_t cache_next;

static void result_free(struct rbl_result *r)
{
    xfree(r->a);
    xfree(r->txt);
    memset(r, 0, sizeof(*r));
}

static void lookup_txt(const char *query, struct rbl_result *r)
{
    struct dns_rrset rrs = {0};
    sbuf why = SBUF_INIT, txt = SBUF_INIT;

    if (dns_lookup(query, DNS_T_TXT, &rrs, &why) == DNS_OK) {
        for (size_t i = 0; i < rrs.n && txt.len < RBL_TXT_LIMIT; i++) {
            if (i > 0)
                sbuf_adds(&txt, " / ");
            sbuf_adds(&txt, rrs.rr[i].host);
        }
        sbuf_truncate(&txt, RBL_TXT_LIMIT);
    }
    r->txt = sbuf_steal(&txt);
    if (!r->txt)
        r->txt = xstrdup("");
    dns_rrset_free(&rrs);
    sbuf_free(&why);
}

/* The A records of query (cached), and the TXT text when listed. */
static const struct rbl_result *rbl_lookup(const char *query)
{
    time_t now = time(0);

    for (size_t i = 0; i < RBL_CACHE_SIZE; i++)
        if (cache[i].query && strcasecmp(cache[i].query, query) == 0
            && now - cache[i].when < RBL_CACHE_TTL && now >= cache[i].when)
            return &cache[i].r;

    struct rbl_cache_entry *e = &cache[cache_next];
    cache_next = (cache_next + 1) % RBL_CACHE_SIZE;
    xfree(e->query);
    result_free(&e->r);
    e->query = xstrdup(query);
    e->when = now;

    struct dns_rrset rrs = {0};
    sbuf why = SBUF_INIT;
    int status = dns_lookup(query, DNS_T_A, &rrs, &why);
    if (status == DNS_OK) {
        e->r.status = RBL_LISTED;
        e->r.a = xreallocarray(0, rrs.n ? rrs.n : 1, sizeof(*e->r.a));
        for (size_t i = 0; i < rrs.n; i++)
            memcpy(e->r.a[i], rrs.rr[i].addr, 4);
        e->r.na = rrs.n;
        lookup_txt(query, &e->r);
    } else if (status == DNS_NOTFOUND || status == DNS_NODATA) {
        e->r.status = RBL_NOT_LISTED;
    } else {
        msg_warn("%s: RBL lookup error: %s", query, sbuf_str(&why));
        e->r.status = RBL_SOFT;
        e->when = 0;                /* not worth keeping */
    }
    dns_rrset_free(&rrs);
    sbuf_free(&why);
    return &e->r;
}

/* ---- "=d.d.d.d" reply filters ---- */

struct rbl_filter {
    unsigned char ok[4][32];        /* a bit per possible byte value */
};

static int parse_byte(const char **pp)
{
    const char *p = *pp;
    if (!isdigit((unsigned char) *p))
        return -1;
    int v = 0;
    while (isdigit((unsigned char) *p)) {
        v = v * 10 + (*p++ - '0');
        if (v > 255)
            return -1;
    }
    *pp = p;
    return v;
}

/* 0, or -1 when text is not a valid filter. */
static int filter_parse(const char *text, struct rbl_filter *f)
{
    const char *p = text;

    memset(f, 0, sizeof(*f));
    for (int i = 0; i < 4; i++) {
        if (i > 0 && *p++ != '.')
            return -1;
        if (*p == '[') {
            p++;
            do {
                int lo = parse_byte(&p), hi = lo;
                if (lo < 0)
                    return -1;
                if (p[0] == '.' && p[1] == '.') {
                    p += 2;
                    if ((hi = parse_byte(&p)) < lo)
                        return -1;
                }
                for (int v = lo; v <= hi; v++)
                    f->ok[i][v / 8] |= (unsigned char) (1 << (v % 8));
            } while (*p == ';' && p++);
            if (*p++ != ']')
                return -1;
        } else {
            int v = parse_byte(&p);
            if (v < 0)
                return -1;
            f->ok[i][v / 8] |= (unsigned char) (1 << (v % 8));
        }
    }
    return *p ? -1 : 0;
}

static bool filter_match(const struct rbl_filter *f, const unsigned char a[4])
{
    for (int i = 0; i < 4; i++)
        if (!(f->ok[i][a[i] / 8] & (1 << (a[i] % 8))))
            return false;
    return true;
}

/* ---- one DNSxL check ---- */

/* Split "domain=filter"; -1 (after a warning) for a bad filter. */
static int split_arg(const char *arg, sbuf *domain, struct rbl_filter *f, bool *filtered)
{
    const char *eq = strchr(arg, '=');
    sbuf_reset(domain);
    *filtered = false;
    if (!eq) {
        sbuf_adds(domain, arg);
    } else {
        sbuf_add(domain, arg, (size_t) (eq - arg));
        if (filter_parse(eq + 1, f) < 0) {
            msg_warn("RBL reply error: bad reply filter in \"%s\"", arg);
            return -1;
        }
        *filtered = true;
    }
    if (domain->len == 0 || !address_valid_hostname(sbuf_str(domain))) {
        msg_warn("RBL domain error: bad domain in \"%s\"", arg);
        return -1;
    }
    return 0;
}

/* The query name for an address: reversed octets or nibbles; -1 if addr
 * is not an address. */
static int reverse_addr(const char *addr, sbuf *out)
{
    unsigned char b[16];

    sbuf_reset(out);
    if (inet_pton(AF_INET, addr, b) == 1) {
        sbuf_printf(out, "%u.%u.%u.%u", b[3], b[2], b[1], b[0]);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, b) == 1) {
        for (int i = 15; i >= 0; i--)
            sbuf_printf(out, "%s%x.%x", i == 15 ? "" : ".", b[i] & 0xf, b[i] >> 4);
        return 0;
    }
    return -1;
}

/* The domain to look up for an RHSBL check of what (a name or an e-mail
 * address); NULL when it is not to be looked up. */
static const char *rhs_domain(const char *what)
{
    const char *d = strrchr(what, '@');
    d = d ? d + 1 : what;
    if (!*d || *d == '[' || !address_valid_hostname(d))
        return 0;
    const char *last = strrchr(d, '.');
    last = last ? last + 1 : d;
    for (const char *p = last; *p; p++)
        if (!isdigit((unsigned char) *p))
            return d;
    return 0;                       /* "No IP queries" */
}

/* Look up what under the list in arg. RBL_LISTED (with *res), RBL_NOT_LISTED,
 * RBL_SOFT; -1 for a configuration error. */
static int dnsxl(const char *arg, const char *what, bool is_addr,
                 const struct rbl_result **res)
{
    sbuf domain = SBUF_INIT, query = SBUF_INIT;
    struct rbl_filter f;
    bool filtered;
    int status = RBL_NOT_LISTED;

    *res = 0;
    if (split_arg(arg, &domain, &f, &filtered) < 0) {
        status = -1;
        goto out;
    }
    if (is_addr) {
        if (!what || reverse_addr(what, &query) < 0)
            goto out;
    } else {
        const char *d = what ? rhs_domain(what) : 0;
        if (!d)
            goto out;
        sbuf_set(&query, d);
    }
    sbuf_printf(&query, ".%s", sbuf_str(&domain));
    const struct rbl_result *r = rbl_lookup(sbuf_str(&query));
    status = r->status;
    if (status == RBL_LISTED && filtered) {
        status = RBL_NOT_LISTED;
        for (size_t i = 0; i < r->na && status != RBL_LISTED; i++)
            if (filter_match(&f, r->a[i]))
                status = RBL_LISTED;
    }
    if (status == RBL_LISTED)
        *res = r;
out:
    sbuf_free(&domain);
    sbuf_free(&query);
    return status;
}

/* ---- reply templates ---- */

static maps *reply_maps;

void smtpd_rbl_init(void)
{
    const char *spec = mail_conf_str("rbl_reply_maps");
    if (!reply_maps && *spec)
        reply_maps = maps_open("rbl_reply_maps", spec, DICT_FLAG_DEFAULT);
}

bool smtpd_rbl_changed(void)
{
    return reply_maps && maps_changed(reply_maps);
}

/* smtpd_expansion_filter: the characters allowed in $name values. */
static void expansion_filter(bool allowed[256])
{
    const char *p = mail_conf_str("smtpd_expansion_filter");

    memset(allowed, 0, 256 * sizeof(bool));
    while (*p) {
        int ch = (unsigned char) *p++;
        if (ch == '\\' && *p) {
            ch = (unsigned char) *p++;
            switch (ch) {
            case 'a': ch = '\a'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'v': ch = '\v'; break;
            default:
                if (ch >= '0' && ch <= '7') {
                    int v = ch - '0';
                    for (int k = 0; k < 2 && *p >= '0' && *p <= '7'; k++)
                        v = v * 8 + (*p++ - '0');
                    ch = v & 0xff;
                }
            }
        }
        allowed[ch] = true;
    }
}

static bool name_char(int ch)
{
    return isalnum(ch) || ch == '_';
}

/* The end of a {...} group starting at p ('{'); NULL when unbalanced. */
static const char *group_end(const char *p, const char *end)
{
    int depth = 0;
    for (; p < end; p++) {
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0)
            return p;
    }
    return 0;
}

struct expand_ctx {
    smtpd_rbl_lookup_fn lookup;
    void   *ctx;
    bool    allowed[256];
    int     depth;
};

static int expand_range(struct expand_ctx *x, const char *p, const char *end, sbuf *out,
                        sbuf *err);

static void add_value(struct expand_ctx *x, const char *v, sbuf *out)
{
    for (; v && *v; v++)
        sbuf_addc(out, x->allowed[(unsigned char) *v] ? *v : '_');
}

/* The body of ${...} or $(...), without the delimiters. */
static int expand_braced(struct expand_ctx *x, const char *p, const char *end, sbuf *out,
                         sbuf *err)
{
    const char *name = p;
    while (p < end && name_char((unsigned char) *p))
        p++;
    if (p == name) {
        sbuf_set(err, "missing name after \"${\"");
        return -1;
    }
    char *key = xstrndup(name, (size_t) (p - name));
    const char *v = x->lookup(x->ctx, key);
    xfree(key);
    bool set = v && *v;
    if (p == end) {
        add_value(x, v, out);
        return 0;
    }
    char op = *p++;
    if (op != '?' && op != ':') {
        sbuf_printf(err, "unexpected \"%c\" after a name", op);
        return -1;
    }
    const char *a = p, *a_end = end, *b = 0, *b_end = 0;
    /* ${name?{a}:{b}} and ${name?{a}} */
    if (*p == '{') {
        const char *close = group_end(p, end);
        if (!close) {
            sbuf_set(err, "unbalanced \"{\"");
            return -1;
        }
        a = p + 1;
        a_end = close;
        p = close + 1;
        if (p < end) {
            if (op != '?' || *p != ':' || p + 1 >= end || p[1] != '{'
                || !(b_end = group_end(p + 1, end)) || b_end + 1 != end) {
                sbuf_set(err, "bad \"{...}\" syntax");
                return -1;
            }
            b = p + 2;
        }
    }
    if (op == '?') {
        if (set)
            return expand_range(x, a, a_end, out, err);
        return b ? expand_range(x, b, b_end, out, err) : 0;
    }
    return set ? 0 : expand_range(x, a, a_end, out, err);
}

static int expand_range(struct expand_ctx *x, const char *p, const char *end, sbuf *out,
                        sbuf *err)
{
    if (++x->depth > 10) {
        sbuf_set(err, "nesting too deep");
        return -1;
    }
    while (p < end) {
        if (*p != '$') {
            sbuf_addc(out, *p++);
            continue;
        }
        p++;
        if (p < end && *p == '$') {
            sbuf_addc(out, '$');
            p++;
        } else if (p < end && (*p == '{' || *p == '(')) {
            const char *close;
            if (*p == '{') {
                close = group_end(p, end);
            } else {
                close = memchr(p, ')', (size_t) (end - p));
            }
            if (!close) {
                sbuf_set(err, "unbalanced \"${\" or \"$(\"");
                return -1;
            }
            if (expand_braced(x, p + 1, close, out, err) < 0)
                return -1;
            p = close + 1;
        } else {
            const char *name = p;
            while (p < end && name_char((unsigned char) *p))
                p++;
            if (p == name) {
                sbuf_set(err, "\"$\" without a name");
                return -1;
            }
            char *key = xstrndup(name, (size_t) (p - name));
            add_value(x, x->lookup(x->ctx, key), out);
            xfree(key);
        }
    }
    x->depth--;
    return 0;
}

int smtpd_rbl_expand(const char *tmpl, smtpd_rbl_lookup_fn lookup, void *ctx, sbuf *out,
                     sbuf *err)
{
    struct expand_ctx x;

    x.lookup = lookup;
    x.ctx = ctx;
    x.depth = 0;
    expansion_filter(x.allowed);
    sbuf_reset(out);
    sbuf_reset(err);
    return expand_range(&x, tmpl, tmpl + strlen(tmpl), out, err);
}

/* $name values for a reply. */
struct reply_ctx {
    struct smtpd_check *c;
    const char *domain, *what, *rbl_class, *txt;
    char    code[8];
    sbuf    tmp;
};

static const char *addr_part(sbuf *tmp, const char *addr, int which)
{
    if (!addr)
        return 0;
    if (!*addr)
        return which == 2 ? "" : "<>";      /* the null address */
    if (which == 0)
        return addr;
    const char *at = strrchr(addr, '@');
    if (which == 2)
        return at ? at + 1 : "";
    sbuf_reset(tmp);
    sbuf_add(tmp, addr, at ? (size_t) (at - addr) : strlen(addr));
    return sbuf_str(tmp);
}

static const char *reply_lookup(void *ctx, const char *name)
{
    struct reply_ctx *r = ctx;
    struct smtpd_check *c = r->c;

    if (strcmp(name, "rbl_code") == 0)
        return r->code;
    if (strcmp(name, "rbl_domain") == 0)
        return r->domain;
    if (strcmp(name, "rbl_reason") == 0 || strcmp(name, "rbl_txt") == 0)
        return r->txt;
    if (strcmp(name, "rbl_what") == 0)
        return r->what;
    if (strcmp(name, "rbl_class") == 0)
        return r->rbl_class;
    if (strcmp(name, "client") == 0)
        return c->namaddr;
    if (strcmp(name, "client_address") == 0)
        return c->client_addr;
    if (strcmp(name, "client_name") == 0)
        return c->client_name;
    if (strcmp(name, "reverse_client_name") == 0)
        return c->reverse_name;
    if (strcmp(name, "helo_name") == 0)
        return c->helo ? c->helo : "";
    static const char *const addr_names[] = {"sender", "sender_name", "sender_domain",
                                             "recipient", "recipient_name",
                                             "recipient_domain"};
    for (int i = 0; i < 6; i++)
        if (strcmp(name, addr_names[i]) == 0)
            return addr_part(&r->tmp, i < 3 ? c->sender : c->recipient, i % 3);
    return 0;
}

static int rbl_reply(struct smtpd_check *c, const char *arg, const struct rbl_result *res,
                     const char *what, const char *rbl_class)
{
    const char *tmpl = 0;
    struct reply_ctx r;
    sbuf out = SBUF_INIT, err = SBUF_INIT, domain = SBUF_INIT;
    int status;

    if (reply_maps) {
        int e = 0;
        tmpl = maps_find(reply_maps, arg, &e);
        if (e) {
            sbuf_free(&out);
            return smtpd_check_reject(c, 451, "4.3.0", "<%s>: Temporary lookup failure",
                                      what);
        }
    }
    sbuf_add(&domain, arg, strcspn(arg, "="));
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.domain = sbuf_str(&domain);
    r.what = what;
    r.rbl_class = rbl_class;
    r.txt = res && res->txt ? res->txt : "";
    snprintf(r.code, sizeof(r.code), "%ld", mail_conf_int("maps_rbl_reject_code"));
    sbuf_init(&r.tmp);
    for (;;) {
        if (!tmpl)
            tmpl = mail_conf_str("default_rbl_reply");
        if (smtpd_rbl_expand(tmpl, reply_lookup, &r, &out, &err) == 0)
            break;
        if (tmpl == mail_conf_str("default_rbl_reply")) {
            msg_warn("bad default_rbl_reply template: %s: %s", sbuf_str(&err), tmpl);
            sbuf_set(&out, "");
            break;
        }
        msg_warn("bad rbl reply template for domain %s: %s: %s", arg, sbuf_str(&err), tmpl);
        tmpl = 0;
    }
    const char *t = sbuf_str(&out);
    if ((t[0] != '4' && t[0] != '5') || !isdigit((unsigned char) t[1])
        || !isdigit((unsigned char) t[2]) || t[3] != ' ') {
        msg_warn("rbl response code configuration error: %s", t);
        status = smtpd_check_reject(c, 450, "4.7.1", "Service unavailable");
    } else {
        int code = atoi(t);
        const char *text = t + 4;
        char dsn[16] = "4.7.1", fixed[16];
        /* An enhanced status code may follow the reply code. */
        size_t n = strspn(text, "0123456789.");
        if (n >= 5 && n < sizeof(dsn) && (text[n] == ' ' || text[n] == 0) && text[1] == '.') {
            memcpy(dsn, text, n);
            dsn[n] = 0;
            text += n;
            text += strspn(text, " ");
        }
        smtpd_check_dsn_fix(dsn, rbl_class, fixed);
        status = smtpd_check_reject(c, code, fixed, "%s", *text ? text : "Service unavailable");
    }
    sbuf_free(&out);
    sbuf_free(&err);
    sbuf_free(&domain);
    sbuf_free(&r.tmp);
    return status;
}

/* ---- the restrictions ---- */

static int reject_dnsxl(struct smtpd_check *c, const char *arg, const char *what, bool is_addr,
                        const char *rbl_class)
{
    const struct rbl_result *res;
    int s = dnsxl(arg, what, is_addr, &res);
    if (s < 0)
        return smtpd_check_config_error(c);
    if (s != RBL_LISTED)
        return SMTPD_CHECK_DUNNO;
    return rbl_reply(c, arg, res, what, rbl_class);
}

static int permit_dnsxl(struct smtpd_check *c, const char *arg, const char *what, bool is_addr)
{
    const struct rbl_result *res;

    /* Safety: an allow list never opens the relay. */
    if (c->recipient && c->stage && strcmp(c->stage, "RCPT") == 0
        && smtpd_check_auth_destination(c) != 1)
        return SMTPD_CHECK_DUNNO;
    int s = dnsxl(arg, what, is_addr, &res);
    if (s < 0)
        return smtpd_check_config_error(c);
    if (s == RBL_SOFT)
        return smtpd_check_defer_if_reject(c, 450, "4.7.1", "<%s>: %s rejected: Service "
                                           "unavailable", what, SMTPD_NAME_CLIENT);
    return s == RBL_LISTED ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
}

static bool known(const char *name)
{
    return name && *name && strcmp(name, "unknown") != 0;
}

static int r_rbl_client(struct smtpd_check *c, const char *n, const char *arg)
{
    (void) n;
    return reject_dnsxl(c, arg, c->client_addr, true, SMTPD_NAME_CLIENT);
}

static int r_rhsbl_client(struct smtpd_check *c, const char *n, const char *arg)
{
    (void) n;
    if (!known(c->client_name))
        return SMTPD_CHECK_DUNNO;
    return reject_dnsxl(c, arg, c->client_name, false, SMTPD_NAME_CLIENT);
}

static int r_rhsbl_reverse_client(struct smtpd_check *c, const char *n, const char *arg)
{
    (void) n;
    if (!known(c->reverse_name))
        return SMTPD_CHECK_DUNNO;
    return reject_dnsxl(c, arg, c->reverse_name, false, SMTPD_NAME_CLIENT);
}

static int r_rhsbl_helo(struct smtpd_check *c, const char *n, const char *arg)
{
    (void) n;
    if (!c->helo || !*c->helo)
        return SMTPD_CHECK_DUNNO;
    return reject_dnsxl(c, arg, c->helo, false, SMTPD_NAME_HELO);
}

static int r_rhsbl_sender(struct smtpd_check *c, const char *n, const char *arg)
{
    (void) n;
    if (!c->sender || !*c->sender)
        return SMTPD_CHECK_DUNNO;
    return reject_dnsxl(c, arg, c->sender, false, SMTPD_NAME_SENDER);
}

static int r_rhsbl_recipient(struct smtpd_check *c, const char *n, const char *arg)
{
    (void) n;
    if (!c->recipient || !*c->recipient)
        return SMTPD_CHECK_DUNNO;
    return reject_dnsxl(c, arg, c->recipient, false, SMTPD_NAME_RECIPIENT);
}

static int r_dnswl_client(struct smtpd_check *c, const char *n, const char *arg)
{
    (void) n;
    if (!c->client_addr)
        return SMTPD_CHECK_DUNNO;
    return permit_dnsxl(c, arg, c->client_addr, true);
}

static int r_rhswl_client(struct smtpd_check *c, const char *n, const char *arg)
{
    (void) n;
    if (!known(c->client_name))
        return SMTPD_CHECK_DUNNO;
    return permit_dnsxl(c, arg, c->client_name, false);
}

static int r_maps_rbl(struct smtpd_check *c, const char *n, const char *a)
{
    static bool warned;
    strv domains;
    int status = SMTPD_CHECK_DUNNO;

    (void) a;
    if (!warned) {
        warned = true;
        msg_warn("support for restriction \"%s\" will be removed from %s; use "
                 "\"reject_rbl_client domain-name\" instead", n, mail_conf_str("mail_name"));
    }
    strv_init(&domains);
    mail_conf_list("maps_rbl_domains", &domains);
    for (size_t i = 0; i < domains.n && status == SMTPD_CHECK_DUNNO; i++)
        status = reject_dnsxl(c, domains.v[i], c->client_addr, true, SMTPD_NAME_CLIENT);
    strv_free(&domains);
    return status;
}

static const struct smtpd_restriction rbl_restrictions[] = {
    {"reject_rbl_client", SMTPD_R_ARG, r_rbl_client},
    {"reject_rbl", SMTPD_R_ARG, r_rbl_client},
    {"reject_rhsbl_client", SMTPD_R_ARG, r_rhsbl_client},
    {"reject_rhsbl_reverse_client", SMTPD_R_ARG, r_rhsbl_reverse_client},
    {"reject_rhsbl_helo", SMTPD_R_ARG, r_rhsbl_helo},
    {"reject_rhsbl_sender", SMTPD_R_ARG, r_rhsbl_sender},
    {"reject_rhsbl_recipient", SMTPD_R_ARG, r_rhsbl_recipient},
    {"permit_dnswl_client", SMTPD_R_ARG, r_dnswl_client},
    {"permit_rhswl_client", SMTPD_R_ARG, r_rhswl_client},
    {"reject_maps_rbl", 0, r_maps_rbl},
    {0, 0, 0},
};

void smtpd_rbl_register(void)
{
    smtpd_check_register(rbl_restrictions);
}
