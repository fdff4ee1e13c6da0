/*
 * tls_proto.c - the syntax of TLS parameters: security level names,
 * protocol lists and cipher grades (see tls.h).
 *
 * Pure functions: no OpenSSL state, no I/O beyond reading the
 * tls_*_cipherlist parameters, so the unit test covers them directly and
 * "postfix check" uses the same code as the daemons.
 *
 * Protocol lists follow Postfix: plain names enable only those versions,
 * "!name" excludes one, ">=name" and "<=name" bound the range. An
 * exclusion of an unknown name is ignored (a list written for a newer
 * library stays valid); any other unknown name is an error. SSLv2 and
 * SSLv3 are accepted as names but never enabled (OpenSSL 3 has neither).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>

#include "mail/mail_conf.h"
#include "mail/tls.h"

static const char *const level_names[] = {
    [TLS_LEV_NONE] = "none", [TLS_LEV_MAY] = "may", [TLS_LEV_ENCRYPT] = "encrypt",
    [TLS_LEV_FPRINT] = "fingerprint", [TLS_LEV_VERIFY] = "verify", [TLS_LEV_SECURE] = "secure",
};

int tls_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int) i;
    return -1;
}

const char *tls_level_name(int level)
{
    if (level < 0 || level >= (int) (sizeof(level_names) / sizeof(level_names[0])))
        return "unknown";
    return level_names[level];
}

static const struct {
    const char *name;
    unsigned bit;
    int version;        /* OpenSSL constant, 0 for the ones it lacks */
} protos[] = {
    {"SSLv2", TLS_PROTO_SSLv2, 0},
    {"SSLv3", TLS_PROTO_SSLv3, 0},
    {"TLSv1", TLS_PROTO_TLSv1, TLS1_VERSION},
    {"TLSv1.1", TLS_PROTO_TLSv1_1, TLS1_1_VERSION},
    {"TLSv1.2", TLS_PROTO_TLSv1_2, TLS1_2_VERSION},
    {"TLSv1.3", TLS_PROTO_TLSv1_3, TLS1_3_VERSION},
};
#define NPROTOS (sizeof(protos) / sizeof(protos[0]))

static int proto_index(const char *name)
{
    for (size_t i = 0; i < NPROTOS; i++)
        if (strcasecmp(name, protos[i].name) == 0)
            return (int) i;
    return -1;
}

int tls_protocols_parse(const char *list, sbuf *err)
{
    strv words;
    unsigned include = 0, exclude = 0;
    int lo = 0, hi = (int) NPROTOS - 1;
    int ret = 0;

    strv_init(&words);
    strv_split(&words, list ? list : "", " \t\r\n,:");
    for (size_t i = 0; i < words.n && ret == 0; i++) {
        const char *w = words.v[i];
        int idx;
        if (w[0] == '!') {
            if ((idx = proto_index(w + 1)) >= 0)
                exclude |= protos[idx].bit;
        } else if (strncmp(w, ">=", 2) == 0 || strncmp(w, "<=", 2) == 0) {
            if ((idx = proto_index(w + 2)) < 0) {
                sbuf_printf(err, "unknown TLS protocol name \"%s\" in \"%s\"", w + 2, list);
                ret = -1;
            } else if (w[0] == '>') {
                lo = idx > lo ? idx : lo;
            } else {
                hi = idx < hi ? idx : hi;
            }
        } else if ((idx = proto_index(w)) >= 0) {
            include |= protos[idx].bit;
        } else {
            sbuf_printf(err, "unknown TLS protocol name \"%s\" in \"%s\"", w, list);
            ret = -1;
        }
    }
    strv_free(&words);
    if (ret < 0)
        return -1;

    unsigned mask = include ? include : TLS_PROTO_ALL;
    mask &= ~exclude;
    for (int i = 0; i < (int) NPROTOS; i++)
        if (i < lo || i > hi)
            mask &= ~protos[i].bit;
    mask &= TLS_PROTO_USABLE;
    if (!mask) {
        sbuf_printf(err, "TLS protocol list \"%s\" leaves no usable protocol "
                    "(this library supports TLSv1 to TLSv1.3)", list ? list : "");
        return -1;
    }
    return (int) mask;
}

void tls_protocols_openssl(int mask, int *min_version, int *max_version, long *no_ops)
{
    static const long no_op[NPROTOS] = {0, 0, SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1,
                                        SSL_OP_NO_TLSv1_2, SSL_OP_NO_TLSv1_3};
    int first = -1, last = -1;

    *no_ops = 0;
    for (int i = 0; i < (int) NPROTOS; i++) {
        if (!protos[i].version)
            continue;
        if ((unsigned) mask & protos[i].bit) {
            if (first < 0)
                first = i;
            last = i;
        }
    }
    *min_version = first >= 0 ? protos[first].version : TLS1_3_VERSION;
    *max_version = last >= 0 ? protos[last].version : TLS1_3_VERSION;
    /* Holes between the two ends ("TLSv1 TLSv1.2" without TLSv1.1). */
    for (int i = first; i >= 0 && i <= last; i++)
        if (!((unsigned) mask & protos[i].bit))
            *no_ops |= no_op[i];
}

int tls_cipher_string(const char *grade, const strv *exclude, sbuf *out, sbuf *err)
{
    static const char *const grades[] = {"high", "medium", "low", "export", "null"};
    char param[64];
    bool known = false;

    for (size_t i = 0; i < sizeof(grades) / sizeof(grades[0]); i++)
        known |= strcasecmp(grade, grades[i]) == 0;
    if (!known) {
        sbuf_printf(err, "invalid cipher grade \"%s\" (expected high, medium, low, export or "
                    "null)", grade);
        return -1;
    }
    snprintf(param, sizeof(param), "tls_%s_cipherlist", grade);
    for (char *p = param; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char) (*p - 'A' + 'a');
    sbuf_reset(out);
    sbuf_adds(out, mail_conf_str(param));
    for (size_t i = 0; exclude && i < exclude->n; i++)
        sbuf_printf(out, ":!%s", exclude->v[i]);
    return 0;
}
