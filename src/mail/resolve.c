/*
 * resolve.c - recipient address -> (class, transport, nexthop, recipient)
 * as trivial-rewrite(8) resolves it (see resolve.h and docs/addressing.md).
 *
 * Reads main.cf through mail_conf on every call (cheap: expansions are
 * cached there) and keeps the lists and tables it builds from parameter
 * values (mydestination, relay_domains, transport_maps, ...) until the
 * value changes, so a reloaded configuration is picked up without a
 * restart and unchanged ones cost nothing.
 *
 * Not here: canonical or virtual alias mapping (cleanup), relocated_maps,
 * MX lookups (smtp), relay permission decisions (smtpd uses the flags).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/match_list.h"
#include "mail/resolve.h"
#include "mail/rewrite.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#define RESOLVE_LOOP_MAX 50     /* local-domain stripping rounds per address */

/* ---- cached lists and tables, rebuilt when their parameter changes ---- */

struct cached_list {
    const char *param;
    char   *value;
    char   *style;              /* parent_domain_matches_subdomains at open */
    match_list *list;
    time_t  checked;            /* last maps_changed() test */
};

struct cached_maps {
    const char *param;
    int     flags;
    char   *value;
    maps   *maps;
    time_t  checked;
};

static struct cached_list c_mydest = { "mydestination", 0, 0, 0, 0 };
static struct cached_list c_valias = { "virtual_alias_domains", 0, 0, 0, 0 };
static struct cached_list c_vmbox = { "virtual_mailbox_domains", 0, 0, 0, 0 };
static struct cached_list c_relay = { "relay_domains", 0, 0, 0, 0 };
static struct cached_maps c_transport = { "transport_maps",
                                          DICT_FLAG_DEFAULT | DICT_FLAG_NO_SUBST, 0, 0, 0 };
static struct cached_maps c_sd_relayhost = { "sender_dependent_relayhost_maps",
                                             DICT_FLAG_DEFAULT, 0, 0, 0 };
static struct cached_maps c_sd_transport = { "sender_dependent_default_transport_maps",
                                             DICT_FLAG_DEFAULT, 0, 0, 0 };

/* Rebuilt tables (postmap) are noticed within a second, without a restart:
 * qmgr and smtpd resolve in-process and live long. */
static bool time_to_check(time_t *last)
{
    time_t now = time(0);
    if (now == *last)
        return false;
    *last = now;
    return true;
}

static match_list *get_list(struct cached_list *c)
{
    /* The list's parent-domain style is fixed at open: key on both. */
    const char *v = mail_conf_str(c->param);
    const char *style = mail_conf_str("parent_domain_matches_subdomains");
    if (c->list && strcmp(c->value, v) == 0 && strcmp(c->style, style) == 0
        && !(time_to_check(&c->checked) && match_list_changed(c->list)))
        return c->list;
    match_list_free(c->list);
    xfree(c->value);
    xfree(c->style);
    c->value = xstrdup(v);
    c->style = xstrdup(style);
    c->list = match_list_open(c->param, v);
    return c->list;
}

static maps *get_maps(struct cached_maps *c)
{
    const char *v = mail_conf_str(c->param);
    if (c->maps && strcmp(c->value, v) == 0
        && !(time_to_check(&c->checked) && maps_changed(c->maps)))
        return c->maps;
    maps_close(c->maps);
    xfree(c->value);
    c->value = xstrdup(v);
    c->maps = maps_open(c->param, v, c->flags);
    return c->maps;
}

/* ---- our own network addresses (inet_interfaces, proxy_interfaces) ---- */

struct ifaddr {
    int family;
    unsigned char a[16];
};

static struct {
    char   *value;              /* "inet_interfaces\nproxy_interfaces\ninet_protocols" */
    struct ifaddr *addr;
    size_t  n, cap;
} c_iface;

static void iface_add(int family, const void *a)
{
    if (c_iface.n == c_iface.cap) {
        c_iface.cap = c_iface.cap ? c_iface.cap * 2 : 8;
        c_iface.addr = xreallocarray(c_iface.addr, c_iface.cap, sizeof(*c_iface.addr));
    }
    c_iface.addr[c_iface.n].family = family;
    memset(c_iface.addr[c_iface.n].a, 0, 16);
    memcpy(c_iface.addr[c_iface.n].a, a, family == AF_INET ? 4 : 16);
    c_iface.n++;
}

static void iface_all(bool loopback_only)
{
    struct ifaddrs *ifa = 0;
    if (getifaddrs(&ifa) < 0) {
        msg_warn("inet_interfaces: cannot list network interfaces: %m");
        return;
    }
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            const struct in_addr *a = &((const struct sockaddr_in *) i->ifa_addr)->sin_addr;
            if (!loopback_only || (ntohl(a->s_addr) >> 24) == 127)
                iface_add(AF_INET, a);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct in6_addr *a = &((const struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;
            if (!loopback_only || IN6_IS_ADDR_LOOPBACK(a))
                iface_add(AF_INET6, a);
        }
    }
    freeifaddrs(ifa);
}

static void iface_item(const char *param, const char *item)
{
    if (strcasecmp(item, "all") == 0) {
        iface_all(false);
        return;
    }
    /* "localhost" is the loopback addresses without asking the resolver. */
    if (strcasecmp(item, "loopback-only") == 0 || strcasecmp(item, "localhost") == 0) {
        static const unsigned char lo4[4] = { 127, 0, 0, 1 };
        iface_add(AF_INET, lo4);
        iface_add(AF_INET6, &in6addr_loopback);
        return;
    }
    char buf[256];
    size_t len = strlen(item);
    if (len >= sizeof(buf)) {
        msg_warn("%s: name too long: %.40s...", param, item);
        return;
    }
    memcpy(buf, item, len + 1);
    char *a = buf;
    if (a[0] == '[' && len > 2 && a[len - 1] == ']') {
        a[len - 1] = 0;
        a++;
    }
    unsigned char bin[16];
    if (inet_pton(AF_INET, a, bin) == 1) {
        iface_add(AF_INET, bin);
        return;
    }
    if (inet_pton(AF_INET6, a, bin) == 1) {
        iface_add(AF_INET6, bin);
        return;
    }
    /* A host name: its addresses (as Postfix does for inet_interfaces). */
    struct addrinfo hints, *res = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(a, 0, &hints, &res);
    if (rc != 0) {
        msg_warn("%s: %s: %s", param, a, gai_strerror(rc));
        return;
    }
    for (struct addrinfo *r = res; r; r = r->ai_next) {
        if (r->ai_family == AF_INET)
            iface_add(AF_INET, &((struct sockaddr_in *) r->ai_addr)->sin_addr);
        else if (r->ai_family == AF_INET6)
            iface_add(AF_INET6, &((struct sockaddr_in6 *) r->ai_addr)->sin6_addr);
    }
    freeaddrinfo(res);
}

static void iface_refresh(void)
{
    const char *inet = mail_conf_str("inet_interfaces");
    sbuf key = SBUF_INIT;
    sbuf_printf(&key, "%s\n%s", inet, mail_conf_str("proxy_interfaces"));
    if (c_iface.value && strcmp(c_iface.value, sbuf_str(&key)) == 0) {
        sbuf_free(&key);
        return;
    }
    xfree(c_iface.value);
    c_iface.value = sbuf_steal(&key);
    c_iface.n = 0;
    static const char *const params[] = { "inet_interfaces", "proxy_interfaces" };
    for (size_t p = 0; p < 2; p++) {
        strv items = {0};
        match_list_split(mail_conf_str(params[p]), &items);
        for (size_t i = 0; i < items.n; i++)
            iface_item(params[p], items.v[i]);
        strv_free(&items);
    }
}

/* Is "[1.2.3.4]" / "[ipv6:::1]" one of our interface addresses? */
static bool literal_is_ours(const char *domain)
{
    size_t len = strlen(domain);
    if (len < 3 || domain[0] != '[' || domain[len - 1] != ']' || len > 80)
        return false;
    char buf[80];
    memcpy(buf, domain + 1, len - 2);
    buf[len - 2] = 0;
    const char *a = buf;
    unsigned char bin[16];
    int family;
    if (strncasecmp(a, "ipv6:", 5) == 0) {
        if (inet_pton(AF_INET6, a + 5, bin) != 1)
            return false;
        family = AF_INET6;
    } else if (inet_pton(AF_INET, a, bin) == 1) {
        family = AF_INET;
    } else {
        return false;
    }
    iface_refresh();
    for (size_t i = 0; i < c_iface.n; i++) {
        const struct ifaddr *f = &c_iface.addr[i];
        if (f->family == family && memcmp(f->a, bin, family == AF_INET ? 4 : 16) == 0)
            return true;
        /* ::ffff:a.b.c.d in the list matches [a.b.c.d] */
        if (family == AF_INET && f->family == AF_INET6
            && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *) f->a)
            && memcmp(f->a + 12, bin, 4) == 0)
            return true;
    }
    return false;
}

int resolve_local_domain(const char *domain)
{
    if (!domain || !*domain)
        return 0;
    sbuf d = SBUF_INIT;
    sbuf_set(&d, domain);
    /* "example.jp." is example.jp; "a.." stays malformed. */
    if (d.len > 1 && d.s[d.len - 1] == '.' && d.s[d.len - 2] != '.')
        sbuf_truncate(&d, d.len - 1);
    int rc = match_domain(get_list(&c_mydest), sbuf_str(&d));
    if (rc == 0 && d.s[0] == '[')
        rc = literal_is_ours(sbuf_str(&d)) ? 1 : 0;
    sbuf_free(&d);
    return rc;
}

void resolve_preload(void)
{
    get_list(&c_mydest);
    get_list(&c_valias);
    get_list(&c_vmbox);
    get_list(&c_relay);
    get_maps(&c_transport);
    get_maps(&c_sd_relayhost);
    get_maps(&c_sd_transport);
    iface_refresh();
}

/* ---- the reply ---- */

void resolve_init(struct resolve_reply *r)
{
    sbuf_init(&r->transport);
    sbuf_init(&r->nexthop);
    sbuf_init(&r->recipient);
    r->flags = 0;
}

void resolve_free(struct resolve_reply *r)
{
    sbuf_free(&r->transport);
    sbuf_free(&r->nexthop);
    sbuf_free(&r->recipient);
    r->flags = 0;
}

/* "transport:nexthop" at the first ':'; either part may be empty. */
static void split_transport(const char *value, sbuf *transport, sbuf *nexthop)
{
    while (isspace((unsigned char) *value))
        value++;
    const char *colon = strchr(value, ':');
    size_t tlen = colon ? (size_t) (colon - value) : strlen(value);
    while (tlen > 0 && isspace((unsigned char) value[tlen - 1]))
        tlen--;
    sbuf_reset(transport);
    sbuf_add(transport, value, tlen);
    sbuf_reset(nexthop);
    if (colon) {
        const char *n = colon + 1;
        while (isspace((unsigned char) *n))
            n++;
        size_t nlen = strlen(n);
        while (nlen > 0 && isspace((unsigned char) n[nlen - 1]))
            nlen--;
        sbuf_add(nexthop, n, nlen);
    }
}

static bool is_error_transport(const char *t)
{
    return strcmp(t, "error") == 0 || strcmp(t, "retry") == 0;
}

/* Sender-dependent lookups: the null sender uses the configured key. */
static const char *sender_lookup(struct cached_maps *c, const char *sender,
                                 const char *empty_key_param, int *flags)
{
    maps *m = get_maps(c);
    if (maps_empty(m))
        return 0;
    const char *key = sender && *sender ? sender : mail_conf_str(empty_key_param);
    int err = 0;
    const char *v = maps_find_addr_opt(m, key, MAPS_FIND_ADDR_DEFAULT, -1, &err, 0, 0);
    if (!v && err)
        *flags |= RESOLVE_FLAG_FAIL;
    return v;
}

/* Nexthop for relay and default classes when the transport gave none. */
static void relayhost_nexthop(const char *sender, const char *domain, struct resolve_reply *r)
{
    const char *v = sender_lookup(&c_sd_relayhost, sender,
                                  "empty_address_relayhost_maps_lookup_key", &r->flags);
    if (!v || !*v)
        v = mail_conf_str("relayhost");
    while (isspace((unsigned char) *v))
        v++;
    sbuf_set(&r->nexthop, *v ? v : domain);
}

/* Apply one transport_maps result (transport(5) RESULT FORMAT). */
static void apply_transport_entry(const char *value, const char *domain, struct resolve_reply *r)
{
    sbuf t = SBUF_INIT, n = SBUF_INIT;
    split_transport(value, &t, &n);
    if (t.len == 0) {
        if (n.len)
            sbuf_set(&r->nexthop, sbuf_str(&n));
    } else {
        sbuf_set(&r->transport, sbuf_str(&t));
        if (n.len)
            sbuf_set(&r->nexthop, sbuf_str(&n));
        else if (is_error_transport(sbuf_str(&t)))
            sbuf_set(&r->nexthop, "Address is undeliverable");
        else
            sbuf_set(&r->nexthop, domain);
    }
    sbuf_free(&t);
    sbuf_free(&n);
}

/* Is transport_maps in parent_domain_matches_subdomains? (cached per value) */
static bool transport_parent_self(void)
{
    static char *style;
    static bool self;
    const char *v = mail_conf_str("parent_domain_matches_subdomains");
    if (style && strcmp(style, v) == 0)
        return self;
    xfree(style);
    style = xstrdup(v);
    strv feat = {0};
    match_list_split(v, &feat);
    self = false;
    for (size_t i = 0; i < feat.n; i++)
        if (strcmp(feat.v[i], "transport_maps") == 0)
            self = true;
    strv_free(&feat);
    return self;
}

/* ---- the resolver ---- */

static bool has_routing(const char *local, bool bang, bool percent)
{
    return strchr(local, '@') || (bang && strchr(local, '!')) || (percent && strchr(local, '%'));
}

/* Is this "1.2.3.4" or an IPv6 address without brackets? */
static bool is_bare_ip(const char *d)
{
    unsigned char bin[16];
    return inet_pton(AF_INET, d, bin) == 1 || inet_pton(AF_INET6, d, bin) == 1;
}

/*
 * With resolve_dequoted_address = no, a local part that would need quotes
 * is one opaque word: '@', '%' and '!' inside it are not operators.
 */
static bool local_is_opaque(const char *local, bool dequoted, sbuf *tmp)
{
    if (dequoted)
        return false;
    sbuf whole = SBUF_INIT;
    sbuf_set(&whole, local);
    sbuf_adds(&whole, "@x");            /* quote it as the local part it is */
    address_quote(sbuf_str(&whole), tmp);
    sbuf_free(&whole);
    return tmp->len > 0 && tmp->s[0] == '"';
}

/* Classes after local: virtual alias, virtual mailbox, relay, default. */
static void classify_remote(const char *sender, const char *dom, struct resolve_reply *r)
{
    int rc = *dom ? match_domain(get_list(&c_valias), dom) : 0;
    if (rc > 0) {
        r->flags |= RESOLVE_CLASS_ALIAS;
        sbuf_set(&r->transport, "error");
        sbuf_set(&r->nexthop, "5.1.1 User unknown in virtual alias table");
        return;
    }
    if (rc == 0 && *dom) {
        rc = match_domain(get_list(&c_vmbox), dom);
        if (rc > 0) {
            r->flags |= RESOLVE_CLASS_VIRTUAL;
            split_transport(mail_conf_str("virtual_transport"), &r->transport, &r->nexthop);
            if (r->nexthop.len == 0)
                sbuf_set(&r->nexthop, dom);
            return;
        }
    }
    if (rc == 0 && *dom) {
        rc = match_domain(get_list(&c_relay), dom);
        if (rc > 0) {
            r->flags |= RESOLVE_CLASS_RELAY;
            split_transport(mail_conf_str("relay_transport"), &r->transport, &r->nexthop);
            if (r->nexthop.len == 0)
                relayhost_nexthop(sender, dom, r);
            return;
        }
    }
    /* A failed list lookup is reported; the default class fills the rest. */
    if (rc < 0)
        r->flags |= RESOLVE_FLAG_FAIL;
    r->flags |= RESOLVE_CLASS_DEFAULT;
    const char *dt = sender_lookup(&c_sd_transport, sender,
                                   "empty_address_default_transport_maps_lookup_key", &r->flags);
    split_transport(dt && *dt ? dt : mail_conf_str("default_transport"), &r->transport,
                    &r->nexthop);
    if (r->nexthop.len == 0)
        relayhost_nexthop(sender, dom, r);
}

void resolve_address(const char *sender, const char *addr, struct resolve_reply *r)
{
    sbuf_reset(&r->transport);
    sbuf_reset(&r->nexthop);
    sbuf_reset(&r->recipient);
    r->flags = 0;

    bool bang = mail_conf_bool("swap_bangpath");
    bool percent = mail_conf_bool("allow_percent_hack");
    bool dequoted = mail_conf_bool("resolve_dequoted_address");
    bool nulldom = mail_conf_bool("resolve_null_domain");
    const char *myhostname = mail_conf_str("myhostname");

    sbuf a = SBUF_INIT, local = SBUF_INIT, domain = SBUF_INIT, tmp = SBUF_INIT;
    sbuf saved_domain = SBUF_INIT;
    bool have_saved = false, is_local = false;
    sbuf_set(&a, addr ? addr : "");
    if (a.len == 0)
        sbuf_set(&a, mail_conf_str("empty_address_recipient"));

    /*
     * Strip every instance of a local domain; after each strip, routing
     * operators left in the local part (user%host, host!user, and '@'
     * from a quoted local part) are rewritten into user@host and the
     * result is resolved again. Bounded: each round removes a domain or
     * fills in a missing part once.
     */
    int rounds = 0;
    for (;;) {
        if (++rounds > RESOLVE_LOOP_MAX) {
            msg_warn("resolve: address loops while stripping local domains: %.100s", addr);
            r->flags |= RESOLVE_FLAG_ERROR;
            break;
        }
        const char *at = strrchr(sbuf_str(&a), '@');
        /* Trailing dot of the domain, but not "..", nor "@." */
        if (at && a.len >= 2 && a.s[a.len - 1] == '.' && a.s[a.len - 2] != '.'
            && a.s[a.len - 2] != '@')
            sbuf_truncate(&a, a.len - 1);
        if (nulldom && a.len && a.s[a.len - 1] == '@')
            sbuf_truncate(&a, a.len - 1);
        at = strrchr(sbuf_str(&a), '@');
        if (at) {
            address_split(sbuf_str(&a), &local, &domain);
            if (domain.len == 0)
                break;                  /* user@ : non-local, flagged below */
            if (is_bare_ip(sbuf_str(&domain)) && mail_conf_bool("resolve_numeric_domain")) {
                sbuf_set(&tmp, sbuf_str(&local));
                sbuf_printf(&tmp, "@[%s%s]", strchr(sbuf_str(&domain), ':') ? "ipv6:" : "",
                            sbuf_str(&domain));
                sbuf_set(&a, sbuf_str(&tmp));
                continue;
            }
            int rc = resolve_local_domain(sbuf_str(&domain));
            if (rc < 0) {
                r->flags |= RESOLVE_FLAG_FAIL;
                break;
            }
            if (rc == 0)
                break;                  /* remote: done */
            sbuf_set(&saved_domain, sbuf_str(&domain));
            have_saved = true;
            sbuf_set(&a, sbuf_str(&local));
        }
        /* Routing operators in what is left: rewrite and go round again. */
        if (!local_is_opaque(sbuf_str(&a), dequoted, &tmp)
            && has_routing(sbuf_str(&a), bang, percent)) {
            rewrite_address_canon(REWRITE_LOCAL, sbuf_str(&a), &tmp);
            if (strcmp(sbuf_str(&tmp), sbuf_str(&a)) != 0) {
                sbuf_set(&a, sbuf_str(&tmp));
                continue;
            }
            if (strchr(sbuf_str(&a), '@'))
                continue;               /* a quoted user@host: resolve host */
        }
        /* An empty local part is the local MAILER-DAEMON. */
        if (a.len == 0) {
            sbuf_set(&a, mail_conf_str("empty_address_recipient"));
            if (a.len == 0)
                sbuf_set(&a, "MAILER-DAEMON");
            continue;
        }
        /* No domain at all: this machine. */
        if (!have_saved) {
            sbuf_addc(&a, '@');
            sbuf_adds(&a, myhostname);
            continue;
        }
        is_local = true;
        break;
    }

    if (is_local) {
        sbuf_set(&r->recipient, sbuf_str(&a));
        sbuf_addc(&r->recipient, '@');
        sbuf_adds(&r->recipient, sbuf_str(&saved_domain));
        address_split(sbuf_str(&r->recipient), &local, &domain);
    } else {
        sbuf_set(&r->recipient, sbuf_str(&a));
        address_split(sbuf_str(&a), &local, &domain);
    }
    const char *dom = sbuf_str(&domain);

    if (is_local) {
        r->flags |= RESOLVE_CLASS_LOCAL;
        split_transport(mail_conf_str("local_transport"), &r->transport, &r->nexthop);
        if (r->nexthop.len == 0)
            sbuf_set(&r->nexthop, myhostname);
    } else {
        /* Malformed destinations (resolve_null_domain, hostname syntax). */
        if (*dom == 0) {
            r->flags |= RESOLVE_FLAG_ERROR;
        } else if (*dom == '[') {
            if (!address_is_ip_literal(dom))
                r->flags |= RESOLVE_FLAG_ERROR;
        } else if (!address_valid_hostname(dom)) {
            r->flags |= RESOLVE_FLAG_ERROR;
        }
        /* Sender-specified routing left in a non-local address. */
        if (!local_is_opaque(sbuf_str(&local), dequoted, &tmp)
            && has_routing(sbuf_str(&local), true, true))
            r->flags |= RESOLVE_FLAG_ROUTED;
        classify_remote(sender, dom, r);
    }

    /* transport_maps override every class (transport(5)). */
    maps *tm = get_maps(&c_transport);
    if (!maps_empty(tm)) {
        int strategy = MAPS_FIND_TRANSPORT;
        if (transport_parent_self())
            strategy |= MAPS_FIND_PARENT_SELF;
        int err = 0;
        const char *v = maps_find_addr_opt(tm, sbuf_str(&r->recipient), strategy, 0, &err, 0, 0);
        if (v)
            apply_transport_entry(v, dom, r);
        else if (err)
            r->flags |= RESOLVE_FLAG_FAIL;
    }

    sbuf_free(&a);
    sbuf_free(&local);
    sbuf_free(&domain);
    sbuf_free(&tmp);
    sbuf_free(&saved_domain);
}
