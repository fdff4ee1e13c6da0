/*
 * smtp_param.c - protocol-dependent parameter names; the "why" record.
 *
 * The same code serves SMTP and LMTP: a parameter is named by its suffix
 * and read as smtp_<suffix> or lmtp_<suffix> (see smtp.h). A why is the
 * reason a recipient is not delivered yet: status code, log text, relay
 * and the server's reply for RFC 3464 reports.
 * Not here: reading requests or writing statuses (smtp.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mail/mail_conf.h"
#include "smtp/smtp.h"

bool smtp_lmtp;

/* ---- parameters ---- */

const char *smtp_pname(const char *suffix)
{
    static char name[128];
    if (smtp_lmtp) {
        const char *s = suffix;
        if (strcmp(s, "helo_name") == 0)
            s = "lhlo_name";
        else if (strcmp(s, "helo_timeout") == 0)
            s = "lhlo_timeout";
        else if (strcmp(s, "discard_ehlo_keywords") == 0)
            s = "discard_lhlo_keywords";
        snprintf(name, sizeof(name), "lmtp_%s", s);
        if (mail_conf_raw(name))
            return name;
    }
    snprintf(name, sizeof(name), "smtp_%s", suffix);
    return name;
}

const char *smtp_param_str(const char *suffix)
{
    return mail_conf_str(smtp_pname(suffix));
}

long smtp_param_int(const char *suffix)
{
    return mail_conf_int(smtp_pname(suffix));
}

int smtp_param_bool(const char *suffix)
{
    return mail_conf_bool(smtp_pname(suffix));
}

int smtp_param_ms(const char *suffix)
{
    long sec = mail_conf_time(smtp_pname(suffix));
    if (sec <= 0)
        return -1;
    if (sec > 86400)
        sec = 86400;
    return (int) (sec * 1000);
}

/* ---- why ---- */

void smtp_why_init(struct smtp_why *w)
{
    memset(w, 0, sizeof(*w));
}

void smtp_why_free(struct smtp_why *w)
{
    sbuf_free(&w->reason);
    sbuf_free(&w->relay);
    sbuf_free(&w->diag);
    memset(w, 0, sizeof(*w));
}

void smtp_why_copy(struct smtp_why *dst, const struct smtp_why *src)
{
    dst->set = src->set;
    memcpy(dst->dsn, src->dsn, sizeof(dst->dsn));
    sbuf_set(&dst->reason, sbuf_str(&src->reason));
    sbuf_set(&dst->relay, sbuf_str(&src->relay));
    sbuf_set(&dst->diag, sbuf_str(&src->diag));
}

void smtp_why_set(struct smtp_why *w, const char *dsn, const char *relay, const char *fmt, ...)
{
    w->set = true;
    snprintf(w->dsn, sizeof(w->dsn), "%s", dsn);
    sbuf_set(&w->relay, relay && *relay ? relay : "none");
    sbuf_reset(&w->diag);
    sbuf_reset(&w->reason);
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&w->reason, fmt, ap);
    va_end(ap);
}
