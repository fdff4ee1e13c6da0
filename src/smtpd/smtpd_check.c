/*
 * smtpd_check.c - the restriction evaluator and the built-in restrictions
 * (see smtpd_check.h for the contract).
 *
 * Built in: permit, reject, defer, defer_if_permit, defer_if_reject,
 * warn_if_reject, sleep, permit_mynetworks, permit_sasl_authenticated,
 * permit_auth_destination, reject_unauth_destination,
 * defer_unauth_destination, check_relay_domains,
 * reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname,
 * reject_non_fqdn_sender, reject_non_fqdn_recipient,
 * reject_unlisted_sender, reject_unlisted_recipient,
 * reject_unauth_pipelining, reject_multi_recipient_bounce,
 * reject_plaintext_session (and the old names of these). Reply texts and
 * codes follow Postfix: the code comes from the parameter Postfix uses
 * (reject_code, defer_code, relay_domains_reject_code, non_fqdn_reject_code,
 * invalid_hostname_reject_code, unknown_local_recipient_reject_code,
 * multi_recipient_bounce_reject_code, plaintext_reject_code).
 *
 * Stages and deferrals, as Postfix: every stage resets warn_if_reject and
 * defer_if_reject. A defer_if_permit armed in the client, helo or sender
 * stage is carried to the recipient stage when those run at RCPT time
 * (smtpd_delay_reject = yes) and given there if nothing rejects; when a
 * stage runs on its own (smtpd_delay_reject = no, DATA, END-OF-MESSAGE,
 * ETRN) it is given at the end of that stage. Once a message is to be
 * discarded (DISCARD), later recipients and the data stages are not
 * checked.
 *
 * Does not: look anything up itself (struct smtpd_check_ops), talk to
 * the client, or keep state between requests.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/resolve.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#include "smtpd/smtpd_check.h"

#define MAX_CLASS_DEPTH 10
#define MAX_EXTRA_TABLES 16

#ifndef RESOLVE_CLASS_FINAL
#define RESOLVE_CLASS_FINAL (RESOLVE_CLASS_LOCAL | RESOLVE_CLASS_ALIAS | RESOLVE_CLASS_VIRTUAL)
#endif

static const struct smtpd_restriction *extra_tables[MAX_EXTRA_TABLES];
static int extra_count;

void smtpd_check_register(const struct smtpd_restriction *table)
{
    if (extra_count >= MAX_EXTRA_TABLES)
        msg_panic("smtpd_check_register: too many restriction tables");
    extra_tables[extra_count++] = table;
}

void smtpd_actions_init(struct smtpd_actions *a)
{
    memset(a, 0, sizeof(*a));
    strv_init(&a->bcc);
    strv_init(&a->prepend);
}

void smtpd_actions_free(struct smtpd_actions *a)
{
    xfree(a->hold);
    xfree(a->discard);
    xfree(a->filter);
    xfree(a->redirect);
    strv_free(&a->bcc);
    strv_free(&a->prepend);
    memset(a, 0, sizeof(*a));       /* empty and usable again (strv_add copes) */
}

void smtpd_check_init(struct smtpd_check *c, const struct smtpd_check_ops *ops, void *ctx)
{
    memset(c, 0, sizeof(*c));
    sbuf_init(&c->reply);
    sbuf_init(&c->defer_if_permit.reply);
    sbuf_init(&c->defer_if_reject.reply);
    c->ops = ops;
    c->ops_ctx = ctx;
}

void smtpd_check_free(struct smtpd_check *c)
{
    sbuf_free(&c->reply);
    sbuf_free(&c->defer_if_permit.reply);
    sbuf_free(&c->defer_if_reject.reply);
}

void smtpd_check_log(struct smtpd_check *c, const char *whatsup, const char *text)
{
    if (c->ops && c->ops->log)
        c->ops->log(c->ops_ctx, whatsup, text);
}

static void check_log(struct smtpd_check *c, const char *whatsup)
{
    smtpd_check_log(c, whatsup, sbuf_str(&c->reply));
}

/* RFC 3463 3.2: sender and recipient address statuses. */
void smtpd_check_dsn_fix(const char *dsn, const char *reply_class, char out[16])
{
    snprintf(out, 16, "%s", dsn);
    if (!reply_class || strncmp(out + 1, ".1.", 3) != 0 || !isdigit((unsigned char) out[4])
        || out[5] != 0)
        return;
    int detail = out[4] - '0';
    bool sender = strcmp(reply_class, SMTPD_NAME_SENDER) == 0;
    bool rcpt = strcmp(reply_class, SMTPD_NAME_RECIPIENT) == 0;
    if (!sender && !rcpt) {
        out[2] = '0';               /* X.1.Y -> X.0.0 for non-address information */
        out[4] = '0';
        return;
    }
    /* Sender and recipient equivalents of X.1.0 .. X.1.8 (RFC 3463 3.2). */
    static const char snd[] = "008700078";
    static const char rcp[] = "012345632";
    if (detail > 8)
        return;
    out[4] = (sender ? snd : rcp)[detail];
}

/* RFC 5321 4.2.1: one line of at most 512 bytes with CR LF; printable.
 * The status code class follows the reply code (RFC 3463). */
static void reply_tidy(sbuf *reply)
{
    sbuf_truncate(reply, 510);
    for (size_t i = 0; i < reply->len; i++)
        if ((unsigned char) reply->s[i] < 0x20 || (unsigned char) reply->s[i] >= 0x7f)
            reply->s[i] = ' ';
    if (reply->len > 5 && reply->s[3] == ' '
        && (reply->s[4] == '4' || reply->s[4] == '5' || reply->s[4] == '2'))
        reply->s[4] = reply->s[0];
}

int smtpd_check_reject(struct smtpd_check *c, int code, const char *dsn, const char *fmt, ...)
{
    char dsn_buf[16];
    va_list ap;

    snprintf(dsn_buf, sizeof(dsn_buf), "%s", dsn);
    sbuf_reset(&c->reply);
    sbuf_printf(&c->reply, "%d %s ", code, dsn_buf);
    va_start(ap, fmt);
    sbuf_vprintf(&c->reply, fmt, ap);
    va_end(ap);
    /* A reply code from the configuration must be 4xx or 5xx. */
    if (code < 400 || code > 599) {
        msg_warn("SMTP reply code configuration error: %s", sbuf_str(&c->reply));
        code = 450;
        sbuf_set(&c->reply, "450 4.7.1 Service unavailable");
    }
    /* defer_if_reject: a permanent refusal becomes the saved deferral. */
    if (!c->warn_if_reject && c->defer_if_reject.active && code >= 500) {
        c->defer_if_reject.active = false;
        code = c->defer_if_reject.code;
        sbuf_set(&c->reply, sbuf_str(&c->defer_if_reject.reply));
    }
    /* soft_bounce turns a permanent refusal into a temporary one. */
    if (code >= 500 && mail_conf_bool("soft_bounce")) {
        code -= 100;
        c->reply.s[0] = '4';
    }
    reply_tidy(&c->reply);
    c->code = code;
    if (c->warn_if_reject) {
        check_log(c, "reject_warning");
        sbuf_reset(&c->reply);
        c->code = 0;
        return SMTPD_CHECK_DUNNO;
    }
    return SMTPD_CHECK_REJECT;
}

int smtpd_check_config_error(struct smtpd_check *c)
{
    int saved = c->warn_if_reject;

    c->warn_if_reject = 0;          /* a broken configuration is never just a warning */
    int r = smtpd_check_reject(c, 451, "4.3.5", "Server configuration error");
    c->warn_if_reject = saved;
    return r;
}

__attribute__((format(printf, 4, 0)))
static void defer_arm(struct smtpd_defer *d, int code, const char *dsn, const char *fmt,
                      va_list ap)
{
    if (d->active)
        return;                 /* the first reason in a stage is the one given */
    d->active = true;
    d->code = code;
    sbuf_reset(&d->reply);
    sbuf_printf(&d->reply, "%d %s ", code, dsn);
    sbuf_vprintf(&d->reply, fmt, ap);
    /* Given as is at the end of the stage: as for a rejection. */
    reply_tidy(&d->reply);
}

int smtpd_check_defer_if_permit(struct smtpd_check *c, int code, const char *dsn,
                                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (c->warn_if_reject) {
        /* postconf(5) warn_if_reject: the implicit deferral is only logged. */
        sbuf text = SBUF_INIT;
        sbuf_printf(&text, "%d %s ", code, dsn);
        sbuf_vprintf(&text, fmt, ap);
        smtpd_check_log(c, "reject_warning", sbuf_str(&text));
        sbuf_free(&text);
    } else {
        defer_arm(&c->defer_if_permit, code, dsn, fmt, ap);
    }
    va_end(ap);
    return SMTPD_CHECK_DUNNO;
}

int smtpd_check_defer_if_reject(struct smtpd_check *c, int code, const char *dsn,
                                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    defer_arm(&c->defer_if_reject, code, dsn, fmt, ap);
    va_end(ap);
    return SMTPD_CHECK_DUNNO;
}

int smtpd_check_tempfail(struct smtpd_check *c, const char *action_param, int code,
                         const char *dsn, const char *fmt, ...)
{
    const char *action = mail_conf_str(action_param);
    sbuf text = SBUF_INIT;
    va_list ap;
    int status;

    va_start(ap, fmt);
    sbuf_vprintf(&text, fmt, ap);
    va_end(ap);
    if (strcasecmp(action, "defer") == 0) {
        status = smtpd_check_reject(c, code, dsn, "%s", sbuf_str(&text));
    } else {
        if (strcasecmp(action, "defer_if_permit") != 0)
            msg_warn("%s: unknown value \"%s\"; using defer_if_permit", action_param, action);
        status = smtpd_check_defer_if_permit(c, code, dsn, "%s", sbuf_str(&text));
    }
    sbuf_free(&text);
    return status;
}

static int lookup_failure(struct smtpd_check *c, const char *what)
{
    return smtpd_check_reject(c, 451, "4.3.0", "<%s>: Temporary lookup failure", what);
}

/* ---- generic restrictions ---- */

static int r_permit(struct smtpd_check *c, const char *n, const char *a)
{
    (void) c; (void) n; (void) a;
    return SMTPD_CHECK_OK;
}

static int r_reject(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return smtpd_check_reject(c, (int) mail_conf_int("reject_code"), "5.7.1",
                              "<%s>: %s rejected: Access denied", c->reply_name, c->reply_class);
}

static int r_defer(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return smtpd_check_reject(c, (int) mail_conf_int("defer_code"), "4.3.2",
                              "<%s>: %s rejected: Try again later", c->reply_name, c->reply_class);
}

static int r_permit_mynetworks(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    int r = c->ops && c->ops->mynetworks ? c->ops->mynetworks(c->ops_ctx) : 0;
    if (r < 0)
        return lookup_failure(c, c->namaddr ? c->namaddr : "unknown");
    return r > 0 ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
}

static int r_permit_sasl(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return c->sasl_authenticated ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
}

/* ---- relay control ---- */

static int resolve_flags(struct smtpd_check *c, const char *addr)
{
    return c->ops && c->ops->resolve ? c->ops->resolve(c->ops_ctx, addr) : RESOLVE_CLASS_DEFAULT;
}

/* OK when the recipient is ours or one we relay to; -1 on lookup failure. */
static int auth_destination(struct smtpd_check *c)
{
    int flags = resolve_flags(c, c->recipient);

    if (flags & RESOLVE_FLAG_FAIL)
        return -1;
    if ((flags & RESOLVE_FLAG_ROUTED) && !mail_conf_bool("allow_untrusted_routing"))
        return 0;
    return (flags & (RESOLVE_CLASS_FINAL | RESOLVE_CLASS_RELAY)) ? 1 : 0;
}

int smtpd_check_auth_destination(struct smtpd_check *c)
{
    return c->recipient ? auth_destination(c) : 0;
}

static int r_permit_auth_destination(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    if (!c->recipient)
        return SMTPD_CHECK_DUNNO;
    int r = auth_destination(c);
    if (r < 0)
        return lookup_failure(c, c->recipient);
    return r ? SMTPD_CHECK_OK : SMTPD_CHECK_DUNNO;
}

static int unauth_destination(struct smtpd_check *c, int code, const char *dsn)
{
    if (!c->recipient)
        return SMTPD_CHECK_DUNNO;
    int r = auth_destination(c);
    if (r < 0)
        return lookup_failure(c, c->recipient);
    if (r > 0)
        return SMTPD_CHECK_DUNNO;
    return smtpd_check_reject(c, code, dsn, "<%s>: Relay access denied", c->recipient);
}

static int r_reject_unauth_destination(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return unauth_destination(c, (int) mail_conf_int("relay_domains_reject_code"), "5.7.1");
}

static int r_defer_unauth_destination(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    /* RFC 3463: 4.7.1, delivery not authorized, temporarily. */
    return unauth_destination(c, 454, "4.7.1");
}

static int r_check_relay_domains(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    if (!c->recipient)
        return SMTPD_CHECK_DUNNO;
    int r = auth_destination(c);
    if (r < 0)
        return lookup_failure(c, c->recipient);
    if (r > 0)
        return SMTPD_CHECK_OK;
    r = c->ops && c->ops->client_in_relay_domains
        ? c->ops->client_in_relay_domains(c->ops_ctx) : 0;
    if (r < 0)
        return lookup_failure(c, c->namaddr ? c->namaddr : "unknown");
    if (r > 0)
        return SMTPD_CHECK_OK;
    return smtpd_check_reject(c, (int) mail_conf_int("relay_domains_reject_code"), "5.7.1",
                              "<%s>: Relay access denied", c->recipient);
}

/* ---- syntax of names and addresses ---- */

static int r_non_fqdn_helo(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    if (!c->helo || address_is_ip_literal(c->helo) || address_is_fqdn_domain(c->helo))
        return SMTPD_CHECK_DUNNO;
    return smtpd_check_reject(c, (int) mail_conf_int("non_fqdn_reject_code"), "5.5.2",
                              "<%s>: Helo command rejected: need fully-qualified hostname",
                              c->helo);
}

static int r_invalid_helo(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    if (!c->helo || address_is_ip_literal(c->helo) || address_valid_hostname(c->helo))
        return SMTPD_CHECK_DUNNO;
    return smtpd_check_reject(c, (int) mail_conf_int("invalid_hostname_reject_code"), "5.5.2",
                              "<%s>: Helo command rejected: Invalid name", c->helo);
}

/* Postfix's test: the address must have a domain, and that domain must be
 * a fully-qualified name or an address literal. */
static bool addr_is_fqdn(const char *addr)
{
    const char *dom = address_domain(addr);
    if (!dom || !*dom)
        return false;
    return address_is_ip_literal(dom) || address_is_fqdn_domain(dom);
}

static int r_non_fqdn_sender(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    if (!c->sender || !*c->sender || addr_is_fqdn(c->sender))
        return SMTPD_CHECK_DUNNO;
    return smtpd_check_reject(c, (int) mail_conf_int("non_fqdn_reject_code"), "5.5.2",
                              "<%s>: Sender address rejected: need fully-qualified address",
                              c->sender);
}

static int r_non_fqdn_recipient(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    if (!c->recipient || addr_is_fqdn(c->recipient))
        return SMTPD_CHECK_DUNNO;
    return smtpd_check_reject(c, (int) mail_conf_int("non_fqdn_reject_code"), "5.5.2",
                              "<%s>: Recipient address rejected: need fully-qualified address",
                              c->recipient);
}

/* ---- listed addresses ---- */

static int unlisted(struct smtpd_check *c, const char *addr, bool sender)
{
    int code = 550;
    sbuf table = SBUF_INIT;
    int r = c->ops && c->ops->addr_known
        ? c->ops->addr_known(c->ops_ctx, addr, sender, &code, &table) : 1;
    int status = SMTPD_CHECK_DUNNO;

    if (r < 0) {
        status = lookup_failure(c, addr);
    } else if (r == 0) {
        bool show = mail_conf_bool("show_user_unknown_table_name");
        status = smtpd_check_reject(c, code, sender ? "5.1.0" : "5.1.1",
                                    "<%s>: %s address rejected: User unknown%s%s", addr,
                                    sender ? "Sender" : "Recipient",
                                    show && table.len ? " in " : "",
                                    show ? sbuf_str(&table) : "");
    }
    sbuf_free(&table);
    return status;
}

static int r_unlisted_recipient(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    if (!c->recipient || c->rcpt_listed_checked)
        return SMTPD_CHECK_DUNNO;
    c->rcpt_listed_checked = true;
    return unlisted(c, c->recipient, false);
}

static int r_unlisted_sender(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    if (!c->sender || !*c->sender || c->sender_listed_checked)
        return SMTPD_CHECK_DUNNO;
    c->sender_listed_checked = true;
    return unlisted(c, c->sender, true);
}

/* ---- more generic restrictions ---- */

static int r_defer_if_permit(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return smtpd_check_defer_if_permit(c, 451, "4.7.0", "<%s>: %s rejected: "
                                       "defer_if_permit requested", c->reply_name,
                                       c->reply_class);
}

static int r_defer_if_reject(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return smtpd_check_defer_if_reject(c, 451, "4.7.0", "<%s>: %s rejected: "
                                       "defer_if_reject requested", c->reply_name,
                                       c->reply_class);
}

static int r_sleep(struct smtpd_check *c, const char *n, const char *a)
{
    char *end;
    long secs = strtol(a, &end, 10);

    if (!isdigit((unsigned char) *a) || *end || secs > 3600) {
        msg_warn("restriction %s: bad argument \"%s\": expected seconds", n, a);
        return smtpd_check_config_error(c);
    }
    sleep((unsigned) secs);
    return SMTPD_CHECK_DUNNO;
}

static int r_unauth_pipelining(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    if (!c->unauth_pipelining)
        return SMTPD_CHECK_DUNNO;
    return smtpd_check_reject(c, 503, "5.5.0", "<%s>: %s rejected: Improper use of SMTP "
                              "command pipelining", c->reply_name, c->reply_class);
}

/* Null sender with more than one recipient: at DATA and END-OF-MESSAGE
 * the count is complete; at RCPT this refuses the second and later ones. */
static int r_multi_recipient_bounce(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    bool data_stage = c->stage && (strcmp(c->stage, "DATA") == 0
                                   || strcmp(c->stage, "END-OF-MESSAGE") == 0);
    if (!c->sender || *c->sender || c->rcpt_count < (data_stage ? 2 : 1))
        return SMTPD_CHECK_DUNNO;
    return smtpd_check_reject(c, (int) mail_conf_int("multi_recipient_bounce_reject_code"),
                              "5.5.3", "<%s>: %s rejected: Multi-recipient bounce",
                              c->reply_name, c->reply_class);
}

static int r_plaintext_session(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    if (c->tls)
        return SMTPD_CHECK_DUNNO;
    return smtpd_check_reject(c, (int) mail_conf_int("plaintext_reject_code"), "4.7.1",
                              "Session encryption is required");
}

static const struct smtpd_restriction builtin[] = {
    {"permit", 0, r_permit},
    {"reject", 0, r_reject},
    {"defer", 0, r_defer},
    {"defer_if_permit", 0, r_defer_if_permit},
    {"defer_if_reject", 0, r_defer_if_reject},
    {"sleep", SMTPD_R_ARG, r_sleep},
    {"reject_unauth_pipelining", 0, r_unauth_pipelining},
    {"reject_multi_recipient_bounce", 0, r_multi_recipient_bounce},
    {"reject_plaintext_session", 0, r_plaintext_session},
    {"permit_mynetworks", 0, r_permit_mynetworks},
    {"permit_sasl_authenticated", 0, r_permit_sasl},
    {"permit_auth_destination", 0, r_permit_auth_destination},
    {"reject_unauth_destination", 0, r_reject_unauth_destination},
    {"defer_unauth_destination", 0, r_defer_unauth_destination},
    {"check_relay_domains", 0, r_check_relay_domains},
    {"reject_non_fqdn_helo_hostname", 0, r_non_fqdn_helo},
    {"reject_non_fqdn_hostname", 0, r_non_fqdn_helo},
    {"reject_invalid_helo_hostname", 0, r_invalid_helo},
    {"reject_invalid_hostname", 0, r_invalid_helo},
    {"reject_non_fqdn_sender", 0, r_non_fqdn_sender},
    {"reject_non_fqdn_recipient", 0, r_non_fqdn_recipient},
    {"reject_unlisted_recipient", 0, r_unlisted_recipient},
    {"check_recipient_maps", 0, r_unlisted_recipient},
    {"reject_unlisted_sender", 0, r_unlisted_sender},
    {0, 0, 0},
};

static const struct smtpd_restriction *find_restriction(const char *name)
{
    for (const struct smtpd_restriction *r = builtin; r->name; r++)
        if (strcasecmp(r->name, name) == 0)
            return r;
    for (int i = 0; i < extra_count; i++)
        for (const struct smtpd_restriction *r = extra_tables[i]; r->name; r++)
            if (strcasecmp(r->name, name) == 0)
                return r;
    return 0;
}

/* Is name one of smtpd_restriction_classes? */
static bool is_restriction_class(const char *name)
{
    strv classes;
    bool found = false;

    strv_init(&classes);
    mail_conf_list("smtpd_restriction_classes", &classes);
    for (size_t i = 0; i < classes.n && !found; i++)
        found = strcmp(classes.v[i], name) == 0;
    strv_free(&classes);
    return found;
}

/* Evaluate restriction words in the current reply_name/class; where
 * names the parameter or table for warnings. */
static int eval_items(struct smtpd_check *c, const strv *items, const char *where)
{
    int status = SMTPD_CHECK_DUNNO;

    if (c->depth >= MAX_CLASS_DEPTH) {
        msg_warn("%s: restriction class nesting too deep", where);
        return smtpd_check_config_error(c);
    }
    c->depth++;
    for (size_t i = 0; status == SMTPD_CHECK_DUNNO && i < items->n; i++) {
        const char *name = items->v[i];
        const struct smtpd_restriction *r;

        if (strcasecmp(name, "warn_if_reject") == 0) {
            c->warn_if_reject = 1;
            continue;
        }
        if ((r = find_restriction(name)) != 0) {
            const char *arg = 0;
            if (r->flags & SMTPD_R_ARG) {
                if (i + 1 >= items->n) {
                    msg_warn("restriction %s in %s requires a table or argument", name, where);
                    status = smtpd_check_config_error(c);
                    break;
                }
                arg = items->v[++i];
            }
            status = r->fn(c, name, arg);
        } else if (is_restriction_class(name)) {
            status = smtpd_check_list(c, name, c->reply_name, c->reply_class);
        } else {
            msg_warn("unknown smtpd restriction: \"%s\"", name);
            status = smtpd_check_config_error(c);
        }
        c->warn_if_reject = 0;
    }
    c->depth--;
    return status;
}

int smtpd_check_items(struct smtpd_check *c, const strv *items, const char *where)
{
    return eval_items(c, items, where);
}

int smtpd_check_list(struct smtpd_check *c, const char *param, const char *reply_name,
                     const char *reply_class)
{
    strv items;
    const char *saved_name = c->reply_name, *saved_class = c->reply_class;

    c->reply_name = reply_name;
    c->reply_class = reply_class;
    strv_init(&items);
    mail_conf_list(param, &items);
    int status = eval_items(c, &items, param);
    strv_free(&items);
    c->reply_name = saved_name;
    c->reply_class = saved_class;
    return status;
}

/* Start a stage: warn_if_reject and defer_if_reject never carry over;
 * defer_if_permit carries over only when carry is set. */
static void stage_reset(struct smtpd_check *c, bool carry)
{
    c->warn_if_reject = 0;
    c->defer_if_reject.active = false;
    if (!carry)
        c->defer_if_permit.active = false;
}

/* End of a stage that decides: an armed defer_if_permit is the answer
 * unless something rejected. */
static int stage_end(struct smtpd_check *c, int status)
{
    if (status != SMTPD_CHECK_REJECT && c->defer_if_permit.active) {
        c->code = c->defer_if_permit.code;
        sbuf_set(&c->reply, sbuf_str(&c->defer_if_permit.reply));
        status = SMTPD_CHECK_REJECT;
    }
    return status;
}

/* Evaluate the list in parameter param as one stage. */
static int check_param(struct smtpd_check *c, const char *param, const char *reply_name,
                       const char *reply_class, bool carry)
{
    stage_reset(c, carry);
    return smtpd_check_list(c, param, reply_name, reply_class);
}

static int finish(struct smtpd_check *c, int status)
{
    if (status == SMTPD_CHECK_REJECT)
        check_log(c, "reject");
    return status;
}

static const char *client_subject(struct smtpd_check *c)
{
    return c->namaddr ? c->namaddr : "unknown";
}

static bool discarding(const struct smtpd_check *c)
{
    return c->actions && c->actions->discard;
}

int smtpd_check_client(struct smtpd_check *c)
{
    int status = check_param(c, "smtpd_client_restrictions", client_subject(c),
                             SMTPD_NAME_CLIENT, false);
    return finish(c, stage_end(c, status));
}

int smtpd_check_helo(struct smtpd_check *c)
{
    if (!c->helo)
        return SMTPD_CHECK_DUNNO;
    int status = check_param(c, "smtpd_helo_restrictions", c->helo, SMTPD_NAME_HELO, false);
    return finish(c, stage_end(c, status));
}

int smtpd_check_mail(struct smtpd_check *c)
{
    if (!c->sender)
        return SMTPD_CHECK_DUNNO;
    int status = check_param(c, "smtpd_sender_restrictions", c->sender, SMTPD_NAME_SENDER,
                             false);
    return finish(c, stage_end(c, status));
}

/* The restrictions that can refuse mail for other destinations. */
static bool has_relay_control(const char *param)
{
    static const char *const required[] = {
        "reject", "defer", "reject_unauth_destination", "defer_unauth_destination",
        "defer_if_permit", "check_relay_domains", 0};
    strv items;
    bool found = false;

    strv_init(&items);
    mail_conf_list(param, &items);
    for (size_t i = 0; i < items.n && !found; i++)
        for (int k = 0; required[k] && !found; k++)
            found = strcasecmp(items.v[i], required[k]) == 0;
    strv_free(&items);
    return found;
}

int smtpd_check_rcpt(struct smtpd_check *c)
{
    int status = SMTPD_CHECK_DUNNO;

    if (!c->recipient)
        return SMTPD_CHECK_DUNNO;
    c->rcpt_listed_checked = false;
    c->defer_if_permit.active = false;
    /* The message will be thrown away: nothing is delivered anywhere. */
    if (discarding(c))
        return SMTPD_CHECK_DUNNO;

    /* Postfix refuses to run as an open relay by accident. */
    if (!has_relay_control("smtpd_relay_restrictions")
        && !has_relay_control("smtpd_recipient_restrictions")) {
        msg_warn("in parameters smtpd_relay_restrictions and smtpd_recipient_restrictions, "
                 "specify at least one working instance of: reject_unauth_destination, "
                 "defer_unauth_destination, reject, defer, defer_if_permit or "
                 "check_relay_domains");
        return finish(c, smtpd_check_config_error(c));
    }

    /* Delayed stages: each resets its own state, a defer_if_permit is
     * carried to the end of the recipient stage. */
    if (mail_conf_bool("smtpd_delay_reject")) {
        status = check_param(c, "smtpd_client_restrictions", client_subject(c),
                             SMTPD_NAME_CLIENT, true);
        if (status != SMTPD_CHECK_REJECT && c->helo)
            status = check_param(c, "smtpd_helo_restrictions", c->helo, SMTPD_NAME_HELO, true);
        if (status != SMTPD_CHECK_REJECT && c->sender)
            status = check_param(c, "smtpd_sender_restrictions", c->sender,
                                 SMTPD_NAME_SENDER, true);
        if (status == SMTPD_CHECK_REJECT)
            return finish(c, status);
    }

    const char *first = "smtpd_relay_restrictions", *second = "smtpd_recipient_restrictions";
    if (!mail_conf_bool("smtpd_relay_before_recipient_restrictions")) {
        first = "smtpd_recipient_restrictions";
        second = "smtpd_relay_restrictions";
    }
    status = check_param(c, first, c->recipient, SMTPD_NAME_RECIPIENT, true);
    if (status != SMTPD_CHECK_REJECT) {
        c->warn_if_reject = 0;
        status = smtpd_check_list(c, second, c->recipient, SMTPD_NAME_RECIPIENT);
    }
    /* A discard decided by this recipient's checks accepts it. */
    if (status != SMTPD_CHECK_REJECT && discarding(c))
        return SMTPD_CHECK_DUNNO;
    /* A deferral comes before the implicit table checks, as in Postfix
     * (they are a separate step there). */
    status = stage_end(c, status);
    c->warn_if_reject = 0;
    if (status != SMTPD_CHECK_REJECT && mail_conf_bool("smtpd_reject_unlisted_recipient"))
        status = r_unlisted_recipient(c, "reject_unlisted_recipient", 0);
    if (status != SMTPD_CHECK_REJECT && c->sender && *c->sender
        && mail_conf_bool("smtpd_reject_unlisted_sender"))
        status = r_unlisted_sender(c, "reject_unlisted_sender", 0);
    return finish(c, status);
}

int smtpd_check_vrfy(struct smtpd_check *c)
{
    if (!c->recipient)
        return SMTPD_CHECK_DUNNO;
    c->rcpt_listed_checked = false;
    return finish(c, r_unlisted_recipient(c, "reject_unlisted_recipient", 0));
}

int smtpd_check_data(struct smtpd_check *c)
{
    if (discarding(c))
        return SMTPD_CHECK_DUNNO;
    int status = check_param(c, "smtpd_data_restrictions", "DATA", SMTPD_NAME_DATA, false);
    if (status != SMTPD_CHECK_REJECT && discarding(c))
        return SMTPD_CHECK_DUNNO;
    return finish(c, stage_end(c, status));
}

int smtpd_check_eod(struct smtpd_check *c)
{
    if (discarding(c))
        return SMTPD_CHECK_DUNNO;
    int status = check_param(c, "smtpd_end_of_data_restrictions", "END-OF-MESSAGE",
                             SMTPD_NAME_EOD, false);
    if (status != SMTPD_CHECK_REJECT && discarding(c))
        return SMTPD_CHECK_DUNNO;
    return finish(c, stage_end(c, status));
}

int smtpd_check_etrn(struct smtpd_check *c)
{
    const char *what = c->etrn_domain ? c->etrn_domain : "";
    int status = check_param(c, "smtpd_etrn_restrictions", what, SMTPD_NAME_ETRN, false);
    return finish(c, stage_end(c, status));
}
