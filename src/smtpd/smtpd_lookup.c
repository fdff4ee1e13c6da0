/*
 * smtpd_lookup.c - the tables behind smtpd's restrictions: the daemon's
 * struct smtpd_check_ops.
 *
 * Opened once per process in pre_init (as root, before privileges are
 * dropped, so root-only tables work): mynetworks, relay_domains,
 * smtpd_forbid_bare_newline_exclusions (host lists, match_list.h) and the
 * recipient tables (maps.h): local_recipient_maps, virtual_alias_maps,
 * virtual_mailbox_maps, relay_recipient_maps. There is no proxymap
 * daemon: "proxy:type:name" in a table list is opened as "type:name".
 *
 * Addresses are canonicalised as trivial-rewrite would (rewrite.h, local
 * context) and resolved in-process (resolve.h) to find their class; the
 * local recipient check runs only for the local class, and an empty
 * local_recipient_maps turns it off. A table that cannot be read is a
 * temporary failure (the restriction answers 451 4.3.0), never "unknown
 * user".
 *
 * Opening the tables also sets up the restrictions outside the evaluator
 * (smtpd_restrict_init: access tables, rbl_reply_maps) and the anvil
 * exception list, all while still root; their tables count for
 * smtpd_lookup_changed().
 *
 * Does not: decide replies (smtpd_check.c) or cache across sessions
 * beyond the last resolved address.
 */
#include <string.h>
#include <strings.h>

#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/match_list.h"
#include "mail/receive_override.h"
#include "mail/resolve.h"
#include "mail/rewrite.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#include "smtpd/smtpd.h"
#include "smtpd/smtpd_restrict.h"

struct smtpd_lookup {
    match_list *mynetworks;
    match_list *relay_domains;
    match_list *bare_lf_exclusions;
    maps *local_rcpt;           /* NULL: local_recipient_maps is empty */
    maps *virtual_alias;
    maps *virtual_mailbox;
    maps *relay_rcpt;           /* NULL: relay_recipient_maps is empty */
    /* Last resolved address (one RCPT asks twice: relay and unlisted). */
    sbuf last_addr;
    sbuf last_canon;
    int last_flags;
};

/* "proxy:unix:passwd.byname, hash:/x" -> "unix:passwd.byname, hash:/x"; NULL when empty. */
static maps *open_maps(const char *param)
{
    strv items;
    sbuf spec = SBUF_INIT;
    maps *m = 0;

    strv_init(&items);
    mail_conf_list(param, &items);
    for (size_t i = 0; i < items.n; i++) {
        const char *t = items.v[i];
        while (strncasecmp(t, "proxy:", 6) == 0)
            t += 6;
        if (spec.len)
            sbuf_adds(&spec, ", ");
        sbuf_adds(&spec, t);
    }
    if (spec.len)
        m = maps_open(param, sbuf_str(&spec), DICT_FLAG_DEFAULT);
    strv_free(&items);
    sbuf_free(&spec);
    return m;
}

struct smtpd_lookup *smtpd_lookup_open(void)
{
    struct smtpd_lookup *lk = xcalloc(1, sizeof(*lk));

    lk->mynetworks = match_list_open("mynetworks", mail_conf_str("mynetworks"));
    lk->relay_domains = match_list_open("relay_domains", mail_conf_str("relay_domains"));
    lk->bare_lf_exclusions = match_list_open("smtpd_forbid_bare_newline_exclusions",
                                             mail_conf_str("smtpd_forbid_bare_newline_exclusions"));
    lk->local_rcpt = open_maps("local_recipient_maps");
    lk->virtual_alias = open_maps("virtual_alias_maps");
    lk->virtual_mailbox = open_maps("virtual_mailbox_maps");
    lk->relay_rcpt = open_maps("relay_recipient_maps");
    sbuf_init(&lk->last_addr);
    sbuf_init(&lk->last_canon);
    lk->last_flags = -1;
    resolve_preload();          /* the resolver's tables, while still root */
    smtpd_restrict_init();      /* access tables, DNSBL replies, policy, ... */
    smtpd_anvil_init();
    return lk;
}

bool smtpd_lookup_changed(const struct smtpd_lookup *lk)
{
    const maps *all[] = {lk->local_rcpt, lk->virtual_alias, lk->virtual_mailbox, lk->relay_rcpt};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i] && maps_changed(all[i]))
            return true;
    return match_list_changed(lk->mynetworks) || match_list_changed(lk->relay_domains)
           || match_list_changed(lk->bare_lf_exclusions) || smtpd_restrict_changed();
}

int smtpd_lookup_bare_lf_excluded(SMTPD_STATE *st)
{
    return match_host(st->lookup->bare_lf_exclusions, st->name, st->addr);
}

static int lk_mynetworks(void *ctx)
{
    SMTPD_STATE *st = ctx;
    return match_host(st->lookup->mynetworks, st->name, st->addr);
}

static int lk_resolve(void *ctx, const char *addr)
{
    SMTPD_STATE *st = ctx;
    struct smtpd_lookup *lk = st->lookup;
    struct resolve_reply r;
    sbuf canon = SBUF_INIT;

    if (lk->last_flags >= 0 && strcmp(sbuf_str(&lk->last_addr), addr) == 0)
        return lk->last_flags;
    rewrite_address(REWRITE_LOCAL, addr, &canon);
    resolve_init(&r);
    resolve_address(st->sender ? st->sender : "", sbuf_str(&canon), &r);
    sbuf_set(&lk->last_addr, addr);
    sbuf_set(&lk->last_canon, r.recipient.len ? sbuf_str(&r.recipient) : sbuf_str(&canon));
    lk->last_flags = r.flags;
    /* A failed lookup is not remembered: the next request tries again. */
    if (r.flags & RESOLVE_FLAG_FAIL)
        lk->last_flags = -1;
    int flags = r.flags;
    resolve_free(&r);
    sbuf_free(&canon);
    return flags;
}

/* 1 found, 0 not found, -1 lookup failure. */
static int find(maps *m, const char *addr, int local)
{
    int err = 0;
    if (maps_find_addr(m, addr, local, &err, 0))
        return 1;
    return err ? -1 : 0;
}

static int lk_addr_known(void *ctx, const char *addr, bool sender, int *code, sbuf *table)
{
    SMTPD_STATE *st = ctx;
    struct smtpd_lookup *lk = st->lookup;
    int flags = lk_resolve(ctx, addr);
    const char *canon;
    int r;

    (void) sender;
    /* receive_override_options = no_unknown_recipient_checks (after a
     * content filter): every recipient is known. */
    if (!sender && (receive_override() & RECV_NO_UNKNOWN_RCPT))
        return 1;
    if (flags & RESOLVE_FLAG_FAIL)
        return -1;
    canon = sbuf_str(&lk->last_canon);
    /* A virtual alias makes any address valid, whatever its class. */
    if (lk->virtual_alias && (r = find(lk->virtual_alias, canon, -1)) != 0)
        return r;
    if (flags & RESOLVE_CLASS_LOCAL) {
        if (!lk->local_rcpt)
            return 1;
        if ((r = find(lk->local_rcpt, canon, 1)) != 0)
            return r;
        *code = (int) mail_conf_int("unknown_local_recipient_reject_code");
        sbuf_set(table, "local recipient table");
        return 0;
    }
    if (flags & RESOLVE_CLASS_ALIAS) {
        *code = (int) mail_conf_int("unknown_virtual_alias_reject_code");
        sbuf_set(table, "virtual alias table");
        return 0;
    }
    if (flags & RESOLVE_CLASS_VIRTUAL) {
        if (!lk->virtual_mailbox)
            return 1;
        if ((r = find(lk->virtual_mailbox, canon, 0)) != 0)
            return r;
        *code = (int) mail_conf_int("unknown_virtual_mailbox_reject_code");
        sbuf_set(table, "virtual mailbox table");
        return 0;
    }
    if (flags & RESOLVE_CLASS_RELAY) {
        if (!lk->relay_rcpt)
            return 1;
        if ((r = find(lk->relay_rcpt, canon, 0)) != 0)
            return r;
        *code = (int) mail_conf_int("unknown_relay_recipient_reject_code");
        sbuf_set(table, "relay recipient table");
        return 0;
    }
    return 1;
}

static int lk_resolved(void *ctx, const char *addr, sbuf *canon)
{
    SMTPD_STATE *st = ctx;
    int flags = lk_resolve(ctx, addr);
    sbuf_set(canon, (flags & RESOLVE_FLAG_FAIL) ? addr : sbuf_str(&st->lookup->last_canon));
    return flags;
}

static int lk_client_in_relay_domains(void *ctx)
{
    SMTPD_STATE *st = ctx;
    if (strcmp(st->name, "unknown") == 0)
        return 0;
    return match_domain(st->lookup->relay_domains, st->name);
}

const struct smtpd_check_ops smtpd_lookup_ops = {
    .mynetworks = lk_mynetworks,
    .resolve = lk_resolve,
    .addr_known = lk_addr_known,
    .client_in_relay_domains = lk_client_in_relay_domains,
    .resolved = lk_resolved,
    .log = 0,
};
