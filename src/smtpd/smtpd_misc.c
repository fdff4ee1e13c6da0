/*
 * smtpd_misc.c - RSET, NOOP, QUIT (RFC 5321 4.1.1.5, 4.1.1.9, 4.1.1.10),
 * VRFY (4.1.1.6) and ETRN (RFC 1985).
 *
 * VRFY answers "252 2.0.0 ARG" for an address that may be deliverable
 * and refuses a local user missing from local_recipient_maps with the
 * same reply RCPT would give; disable_vrfy_command turns it off ("502
 * 5.5.1 VRFY command is disabled"). ETRN has no fast-flush service yet:
 * for a domain in fast_flush_domains it asks qmgr to retry its deferred
 * mail (the whole deferred queue, one 'F' on public/qmgr) and answers
 * "250 Queuing started"; other domains get "459 4.3.0 <domain>: service
 * unavailable".
 *
 * Does not: EXPN (not implemented, like Postfix).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/mail_trigger.h"
#include "mail/match_list.h"
#include "util/mem.h"
#include "util/msg.h"

#include "smtpd/smtpd.h"

int smtpd_rset_cmd(SMTPD_STATE *st, const char *args)
{
    if (*args) {
        smtpd_reply(st, "501 5.5.4 Syntax: RSET");
        return -1;
    }
    smtpd_mail_reset(st);
    smtpd_reply(st, "250 2.0.0 Ok");
    return 0;
}

int smtpd_noop_cmd(SMTPD_STATE *st, const char *args)
{
    (void) args;                /* RFC 5321 4.1.1.9: a parameter is ignored */
    smtpd_reply(st, "250 2.0.0 Ok");
    return 0;
}

int smtpd_quit_cmd(SMTPD_STATE *st, const char *args)
{
    (void) args;
    smtpd_reply(st, "221 2.0.0 Bye");
    st->done = true;
    return 0;
}

int smtpd_vrfy_cmd(SMTPD_STATE *st, const char *args)
{
    sbuf addr = SBUF_INIT, shown = SBUF_INIT;
    const char *rest = 0, *why = 0;
    int ret = 0;

    if (st->disable_vrfy) {
        smtpd_reply(st, "502 5.5.1 VRFY command is disabled");
        return -1;
    }
    if (st->helo_required && !st->helo_name) {
        smtpd_reply(st, "503 5.5.1 Error: send HELO/EHLO first");
        return -1;
    }
    if (!*args) {
        smtpd_reply(st, "501 5.5.4 Syntax: VRFY address");
        return -1;
    }
    if (st->access_denied) {
        smtpd_reply(st, "%s", st->access_denied);
        return -1;
    }
    if (*args == '<') {
        if (address_parse_smtp_path(args, false, &addr, &rest, &why) < 0 || addr.len == 0
            || (rest && *rest)) {
            smtpd_reply(st, "501 5.1.3 Bad recipient address syntax");
            sbuf_free(&addr);
            return -1;
        }
    } else {
        address_unquote(args, &addr);
    }
    smtpd_printable(&shown, args, strlen(args), 256);

    char *saved = st->recipient;
    struct smtpd_check chk;
    st->recipient = xstrdup(sbuf_str(&addr));
    smtpd_check_setup(st, &chk);
    if (smtpd_check_vrfy(&chk) == SMTPD_CHECK_REJECT) {
        smtpd_reply(st, "%s", sbuf_str(&chk.reply));
        ret = -1;
    } else {
        smtpd_reply(st, "252 2.0.0 %s", sbuf_str(&shown));
    }
    smtpd_check_free(&chk);
    xfree(st->recipient);
    st->recipient = saved;
    sbuf_free(&addr);
    sbuf_free(&shown);
    return ret;
}

/* One 'F' (flush deferred mail) to qmgr's public wake-up endpoint. */
static int wake_qmgr_flush(void)
{
    if (mail_trigger("public", "qmgr", "F", 1) < 0) {
        msg_warn("ETRN: cannot wake up qmgr: %m");
        return -1;
    }
    return 0;
}

int smtpd_etrn_cmd(SMTPD_STATE *st, const char *args)
{
    if (st->helo_required && !st->helo_name) {
        smtpd_reply(st, "503 5.5.1 Error: send HELO/EHLO first");
        return -1;
    }
    if (st->sender) {
        smtpd_reply(st, "503 5.5.1 Error: MAIL transaction in progress");
        return -1;
    }
    if (!*args) {
        smtpd_reply(st, "501 5.5.4 Syntax: ETRN domain");
        return -1;
    }
    /* RFC 1985: "@domain" (subdomains too) and "#queue" forms. */
    const char *domain = args;
    if (*domain == '@' || *domain == '#')
        domain++;
    if (!address_valid_hostname(domain)) {
        smtpd_reply(st, "501 5.5.4 Error: invalid parameter syntax");
        return -1;
    }
    if (st->access_denied) {
        smtpd_reply(st, "%s", st->access_denied);
        return -1;
    }
    struct smtpd_check chk;
    smtpd_check_setup(st, &chk);
    chk.etrn_domain = domain;
    int status = smtpd_check_etrn(&chk);
    if (status == SMTPD_CHECK_REJECT)
        smtpd_reply(st, "%s", sbuf_str(&chk.reply));
    smtpd_check_free(&chk);
    if (status == SMTPD_CHECK_REJECT)
        return -1;

    match_list *ff = match_list_open("fast_flush_domains", mail_conf_str("fast_flush_domains"));
    int listed = match_domain(ff, domain);
    match_list_free(ff);
    if (listed < 0) {
        smtpd_reply(st, "458 4.3.0 Unable to queue messages");
        return -1;
    }
    if (listed == 0) {
        smtpd_reply(st, "459 4.3.0 <%s>: service unavailable", domain);
        return -1;
    }
    if (wake_qmgr_flush() < 0) {
        smtpd_reply(st, "458 4.3.0 Unable to queue messages");
        return -1;
    }
    smtpd_reply(st, "250 Queuing started");
    return 0;
}
