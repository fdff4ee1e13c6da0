/*
 * tls_policy.h - the SMTP/LMTP client's TLS security policy: the value
 * syntax of smtp_tls_policy_maps entries and the default level from
 * main.cf (smtp_tls_security_level, or the old smtp_use_tls,
 * smtp_enforce_tls and smtp_tls_enforce_peername).
 *
 * A policy value is a level followed by attributes, separated by blanks
 * or commas (postconf(5) smtp_tls_policy_maps):
 *
 *   none | may | encrypt | fingerprint | verify | secure | dane | dane-only
 *   protocols=TLSv1.2:TLSv1.3   ciphers=high   exclude=aNULL:MD5
 *   match=name:.domain:nexthop (verify, secure; several match= add up)
 *   match=AA:BB:...|CC:DD:...  (fingerprint; "|" separates fingerprints)
 *   servername=name|hostname|nexthop   connection_reuse=yes|no
 *
 * "dane" has no DNSSEC here and means "may" (as Postfix does when no
 * TLSA records are found; tls_policy.dane says so for a warning);
 * "dane-only" cannot be satisfied and is an error. Attribute names are
 * case-insensitive; an unknown attribute, a missing "=", an empty value
 * or a repeated single-valued attribute is an error.
 *
 * Pure functions (no lookups, no OpenSSL): the unit test covers them
 * and smtp uses them for both main.cf and the table.
 *
 * Does not: look up the table (the client's key order is in
 * src/smtp/smtp_keys.c) or run TLS (tls.h).
 */
#ifndef HK_MAIL_TLS_POLICY_H
#define HK_MAIL_TLS_POLICY_H

#include <stdbool.h>
#include "util/sbuf.h"
#include "util/strv.h"

struct tls_policy {
    int     level;              /* TLS_LEV_* */
    bool    dane;               /* "dane" was asked for (treated as may) */
    char   *protocols;          /* NULL: the parameter's */
    char   *ciphers;            /* NULL: the parameter's */
    char   *exclude;            /* NULL: the parameter's ("a:b" list) */
    char   *servername;         /* NULL: smtp_tls_servername */
    int     connection_reuse;   /* -1: the parameter's, else 0/1 */
    strv    match;              /* names/strategies, or fingerprints */
};

void tls_policy_init(struct tls_policy *p);
void tls_policy_free(struct tls_policy *p);
/* Parse a table value into p (freed and initialised first). 0, or -1
 * with a message in err. */
int  tls_policy_parse(const char *value, struct tls_policy *p, sbuf *err);

/*
 * The default level from main.cf values: level_param (the value of
 * smtp_tls_security_level) when not empty; else enforce_tls ->
 * verify (encrypt when enforce_peername is false); else use_tls -> may;
 * else none. -1 with err for an unknown level name.
 */
int  tls_policy_default_level(const char *level_param, bool use_tls, bool enforce_tls,
                              bool enforce_peername, sbuf *err);

#endif
