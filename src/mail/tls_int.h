/*
 * tls_int.h - what the tls_*.c files share with each other and nobody
 * else: the context structure and OpenSSL-typed helpers. Programs use
 * tls.h only.
 */
#ifndef HK_MAIL_TLS_INT_H
#define HK_MAIL_TLS_INT_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "mail/tls.h"

struct tls_ctx {
    SSL_CTX *ssl_ctx;
    bool server;
    int loglevel;
    char fpt_dgst[32];          /* fingerprint digest name, "sha256" */
    bool ask_ccert;             /* server: request a client certificate */
    long cache_timeout;         /* server: ticket lifetime, 0 = no resumption */
};

/* tls_tickets.c: install the shared-key ticket callback on a server
 * context (lifetime seconds); 0, or -1 when tickets cannot be used
 * (resumption then stays within one process). */
int tls_tickets_enable(SSL_CTX *ctx, long lifetime);

/* tls_ctx.c: load one PEM file's private key (if want_key) and
 * certificates. NULL/0 with err. The caller frees. */
int tls_pem_load(const char *file, EVP_PKEY **key, STACK_OF(X509) **certs, sbuf *err);
/* Load the server certificate/key pairs of prefix into ctx (RSA,
 * ECDSA, chain_files); ctx may be NULL to only check them. Returns the
 * number of pairs loaded (0: none configured) or -1 with err. */
int tls_load_server_certs(SSL_CTX *ctx, const char *prefix, sbuf *err);

/* Initialise OpenSSL once per process (config, error strings). */
void tls_library_init(void);

#endif
