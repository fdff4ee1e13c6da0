/*
 * tls_ctx.c - OpenSSL contexts for the TLS server and client, built from
 * the <prefix>_tls_* parameters (see tls.h, CONTEXTS).
 *
 * Certificates: <prefix>_tls_chain_files (each file: a private key
 * directly followed by its certificate chain, any number of such groups)
 * when set; otherwise the RSA pair cert_file/key_file, the ECDSA pair
 * eccert_file/eckey_file and the old DSA pair dcert_file/dkey_file.
 * Every key must match its certificate. Passphrase-protected keys are
 * refused (a daemon has nobody to ask), as in Postfix.
 *
 * Does not: run handshakes (tls_session.c) or manage ticket keys
 * (tls_tickets.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "mail/mail_conf.h"
#include "mail/tls_int.h"
#include "util/mem.h"
#include "util/msg.h"

void tls_library_init(void)
{
    static bool done;
    uint64_t opts = 0;

    if (done)
        return;
    done = true;
    if (strcmp(mail_conf_str("tls_config_file"), "default") == 0)
        opts |= OPENSSL_INIT_LOAD_CONFIG;
    OPENSSL_init_ssl(opts, 0);
}

static const char *param(const char *prefix, const char *suffix)
{
    static char name[128];
    snprintf(name, sizeof(name), "%s_tls_%s", prefix, suffix);
    return name;
}

static const char *conf_str(const char *prefix, const char *suffix)
{
    return mail_conf_str(param(prefix, suffix));
}

/* ---- PEM files ---- */

struct pem_obj {
    EVP_PKEY *key;
    X509 *cert;
};

static void pem_objs_free(struct pem_obj *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        EVP_PKEY_free(o[i].key);
        X509_free(o[i].cert);
    }
    xfree(o);
}

/* Every key and certificate of file, in order. -1 with err. */
static int pem_read_all(const char *file, struct pem_obj **out, size_t *nout, sbuf *err)
{
    BIO *bio;
    char *name = 0, *header = 0;
    unsigned char *data = 0;
    long len = 0;
    struct pem_obj *objs = 0;
    size_t n = 0;
    int ret = 0;

    *out = 0;
    *nout = 0;
    if ((bio = BIO_new_file(file, "r")) == 0) {
        sbuf_printf(err, "cannot open file \"%s\": %s", file, strerror(errno ? errno : ENOENT));
        ERR_clear_error();
        return -1;
    }
    while (ret == 0 && PEM_read_bio(bio, &name, &header, &data, &len)) {
        const unsigned char *p = data;
        struct pem_obj o = {0, 0};
        size_t nlen = strlen(name);

        if (strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0) {
            if (!(o.cert = d2i_X509(0, &p, len))) {
                sbuf_printf(err, "file \"%s\": bad certificate data", file);
                ret = -1;
            }
        } else if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0 || strstr(header, "ENCRYPTED")) {
            sbuf_printf(err, "file \"%s\": the private key is protected by a passphrase "
                        "(remove it, e.g. with \"openssl pkey\")", file);
            ret = -1;
        } else if (nlen >= 11 && strcmp(name + nlen - 11, "PRIVATE KEY") == 0) {
            if (!(o.key = d2i_AutoPrivateKey(0, &p, len))) {
                sbuf_printf(err, "file \"%s\": bad private key data", file);
                ret = -1;
            }
        }
        /* Other objects (EC PARAMETERS, ...) are skipped. */
        if (o.key || o.cert) {
            objs = xreallocarray(objs, n + 1, sizeof(*objs));
            objs[n++] = o;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = 0;
        data = 0;
    }
    ERR_clear_error();      /* the end of the file looks like an error */
    BIO_free(bio);
    if (ret == 0 && n == 0) {
        sbuf_printf(err, "file \"%s\": no certificate or private key in PEM format", file);
        ret = -1;
    }
    if (ret < 0) {
        pem_objs_free(objs, n);
        return -1;
    }
    *out = objs;
    *nout = n;
    return 0;
}

int tls_pem_load(const char *file, EVP_PKEY **key, STACK_OF(X509) **certs, sbuf *err)
{
    struct pem_obj *o;
    size_t n;

    if (key)
        *key = 0;
    if (certs)
        *certs = 0;
    if (pem_read_all(file, &o, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (o[i].key && key && !*key) {
            *key = o[i].key;
            o[i].key = 0;
        } else if (o[i].cert && certs) {
            if (!*certs)
                *certs = sk_X509_new_null();
            sk_X509_push(*certs, o[i].cert);
            o[i].cert = 0;
        }
    }
    pem_objs_free(o, n);
    return 0;
}

/* Check and (ctx != NULL) install one key with its chain (leaf first). */
static int use_pair(SSL_CTX *ctx, EVP_PKEY *key, STACK_OF(X509) *certs, const char *kfile,
                    const char *cfile, sbuf *err)
{
    X509 *leaf = sk_X509_value(certs, 0);
    STACK_OF(X509) *chain = sk_X509_new_null();
    int ok;

    if (!X509_check_private_key(leaf, key)) {
        ERR_clear_error();
        sbuf_printf(err, "the private key in \"%s\" does not match the certificate in \"%s\"",
                    kfile, cfile);
        sk_X509_free(chain);
        return -1;
    }
    for (int i = 1; i < sk_X509_num(certs); i++)
        sk_X509_push(chain, sk_X509_value(certs, i));
    ok = !ctx || SSL_CTX_use_cert_and_key(ctx, leaf, key, chain, 1);
    sk_X509_free(chain);
    if (!ok) {
        sbuf_printf(err, "cannot use the certificate in \"%s\" with the key in \"%s\": ", cfile,
                    kfile);
        tls_log_errors(err);
        return -1;
    }
    return 0;
}

/* chain_files: groups of "key, certificate, certificate..." */
static int load_chain_file(SSL_CTX *ctx, const char *file, sbuf *err)
{
    struct pem_obj *o;
    size_t n, i = 0;
    int pairs = 0;

    if (pem_read_all(file, &o, &n, err) < 0)
        return -1;
    while (i < n) {
        if (!o[i].key) {
            sbuf_printf(err, "file \"%s\": a certificate comes before its private key "
                        "(each key must be directly followed by its certificate chain)", file);
            pem_objs_free(o, n);
            return -1;
        }
        EVP_PKEY *key = o[i++].key;
        STACK_OF(X509) *certs = sk_X509_new_null();
        while (i < n && o[i].cert)
            sk_X509_push(certs, o[i++].cert);
        int r = -1;
        if (sk_X509_num(certs) == 0)
            sbuf_printf(err, "file \"%s\": a private key without a certificate", file);
        else
            r = use_pair(ctx, key, certs, file, file, err);
        sk_X509_free(certs);        /* the objects stay owned by o */
        if (r < 0) {
            pem_objs_free(o, n);
            return -1;
        }
        pairs++;
    }
    pem_objs_free(o, n);
    return pairs;
}

static int load_legacy_pair(SSL_CTX *ctx, const char *what, const char *cfile,
                            const char *kfile, sbuf *err)
{
    EVP_PKEY *key = 0, *extra = 0;
    STACK_OF(X509) *certs = 0;
    sbuf why = SBUF_INIT;
    int r = -1;

    if (!*kfile)
        kfile = cfile;
    if (tls_pem_load(cfile, &extra, &certs, &why) < 0 || !certs) {
        sbuf_printf(err, "cannot get %s certificate from file \"%s\": %s", what, cfile,
                    why.len ? sbuf_str(&why) : "no certificate in the file");
        goto out;
    }
    if (strcmp(kfile, cfile) == 0) {
        key = extra;
        extra = 0;
    } else if (tls_pem_load(kfile, &key, 0, &why) < 0) {
        sbuf_printf(err, "cannot get %s private key from file \"%s\": %s", what, kfile,
                    sbuf_str(&why));
        goto out;
    }
    if (!key) {
        sbuf_printf(err, "cannot get %s private key from file \"%s\": no private key in the "
                    "file", what, kfile);
        goto out;
    }
    r = use_pair(ctx, key, certs, kfile, cfile, err);
out:
    EVP_PKEY_free(key);
    EVP_PKEY_free(extra);
    sk_X509_pop_free(certs, X509_free);
    sbuf_free(&why);
    return r;
}

int tls_load_server_certs(SSL_CTX *ctx, const char *prefix, sbuf *err)
{
    strv chain;
    int pairs = 0;

    strv_init(&chain);
    mail_conf_list(param(prefix, "chain_files"), &chain);
    if (chain.n > 0) {
        for (size_t i = 0; i < chain.n; i++) {
            int r = load_chain_file(ctx, chain.v[i], err);
            if (r < 0) {
                strv_free(&chain);
                return -1;
            }
            pairs += r;
        }
        strv_free(&chain);
        return pairs;
    }
    strv_free(&chain);

    static const struct { const char *what, *cert, *key; } legacy[] = {
        {"RSA", "cert_file", "key_file"},
        {"ECDSA", "eccert_file", "eckey_file"},
        {"DSA", "dcert_file", "dkey_file"},
    };
    for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
        char *cfile = xstrdup(conf_str(prefix, legacy[i].cert));
        char *kfile = xstrdup(conf_str(prefix, legacy[i].key));
        int r = 0;
        if (*cfile && strcmp(cfile, "none") != 0)
            r = load_legacy_pair(ctx, legacy[i].what, cfile, kfile, err) < 0 ? -1 : 1;
        xfree(cfile);
        xfree(kfile);
        if (r < 0)
            return -1;
        pairs += r;
    }
    return pairs;
}

/* ---- common settings ---- */

static int set_protocols_ciphers(SSL_CTX *c, const char *prefix, bool mandatory, sbuf *err)
{
    const char *plist = conf_str(prefix, mandatory ? "mandatory_protocols" : "protocols");
    int mask = tls_protocols_parse(plist, err);
    int lo, hi;
    long no_ops;
    strv excl;
    sbuf ciphers = SBUF_INIT;

    if (mask < 0) {
        sbuf err2 = SBUF_INIT;
        sbuf_printf(&err2, "%s: %s", param(prefix, mandatory ? "mandatory_protocols"
                                                               : "protocols"), sbuf_str(err));
        sbuf_set(err, sbuf_str(&err2));
        sbuf_free(&err2);
        return -1;
    }
    tls_protocols_openssl(mask, &lo, &hi, &no_ops);
    SSL_CTX_set_min_proto_version(c, lo);
    SSL_CTX_set_max_proto_version(c, hi);
    SSL_CTX_set_options(c, (uint64_t) no_ops | SSL_OP_NO_COMPRESSION);
    if (mail_conf_bool("tls_preempt_cipherlist"))
        SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);

    strv_init(&excl);
    mail_conf_list(param(prefix, "exclude_ciphers"), &excl);
    if (mandatory)
        mail_conf_list(param(prefix, "mandatory_exclude_ciphers"), &excl);
    char *grade = xstrdup(conf_str(prefix, mandatory ? "mandatory_ciphers" : "ciphers"));
    int r = tls_cipher_string(grade, &excl, &ciphers, err);
    if (r == 0 && !SSL_CTX_set_cipher_list(c, sbuf_str(&ciphers))) {
        ERR_clear_error();
        sbuf_printf(err, "%s: cipher list \"%s\" selects no usable cipher",
                    param(prefix, mandatory ? "mandatory_ciphers" : "ciphers"),
                    sbuf_str(&ciphers));
        r = -1;
    }
    xfree(grade);
    strv_free(&excl);
    sbuf_free(&ciphers);
    if (r < 0)
        return -1;

    /* Key exchange groups: keep the library's default when the list
     * names a group it does not know. */
    strv curves;
    strv_init(&curves);
    mail_conf_list("tls_eecdh_auto_curves", &curves);
    if (curves.n) {
        char *joined = strv_join(&curves, ":");
        if (!SSL_CTX_set1_groups_list(c, joined))
            ERR_clear_error();
        xfree(joined);
    }
    strv_free(&curves);
    return 0;
}

static int set_ca(SSL_CTX *c, const char *prefix, bool server, sbuf *err)
{
    char *cafile = xstrdup(conf_str(prefix, "CAfile"));
    char *capath = xstrdup(conf_str(prefix, "CApath"));
    int r = 0;

    if ((*cafile || *capath)
        && !SSL_CTX_load_verify_locations(c, *cafile ? cafile : 0, *capath ? capath : 0)) {
        sbuf_printf(err, "cannot load CA certificates from %s%s%s: ",
                    *cafile ? cafile : "", *cafile && *capath ? " and " : "",
                    *capath ? capath : "");
        tls_log_errors(err);
        r = -1;
    }
    if (r == 0 && !server && mail_conf_bool("tls_append_default_CA"))
        SSL_CTX_set_default_verify_paths(c);
    if (r == 0 && server && *cafile) {
        /* Tell clients which CAs we trust (RFC 5246 7.4.4). */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cafile);
        if (names)
            SSL_CTX_set_client_CA_list(c, names);
        ERR_clear_error();
    }
    xfree(cafile);
    xfree(capath);
    return r;
}

/* Let the handshake finish whatever the peer's chain; the result is in
 * SSL_get_verify_result() and the policy decides later. */
static int accept_any(int ok, X509_STORE_CTX *store)
{
    (void) ok;
    (void) store;
    return 1;
}

static int check_digest(const char *prefix, char *out, size_t size, sbuf *err)
{
    const char *dgst = conf_str(prefix, "fingerprint_digest");
    if (!EVP_get_digestbyname(dgst)) {
        sbuf_printf(err, "%s: unknown digest \"%s\"", param(prefix, "fingerprint_digest"), dgst);
        return -1;
    }
    snprintf(out, size, "%s", dgst);
    return 0;
}

tls_ctx *tls_server_ctx(const char *prefix, bool mandatory, sbuf *err)
{
    tls_ctx *t = xcalloc(1, sizeof(*t));
    SSL_CTX *c;
    char sid_ctx[64];

    tls_library_init();
    t->server = true;
    t->loglevel = (int) mail_conf_int(param(prefix, "loglevel"));
    if ((c = t->ssl_ctx = SSL_CTX_new(TLS_server_method())) == 0) {
        tls_log_errors(err);
        goto bad;
    }
    if (check_digest(prefix, t->fpt_dgst, sizeof(t->fpt_dgst), err) < 0
        || set_protocols_ciphers(c, prefix, mandatory, err) < 0)
        goto bad;
    int pairs = tls_load_server_certs(c, prefix, err);
    if (pairs < 0)
        goto bad;
    if (pairs == 0) {
        sbuf_printf(err, "no server certificate: set %s or %s", param(prefix, "cert_file"),
                    param(prefix, "chain_files"));
        goto bad;
    }
    if (set_ca(c, prefix, true, err) < 0)
        goto bad;
    t->ask_ccert = mail_conf_bool(param(prefix, "ask_ccert"))
                   || (mandatory && mail_conf_bool(param(prefix, "req_ccert")));
    if (t->ask_ccert) {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, accept_any);
        SSL_CTX_set_verify_depth(c, (int) mail_conf_int(param(prefix, "ccert_verifydepth")) + 1);
    }
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    /* Session resumption (tickets shared through data_directory). */
    snprintf(sid_ctx, sizeof(sid_ctx), "hikyaku/%s", prefix);
    SSL_CTX_set_session_id_context(c, (const unsigned char *) sid_ctx,
                                   (unsigned int) strlen(sid_ctx));
    t->cache_timeout = mail_conf_time(param(prefix, "session_cache_timeout"));
    if (t->cache_timeout > 8 * 86400)
        t->cache_timeout = 8 * 86400;       /* Postfix's upper bound */
    if (t->cache_timeout > 0) {
        SSL_CTX_set_timeout(c, t->cache_timeout);
        tls_tickets_enable(c, t->cache_timeout);
    } else {
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(c, 0);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    }
    return t;
bad:
    tls_ctx_free(t);
    return 0;
}

tls_ctx *tls_client_ctx(const char *prefix, bool mandatory, sbuf *err)
{
    tls_ctx *t = xcalloc(1, sizeof(*t));
    SSL_CTX *c;

    tls_library_init();
    t->loglevel = (int) mail_conf_int(param(prefix, "loglevel"));
    if ((c = t->ssl_ctx = SSL_CTX_new(TLS_client_method())) == 0) {
        tls_log_errors(err);
        goto bad;
    }
    if (check_digest(prefix, t->fpt_dgst, sizeof(t->fpt_dgst), err) < 0
        || set_protocols_ciphers(c, prefix, mandatory, err) < 0
        || tls_load_server_certs(c, prefix, err) < 0 || set_ca(c, prefix, false, err) < 0)
        goto bad;
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, accept_any);
    SSL_CTX_set_verify_depth(c, (int) mail_conf_int(param(prefix, "scert_verifydepth")) + 1);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return t;
bad:
    tls_ctx_free(t);
    return 0;
}

void tls_ctx_free(tls_ctx *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ssl_ctx);
    xfree(t);
}

int tls_ctx_loglevel(const tls_ctx *t)
{
    return t ? t->loglevel : 0;
}
