/*
 * tls_session.c - one TLS connection: handshake, the vstream I/O hook,
 * what is known about the peer, client-side verification, shutdown (see
 * tls.h, SESSIONS and CLIENT VERIFICATION).
 *
 * The descriptor is non-blocking while TLS runs on it; every wait is a
 * poll(2) bounded by the time the caller allows (the handshake timeout,
 * then the stream's own timeout for each read and write), so a peer that
 * stalls in the middle of a record cannot hold the process.
 *
 * Does not: decide policy for the server (smtpd) or choose names and
 * levels for the client (smtp).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "mail/tls_int.h"
#include "util/mem.h"
#include "util/msg.h"

struct tls_sess {
    SSL *ssl;
    tls_ctx *ctx;
    int fd;
    int saved_flags;
    bool server;
    char namaddr[300];
    struct tls_info info;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 ready, 0 timed out, -1 error. deadline < 0: no limit. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        int left = -1;
        if (deadline >= 0) {
            long long l = deadline - now_ms();
            left = l <= 0 ? 0 : l > INT_MAX ? INT_MAX : (int) l;
        }
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        return r > 0 ? 1 : 0;
    }
}

/*
 * Drive one OpenSSL call to completion. op returns what SSL_read/
 * SSL_write/SSL_do_handshake return. Result: > 0 done, 0 clean EOF,
 * -1 error (errno ETIMEDOUT for a timeout, EPROTO for a TLS error).
 */
static int drive(tls_sess *t, int (*op)(tls_sess *, void *, int), void *buf, int len,
                 int timeout_ms)
{
    long long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;

    for (;;) {
        ERR_clear_error();
        errno = 0;
        int n = op(t, buf, len);
        if (n > 0)
            return n;
        int e = SSL_get_error(t->ssl, n);
        int w;
        switch (e) {
        case SSL_ERROR_ZERO_RETURN:
            return 0;
        case SSL_ERROR_WANT_READ:
            w = wait_fd(t->fd, POLLIN, deadline);
            break;
        case SSL_ERROR_WANT_WRITE:
            w = wait_fd(t->fd, POLLOUT, deadline);
            break;
        case SSL_ERROR_SYSCALL:
            if (ERR_peek_error() == 0 && (errno == 0 || errno == ECONNRESET))
                return 0;       /* the peer went away */
            if (ERR_peek_error() != 0)
                tls_log_errors(0);
            if (errno == 0)
                errno = EPROTO;
            return -1;
        default:
            tls_log_errors(0);
            errno = EPROTO;
            return -1;
        }
        if (w == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (w < 0)
            return -1;
    }
}

static int op_read(tls_sess *t, void *buf, int len) { return SSL_read(t->ssl, buf, len); }
static int op_write(tls_sess *t, void *buf, int len) { return SSL_write(t->ssl, buf, len); }
static int op_handshake(tls_sess *t, void *buf, int len)
{
    (void) buf;
    (void) len;
    return SSL_do_handshake(t->ssl);
}

static ssize_t io_read(void *ctx, int fd, void *buf, size_t len, int timeout_ms)
{
    (void) fd;
    return drive(ctx, op_read, buf, len > INT_MAX ? INT_MAX : (int) len, timeout_ms);
}

static ssize_t io_write(void *ctx, int fd, const void *buf, size_t len, int timeout_ms)
{
    (void) fd;
    int n = drive(ctx, op_write, (void *) buf, len > INT_MAX ? INT_MAX : (int) len, timeout_ms);
    if (n == 0) {
        errno = EPIPE;
        return -1;
    }
    return n;
}

/* ---- facts about the session ---- */

static void printable_copy(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char) src[i];
        dst[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char) c;
    }
    dst[i] = 0;
}

static void name_entry(X509_NAME *name, int nid, char *out, size_t size)
{
    char buf[TLS_NAME_MAX];
    out[0] = 0;
    if (name && X509_NAME_get_text_by_NID(name, nid, buf, sizeof(buf)) > 0)
        printable_copy(out, size, buf);
}

static const char *sig_name(int nid)
{
    switch (nid) {
    case NID_rsassaPss: return "RSA-PSS";
    case NID_rsaEncryption: return "RSA";
    case NID_X9_62_id_ecPublicKey: return "ECDSA";
    case NID_ED25519: return "ED25519";
    case NID_ED448: return "ED448";
    case NID_dsa: return "DSA";
    default: return OBJ_nid2sn(nid);
    }
}

/* The key behind a signature: RSA bits or the EC curve. */
static void key_facts(EVP_PKEY *pkey, char *curve, size_t csize, int *bits)
{
    char group[64];
    size_t glen = 0;

    curve[0] = 0;
    *bits = 0;
    if (!pkey)
        return;
    if (EVP_PKEY_is_a(pkey, "EC")
        && EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                          sizeof(group), &glen)) {
        int nid = OBJ_sn2nid(group);
        const char *nist = nid != NID_undef ? EC_curve_nid2nist(nid) : 0;
        snprintf(curve, csize, "%s", nist ? nist : group);
    } else if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS")
               || EVP_PKEY_is_a(pkey, "DSA")) {
        *bits = EVP_PKEY_get_bits(pkey);
    }
}

static void signature_facts(int type_nid, int dgst_nid, X509 *cert, char *sig, size_t ssize,
                            char *curve, size_t csize, int *bits, char *dgst, size_t dsize)
{
    snprintf(sig, ssize, "%s", sig_name(type_nid));
    key_facts(cert ? X509_get0_pubkey(cert) : 0, curve, csize, bits);
    dgst[0] = 0;
    if (dgst_nid != NID_undef && OBJ_nid2sn(dgst_nid))
        snprintf(dgst, dsize, "%s", OBJ_nid2sn(dgst_nid));
}

static void collect_info(tls_sess *t)
{
    struct tls_info *i = &t->info;
    SSL *ssl = t->ssl;
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    int nid, dnid;

    i->protocol = SSL_get_version(ssl);
    i->cipher = c ? SSL_CIPHER_get_name(c) : "unknown";
    i->cipher_usebits = c ? SSL_CIPHER_get_bits(c, &i->cipher_algbits) : 0;
    i->resumed = SSL_session_reused(ssl);

    nid = SSL_get_negotiated_group(ssl);
    if (nid > 0 && !(nid & TLSEXT_nid_unknown)) {
        const char *nist = EC_curve_nid2nist(nid);
        snprintf(i->kex, sizeof(i->kex), "%s", nist ? nist : OBJ_nid2sn(nid));
    }

    /* Signatures: ours via SSL_get_signature_*, the peer's via
     * SSL_get_peer_signature_*. None on a resumed session. */
    X509 *local = SSL_get_certificate(ssl);
    X509 *peer = SSL_get0_peer_certificate(ssl);
    bool have_local = SSL_get_signature_type_nid(ssl, &nid) == 1;
    if (!have_local || SSL_get_signature_nid(ssl, &dnid) != 1)
        dnid = NID_undef;
    if (have_local && !i->resumed) {
        if (t->server)
            signature_facts(nid, dnid, local, i->srv_sig, sizeof(i->srv_sig), i->srv_sig_curve,
                            sizeof(i->srv_sig_curve), &i->srv_sig_bits, i->srv_sig_dgst,
                            sizeof(i->srv_sig_dgst));
        else
            signature_facts(nid, dnid, local, i->clnt_sig, sizeof(i->clnt_sig),
                            i->clnt_sig_curve, sizeof(i->clnt_sig_curve), &i->clnt_sig_bits,
                            i->clnt_sig_dgst, sizeof(i->clnt_sig_dgst));
    }
    bool have_peer = SSL_get_peer_signature_type_nid(ssl, &nid) == 1;
    if (!have_peer || SSL_get_peer_signature_nid(ssl, &dnid) != 1)
        dnid = NID_undef;
    if (have_peer && !i->resumed) {
        if (t->server)
            signature_facts(nid, dnid, peer, i->clnt_sig, sizeof(i->clnt_sig),
                            i->clnt_sig_curve, sizeof(i->clnt_sig_curve), &i->clnt_sig_bits,
                            i->clnt_sig_dgst, sizeof(i->clnt_sig_dgst));
        else
            signature_facts(nid, dnid, peer, i->srv_sig, sizeof(i->srv_sig), i->srv_sig_curve,
                            sizeof(i->srv_sig_curve), &i->srv_sig_bits, i->srv_sig_dgst,
                            sizeof(i->srv_sig_dgst));
    }

    if (peer) {
        long vr = SSL_get_verify_result(ssl);
        unsigned char *der = 0;
        int len;

        i->peer_cert = true;
        i->peer_trusted = vr == X509_V_OK;
        if (!i->peer_trusted)
            snprintf(i->verify_error, sizeof(i->verify_error), "%s",
                     X509_verify_cert_error_string(vr));
        name_entry(X509_get_subject_name(peer), NID_commonName, i->peer_CN, sizeof(i->peer_CN));
        name_entry(X509_get_issuer_name(peer), NID_commonName, i->issuer_CN,
                   sizeof(i->issuer_CN));
        if (!i->issuer_CN[0])
            name_entry(X509_get_issuer_name(peer), NID_organizationName, i->issuer_CN,
                       sizeof(i->issuer_CN));
        if ((len = i2d_X509(peer, &der)) > 0)
            tls_fingerprint(t->ctx->fpt_dgst, der, (size_t) len, i->peer_cert_fprint,
                            sizeof(i->peer_cert_fprint));
        OPENSSL_free(der);
        der = 0;
        if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(peer), &der)) > 0)
            tls_fingerprint(t->ctx->fpt_dgst, der, (size_t) len, i->peer_pkey_fprint,
                            sizeof(i->peer_pkey_fprint));
        OPENSSL_free(der);
    }
}

/* ---- start and stop ---- */

static tls_sess *sess_new(tls_ctx *ctx, vstream *s, const char *namaddr, bool server, sbuf *err)
{
    tls_sess *t = xcalloc(1, sizeof(*t));

    t->ctx = ctx;
    t->server = server;
    t->fd = vstream_fd(s);
    snprintf(t->namaddr, sizeof(t->namaddr), "%s", namaddr ? namaddr : "unknown");
    if ((t->ssl = SSL_new(ctx->ssl_ctx)) == 0 || !SSL_set_fd(t->ssl, t->fd)) {
        tls_log_errors(err);
        SSL_free(t->ssl);
        xfree(t);
        return 0;
    }
    SSL_set_options(t->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    t->saved_flags = fcntl(t->fd, F_GETFL);
    if (t->saved_flags >= 0)
        fcntl(t->fd, F_SETFL, t->saved_flags | O_NONBLOCK);
    return t;
}

static void sess_free(tls_sess *t)
{
    SSL_free(t->ssl);
    if (t->saved_flags >= 0)
        fcntl(t->fd, F_SETFL, t->saved_flags);
    xfree(t);
}

/* Handshake; 0 or -1 with err (logged as Postfix does). */
static int handshake(tls_sess *t, int timeout_ms, sbuf *err)
{
    int r = drive(t, op_handshake, 0, 0, timeout_ms);
    if (r > 0)
        return 0;
    const char *what = t->server ? "SSL_accept error from" : "SSL_connect error to";
    if (r == 0)
        sbuf_adds(err, "lost connection");
    else if (errno == ETIMEDOUT)
        sbuf_adds(err, "timeout");
    else if (errno == EPROTO)
        sbuf_adds(err, "handshake failure");
    else
        sbuf_printf(err, "%s", strerror(errno));
    msg_info("%s %s: %s", what, t->namaddr, sbuf_str(err));
    return -1;
}

tls_sess *tls_server_start(tls_ctx *ctx, vstream *s, const char *namaddr, int timeout_ms,
                           sbuf *err)
{
    tls_sess *t;

    if (!ctx || !ctx->server) {
        sbuf_adds(err, "no server TLS context");
        return 0;
    }
    if (ctx->loglevel >= 2)
        msg_info("setting up TLS connection from %s", namaddr);
    if ((t = sess_new(ctx, s, namaddr, true, err)) == 0)
        return 0;
    SSL_set_accept_state(t->ssl);
    if (handshake(t, timeout_ms, err) < 0) {
        sess_free(t);
        return 0;
    }
    collect_info(t);
    if (ctx->loglevel >= 2 && t->info.peer_cert)
        msg_info("%s: subject_CN=%s, issuer=%s, fingerprint=%s, pkey_fingerprint=%s",
                 t->namaddr, t->info.peer_CN, t->info.issuer_CN, t->info.peer_cert_fprint,
                 t->info.peer_pkey_fprint);
    if (ctx->loglevel >= 1)
        tls_log_established(&t->info, true, t->namaddr);
    vstream_set_io(s, io_read, io_write, t);
    return t;
}

/* RFC 6066 3: no SNI for address literals. */
static bool is_ip_literal(const char *name)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static bool fprint_match(const struct tls_info *i, const strv *list)
{
    for (size_t k = 0; list && k < list->n; k++)
        if (strcasecmp(list->v[k], i->peer_cert_fprint) == 0
            || strcasecmp(list->v[k], i->peer_pkey_fprint) == 0)
            return true;
    return false;
}

static bool name_match(SSL *ssl, const strv *names)
{
    X509 *peer = SSL_get0_peer_certificate(ssl);
    for (size_t k = 0; peer && names && k < names->n; k++) {
        const char *n = names->v[k];
        if (X509_check_host(peer, n, strlen(n), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, 0) == 1)
            return true;
    }
    return false;
}

/* Per-session protocol range and cipher list. 0, or -1 with err. */
static int apply_opts(tls_sess *t, const struct tls_client_opts *o, sbuf *err)
{
    if (o->protocols) {
        int lo, hi;
        long no_ops;
        int mask = tls_protocols_parse(o->protocols, err);
        if (mask < 0)
            return -1;
        tls_protocols_openssl(mask, &lo, &hi, &no_ops);
        SSL_clear_options(t->ssl, SSL_OP_NO_SSL_MASK);
        SSL_set_options(t->ssl, (uint64_t) no_ops);
        if (!SSL_set_min_proto_version(t->ssl, lo) || !SSL_set_max_proto_version(t->ssl, hi)) {
            ERR_clear_error();
            sbuf_printf(err, "cannot use protocols \"%s\"", o->protocols);
            return -1;
        }
    }
    if (o->cipher_grade) {
        sbuf list = SBUF_INIT;
        strv none;
        strv_init(&none);
        int r = tls_cipher_string(o->cipher_grade, o->cipher_exclude ? o->cipher_exclude : &none,
                                  &list, err);
        if (r == 0 && !SSL_set_cipher_list(t->ssl, sbuf_str(&list))) {
            ERR_clear_error();
            sbuf_printf(err, "cipher list \"%s\" selects no usable cipher", sbuf_str(&list));
            r = -1;
        }
        sbuf_free(&list);
        strv_free(&none);
        if (r < 0)
            return -1;
    }
    return 0;
}

tls_sess *tls_client_start(tls_ctx *ctx, vstream *s, const struct tls_client_start *p,
                           sbuf *err)
{
    return tls_client_start_opts(ctx, s, p, 0, 0, err);
}

tls_sess *tls_client_start_opts(tls_ctx *ctx, vstream *s, const struct tls_client_start *p,
                                const struct tls_client_opts *opts, int *failure, sbuf *err)
{
    tls_sess *t;
    int dummy;

    if (!failure)
        failure = &dummy;
    *failure = TLS_CLIENT_FAIL_CONFIG;
    if (!ctx || ctx->server) {
        sbuf_adds(err, "no client TLS context");
        return 0;
    }
    if (ctx->loglevel >= 2)
        msg_info("setting up TLS connection to %s", p->namaddr);
    if ((t = sess_new(ctx, s, p->namaddr, false, err)) == 0)
        return 0;
    if (opts && apply_opts(t, opts, err) < 0) {
        sess_free(t);
        return 0;
    }
    if (p->servername && *p->servername && !is_ip_literal(p->servername)
        && !SSL_set_tlsext_host_name(t->ssl, p->servername)) {
        tls_log_errors(err);
        sess_free(t);
        return 0;
    }
    *failure = TLS_CLIENT_FAIL_HANDSHAKE;
    SSL_set_connect_state(t->ssl);
    if (handshake(t, p->timeout_ms, err) < 0) {
        sess_free(t);
        return 0;
    }
    collect_info(t);
    struct tls_info *i = &t->info;
    const char *why = 0;
    switch (p->level) {
    case TLS_LEV_FPRINT:
        if (!i->peer_cert)
            why = "no server certificate";
        else if (!(i->peer_fprint_matched = fprint_match(i, p->fingerprints)))
            why = "certificate fingerprint does not match";
        else
            i->peer_verified = true;
        if (why)
            *failure = TLS_CLIENT_FAIL_NOMATCH;
        break;
    case TLS_LEV_VERIFY:
    case TLS_LEV_SECURE:
        if (!i->peer_cert) {
            why = "no server certificate";
            *failure = TLS_CLIENT_FAIL_UNTRUSTED;
        } else if (!i->peer_trusted) {
            why = "untrusted issuer";
            *failure = TLS_CLIENT_FAIL_UNTRUSTED;
        } else if (!name_match(t->ssl, p->match)) {
            why = "name mismatch";
            *failure = TLS_CLIENT_FAIL_NOMATCH;
        } else {
            i->peer_verified = true;
        }
        break;
    default:
        break;
    }
    if (ctx->loglevel >= 1)
        tls_log_established(i, false, t->namaddr);
    if (why) {
        sbuf_printf(err, "Server certificate not %s: %s%s%s",
                    *failure == TLS_CLIENT_FAIL_NOMATCH ? "verified" : "trusted", why,
                    i->verify_error[0] && !i->peer_trusted ? ": " : "",
                    i->verify_error[0] && !i->peer_trusted ? i->verify_error : "");
        msg_info("%s: %s", p->namaddr, sbuf_str(err));
        SSL_shutdown(t->ssl);
        sess_free(t);
        return 0;
    }
    *failure = 0;
    vstream_set_io(s, io_read, io_write, t);
    return t;
}

void tls_sess_stop(tls_sess *t, vstream *s, bool failure)
{
    if (!t)
        return;
    if (!failure) {
        vstream_flush(s);
        ERR_clear_error();
        SSL_shutdown(t->ssl);       /* tls_fast_shutdown_enable: do not wait */
        ERR_clear_error();
    }
    vstream_set_io(s, 0, 0, 0);
    sess_free(t);
}

const struct tls_info *tls_sess_info(const tls_sess *t)
{
    return &t->info;
}
