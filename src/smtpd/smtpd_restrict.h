/*
 * smtpd_restrict.h - the restrictions that live outside the evaluator:
 * access tables, DNS checks, DNSBLs, the policy service, and the
 * connection and rate limits kept by anvil.
 *
 * Each module registers its restrictions with smtpd_check_register();
 * smtpd_restrict_init() (smtpd_restrict.c) does it for all of them and
 * opens the tables the restriction lists name, once per process, in
 * pre_init (as root, so root-only tables work). The modules depend on
 * struct smtpd_check only (not on the session), so the unit tests drive
 * them with fake facts.
 *
 *   smtpd_access.c   check_{client,reverse_client_hostname,helo,sender,
 *                    recipient,etrn,sasl}_access, their _mx/_ns/_a forms,
 *                    and the access(5) result language shared with the
 *                    policy service
 *   smtpd_dnscheck.c reject_unknown_{client,reverse_client,helo}_hostname,
 *                    reject_unknown_{sender,recipient}_domain
 *   smtpd_rbl.c      reject_rbl_client, reject_rhsbl_*, permit_dnswl_client,
 *                    permit_rhswl_client, reject_maps_rbl; reply templates
 *   smtpd_policy.c   check_policy_service (SMTPD_POLICY_README protocol)
 *   smtpd_anvil.c    smtpd_client_*_limit through the anvil service
 *                    (session hooks, not restrictions; see smtpd.h)
 *
 * NOT HERE: the evaluator (smtpd_check.h), the session.
 */
#ifndef HK_SMTPD_SMTPD_RESTRICT_H
#define HK_SMTPD_SMTPD_RESTRICT_H

#include <stdbool.h>

#include "mail/maps.h"
#include "smtpd/smtpd_check.h"

/* Register every restriction here and open the tables named in the
 * restriction lists and classes. Safe to call more than once. */
void smtpd_restrict_init(void);
/* True when a table opened here changed on disk. */
bool smtpd_restrict_changed(void);

/* ---- smtpd_access.c ---- */

/* smtpd_access_result flags */
#define SMTPD_ACCESS_NO_OK 1        /* "OK" is not allowed (_mx/_ns/_a, reverse name) */

/*
 * Act on one access(5) result (an access table value or a policy
 * service action): OK, all-numerical, REJECT, DEFER, DEFER_IF_REJECT,
 * DEFER_IF_PERMIT, 4NN/5NN text, DUNNO, HOLD, DISCARD, FILTER,
 * REDIRECT, BCC, PREPEND, WARN, INFO, or restriction names. table names
 * the source in warnings; reply_name and reply_class are the subject of
 * the reply ("<x@y>: Sender address rejected: ..."). Returns an
 * SMTPD_CHECK_* status.
 */
int smtpd_access_result(struct smtpd_check *c, const char *value, const char *table,
                        const char *reply_name, const char *reply_class, int flags);

/* The table for a check_*_access argument (opened once, shared). */
maps *smtpd_access_table(const char *spec);
void smtpd_access_register(void);
bool smtpd_access_changed(void);

/* ---- smtpd_dnscheck.c ---- */
void smtpd_dnscheck_register(void);

/* ---- smtpd_rbl.c ---- */
void smtpd_rbl_register(void);
/* Open rbl_reply_maps (pre_init). */
void smtpd_rbl_init(void);
bool smtpd_rbl_changed(void);

/*
 * Expand an RBL reply template ($name, ${name}, $(name), ${name?text},
 * ${name:text}, ${name?{a}:{b}}, $$) with lookup(ctx, name) giving the
 * values (NULL: unknown, expands to ""). Values are passed through
 * smtpd_expansion_filter (other characters become '_'). One level only:
 * values are not expanded again. Returns 0, or -1 with a reason in err
 * (unbalanced braces, a bad name).
 */
typedef const char *(*smtpd_rbl_lookup_fn)(void *ctx, const char *name);
int smtpd_rbl_expand(const char *tmpl, smtpd_rbl_lookup_fn lookup, void *ctx, sbuf *out,
                     sbuf *err);

/* ---- smtpd_policy.c ---- */
void smtpd_policy_register(void);

#endif
