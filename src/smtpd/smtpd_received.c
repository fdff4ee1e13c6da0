/*
 * smtpd_received.c - the Received: header smtpd adds (RFC 5321 4.4), with
 * mail_date.h's RFC 5322 date.
 *
 * Postfix's layout, with $mail_name in the "by" comment:
 *   Received: from HELO (NAME [ADDR])
 *           by MYHOSTNAME (MAIL_NAME) with ESMTP id QUEUEID
 *           for <RCPT>; DATE                  (exactly one recipient)
 * or, with several recipients:
 *           by MYHOSTNAME (MAIL_NAME) with ESMTP id QUEUEID;
 *           DATE
 * Continuation lines start with a TAB. Without HELO the client name
 * stands in for it; an IPv6 address is written "IPv6:addr". The
 * recipient is quoted as in SMTP (address_quote).
 *
 * Between the "from" and "by" lines come, when enabled, the TLS clause
 * (smtpd_tls_received_header, smtpd_tls.c) and "(Authenticated sender:
 * LOGIN)" (smtpd_sasl_authenticated_header). The "with" protocol is
 * RFC 3848's: ESMTPS over TLS, ESMTPA after AUTH, ESMTPSA with both.
 *
 * Does not: write anything (the caller sends the text to cleanup).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/mail_date.h"
#include "smtpd/smtpd.h"

void smtpd_received(const SMTPD_STATE *st, time_t when, sbuf *out)
{
    sbuf date = SBUF_INIT;
    const char *mail_name = mail_conf_str("mail_name");

    char proto[16];

    mail_date(when, &date);
    sbuf_printf(out, "Received: from %s (%s [%s])\n",
                st->helo_name ? st->helo_name : st->name, st->name, st->rfc_addr);
    smtpd_tls_received(st, out);
    if (st->sasl_username && mail_conf_bool("smtpd_sasl_authenticated_header"))
        sbuf_printf(out, "\t(Authenticated sender: %s)\n", st->sasl_username);
    /* RFC 3848 */
    snprintf(proto, sizeof(proto), "%s%s%s", st->protocol,
             strcmp(st->protocol, "ESMTP") == 0 && st->tls ? "S" : "",
             strcmp(st->protocol, "ESMTP") == 0 && st->sasl_username ? "A" : "");
    if (st->rcpt_count == 1 && st->recipient) {
        sbuf quoted = SBUF_INIT;
        address_quote(st->recipient, &quoted);
        sbuf_printf(out, "\tby %s (%s) with %s id %s\n", st->myhostname, mail_name,
                    proto, st->queue_id);
        sbuf_printf(out, "\tfor <%s>; %s\n", sbuf_str(&quoted), sbuf_str(&date));
        sbuf_free(&quoted);
    } else {
        sbuf_printf(out, "\tby %s (%s) with %s id %s;\n", st->myhostname, mail_name,
                    proto, st->queue_id);
        sbuf_printf(out, "\t%s\n", sbuf_str(&date));
    }
    sbuf_free(&date);
}
