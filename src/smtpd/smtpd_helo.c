/*
 * smtpd_helo.c - HELO and EHLO (RFC 5321 4.1.1.1, RFC 1869).
 *
 * Both reset any mail transaction (RFC 5321 4.1.4), remember the name
 * the client gave and the protocol ("SMTP" or "ESMTP", used in
 * Received: and log lines). EHLO lists the extensions in Postfix's
 * order: PIPELINING, SIZE, VRFY, ETRN, STARTTLS (smtpd_tls.c decides),
 * AUTH and AUTH= (smtpd_sasl.c), ENHANCEDSTATUSCODES, 8BITMIME, DSN,
 * SMTPUTF8. Keywords in smtpd_discard_ehlo_keywords are left out (and
 * logged, unless the list contains "silent-discard"). With
 * smtpd_delay_reject = no, smtpd_helo_restrictions run here.
 *
 * Does not: CHUNKING (not offered yet).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/mail_conf.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#include "smtpd/smtpd.h"
#include "smtpd/smtpd_milter.h"

/* Helo restrictions at HELO time (smtpd_delay_reject = no). 0 or -1. */
static int helo_early_check(SMTPD_STATE *st, const char *name)
{
    struct smtpd_check chk;
    int status;

    if (mail_conf_bool("smtpd_delay_reject"))
        return 0;
    smtpd_check_setup(st, &chk);
    chk.helo = name;
    status = smtpd_check_helo(&chk);
    if (status == SMTPD_CHECK_REJECT)
        smtpd_reply(st, "%s", sbuf_str(&chk.reply));
    smtpd_check_free(&chk);
    return status == SMTPD_CHECK_REJECT ? -1 : 0;
}

static int helo_common(SMTPD_STATE *st, const char *args, const char *verb)
{
    if (!*args) {
        smtpd_reply(st, "501 5.5.4 Syntax: %s hostname", verb);
        return -1;
    }
    if (helo_early_check(st, args) < 0)
        return -1;
    smtpd_mail_reset(st);
    if (smtpd_milter_helo(st, args) < 0)   /* smtpd_milters: only a 421 refuses */
        return -1;
    xfree(st->helo_name);
    st->helo_name = xstrdup(args);
    return 0;
}

int smtpd_helo_cmd(SMTPD_STATE *st, const char *args)
{
    if (helo_common(st, args, "HELO") < 0)
        return -1;
    st->protocol = "SMTP";
    st->pipelining = false;
    smtpd_reply(st, "250 %s", st->myhostname);
    return 0;
}

static bool discarded(const strv *discard, const char *keyword)
{
    for (size_t i = 0; i < discard->n; i++)
        if (strcasecmp(discard->v[i], keyword) == 0)
            return true;
    return false;
}

int smtpd_ehlo_cmd(SMTPD_STATE *st, const char *args)
{
    strv lines, discard;
    sbuf dropped = SBUF_INIT;
    char size[64];

    if (helo_common(st, args, "EHLO") < 0)
        return -1;
    st->protocol = "ESMTP";

    strv_init(&lines);
    strv_init(&discard);
    mail_conf_list("smtpd_discard_ehlo_keywords", &discard);

    struct { const char *keyword; const char *text; bool offer; } ext[] = {
        {"PIPELINING", "PIPELINING", true},
        {"SIZE", size, true},
        {"VRFY", "VRFY", !st->disable_vrfy},
        {"ETRN", "ETRN", true},
        {"STARTTLS", "STARTTLS", st->tls_offer && !st->tls},
        {"AUTH", 0, true},          /* 0: the lines come from smtpd_sasl_ehlo() */
        {"ENHANCEDSTATUSCODES", "ENHANCEDSTATUSCODES", true},
        {"8BITMIME", "8BITMIME", true},
        {"DSN", "DSN", true},
        {"SMTPUTF8", "SMTPUTF8", st->smtputf8},
    };
    /* RFC 1870: SIZE without a number when there is no fixed limit. */
    if (st->size_limit > 0)
        snprintf(size, sizeof(size), "SIZE %lld", st->size_limit);
    else
        snprintf(size, sizeof(size), "SIZE");

    strv_add(&lines, st->myhostname);
    st->pipelining = false;
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
        if (!ext[i].offer)
            continue;
        if (!ext[i].text) {
            strv kw, auth;
            strv_init(&kw);
            strv_init(&auth);
            smtpd_sasl_ehlo(st, &kw, &auth);
            if (auth.n && discarded(&discard, ext[i].keyword))
                sbuf_printf(&dropped, "%s%s", dropped.len ? " " : "", ext[i].keyword);
            else
                for (size_t k = 0; k < auth.n; k++)
                    strv_add(&lines, auth.v[k]);
            strv_free(&kw);
            strv_free(&auth);
            continue;
        }
        if (discarded(&discard, ext[i].keyword)) {
            sbuf_printf(&dropped, "%s%s", dropped.len ? " " : "", ext[i].keyword);
            continue;
        }
        strv_add(&lines, ext[i].text);
        if (strcmp(ext[i].keyword, "PIPELINING") == 0)
            st->pipelining = true;
    }
    if (dropped.len && !discarded(&discard, "silent-discard"))
        msg_info("discarding EHLO keywords: %s", sbuf_str(&dropped));
    for (size_t i = 0; i < lines.n; i++)
        smtpd_reply(st, "250%c%s", i + 1 < lines.n ? '-' : ' ', lines.v[i]);
    strv_free(&lines);
    strv_free(&discard);
    sbuf_free(&dropped);
    return 0;
}
