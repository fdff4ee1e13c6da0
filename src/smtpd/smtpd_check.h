/*
 * smtpd_check.h - the SMTP access restriction evaluator.
 *
 * A restriction list (smtpd_client_restrictions, smtpd_helo_restrictions,
 * smtpd_sender_restrictions, smtpd_relay_restrictions,
 * smtpd_recipient_restrictions, smtpd_data_restrictions,
 * smtpd_end_of_data_restrictions, smtpd_etrn_restrictions) is a sequence of names, some followed by one
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
 * daemon's implementation is smtpd_lookup.c; the unit test passes fakes)
 * and the fact fields below, and reject lines are logged through
 * ops->log. New restrictions (check_*_access, RBLs, policy service, ...)
 * are added with smtpd_check_register() and smtpd_check_reject(), without
 * touching the evaluator (smtpd_restrict.h lists the ones in this folder).
 *
 * Besides permit and reject, a restriction may (as in Postfix):
 *   - arm defer_if_permit (smtpd_check_defer_if_permit): when the stage
 *     ends without a rejection, the saved 4xx reply is given instead;
 *   - arm defer_if_reject (smtpd_check_defer_if_reject): a later
 *     permanent (5xx) rejection in the stage becomes the saved 4xx reply;
 *   - ask for a message action (HOLD, DISCARD, FILTER, REDIRECT, BCC,
 *     PREPEND) in c->actions, which the session applies when the message
 *     is handed to cleanup.
 * Both deferrals are reset at the start of every stage (client, helo,
 * sender, recipient, data, end-of-data, etrn), as Postfix does.
 *
 * Configuration (the lists, reply codes, soft_bounce, smtpd_delay_reject,
 * ...) is read with mail_conf_* at evaluation time.
 */
#ifndef HK_SMTPD_SMTPD_CHECK_H
#define HK_SMTPD_SMTPD_CHECK_H

#include <stdbool.h>
#include "util/sbuf.h"
#include "util/strv.h"

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
    /* The address as trivial-rewrite resolves it (canonical form, for
     * access tables) in canon; returns the resolve() flags. NULL: the
     * address is used as given and resolve() gives the flags. */
    int (*resolved)(void *ctx, const char *addr, sbuf *canon);
    /* Log "whatsup" ("reject", "reject_warning", "hold", "warn", ...)
     * with the reply or text: "QUEUEID: whatsup: STAGE from client: text;
     * from=<> to=<> proto= helo=<>". */
    void (*log)(void *ctx, const char *whatsup, const char *reply);
};

/* Client name lookup status (Postfix's name_status/reverse_name_status). */
#define SMTPD_PEER_OK   0
#define SMTPD_PEER_TEMP 1           /* the lookup failed temporarily */
#define SMTPD_PEER_PERM 2           /* no name, or it does not map back */

/*
 * Message actions asked for by access tables and policy services
 * (access(5) HOLD, DISCARD, FILTER, REDIRECT, BCC, PREPEND). They affect
 * the whole message; the session owns the structure (one per mail
 * transaction) and applies it when the message goes to cleanup.
 */
struct smtpd_actions {
    char   *hold;                   /* non-NULL: put on hold; the log text */
    char   *discard;                /* non-NULL: accept and throw away */
    char   *filter;                 /* "transport:destination" (last one wins) */
    char   *redirect;               /* the only recipient (last one wins) */
    strv    bcc;                    /* extra recipients */
    strv    prepend;                /* header lines to put first */
    bool    hold_at_open;           /* cleanup_open() already had CLEANUP_FLAG_HOLD */
};
void smtpd_actions_init(struct smtpd_actions *a);
void smtpd_actions_free(struct smtpd_actions *a);      /* empty again, all zero */

/* A deferral armed by defer_if_permit / defer_if_reject. */
struct smtpd_defer {
    bool    active;
    int     code;
    sbuf    reply;                  /* "450 4.7.1 <x>: ... text" */
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

    /* More facts (NULL/0 when not known; smtpd_check_setup fills them). */
    const char *client_name;        /* verified name or "unknown" */
    const char *client_addr;        /* "192.0.2.1" */
    const char *client_port;
    const char *reverse_name;       /* unverified PTR name or "unknown" */
    int name_status;                /* SMTPD_PEER_* */
    int reverse_name_status;
    const char *server_addr, *server_port;
    const char *protocol;           /* "SMTP", "ESMTP" */
    const char *stage;              /* "CONNECT", "EHLO", "RCPT", "DATA", "END-OF-MESSAGE" ... */
    const char *queue_id;           /* "" before the queue file exists */
    const char *instance;           /* one id per mail transaction (policy) */
    int rcpt_count;                 /* recipients accepted so far */
    long long size;                 /* SIZE=, or the message size at end of data */
    const char *sasl_method, *sasl_username, *sasl_sender;
    bool tls;                       /* the session is encrypted */
    const char *tls_protocol, *tls_cipher;
    int tls_keysize;
    const char *ccert_subject, *ccert_issuer, *ccert_fingerprint, *ccert_pkey_fingerprint;
    /* Any certificate the client presented, trusted or not (check_ccert_access). */
    const char *peer_CN, *peer_cert_fprint, *peer_pkey_fprint;
    bool unauth_pipelining;         /* the client pipelined without permission */
    struct smtpd_actions *actions;  /* NULL: no mail transaction (HOLD etc. skipped) */

    /* Evaluation state. */
    int warn_if_reject;             /* applies to the next restriction only */
    int depth;                      /* restriction class nesting */
    bool rcpt_listed_checked;       /* reject_unlisted_recipient already ran */
    bool sender_listed_checked;
    const char *reply_name;         /* subject of the list being evaluated */
    const char *reply_class;        /* "Client host", "Recipient address", ... */
    struct smtpd_defer defer_if_permit, defer_if_reject;

    /* Result of a REJECT. */
    int code;
    sbuf reply;                     /* "554 5.7.1 <a@b>: Relay access denied" */
};

/* reply_class values, as Postfix words them. */
#define SMTPD_NAME_CLIENT "Client host"
#define SMTPD_NAME_REV_CLIENT "Unverified Client host"
#define SMTPD_NAME_HELO   "Helo command"
#define SMTPD_NAME_SENDER "Sender address"
#define SMTPD_NAME_RECIPIENT "Recipient address"
#define SMTPD_NAME_ETRN   "Etrn command"
#define SMTPD_NAME_DATA   "Data command"
#define SMTPD_NAME_EOD    "End-of-data"
#define SMTPD_NAME_CCERT  "Client certificate"

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
/* smtpd_end_of_data_restrictions (c->size: the message size). */
int smtpd_check_eod(struct smtpd_check *c);
int smtpd_check_etrn(struct smtpd_check *c);
/* VRFY: only the unlisted-recipient check. */
int smtpd_check_vrfy(struct smtpd_check *c);

/* Evaluate the list in parameter param (a restriction class name works
 * too); reply_name and reply_class are what generic restrictions
 * (reject, defer) name in their reply. Does not log. */
int smtpd_check_list(struct smtpd_check *c, const char *param, const char *reply_name,
                     const char *reply_class);
/* The same for a list of restriction words (an access table result such
 * as "permit_mynetworks reject"), in the current reply_name/class. */
int smtpd_check_items(struct smtpd_check *c, const strv *items, const char *where);

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

/* Arm a deferral (first one in a stage wins); both return
 * SMTPD_CHECK_DUNNO. With warn_if_reject a defer_if_permit is only
 * logged as "reject_warning". */
int smtpd_check_defer_if_permit(struct smtpd_check *c, int code, const char *dsn,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int smtpd_check_defer_if_reject(struct smtpd_check *c, int code, const char *dsn,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A temporary failure of a reject-type check, handled per the action in
 * parameter action_param (reject_tempfail_action and friends): "defer"
 * refuses now, "defer_if_permit" (anything else) arms defer_if_permit. */
int smtpd_check_tempfail(struct smtpd_check *c, const char *action_param, int code,
                         const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* permit_auth_destination's test for c->recipient: 1 yes, 0 no, -1 lookup
 * failure (DNSWL and RHSWL never permit other destinations). */
int smtpd_check_auth_destination(struct smtpd_check *c);

/* Log through ops->log ("warn", "info", "hold", ...). */
void smtpd_check_log(struct smtpd_check *c, const char *whatsup, const char *text);

/*
 * RFC 3463 status fix-up for a reply class (access(5) "ENHANCED STATUS
 * CODES"): a recipient status X.1.1-X.1.6 becomes the sender one for
 * "Sender address" and back; for non-address classes X.1.Y becomes
 * X.0.0. dsn is "D.D.D"; the result is written to out (16 bytes).
 */
void smtpd_check_dsn_fix(const char *dsn, const char *reply_class, char out[16]);

#endif
