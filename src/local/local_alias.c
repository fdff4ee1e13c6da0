/*
 * local_alias.c - alias_maps lookup and expansion (aliases(5)).
 *
 * The key is the local part in lower case (the full one with its
 * extension first; local_recipient.c then tries the bare user). Each
 * table of alias_maps is asked in order; the first hit is expanded with
 * local_deliver_token_string().
 *
 * Rules kept here (local(8), aliases(5)):
 *  - An alias that lists its own name delivers to the user instead: the
 *    name an address was expanded from is not expanded again.
 *  - More than 100 levels of nesting bounce ("alias database loop").
 *  - Rights for |command and /file destinations are those of the table's
 *    owner; a root-owned table (or one that is not a file) gives
 *    default_privs (local_user.c).
 *  - With owner_request_special, an "owner-NAME" alias makes the
 *    envelope sender of the expansion "owner-NAME" (or its expansion,
 *    with expand_owner_alias), the original recipient is forgotten and
 *    local members are resubmitted as a new message.
 *  - A table that cannot be read defers ("alias database unavailable"),
 *    as does a value without any destination.
 *
 * NOT HERE: the value syntax (local_token.c), delivering the destinations
 * (local_deliver_token.c), the bare-user retry (local_recipient.c).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "local/local.h"
#include "mail/cleanup_client.h"
#include "mail/mail_conf.h"
#include "mail/rewrite.h"
#include "util/dict.h"
#include "util/mem.h"
#include "util/msg.h"

/* Owner of the file behind "type:name": the indexed file for hash/btree/
 * lmdb, the file itself for file-based types, root for everything else. */
static uid_t table_owner(const char *spec)
{
    const char *colon = strchr(spec, ':');
    if (!colon)
        return 0;
    sbuf type = SBUF_INIT, path = SBUF_INIT;
    sbuf_add(&type, spec, (size_t) (colon - spec));
    sbuf_set(&path, colon + 1);
    const char *suffix = dict_type_suffix(sbuf_str(&type));
    if (suffix)
        sbuf_adds(&path, suffix);
    uid_t uid = 0;
    struct stat st;
    if (path.len && path.s[0] == '/' && stat(sbuf_str(&path), &st) == 0)
        uid = st.st_uid;
    sbuf_free(&type);
    sbuf_free(&path);
    return uid;
}

/* The value of key in any alias table, or NULL (*err set on failure). */
static const char *find_any(const char *key, int *err)
{
    *err = 0;
    for (size_t i = 0; i < local_cf.nalias; i++) {
        const char *v = maps_find(local_cf.aliases[i].m, key, err);
        if (v || *err)
            return v;
    }
    return 0;
}

bool local_deliver_alias(struct msg_attr a, struct usr_attr u, const char *name, int *status)
{
    a.level++;
    *status = 0;
    if (a.exp_from && strcasecmp(a.exp_from, name) == 0)
        return false;
    if (a.level > LOCAL_MAX_LEVEL) {
        msg_warn("alias database loop for %s", name);
        *status = local_bounce(&a, "5.4.6", "alias database loop for %s", name);
        return true;
    }
    a.exp_from = name;

    for (size_t i = 0; i < local_cf.nalias; i++) {
        const struct alias_table *t = &local_cf.aliases[i];
        int err = 0;
        const char *value = maps_find(t->m, name, &err);
        if (!value) {
            if (err) {
                *status = local_defer(&a, "4.3.0", "alias database unavailable");
                return true;
            }
            continue;
        }
        if (local_verify_only(&a)) {
            *status = local_sent(&a, "aliased to %s", value);
            return true;
        }
        char *expansion = xstrdup(value);   /* the table reuses its buffer */
        a.exp_type = EXP_TYPE_ALIAS;

        /* Delivery rights: the table owner's, default_privs for root. */
        struct local_pw owner_pw;
        local_pw_init(&owner_pw);
        uid_t owner_uid = table_owner(t->spec);
        if (owner_uid == 0) {
            memset(&u, 0, sizeof(u));
        } else if (local_pw_byuid(owner_uid, &owner_pw) <= 0) {
            msg_warn("cannot find alias database owner for %s", t->spec);
            *status = local_defer(&a, "4.3.0", "cannot find alias database owner");
            local_pw_free(&owner_pw);
            xfree(expansion);
            return true;
        } else {
            local_usr_set(&u, &owner_pw);
        }

        /* Where delivery problems go: an owner- alias, if there is one. */
        sbuf owner_key = SBUF_INIT, owner = SBUF_INIT;
        if (local_cf.owner_request_special) {
            sbuf_printf(&owner_key, "owner-%s", name);
            int oerr = 0;
            const char *rhs = find_any(sbuf_str(&owner_key), &oerr);
            if (rhs) {
                rewrite_address(REWRITE_LOCAL,
                                local_cf.expand_owner_alias ? rhs : sbuf_str(&owner_key),
                                &owner);
                a.owner = sbuf_str(&owner);
                a.sender = sbuf_str(&owner);
                a.orig = "";        /* a list's members are new recipients */
                a.dsn_orcpt = "";
            } else if (local_cf.reset_owner_alias) {
                a.owner = 0;
            }
        }
        if (!local_cf.frozen_delivered)
            a.delivered = a.address;
        /* NOTIFY=SUCCESS is answered for the alias, not passed on. */
        a.notify = a.notify == DSN_NOTIFY_SUCCESS ? DSN_NOTIFY_NEVER
                                                  : a.notify & ~DSN_NOTIFY_SUCCESS;

        int count = 0;
        *status = local_deliver_token_string(a, u, expansion, &count);
        if (count < 1) {
            msg_warn("no recipient in alias lookup result for %s", name);
            *status = local_defer(&a, "4.3.0", "alias database unavailable");
        }
        sbuf_free(&owner_key);
        sbuf_free(&owner);
        local_pw_free(&owner_pw);
        xfree(expansion);
        return true;
    }
    return false;
}
