/*
 * sasl_server.h - the server side of SMTP AUTH (RFC 4954) over Cyrus SASL.
 *
 * sasl_server_lib_init() runs once per process, before privileges are
 * dropped: it loads the Cyrus plug-ins and the application's
 * configuration file (<path>.conf, e.g. smtpd.conf, looked up in
 * cyrus_sasl_config_path when set, else in Cyrus' default directories).
 * Only smtpd_sasl_type = cyrus exists; another type is an error.
 *
 * Per connection, sasl_server_create() makes a Cyrus connection for the
 * service (smtpd_sasl_service, "smtp"), this host, the realm
 * (smtpd_sasl_local_domain) and the security options in force (the TLS
 * variant once TLS is active). The exchange is driven with base64 text as
 * it appears on the wire:
 *
 *   r = sasl_server_first(s, "PLAIN", initial_or_NULL, &reply);
 *   while (r == SASL_SRV_MORE) {            reply: base64 challenge
 *       send "334 " reply; read the client's line;
 *       r = sasl_server_next(s, line, &reply);
 *   }
 *   SASL_SRV_DONE: authenticated, sasl_server_username(s)
 *   SASL_SRV_FAIL: reply is the reason ("authentication failure")
 *   SASL_SRV_FORM: the client's base64 was malformed (reply says so)
 *
 * An initial response of "=" is the empty response (RFC 4954 4).
 * A failed user lookup is reported as "authentication failure", never
 * "user not found" (no user enumeration).
 *
 * A SASL client module (sasl_client.h) will sit beside this one and share
 * sasl_common.h.
 *
 * Does not: SMTP replies, logging of failures (smtpd does both).
 */
#ifndef HK_MAIL_SASL_SERVER_H
#define HK_MAIL_SASL_SERVER_H

#include <stdbool.h>
#include "util/sbuf.h"

enum { SASL_SRV_DONE = 0, SASL_SRV_MORE = 1, SASL_SRV_FAIL = -1, SASL_SRV_FORM = -2 };

/* type: smtpd_sasl_type; path: smtpd_sasl_path (the application name).
 * 0, or -1 with err. Calling it again is harmless. */
int sasl_server_lib_init(const char *type, const char *path, sbuf *err);

struct sasl_server_params {
    const char *service;            /* "smtp" */
    const char *server_fqdn;        /* $myhostname */
    const char *user_realm;         /* smtpd_sasl_local_domain, "" for none */
    const char *security_options;   /* smtpd_sasl_[tls_]security_options */
};

typedef struct sasl_server sasl_server;

sasl_server *sasl_server_create(const struct sasl_server_params *p, sbuf *err);
void sasl_server_free(sasl_server *s);
/* "PLAIN LOGIN" (space separated), or NULL when none is available. */
const char *sasl_server_mechs(sasl_server *s);
int sasl_server_first(sasl_server *s, const char *mech, const char *initial, sbuf *reply);
int sasl_server_next(sasl_server *s, const char *response, sbuf *reply);
/* The authenticated name (valid until free), NULL before success. */
const char *sasl_server_username(sasl_server *s);

#endif
