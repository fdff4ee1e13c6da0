/*
 * local_recipient.c - deliver to one local recipient: the first one from
 * qmgr, and every local address that alias or .forward expansion yields.
 *
 * Checks first: the nesting limit (100 levels), the duplicate filter,
 * and the forwarding loop check (the recipient already appears in a
 * Delivered-To: header of the message: bounce "mail forwarding loop for
 * x", 5.4.6). Then the local part, folded to lower case, is split at
 * recipient_delimiter into user and extension, and the delivery methods
 * are tried in local(8) order: alias of the full local part, alias of
 * the bare user, ~/.forward, mailbox; unknown users go to
 * fallback_transport_maps, fallback_transport, luser_relay, or bounce
 * `unknown user: "x"` (5.1.1).
 *
 * A local address that comes out of an expansion with an owner (an
 * owner- alias, a .forward file, an :include: file) is forwarded as a
 * new message rather than delivered here, as local(8) does, so each such
 * recipient gets its own queue file status (except the user listed in
 * her own .forward, who gets her mailbox).
 *
 * NOT HERE: the alias tables (local_alias.c), the mailbox methods
 * (local_mailbox.c), forwarding (local_forward.c).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "local/local.h"
#include "local/local_expand.h"
#include "mail/mail_conf.h"
#include "util/msg.h"

static bool seen_in_delivered(const struct msg_attr *a)
{
    const strv *h = a->st->delivered_hdrs;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i], a->address) == 0)
            return true;
    return false;
}

static int deliver_switch(struct msg_attr a, struct usr_attr u)
{
    int status = 0;
    a.level++;

    /* \user: the mailbox, no aliases, no .forward - for the user's own
     * name, or from an expansion nobody owns (the system aliases). Someone
     * else's \user is an ordinary address, so it cannot bypass that
     * user's own .forward. */
    if (a.no_expand && (!a.owner || strcasecmp(a.owner, a.user) == 0)) {
        if (!local_deliver_mailbox(a, u, &status))
            status = local_deliver_unknown(a, u);
        return status;
    }
    a.no_expand = false;

    /* Aliases: the full local part first, then the bare user. */
    a.unmatched = 0;
    if (local_deliver_alias(a, u, a.local, &status))
        return status;
    if (a.extension) {
        if (local_cf.ext_prop_mask & EXT_PROP_ALIAS)
            a.unmatched = a.extension;
        if (local_deliver_alias(a, u, a.user, &status))
            return status;
        a.unmatched = a.extension;
    }

    /* Local addresses from an owned expansion become a new message. */
    if (a.owner && strcasecmp(a.owner, a.user) != 0)
        return local_forward_append(&a);
    if (a.exp_type == EXP_TYPE_INCLUDE)
        return local_forward_append(&a);

    if (local_cf.require_home) {
        struct local_pw pw;
        local_pw_init(&pw);
        int found = local_pw_byname(a.user, &pw);
        if (found < 0) {
            msg_warn("error looking up passwd info for %s: %m", a.user);
            status = local_defer(&a, "4.0.0", "user lookup error");
            local_pw_free(&pw);
            return status;
        }
        struct stat st;
        if (found > 0 && stat(sbuf_str(&pw.home), &st) < 0) {
            status = local_defer(&a, "4.3.0", "cannot access home directory %s: %s",
                                 sbuf_str(&pw.home), strerror(errno));
            local_pw_free(&pw);
            return status;
        }
        local_pw_free(&pw);
    }
    if (!local_deliver_dotforward(a, u, &status) && !local_deliver_mailbox(a, u, &status))
        status = local_deliver_unknown(a, u);
    return status;
}

int local_deliver_recipient(struct msg_attr a, struct usr_attr u)
{
    a.level++;
    if (a.level > LOCAL_MAX_LEVEL) {
        msg_warn("recipient nesting limit exceeded for %s", a.address);
        return local_bounce(&a, "5.4.6", "recipient nesting limit exceeded");
    }
    if (local_been_here(a.st->dup, "recipient %d %s", a.level, a.address))
        return 0;
    if (seen_in_delivered(&a))
        return local_bounce(&a, "5.4.6", "mail forwarding loop for %s", a.address);
    if (!a.delivered)
        a.delivered = a.address;

    /* Decisions use the local part in lower case (local(8) CASE FOLDING). */
    sbuf local = SBUF_INIT, domain = SBUF_INIT, user = SBUF_INIT, ext = SBUF_INIT;
    sbuf folded = SBUF_INIT;
    char delim[2] = {0, 0};
    sbuf_set(&folded, a.address);
    sbuf_lower(&folded);
    const char *at = strrchr(sbuf_str(&folded), '@');
    if (at) {
        sbuf_add(&local, folded.s, (size_t) (at - folded.s));
        sbuf_set(&domain, at + 1);
        a.domain = sbuf_str(&domain);
    } else {
        msg_warn("no @ in recipient address: %s", a.address);
        sbuf_set(&local, sbuf_str(&folded));
        a.domain = 0;
    }
    a.local = sbuf_str(&local);
    a.extension = 0;
    a.delim = 0;
    if (maps_split_extension(sbuf_str(&local), &user, &ext)) {
        if (strchr(ext.s + 1, '/')) {
            msg_warn("%s: address with illegal extension: %s", a.st->req->queue_id,
                     sbuf_str(&local));
            sbuf_set(&local, sbuf_str(&user));
            a.local = sbuf_str(&local);
        } else {
            delim[0] = ext.s[0];
            a.extension = ext.s + 1;
            a.delim = delim;
        }
    }
    a.user = sbuf_str(&user);
    a.unmatched = a.extension;

    int status;
    if (!*a.user)
        status = local_bounce(&a, "5.1.3", "null username in \"%s\"", a.address);
    else
        status = deliver_switch(a, u);

    sbuf_free(&local);
    sbuf_free(&domain);
    sbuf_free(&user);
    sbuf_free(&ext);
    sbuf_free(&folded);
    return status;
}

/* ---- unknown users ---- */

const char *local_attr_value(const char *name, size_t len, void *ctx)
{
    struct local_exp_ctx *c = ctx;
#define IS(s) (len == strlen(s) && strncmp(name, s, len) == 0)
    if (IS("user")) return c->a->user;
    if (IS("home")) return c->u->set ? c->u->home : 0;
    if (IS("shell")) return c->u->set ? c->u->shell : 0;
    if (IS("recipient")) return c->a->address;
    if (IS("domain")) return c->a->domain;
    if (IS("local")) return c->a->local;
    if (IS("recipient_delimiter")) return c->a->delim;
    if (IS("extension")) {
        c->extension_used = true;
        return c->a->extension;
    }
#undef IS
    return 0;
}

int local_deliver_unknown(struct msg_attr a, struct usr_attr u)
{
    a.level++;
    if (local_been_here(a.st->dup, "unknown %s", a.local))
        return 0;

    int err = 0;
    const char *transport;
    if (local_cf.fallback_transport_maps
        && (transport = maps_find(local_cf.fallback_transport_maps, a.user, &err)) != 0)
        return local_deliver_pass(&a, transport);
    if (err)
        return local_defer(&a, "4.3.0", "table lookup failure");
    transport = mail_conf_str("fallback_transport");
    if (*transport)
        return local_deliver_pass(&a, transport);

    const char *relay = mail_conf_str("luser_relay");
    if (*relay) {
        sbuf target = SBUF_INIT;
        struct local_exp_ctx ec = {&a, &u, false};
        if (local_expand(&target, relay, local_attr_value, &ec, 0) & LOCAL_EXP_ERROR)
            msg_warn("bad parameter value syntax for luser_relay: %s", relay);
        a.unmatched = 0;
        int status;
        if (target.len == 0)
            status = local_defer(&a, "4.3.5", "mail system configuration error");
        else
            status = local_deliver_resolve_addr(a, u, sbuf_str(&target));
        sbuf_free(&target);
        return status;
    }

    if (strcasecmp(a.user, "mailer-daemon") == 0 || strcasecmp(a.user, "postmaster") == 0) {
        msg_warn("required alias not found: %s", a.user);
        return local_sent(&a, "discarded");
    }
    return local_bounce(&a, "5.1.1", "unknown user: \"%s\"", a.user);
}
