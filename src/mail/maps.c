/*
 * maps.c - lists of lookup tables, shared per process, and Postfix's
 * search orders for address and domain keys (see maps.h).
 *
 * Every "type:name" is opened once per process and dict flags: maps_open()
 * of a name already open reuses the table (reference counted) unless the
 * table says it changed on disk, in which case a fresh copy is opened for
 * the new user and the old one lives on until its last user closes it.
 * A table that fails to open is not shared and not cached: the failure
 * is logged once with the parameter name, and lookups through that list
 * report DICT_ERR_CONFIG so the caller defers.
 *
 * Not here: what the values mean (transport syntax, alias expansion,
 * access actions), extension propagation into results (the caller has
 * the unmatched extension).
 */
#include <fcntl.h>
#include <string.h>
#include <strings.h>

#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/match_list.h"
#include "mail/resolve.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

struct shared {
    char   *spec;               /* "type:name" as given */
    int     flags;
    dict   *d;
    int     refs;
    bool    stale;              /* changed on disk: not handed out again */
    struct shared *next;
};

static struct shared *shared_tables;

struct table_ref {
    struct shared *sh;          /* NULL: failed to open */
    char   *spec;
};

struct maps {
    char   *title;
    struct table_ref *t;
    size_t  n;
};

/* ---- the process-wide cache ---- */

static struct shared *shared_get(const char *title, const char *spec, int flags)
{
    for (struct shared *s = shared_tables; s; s = s->next) {
        if (s->stale || s->flags != flags || strcmp(s->spec, spec) != 0)
            continue;
        if (dict_changed(s->d)) {
            s->stale = true;
            break;
        }
        s->refs++;
        return s;
    }
    char *err = 0;
    dict *d = 0;
    if (!strchr(spec, ':') || spec[0] == ':')
        err = xstrdup("need \"type:name\" form");
    else
        d = dict_open(spec, O_RDONLY, flags, &err);
    if (!d) {
        msg_warn("%s: %s: %s", title, spec, err ? err : "open failed");
        xfree(err);
        return 0;
    }
    xfree(err);
    struct shared *s = xcalloc(1, sizeof(*s));
    s->spec = xstrdup(spec);
    s->flags = flags;
    s->d = d;
    s->refs = 1;
    s->next = shared_tables;
    shared_tables = s;
    return s;
}

static void shared_put(struct shared *s)
{
    if (!s || --s->refs > 0)
        return;
    for (struct shared **pp = &shared_tables; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    dict_close(s->d);
    xfree(s->spec);
    xfree(s);
}

size_t maps_cache_size(void)
{
    size_t n = 0;
    for (struct shared *s = shared_tables; s; s = s->next)
        n++;
    return n;
}

/* ---- lists ---- */

maps *maps_open(const char *title, const char *spec, int dict_flags)
{
    maps *m = xcalloc(1, sizeof(*m));
    m->title = xstrdup(title ? title : "maps");
    strv items = {0};
    match_list_split(spec ? spec : "", &items);
    m->t = xcalloc(items.n ? items.n : 1, sizeof(*m->t));
    for (size_t i = 0; i < items.n; i++) {
        m->t[m->n].spec = xstrdup(items.v[i]);
        m->t[m->n].sh = shared_get(m->title, items.v[i], dict_flags);
        m->n++;
    }
    strv_free(&items);
    return m;
}

void maps_close(maps *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        shared_put(m->t[i].sh);
        xfree(m->t[i].spec);
    }
    xfree(m->t);
    xfree(m->title);
    xfree(m);
}

bool maps_empty(const maps *m)
{
    return m->n == 0;
}

const char *maps_title(const maps *m)
{
    return m->title;
}

bool maps_changed(const maps *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->t[i].sh && dict_changed(m->t[i].sh->d))
            return true;
    return false;
}

static bool is_pattern_table(const dict *d)
{
    if (d->flags & DICT_FLAG_PATTERN)
        return true;
    return strcmp(d->type, "regexp") == 0 || strcmp(d->type, "pcre") == 0
        || strcmp(d->type, "cidr") == 0;
}

/* One key through the list; fixed_only skips pattern tables (partial keys). */
static const char *find_key(maps *m, const char *key, bool fixed_only, int *error)
{
    *error = DICT_ERR_NONE;
    if (*key == 0)
        return 0;
    for (size_t i = 0; i < m->n; i++) {
        struct shared *s = m->t[i].sh;
        if (!s) {
            msg_warn("%s: %s: lookup of \"%s\": table is unavailable (see the open error)",
                     m->title, m->t[i].spec, key);
            *error = DICT_ERR_CONFIG;
            return 0;
        }
        if (fixed_only && is_pattern_table(s->d))
            continue;
        const char *v = dict_lookup(s->d, key);
        if (v)
            return v;
        if (s->d->error != DICT_ERR_NONE) {
            msg_warn("%s: %s: lookup of \"%s\" failed", m->title, m->t[i].spec, key);
            *error = s->d->error;
            return 0;
        }
    }
    return 0;
}

const char *maps_find(maps *m, const char *key, int *error)
{
    int dummy;
    return find_key(m, key, false, error ? error : &dummy);
}

const char *maps_find_fixed(maps *m, const char *key, int *error)
{
    int dummy;
    return find_key(m, key, true, error ? error : &dummy);
}

/* ---- address search order ---- */

bool maps_split_extension(const char *local, sbuf *base, sbuf *ext)
{
    const char *delims = mail_conf_str("recipient_delimiter");
    sbuf_set(base, local);
    sbuf_reset(ext);
    if (*delims == 0)
        return false;
    /* recipient_delimiter is not applied to these (postconf(5)). */
    const char *dbl = mail_conf_str("double_bounce_sender");
    if (strcasecmp(local, "postmaster") == 0 || strcasecmp(local, "mailer-daemon") == 0
        || (*dbl && strcasecmp(local, dbl) == 0))
        return false;
    sbuf b = SBUF_INIT, e = SBUF_INIT;
    address_strip_extension(local, delims, &b, &e);
    bool split = e.len > 0;
    if (split && e.s[0] == '-' && mail_conf_bool("owner_request_special")) {
        size_t len = strlen(local);
        if (strncasecmp(local, "owner-", 6) == 0
            || (len > 8 && strcasecmp(local + len - 8, "-request") == 0))
            split = false;
    }
    if (split) {
        sbuf_set(base, sbuf_str(&b));
        sbuf_set(ext, sbuf_str(&e));
    }
    sbuf_free(&b);
    sbuf_free(&e);
    return split;
}

struct search {
    maps   *m;
    int    *error;
    sbuf   *matched_key;
    sbuf   *extension;
    sbuf    key;
    bool    first_done;         /* the first key goes to every table */
};

/* Try one key; returns the value, or NULL (check *s->error). */
static const char *try_key(struct search *s, const char *key, const char *unmatched_ext)
{
    bool fixed_only = s->first_done;
    s->first_done = true;
    const char *v = find_key(s->m, key, fixed_only, s->error);
    if (v) {
        if (s->matched_key)
            sbuf_set(s->matched_key, key);
        if (s->extension)
            sbuf_set(s->extension, unmatched_ext ? unmatched_ext : "");
    }
    return v;
}

#define TRY(k, ext) do { \
        const char *v_ = try_key(&s, (k), (ext)); \
        if (v_ || *error) { result = v_; goto done; } \
    } while (0)

static int domain_is_local(const char *domain)
{
    const char *origin = mail_conf_str("myorigin");
    if (*origin && strcasecmp(domain, origin) == 0)
        return 1;
    return resolve_local_domain(domain);
}

const char *maps_find_addr_opt(maps *m, const char *addr, int strategy, int local_domain,
                               int *error, sbuf *matched_key, sbuf *extension)
{
    int dummy;
    if (!error)
        error = &dummy;
    *error = DICT_ERR_NONE;
    if (matched_key)
        sbuf_reset(matched_key);
    if (extension)
        sbuf_reset(extension);

    struct search s = { m, error, matched_key, extension, SBUF_INIT, false };
    sbuf local = SBUF_INIT, domain_buf = SBUF_INIT, base = SBUF_INIT, ext = SBUF_INIT;
    const char *result = 0;
    const char *at = strrchr(addr, '@');
    address_split(addr, &local, &domain_buf);
    const char *domain = at ? sbuf_str(&domain_buf) : 0;
    bool has_ext = maps_split_extension(sbuf_str(&local), &base, &ext);
    bool localpart_done = false;

    if (strategy & MAPS_FIND_FULL) {
        TRY(addr, 0);
        if (has_ext) {
            sbuf_set(&s.key, sbuf_str(&base));
            if (domain) {
                sbuf_addc(&s.key, '@');
                sbuf_adds(&s.key, domain);
            }
            TRY(sbuf_str(&s.key), sbuf_str(&ext));
        }
        localpart_done = !domain;
    }
    if ((strategy & MAPS_FIND_LOCALPART) && !localpart_done) {
        int is_local = 1;
        if (domain)
            is_local = local_domain >= 0 ? local_domain : domain_is_local(domain);
        if (is_local < 0) {
            *error = DICT_ERR_RETRY;
            goto done;
        }
        if (is_local) {
            TRY(sbuf_str(&local), 0);
            if (has_ext)
                TRY(sbuf_str(&base), sbuf_str(&ext));
        }
    }
    if ((strategy & MAPS_FIND_DOMAIN) && domain && *domain) {
        TRY(domain, 0);
        if (strategy & MAPS_FIND_PARENT) {
            bool bare = (strategy & MAPS_FIND_PARENT_SELF) != 0;
            for (const char *dot = strchr(domain, '.'); dot && dot[1]; dot = strchr(dot + 1, '.'))
                TRY(bare ? dot + 1 : dot, 0);
        }
    }
    if ((strategy & MAPS_FIND_USER_AT) && domain) {
        sbuf_set(&s.key, sbuf_str(&local));
        sbuf_addc(&s.key, '@');
        TRY(sbuf_str(&s.key), 0);
        if (has_ext) {
            sbuf_set(&s.key, sbuf_str(&base));
            sbuf_addc(&s.key, '@');
            TRY(sbuf_str(&s.key), sbuf_str(&ext));
        }
    }
    if ((strategy & MAPS_FIND_ATDOMAIN) && domain && *domain) {
        sbuf_set(&s.key, "@");
        sbuf_adds(&s.key, domain);
        TRY(sbuf_str(&s.key), 0);
    }
    if (strategy & MAPS_FIND_STAR)
        TRY("*", 0);
done:
    sbuf_free(&s.key);
    sbuf_free(&local);
    sbuf_free(&domain_buf);
    sbuf_free(&base);
    sbuf_free(&ext);
    return result;
}

const char *maps_find_addr(maps *m, const char *addr, int local_domain, int *error,
                           sbuf *matched_key)
{
    return maps_find_addr_opt(m, addr, MAPS_FIND_ADDR_DEFAULT, local_domain, error,
                              matched_key, 0);
}
