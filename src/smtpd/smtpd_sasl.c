/*
 * smtpd_sasl.c - SMTP AUTH in the server (RFC 4954) and the restrictions
 * that depend on it.
 *
 * smtpd_sasl_auth_enable turns AUTH on (per service: the submission and
 * smtps lines of master.cf set it with -o). The Cyrus library is set up
 * once per process (smtpd_sasl_type, smtpd_sasl_path, whose .conf file is
 * looked up in cyrus_sasl_config_path); each session gets a connection
 * with smtpd_sasl_security_options, replaced after STARTTLS by one with
 * smtpd_sasl_tls_security_options. AUTH is not offered to clients in
 * smtpd_sasl_exceptions_networks, nor before STARTTLS with
 * smtpd_tls_auth_only. EHLO shows "AUTH mechs" (and "AUTH=mechs" with
 * broken_sasl_auth_clients) after smtpd_sasl_mechanism_filter.
 *
 * Replies and log lines, as Postfix:
 *   235 2.7.0 Authentication successful
 *   334 <base64 challenge>
 *   535 5.7.8 Error: authentication failed: <reason>
 *       + "warning: name[addr]: SASL LOGIN authentication failed: <reason>"
 *   501 5.7.0 Authentication aborted  (client sent "*")
 *   501 5.5.4 Syntax: AUTH mechanism
 *   503 5.5.1 Error: authentication not enabled / already authenticated /
 *       MAIL transaction in progress
 *   504 5.5.4 Encryption required for requested authentication mechanism
 *   500 5.5.6 SASL response limit exceeded
 * A successful login shows on the queue file's log line:
 *   "ID: client=name[addr], sasl_method=PLAIN, sasl_username=user".
 *
 * Restrictions (smtpd_sender_login_maps: sender address -> owner logins):
 *   reject_authenticated_sender_login_mismatch  logged in, and the sender
 *       is not owned by this login
 *   reject_unauthenticated_sender_login_mismatch  not logged in, and the
 *       sender has an owner
 *   reject_sender_login_mismatch  both of the above
 *   reject_known_sender_login_mismatch  logged in and the sender has other
 *       owners; or the unauthenticated case
 * with "553 5.7.1 <addr>: Sender address rejected: not owned by user U"
 * or "... not logged in".
 *
 * Does not: Cyrus itself (src/mail/sasl_server.c), smtpd_client_auth_rate_limit
 * (needs anvil).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/match_list.h"
#include "mail/sasl_server.h"
#include "util/mem.h"
#include "util/msg.h"

#include "smtpd/smtpd.h"

static bool proc_enabled;           /* Cyrus set up in this process */
static maps *login_maps;            /* smtpd_sender_login_maps, NULL when empty */
static match_list *exceptions;      /* smtpd_sasl_exceptions_networks */

/* ---- sender login restrictions ---- */

/* Does login own sender? 1 yes, 0 no, -1 lookup failure; *listed: the
 * sender has owners at all. */
static int owns(const char *sender, const char *login, bool *listed)
{
    int err = 0;
    const char *owners;

    *listed = false;
    if (!login_maps)
        return 0;
    owners = maps_find_addr(login_maps, sender, -1, &err, 0);
    if (!owners)
        return err ? -1 : 0;
    *listed = true;
    strv list;
    strv_init(&list);
    strv_split(&list, owners, STRV_LIST_DELIMS);
    int found = 0;
    for (size_t i = 0; i < list.n && !found; i++)
        found = strcasecmp(list.v[i], login) == 0;
    strv_free(&list);
    return found;
}

enum { MISMATCH_AUTH = 1, MISMATCH_UNAUTH = 2, MISMATCH_KNOWN = 4 };

static int login_mismatch(struct smtpd_check *c, int which)
{
    SMTPD_STATE *st = c->ops_ctx;
    bool listed;

    if (!st || !c->sender || !*c->sender)
        return SMTPD_CHECK_DUNNO;
    const char *login = st->sasl_username;
    int r = owns(c->sender, login ? login : "", &listed);
    if (r < 0)
        return smtpd_check_reject(c, 451, "4.3.0", "<%s>: Temporary lookup failure", c->sender);
    if (login && (which & MISMATCH_AUTH) && r == 0 && (!(which & MISMATCH_KNOWN) || listed))
        return smtpd_check_reject(c, 553, "5.7.1",
                                  "<%s>: Sender address rejected: not owned by user %s",
                                  c->sender, login);
    if (!login && (which & MISMATCH_UNAUTH) && listed)
        return smtpd_check_reject(c, 553, "5.7.1",
                                  "<%s>: Sender address rejected: not logged in", c->sender);
    return SMTPD_CHECK_DUNNO;
}

static int r_sender_login_mismatch(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return login_mismatch(c, MISMATCH_AUTH | MISMATCH_UNAUTH);
}

static int r_auth_sender_login_mismatch(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return login_mismatch(c, MISMATCH_AUTH);
}

static int r_unauth_sender_login_mismatch(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return login_mismatch(c, MISMATCH_UNAUTH);
}

static int r_known_sender_login_mismatch(struct smtpd_check *c, const char *n, const char *a)
{
    (void) n; (void) a;
    return login_mismatch(c, MISMATCH_AUTH | MISMATCH_UNAUTH | MISMATCH_KNOWN);
}

static const struct smtpd_restriction sasl_restrictions[] = {
    {"reject_sender_login_mismatch", 0, r_sender_login_mismatch},
    {"reject_authenticated_sender_login_mismatch", 0, r_auth_sender_login_mismatch},
    {"reject_unauthenticated_sender_login_mismatch", 0, r_unauth_sender_login_mismatch},
    {"reject_known_sender_login_mismatch", 0, r_known_sender_login_mismatch},
    {0, 0, 0},
};

/* ---- set-up ---- */

void smtpd_sasl_pre_init(void)
{
    static char path[256];

    smtpd_check_register(sasl_restrictions);
    if (*mail_conf_str("smtpd_sender_login_maps"))
        login_maps = maps_open("smtpd_sender_login_maps", mail_conf_str("smtpd_sender_login_maps"),
                               DICT_FLAG_DEFAULT);
    if (!mail_conf_bool("smtpd_sasl_auth_enable"))
        return;
    if (*mail_conf_str("smtpd_sasl_exceptions_networks"))
        exceptions = match_list_open("smtpd_sasl_exceptions_networks",
                                     mail_conf_str("smtpd_sasl_exceptions_networks"));
    /* smtpd_sasl_path; smtpd_sasl_application_name is its old name. */
    const char *p = mail_conf_is_set("smtpd_sasl_path") || !mail_conf_is_set(
                        "smtpd_sasl_application_name")
                    ? mail_conf_str("smtpd_sasl_path")
                    : mail_conf_str("smtpd_sasl_application_name");
    snprintf(path, sizeof(path), "%s", p);
    sbuf err = SBUF_INIT;
    if (sasl_server_lib_init(mail_conf_str("smtpd_sasl_type"), path, &err) < 0)
        msg_warn("%s: SASL authentication is disabled", sbuf_str(&err));
    else
        proc_enabled = true;
    sbuf_free(&err);
}

void smtpd_sasl_session_init(SMTPD_STATE *st)
{
    struct sasl_server_params p;
    sbuf err = SBUF_INIT;

    st->sasl_enabled = false;
    if (!proc_enabled || !mail_conf_bool("smtpd_sasl_auth_enable"))
        return;
    if (exceptions && match_host(exceptions, st->name, st->addr) > 0)
        return;
    p.service = mail_conf_str("smtpd_sasl_service");
    p.server_fqdn = st->myhostname;
    p.user_realm = mail_conf_str("smtpd_sasl_local_domain");
    p.security_options = mail_conf_str(st->tls ? "smtpd_sasl_tls_security_options"
                                               : "smtpd_sasl_security_options");
    if ((st->sasl = sasl_server_create(&p, &err)) == 0) {
        msg_warn("%s: %s: SASL authentication is not available", st->namaddr, sbuf_str(&err));
    } else {
        st->sasl_enabled = true;
    }
    sbuf_free(&err);
}

static void logout(SMTPD_STATE *st)
{
    xfree(st->sasl_method);
    xfree(st->sasl_username);
    st->sasl_method = st->sasl_username = 0;
}

void smtpd_sasl_session_end(SMTPD_STATE *st)
{
    logout(st);
    xfree(st->sasl_sender);
    st->sasl_sender = 0;
    sasl_server_free(st->sasl);
    st->sasl = 0;
    st->sasl_enabled = false;
}

/* smtpd_sasl_mechanism_filter: "!name" drops, plain names keep, a
 * "type:table" entry (Postfix's "static:rest") keeps the rest; the
 * first entry that matches decides. */
static bool mech_allowed(const char *mech)
{
    strv filter;
    int verdict = -1;               /* -1: no entry matched */

    strv_init(&filter);
    mail_conf_list("smtpd_sasl_mechanism_filter", &filter);
    if (filter.n == 0)
        verdict = 1;                /* no filter: everything */
    for (size_t i = 0; i < filter.n && verdict < 0; i++) {
        const char *f = filter.v[i];
        if (f[0] == '!' && strcasecmp(f + 1, mech) == 0)
            verdict = 0;
        else if (f[0] != '!' && (strchr(f, ':') || strcasecmp(f, mech) == 0))
            verdict = 1;            /* a table ("static:rest") matches anything */
    }
    strv_free(&filter);
    return verdict == 1;
}

static void offered_mechs(SMTPD_STATE *st, sbuf *out)
{
    const char *all = st->sasl ? sasl_server_mechs(st->sasl) : 0;
    strv list;

    sbuf_reset(out);
    if (!all)
        return;
    strv_init(&list);
    strv_split(&list, all, " ");
    for (size_t i = 0; i < list.n; i++)
        if (mech_allowed(list.v[i]))
            sbuf_printf(out, "%s%s", out->len ? " " : "", list.v[i]);
    strv_free(&list);
}

void smtpd_sasl_ehlo(SMTPD_STATE *st, strv *keywords, strv *lines)
{
    sbuf mechs = SBUF_INIT, line = SBUF_INIT;

    if (!st->sasl_enabled || (st->tls_auth_only && !st->tls))
        return;
    offered_mechs(st, &mechs);
    if (!mechs.len) {
        sbuf_free(&mechs);
        return;
    }
    sbuf_printf(&line, "AUTH %s", sbuf_str(&mechs));
    strv_add(keywords, "AUTH");
    strv_add(lines, sbuf_str(&line));
    if (mail_conf_bool("broken_sasl_auth_clients")) {
        sbuf_reset(&line);
        sbuf_printf(&line, "AUTH=%s", sbuf_str(&mechs));
        strv_add(keywords, "AUTH");
        strv_add(lines, sbuf_str(&line));
    }
    sbuf_free(&mechs);
    sbuf_free(&line);
}

int smtpd_auth_cmd(SMTPD_STATE *st, const char *args)
{
    char mech[64];
    const char *initial = 0;
    sbuf reply = SBUF_INIT;
    int r, ret = -1;

    if (st->helo_required && !st->helo_name) {
        smtpd_reply(st, "503 5.5.1 Error: send HELO/EHLO first");
        return -1;
    }
    if (!st->sasl_enabled) {
        smtpd_reply(st, "503 5.5.1 Error: authentication not enabled");
        return -1;
    }
    if (st->tls_auth_only && !st->tls) {
        /* RFC 4954 4 */
        smtpd_reply(st, "504 5.5.4 Encryption required for requested authentication mechanism");
        return -1;
    }
    if (st->sasl_username) {
        smtpd_reply(st, "503 5.5.1 Error: already authenticated");
        return -1;
    }
    if (st->sender) {
        smtpd_reply(st, "503 5.5.1 Error: MAIL transaction in progress");
        return -1;
    }
    /* AUTH mechanism [initial-response] */
    size_t mlen = strcspn(args, " \t");
    const char *rest = args + mlen;
    rest += strspn(rest, " \t");
    if (mlen == 0 || mlen >= sizeof(mech) || strpbrk(rest, " \t")) {
        smtpd_reply(st, "501 5.5.4 Syntax: AUTH mechanism");
        return -1;
    }
    memcpy(mech, args, mlen);
    mech[mlen] = 0;
    for (char *p = mech; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char) (*p - 'a' + 'A');
    if (*rest)
        initial = rest;
    if (!mech_allowed(mech)) {
        r = SASL_SRV_FAIL;
        sbuf_set(&reply, "Invalid authentication mechanism");
    } else {
        r = sasl_server_first(st->sasl, mech, initial, &reply);
    }
    size_t limit = (size_t) mail_conf_int("smtpd_sasl_response_limit");
    while (r == SASL_SRV_MORE) {
        smtpd_reply(st, "334 %s", sbuf_str(&reply));
        int how = vstream_get_line(st->client, &st->line, limit);
        if (how == VSTREAM_LINE_ERR || how == VSTREAM_LINE_EOF) {
            if (vstream_timed_out(st->client)) {
                msg_info("timeout after AUTH from %s", st->namaddr);
                vstream_clearerr(st->client);
                smtpd_reply(st, "421 4.4.2 %s Error: timeout exceeded", st->myhostname);
            } else {
                msg_info("lost connection after AUTH from %s", st->namaddr);
            }
            st->done = true;
            goto out;
        }
        if (how == VSTREAM_LINE_LONG) {
            vstream_skip_line(st->client);
            smtpd_reply(st, "500 5.5.6 SASL response limit exceeded");
            goto out;
        }
        const char *line = st->line.s ? st->line.s : "";
        if (strcmp(line, "*") == 0) {
            msg_warn("%s: SASL %s authentication aborted", st->namaddr, mech);
            smtpd_reply(st, "501 5.7.0 Authentication aborted");
            goto out;
        }
        r = sasl_server_next(st->sasl, line, &reply);
    }
    if (r != SASL_SRV_DONE) {
        msg_warn("%s: SASL %s authentication failed: %s", st->namaddr, mech, sbuf_str(&reply));
        smtpd_reply(st, "535 5.7.8 Error: authentication failed: %s", sbuf_str(&reply));
        goto out;
    }
    smtpd_reply(st, "235 2.7.0 Authentication successful");
    st->sasl_username = xstrdup(sasl_server_username(st->sasl));
    st->sasl_method = xstrdup(mech);
    ret = 0;
out:
    if (st->line.s)         /* the line may have held a password */
        memset(st->line.s, 0, st->line.len);
    sbuf_free(&reply);
    return ret;
}

const char *smtpd_sasl_mail_opt(SMTPD_STATE *st, const char *value)
{
    if (!st->sasl_enabled)
        return "503 5.5.4 Error: authentication disabled";
    if (st->sasl_sender)
        return "503 5.5.4 Error: multiple AUTH= options";
    if (strcmp(value, "<>") != 0) {
        /* RFC 4954 5: xtext; kept printable for the log. */
        sbuf dec = SBUF_INIT;
        if (smtpd_xtext_decode(value, &dec) < 0)
            sbuf_set(&dec, value);
        st->sasl_sender = sbuf_steal(&dec);
        for (char *p = st->sasl_sender; *p; p++)
            if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                *p = '?';
    }
    return 0;
}

void smtpd_sasl_log_suffix(const SMTPD_STATE *st, sbuf *out)
{
    if (st->sasl_method)
        sbuf_printf(out, ", sasl_method=%s", st->sasl_method);
    if (st->sasl_username)
        sbuf_printf(out, ", sasl_username=%s", st->sasl_username);
    if (st->sasl_sender)
        sbuf_printf(out, ", sasl_sender=%s", st->sasl_sender);
}
