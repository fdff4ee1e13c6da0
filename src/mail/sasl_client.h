/*
 * sasl_client.h - the client side of SMTP AUTH (RFC 4954) over Cyrus
 * SASL, for the smtp/lmtp delivery agent (beside sasl_server.h; both use
 * sasl_common.h).
 *
 * sasl_client_lib_init() runs once per process, before privileges are
 * dropped (it loads the Cyrus plug-ins). Only the type "cyrus" exists;
 * another one is an error. The path (smtp_sasl_path) is accepted and not
 * used: Cyrus' client side reads no application file.
 *
 * Per session, sasl_client_create() makes a Cyrus client connection for
 * the service ("smtp"), the server's host name and the security options
 * in force (smtp_sasl_security_options, or the TLS variants), holding the
 * user name and password that the caller looked up. The exchange is
 * driven with base64 text as it appears on the wire:
 *
 *   r = sasl_client_first(c, "PLAIN LOGIN", &mech, &initial, &has_initial, &err);
 *   send "AUTH mech" (plus " initial" when has_initial; "=" stands for an
 *   empty initial response);
 *   while the server answers 334 challenge:
 *       r = sasl_client_next(c, challenge, &response, &err);
 *       send response;
 *   235: authenticated; anything else: failed (the server said why).
 *
 * SASL_CLNT_FAIL comes with a reason in err: no mechanism both sides
 * accept ("no mechanism available"; Cyrus logs "No worthy mechs found"),
 * a challenge that is not base64, or a Cyrus failure. The password is
 * never logged and is wiped from memory by sasl_client_free().
 *
 * Does not: SMTP commands and replies, choosing credentials (the smtp
 * client's password tables), mechanism filters.
 */
#ifndef HK_MAIL_SASL_CLIENT_H
#define HK_MAIL_SASL_CLIENT_H

#include <stdbool.h>
#include "util/sbuf.h"

enum { SASL_CLNT_OK = 0, SASL_CLNT_FAIL = -1 };

/* type: smtp_sasl_type; path: smtp_sasl_path. 0, or -1 with err.
 * Calling it again is harmless. */
int sasl_client_lib_init(const char *type, const char *path, sbuf *err);

struct sasl_client_params {
    const char *service;            /* "smtp" (the program name) */
    const char *server_name;        /* the server's host name */
    const char *security_options;   /* smtp_sasl_[tls_[verified_]]security_options */
    const char *username;
    const char *password;
};

typedef struct sasl_client sasl_client;

/* NULL with err (bad security options, library not initialised, ...). */
sasl_client *sasl_client_create(const struct sasl_client_params *p, sbuf *err);
void sasl_client_free(sasl_client *c);

/* Pick a mechanism from mechs (space separated, the server's list after
 * any filtering) and compute the initial response. *mech stays valid
 * until free. */
int sasl_client_first(sasl_client *c, const char *mechs, const char **mech, sbuf *initial,
                      bool *has_initial, sbuf *err);
/* Answer one base64 challenge (may be empty) with a base64 response
 * (may be empty). */
int sasl_client_next(sasl_client *c, const char *challenge, sbuf *response, sbuf *err);

#endif
