/*
 * sasl_common.h - what the SASL server (sasl_server.h, smtpd) and a SASL
 * client (sasl_client.h, smtp, to come) share about Cyrus SASL: the
 * security option words, error texts, the library callbacks for the
 * configuration directory and logging, and base64.
 *
 * Security options (smtpd_sasl_security_options, smtp_sasl_...):
 * noanonymous, noplaintext, noactive, nodictionary, mutual_auth,
 * forward_secrecy; an empty list allows everything. An unknown word is
 * an error naming it.
 *
 * Does not: talk to a peer or keep per-connection state.
 */
#ifndef HK_MAIL_SASL_COMMON_H
#define HK_MAIL_SASL_COMMON_H

#include <stddef.h>
#include "util/sbuf.h"

/* Parse the option words into Cyrus SASL_SEC_* flags. 0, or -1 with err. */
int sasl_security_parse(const char *opts, unsigned *flags, sbuf *err);

/* Cyrus status -> text ("authentication failure", ...). */
const char *sasl_status_text(int status);

/* Callbacks for sasl_server_init()/sasl_client_init(): the config path
 * (cyrus_sasl_config_path, when set) and logging through msg_*. The array
 * is static and ends with SASL_CB_LIST_END; its type is
 * sasl_callback_t[] (void * here to keep sasl.h out of callers). */
const void *sasl_common_callbacks(void);

/* RFC 4648 base64 of len bytes appended to out. */
void sasl_b64_encode(const void *data, size_t len, sbuf *out);
/* Decode text (blanks not allowed) into out; -1 on bad syntax. */
int sasl_b64_decode(const char *text, sbuf *out);

#endif
