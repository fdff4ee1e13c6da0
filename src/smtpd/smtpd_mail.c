/*
 * smtpd_mail.c - MAIL FROM (RFC 5321 4.1.1.2) and its ESMTP parameters:
 * SIZE (RFC 1870), BODY (RFC 6152), RET and ENVID (RFC 3461), SMTPUTF8
 * (RFC 6531); and the transaction reset shared by RSET, HELO/EHLO and
 * the end of DATA.
 *
 * A declared SIZE above message_size_limit is refused here, before any
 * data is sent ("552 5.3.4 Message size exceeds fixed limit"). With
 * smtpd_delay_reject = no the client refusal found at connect time and
 * smtpd_sender_restrictions are applied here; otherwise they wait for
 * RCPT (smtpd_check_rcpt).
 *
 * Too little room in the queue file system is "452 4.3.1 Insufficient
 * system storage" (queue_minfree, smtpd_space.c).
 *
 * The queue file is opened by the first accepted RCPT, or here when
 * smtpd_delay_open_until_valid_rcpt = no.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/address.h"
#include "mail/mail_conf.h"
#include "util/mem.h"
#include "util/msg.h"

#include "smtpd/smtpd.h"
#include "smtpd/smtpd_milter.h"
#include "smtpd/smtpd_space.h"

#define DSN_ENVID_MAX 100       /* RFC 3461 4.4 */

void smtpd_mail_reset(SMTPD_STATE *st)
{
    smtpd_milter_reset(st);         /* SMFIC_ABORT to filters in a transaction */
    if (st->cleanup) {
        cleanup_abort(st->cleanup);
        st->cleanup = 0;
    }
    st->queue_id[0] = 0;
    xfree(st->sender);
    st->sender = 0;
    xfree(st->recipient);
    st->recipient = 0;
    xfree(st->dsn_envid);
    st->dsn_envid = 0;
    xfree(st->sasl_sender);
    st->sasl_sender = 0;
    st->dsn_ret = 0;
    st->encoding = 0;
    st->decl_size = 0;
    st->smtputf8_requested = false;
    st->rcpt_count = 0;
    st->rcpt_overshoot = 0;
    smtpd_actions_reset(st);        /* HOLD, DISCARD ...; a new policy instance */
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')       /* RFC 3461 says upper case; be lenient */
        return c - 'a' + 10;
    return -1;
}

/* RFC 3461 4: xtext = *( xchar / "+" 2HEXDIG ), xchar = "!".."~" except "+" "=". */
int smtpd_xtext_decode(const char *in, sbuf *out)
{
    sbuf_reset(out);
    for (const char *p = in; *p; p++) {
        int c = (unsigned char) *p;
        if (c == '+') {
            int hi = hexval((unsigned char) p[1]), lo = hi < 0 ? -1 : hexval((unsigned char) p[2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            p += 2;
        } else if (c < '!' || c > '~' || c == '=') {
            return -1;
        }
        if (c < ' ' || c > '~')
            return -1;      /* decoded text must be printable */
        sbuf_addc(out, c);
    }
    return 0;
}

/* Digits only, no sign, no overflow. */
static int parse_size(const char *s, long long *out)
{
    char *end;
    if (!isdigit((unsigned char) *s))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* Parse the ESMTP parameters after the path. 0, or -1 after replying. */
static int mail_params(SMTPD_STATE *st, const char *rest)
{
    char *copy = xstrdup(rest);
    char *save = 0;
    sbuf buf = SBUF_INIT;
    int ret = 0;

    for (char *p = strtok_r(copy, " \t", &save); p && ret == 0; p = strtok_r(0, " \t", &save)) {
        if (strncasecmp(p, "SIZE=", 5) == 0) {
            if (st->decl_size || parse_size(p + 5, &st->decl_size) < 0) {
                smtpd_reply(st, "501 5.5.4 Bad message size syntax");
                ret = -1;
            }
        } else if (strncasecmp(p, "BODY=", 5) == 0) {
            if (strcasecmp(p + 5, "8BITMIME") == 0 && !st->encoding) {
                st->encoding = "8BITMIME";
            } else if (strcasecmp(p + 5, "7BIT") == 0 && !st->encoding) {
                st->encoding = "7BIT";
            } else {
                smtpd_reply(st, "501 5.5.4 Unsupported BODY parameter value");
                ret = -1;
            }
        } else if (strncasecmp(p, "RET=", 4) == 0) {
            if (!st->dsn_ret && strcasecmp(p + 4, "FULL") == 0) {
                st->dsn_ret = "FULL";
            } else if (!st->dsn_ret && strcasecmp(p + 4, "HDRS") == 0) {
                st->dsn_ret = "HDRS";
            } else {
                smtpd_reply(st, "501 5.5.4 Bad RET parameter syntax");
                ret = -1;
            }
        } else if (strncasecmp(p, "ENVID=", 6) == 0) {
            if (st->dsn_envid || smtpd_xtext_decode(p + 6, &buf) < 0 || buf.len == 0
                || buf.len > DSN_ENVID_MAX) {
                smtpd_reply(st, "501 5.5.4 Bad ENVID parameter syntax");
                ret = -1;
            } else {
                st->dsn_envid = xstrdup(sbuf_str(&buf));
            }
        } else if (strcasecmp(p, "SMTPUTF8") == 0 && st->smtputf8) {
            st->smtputf8_requested = true;
        } else if (strncasecmp(p, "AUTH=", 5) == 0 && st->sasl_enabled) {
            /* RFC 4954 5 */
            const char *why = smtpd_sasl_mail_opt(st, p + 5);
            if (why) {
                smtpd_reply(st, "%s", why);
                ret = -1;
            }
        } else {
            sbuf shown = SBUF_INIT;
            smtpd_printable(&shown, p, strlen(p), 100);
            smtpd_reply(st, "555 5.5.4 Unsupported option: %s", sbuf_str(&shown));
            sbuf_free(&shown);
            ret = -1;
        }
    }
    xfree(copy);
    sbuf_free(&buf);
    return ret;
}

int smtpd_mail_cmd(SMTPD_STATE *st, const char *args)
{
    sbuf addr = SBUF_INIT;
    const char *rest = 0, *why = 0;

    if (st->helo_required && !st->helo_name) {
        smtpd_reply(st, "503 5.5.1 Error: send HELO/EHLO first");
        return -1;
    }
    if (st->sender) {
        smtpd_reply(st, "503 5.5.1 Error: nested MAIL command");
        return -1;
    }
    if (strncasecmp(args, "FROM:", 5) != 0 || !args[5 + strspn(args + 5, " \t")]) {
        smtpd_reply(st, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return -1;
    }
    args += 5;
    args += strspn(args, " \t");
    if (address_parse_smtp_path(args, st->strict_821, &addr, &rest, &why) < 0) {
        smtpd_reply(st, "501 5.1.7 Bad sender address syntax");
        sbuf_free(&addr);
        return -1;
    }
    /* From here on the parameters fill the transaction; undo on error. */
    if (mail_params(st, rest ? rest : "") < 0) {
        smtpd_mail_reset(st);
        sbuf_free(&addr);
        return -1;
    }
    if (!mail_conf_bool("smtpd_delay_reject")) {
        if (st->access_denied) {
            smtpd_reply(st, "%s", st->access_denied);
            smtpd_mail_reset(st);
            sbuf_free(&addr);
            return -1;
        }
        struct smtpd_check chk;
        st->sender = xstrdup(sbuf_str(&addr));      /* for the reject log line */
        smtpd_check_setup(st, &chk);
        int status = smtpd_check_mail(&chk);
        if (status == SMTPD_CHECK_REJECT)
            smtpd_reply(st, "%s", sbuf_str(&chk.reply));
        smtpd_check_free(&chk);
        if (status == SMTPD_CHECK_REJECT) {
            smtpd_mail_reset(st);
            sbuf_free(&addr);
            return -1;
        }
        xfree(st->sender);
        st->sender = 0;
    }
    /* RFC 1870 6.2: refuse a message known to be too big right away. */
    if (st->size_limit > 0 && st->decl_size > st->size_limit) {
        smtpd_reply(st, "552 5.3.4 Message size exceeds fixed limit");
        smtpd_mail_reset(st);
        sbuf_free(&addr);
        return -1;
    }
    /* queue_minfree: "452 4.3.1 Insufficient system storage" (smtpd_space.c). */
    if (smtpd_space_check(st) < 0) {
        smtpd_mail_reset(st);
        sbuf_free(&addr);
        return -1;
    }
    st->sender = sbuf_steal(&addr);
    st->arrival = time(0);
    if (!mail_conf_bool("smtpd_delay_open_until_valid_rcpt") && smtpd_open_queue_file(st) < 0) {
        smtpd_mail_reset(st);
        return -1;
    }
    /* smtpd_milters: the MAIL event, with the sender known to its macros. */
    if (smtpd_milter_mail(st, rest) < 0) {
        smtpd_mail_reset(st);
        return -1;
    }
    smtpd_reply(st, "250 2.1.0 Ok");
    return 0;
}
