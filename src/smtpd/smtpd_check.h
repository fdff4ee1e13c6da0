/*
 * smtpd_check.h - the SMTP access restriction evaluator.
 *
 * A restriction list (smtpd_client_restrictions, smtpd_helo_restrictions,
 * smtpd_sender_restrictions, smtpd_relay_restrictions,
 * smtpd_recipient_restrictions, smtpd_data_restrictions,
 * smtpd_etrn_restrictions) is a sequence of names, some followed by one
 * argument ("check_client_access hash:/etc/postfix/access"). Each name
 * is looked up in the registered restriction tables and its function
 * answers SMTPD_CHECK_DUNNO (go on), SMTPD_CHECK_OK (permit: this list is
 * done) or SMTPD_CHECK_REJECT (the request is refused, the reply is in
 * c->reply and the evaluation stops). A name listed in
 * smtpd_restriction_classes is evaluated as the list in that parameter.
 * An unknown name is a configuration error: it is logged as
 *     warning: unknown smtpd restriction: "name"
 * and answered with "451 4.3.5 Server configuration error", as Postfix
 * does.
 *
 * The evaluator knows no tables and does no I/O of its own: facts about
 * the client and addresses come through struct smtpd_check_ops (the
 * daemon's implementation is smtpd_lookup.c; the unit test passes fakes),
 * and reject lines are logged through ops->log. New restrictions
 * (check_*_access, RBLs, policy service, ...) are added with
 * smtpd_check_register() and smtpd_check_reject(), without touching the
 * evaluator.
 *
 * Configuration (the lists, reply codes, soft_bounce, smtpd_delay_reject,
 * ...) is read with mail_conf_* at evaluation time.
 */
#ifndef HK_SMTPD_SMTPD_CHECK_H
#define HK_SMTPD_SMTPD_CHECK_H

#include <stdbool.h>
#include "util/sbuf.h"

#define SMTPD_CHECK_DUNNO  0
#define SMTPD_CHECK_OK     1
#define SMTPD_CHECK_REJECT 2

struct smtpd_check;

/* Facts the restrictions need. Each may be NULL in a fake; a NULL
 * function behaves as "no / not found". Lookups return -1 for a
 * temporary (table) failure. */
struct smtpd_check_ops {
    /* Is the client in $mynetworks? 1, 0, -1. */
    int (*mynetworks)(void *ctx);
    /* Address class: RESOLVE_CLASS_* | RESOLVE_FLAG_* bits (resolve.h). */
    int (*resolve)(void *ctx, const char *addr);
    /* Is addr listed for its class (local_recipient_maps, ...)? 1 yes or
     * not checked, 0 no (*code = reject code, table = "local recipient
     * table"), -1 temporary failure. sender: checking a sender address. */
    int (*addr_known)(void *ctx, const char *addr, bool sender, int *code, sbuf *table);
    /* check_relay_domains: does the client name match $relay_domains? */
    int (*client_in_relay_domains)(void *ctx);
    /* Log "whatsup" ("reject", "reject_warning") with the reply. */
    void (*log)(void *ctx, const char *whatsup, const char *reply);
};

struct smtpd_check {
    /* Facts about the request (not owned; NULL when not known yet). */
    const char *namaddr;            /* "name[addr]" */
    const char *helo;
    const char *sender;             /* "" is the null sender */
    const char *recipient;
    const char *etrn_domain;
    bool sasl_authenticated;
    const struct smtpd_check_ops *ops;
    void *ops_ctx;

    /* Evaluation state. */
    int warn_if_reject;             /* applies to the next restriction only */
    int depth;                      /* restriction class nesting */
    bool rcpt_listed_checked;       /* reject_unlisted_recipient already ran */
    bool sender_listed_checked;
    const char *reply_name;         /* subject of the list being evaluated */
    const char *reply_class;        /* "Client host", "Recipient address", ... */

    /* Result of a REJECT. */
    int code;
    sbuf reply;                     /* "554 5.7.1 <a@b>: Relay access denied" */
};

/* A restriction: fn gets the name as written and its argument (NULL
 * unless SMTPD_R_ARG). */
#define SMTPD_R_ARG 1
struct smtpd_restriction {
    const char *name;
    int flags;
    int (*fn)(struct smtpd_check *c, const char *name, const char *arg);
};

void smtpd_check_init(struct smtpd_check *c, const struct smtpd_check_ops *ops, void *ctx);
void smtpd_check_free(struct smtpd_check *c);

/* Stage entry points; each returns SMTPD_CHECK_REJECT (reply in
 * c->reply, already logged) or another value meaning "go ahead". */
int smtpd_check_client(struct smtpd_check *c);
int smtpd_check_helo(struct smtpd_check *c);
int smtpd_check_mail(struct smtpd_check *c);
/* RCPT: with smtpd_delay_reject also client, helo and sender lists,
 * then relay and recipient lists (order per
 * smtpd_relay_before_recipient_restrictions), then the implicit
 * reject_unlisted_recipient (smtpd_reject_unlisted_recipient). */
int smtpd_check_rcpt(struct smtpd_check *c);
int smtpd_check_data(struct smtpd_check *c);
int smtpd_check_etrn(struct smtpd_check *c);
/* VRFY: only the unlisted-recipient check. */
int smtpd_check_vrfy(struct smtpd_check *c);

/* Evaluate the list in parameter param (a restriction class name works
 * too); reply_name and reply_class are what generic restrictions
 * (reject, defer) name in their reply. Does not log. */
int smtpd_check_list(struct smtpd_check *c, const char *param, const char *reply_name,
                     const char *reply_class);

/* Add a table of restrictions (terminated by a NULL name); consulted
 * after the built-in ones. The table must stay valid. */
void smtpd_check_register(const struct smtpd_restriction *table);

/* For restriction functions: refuse with code and "D.D.D" dsn and text.
 * Applies soft_bounce (5xx -> 4xx) and warn_if_reject (logs
 * "reject_warning" and returns SMTPD_CHECK_DUNNO instead). */
int smtpd_check_reject(struct smtpd_check *c, int code, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "451 4.3.5 Server configuration error". */
int smtpd_check_config_error(struct smtpd_check *c);

#endif
