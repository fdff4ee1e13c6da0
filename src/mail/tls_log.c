/*
 * tls_log.c - TLS log lines and fingerprints in Postfix's formats (see
 * tls.h): the "... TLS connection established ..." summary, OpenSSL error
 * queues as "TLS library problem" warnings, "AA:BB:..." digests.
 *
 * Does not: decide what to log when (callers look at the loglevel).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "mail/tls.h"
#include "util/msg.h"

void tls_info_summary(const struct tls_info *info, sbuf *out)
{
    sbuf_printf(out, "%s with cipher %s (%d/%d bits)", info->protocol ? info->protocol : "?",
                info->cipher ? info->cipher : "?", info->cipher_usebits, info->cipher_algbits);
    if (info->kex[0]) {
        sbuf_printf(out, " key-exchange %s", info->kex);
        if (info->kex_bits > 0)
            sbuf_printf(out, " (%d bits)", info->kex_bits);
    }
    if (info->srv_sig[0]) {
        sbuf_printf(out, " server-signature %s", info->srv_sig);
        if (info->srv_sig_curve[0])
            sbuf_printf(out, " (%s)", info->srv_sig_curve);
        else if (info->srv_sig_bits > 0)
            sbuf_printf(out, " (%d bits)", info->srv_sig_bits);
        if (info->srv_sig_dgst[0])
            sbuf_printf(out, " server-digest %s", info->srv_sig_dgst);
    }
    if (info->clnt_sig[0]) {
        sbuf_printf(out, " client-signature %s", info->clnt_sig);
        if (info->clnt_sig_curve[0])
            sbuf_printf(out, " (%s)", info->clnt_sig_curve);
        else if (info->clnt_sig_bits > 0)
            sbuf_printf(out, " (%d bits)", info->clnt_sig_bits);
        if (info->clnt_sig_dgst[0])
            sbuf_printf(out, " client-digest %s", info->clnt_sig_dgst);
    }
}

const char *tls_info_trust(const struct tls_info *info)
{
    if (!info->peer_cert)
        return "Anonymous";
    if (info->peer_verified)
        return "Verified";
    return info->peer_trusted ? "Trusted" : "Untrusted";
}

void tls_log_established(const struct tls_info *info, bool server, const char *namaddr)
{
    sbuf line = SBUF_INIT;

    /* Postfix says "established" for resumed sessions too; parsers rely on it. */
    sbuf_printf(&line, "%s TLS connection established %s %s: ", tls_info_trust(info),
                server ? "from" : "to", namaddr);
    tls_info_summary(info, &line);
    msg_info("%s", sbuf_str(&line));
    sbuf_free(&line);
}

void tls_log_errors(sbuf *err)
{
    unsigned long e;
    char buf[256];
    bool first = true;

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        msg_warn("TLS library problem: %s", buf);
        if (first && err) {
            const char *reason = ERR_reason_error_string(e);
            sbuf_adds(err, reason ? reason : buf);
        }
        first = false;
    }
}

int tls_fingerprint(const char *dgst, const unsigned char *data, size_t len, char *out,
                    size_t size)
{
    const EVP_MD *md = EVP_get_digestbyname(dgst);
    unsigned char md_buf[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    static const char hex[] = "0123456789ABCDEF";

    if (!md || !EVP_Digest(data, len, md_buf, &md_len, md, 0) || size < (size_t) md_len * 3) {
        if (size)
            out[0] = 0;
        return -1;
    }
    for (unsigned int i = 0; i < md_len; i++) {
        out[i * 3] = hex[md_buf[i] >> 4];
        out[i * 3 + 1] = hex[md_buf[i] & 15];
        out[i * 3 + 2] = i + 1 < md_len ? ':' : 0;
    }
    return 0;
}
