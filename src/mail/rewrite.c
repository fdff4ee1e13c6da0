/*
 * rewrite.c - bring an address to the standard user@domain form, as
 * trivial-rewrite(8) does (see rewrite.h and docs/addressing.md).
 *
 * The rules, in order: "" stays ""; "@" becomes ""; a source route
 * "@a,@b:user@site" loses its route; an address without '@' becomes
 * user@site by swap_bangpath (site!user), else by allow_percent_hack
 * (user%site), else gets "@$myorigin" (append_at_myorigin; context
 * "remote": @$remote_header_rewrite_domain, or nothing when empty); a
 * domain without a dot gets ".$mydomain" (append_dot_mydomain; "remote":
 * ".$remote_header_rewrite_domain"), but not a [literal] or an empty
 * domain; one trailing dot is removed ("user@site." -> "user@site", but
 * "user@site.." and "user@." stay, to be refused later). Finally, when
 * the domain is local (resolve_local_domain) and the local part holds a
 * percent or bang route, the local domain is stripped and the route
 * rewritten: user%site@local -> user@site.
 *
 * Reads main.cf through mail_conf on every call; no tables except those
 * mydestination may name. Never fails: at worst the address is returned
 * unchanged.
 */
#include <string.h>

#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/resolve.h"
#include "mail/rewrite.h"
#include "util/sbuf.h"

#define REWRITE_STRIP_MAX 10    /* local-domain stripping rounds */

struct rules {
    bool bang, percent;
    const char *origin;         /* appended to "user"; "" = nothing */
    const char *dotdomain;      /* appended to "user@host"; "" = nothing */
};

static void get_rules(const char *context, struct rules *r)
{
    bool remote = context && strcmp(context, REWRITE_REMOTE) == 0;
    const char *remote_domain = mail_conf_str("remote_header_rewrite_domain");
    r->bang = mail_conf_bool("swap_bangpath");
    r->percent = mail_conf_bool("allow_percent_hack");
    r->origin = "";
    r->dotdomain = "";
    if (mail_conf_bool("append_at_myorigin"))
        r->origin = remote ? remote_domain : mail_conf_str("myorigin");
    if (mail_conf_bool("append_dot_mydomain"))
        r->dotdomain = remote ? remote_domain : mail_conf_str("mydomain");
}

/* site!user -> user@site, user%site -> user@site on a string without '@'.
 * Returns true when it changed something. */
static bool route_to_domain(const struct rules *r, sbuf *a)
{
    const char *s = sbuf_str(a);
    const char *bang = r->bang ? strchr(s, '!') : 0;
    if (bang && bang > s && bang[1]) {
        sbuf tmp = SBUF_INIT;
        sbuf_adds(&tmp, bang + 1);
        sbuf_addc(&tmp, '@');
        sbuf_add(&tmp, s, (size_t) (bang - s));
        sbuf_set(a, sbuf_str(&tmp));
        sbuf_free(&tmp);
        return true;
    }
    char *pct = r->percent ? strrchr(a->s ? a->s : "", '%') : 0;
    if (pct) {
        *pct = '@';
        return true;
    }
    return false;
}

static void canon(const struct rules *r, const char *addr, sbuf *out)
{
    sbuf_set(out, addr);
    if (out->len == 0)
        return;
    if (strcmp(out->s, "@") == 0) {
        sbuf_reset(out);
        return;
    }
    /* Source route (RFC 5321 4.1.2 A-d-l): keep what follows the ':'. */
    if (out->s[0] == '@') {
        char *colon = strchr(out->s, ':');
        if (colon && colon[1]) {
            sbuf tmp = SBUF_INIT;
            sbuf_adds(&tmp, colon + 1);
            sbuf_set(out, sbuf_str(&tmp));
            sbuf_free(&tmp);
        }
    }
    if (!strchr(out->s, '@')) {
        if (!route_to_domain(r, out) && *r->origin) {
            sbuf_addc(out, '@');
            sbuf_adds(out, r->origin);
        }
    }
    const char *at = strrchr(out->s, '@');
    if (at && *r->dotdomain && at[1] && at[1] != '[' && !strchr(at + 1, '.')) {
        sbuf_addc(out, '.');
        sbuf_adds(out, r->dotdomain);
        at = strrchr(out->s, '@');
    }
    if (at && out->len >= 2 && out->s[out->len - 1] == '.' && out->s[out->len - 2] != '.'
        && out->s[out->len - 2] != '@')
        sbuf_truncate(out, out->len - 1);
}

void rewrite_address_canon(const char *context, const char *addr, sbuf *out)
{
    struct rules r;
    get_rules(context, &r);
    canon(&r, addr, out);
}

void rewrite_address(const char *context, const char *addr, sbuf *out)
{
    struct rules r;
    get_rules(context, &r);
    sbuf tmp = SBUF_INIT, local = SBUF_INIT, domain = SBUF_INIT;
    canon(&r, addr ? addr : "", out);
    for (int i = 0; i < REWRITE_STRIP_MAX && (r.bang || r.percent); i++) {
        const char *at = strrchr(sbuf_str(out), '@');
        if (!at || !at[1])
            break;
        address_split(sbuf_str(out), &local, &domain);
        if (strchr(sbuf_str(&local), '@'))
            break;                      /* a quoted '@': not ours to reinterpret */
        sbuf_set(&tmp, sbuf_str(&local));
        if (!route_to_domain(&r, &tmp))
            break;
        if (resolve_local_domain(sbuf_str(&domain)) != 1)
            break;
        canon(&r, sbuf_str(&tmp), out);
    }
    sbuf_free(&tmp);
    sbuf_free(&local);
    sbuf_free(&domain);
}
