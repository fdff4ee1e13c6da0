/*
 * fuzz_tls_sasl.c - libFuzzer target for what a client or main.cf feeds
 * the TLS and SASL glue without a handshake: the base64 of AUTH responses
 * (sasl_common.h), TLS protocol lists and SASL security option lists, and
 * PEM certificate/key files (tls_ctx.c's loader through tls_pem_load).
 *
 * Checks: decoded base64, encoded and decoded again, gives the same
 * bytes; a protocol
 * list that parses gives only usable protocol bits and a min <= max
 * OpenSSL range; nothing crashes or leaks on any input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "support.h"
#include "mail/sasl_common.h"
#include "mail/tls.h"
#include "mail/tls_int.h"
#include "util/sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    sbuf a = SBUF_INIT, b = SBUF_INIT;
    unsigned flags;

    if (size > 16384)
        return 0;
    fuzz_init();
    text = fuzz_cstr(data, size);

    if (sasl_b64_decode(text, &a) == 0) {
        sbuf c = SBUF_INIT;
        sasl_b64_encode(a.s ? a.s : "", a.len, &b);
        if (sasl_b64_decode(sbuf_str(&b), &c) < 0 || c.len != a.len
            || (a.len && memcmp(a.s, c.s, a.len) != 0))
            abort();
        sbuf_free(&c);
    }
    sbuf_reset(&a);
    int mask = tls_protocols_parse(text, &a);
    if (mask >= 0) {
        int lo, hi;
        long no;
        if ((mask & ~(int) TLS_PROTO_USABLE) || mask == 0)
            abort();
        tls_protocols_openssl(mask, &lo, &hi, &no);
        if (lo > hi)
            abort();
    }
    sbuf_reset(&a);
    (void) sasl_security_parse(text, &flags, &a);

    EVP_PKEY *key = 0;
    STACK_OF(X509) *certs = 0;
    sbuf_reset(&a);
    if (tls_pem_load(fuzz_write_file("pem", data, size), &key, &certs, &a) == 0) {
        EVP_PKEY_free(key);
        sk_X509_pop_free(certs, X509_free);
    }
    free(text);
    sbuf_free(&a);
    sbuf_free(&b);
    return 0;
}
