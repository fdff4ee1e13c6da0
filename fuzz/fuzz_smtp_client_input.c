/*
 * fuzz_smtp_client_input.c - libFuzzer target for what the SMTP client
 * parses from outside: the AUTH line of a server's EHLO reply
 * (smtp_auth_mechs, src/smtp/smtp_keys.c) and smtp_tls_policy_maps
 * values (tls_policy_parse, src/mail/tls_policy.h).
 *
 * The input's lines are an EHLO reply (the first is the greeting line);
 * each line is also parsed as a TLS policy value. Checks: every mechanism
 * kept is 1-20 characters of [A-Za-z0-9_-] and appears once; a policy
 * either parses with a known level or is refused with a reason.
 * Does not: talk to a server or run TLS.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "support.h"
#include "mail/tls.h"
#include "mail/tls_policy.h"
#include "smtp/smtp.h"
#include "util/sbuf.h"
#include "util/strv.h"

#define MAX_INPUT 16384

/* smtp.c (the program's main file, not linked here) defines these; the
 * functions under test never reach them. */
void smtp_rcpt_done(struct smtp_state *st, size_t i, const struct smtp_why *why)
{
    (void) st, (void) i, (void) why;
    abort();
}

void smtp_rcpt_sent(struct smtp_state *st, size_t i, const char *dsn, const char *relay,
                    const char *reply)
{
    (void) st, (void) i, (void) dsn, (void) relay, (void) reply;
    abort();
}

void smtp_why_pending(struct smtp_state *st, const struct smtp_why *why)
{
    (void) st, (void) why;
    abort();
}

void smtp_finish_pending(struct smtp_state *st)
{
    (void) st;
    abort();
}

static void check_mechs(const strv *mechs)
{
    for (size_t i = 0; i < mechs->n; i++) {
        size_t n = strlen(mechs->v[i]);
        if (n < 1 || n > 20 || strspn(mechs->v[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz0123456789-_") != n)
            abort();
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(mechs->v[i], mechs->v[j]) == 0)
                abort();
    }
}

static void check_policy(const char *value)
{
    struct tls_policy p;
    sbuf err = SBUF_INIT;
    tls_policy_init(&p);
    if (tls_policy_parse(value, &p, &err) == 0) {
        if (p.level < TLS_LEV_NONE || p.level > TLS_LEV_SECURE)
            abort();
    } else if (err.len == 0) {
        abort();                        /* a refusal says why */
    }
    tls_policy_free(&p);
    sbuf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    if (size > MAX_INPUT)
        return 0;
    char *text = fuzz_cstr(data, size);
    strv lines, mechs;
    strv_init(&lines);
    strv_init(&mechs);
    strv_split(&lines, text, "\r\n");
    smtp_auth_mechs(&lines, &mechs);
    check_mechs(&mechs);
    for (size_t i = 0; i < lines.n && i < 8; i++)
        check_policy(lines.v[i]);
    strv_free(&lines);
    strv_free(&mechs);
    free(text);
    return 0;
}
