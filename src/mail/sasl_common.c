/*
 * sasl_common.c - Cyrus SASL pieces shared by server and client (see
 * sasl_common.h).
 */
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <openssl/evp.h>

#include "mail/mail_conf.h"
#include "mail/sasl_common.h"
#include "util/msg.h"
#include "util/strv.h"

int sasl_security_parse(const char *opts, unsigned *flags, sbuf *err)
{
    static const struct { const char *name; unsigned flag; } words[] = {
        {"noplaintext", SASL_SEC_NOPLAINTEXT},
        {"noactive", SASL_SEC_NOACTIVE},
        {"nodictionary", SASL_SEC_NODICTIONARY},
        {"noanonymous", SASL_SEC_NOANONYMOUS},
        {"forward_secrecy", SASL_SEC_FORWARD_SECRECY},
        {"mutual_auth", SASL_SEC_MUTUAL_AUTH},
    };
    strv list;
    int ret = 0;

    *flags = 0;
    strv_init(&list);
    strv_split(&list, opts ? opts : "", STRV_LIST_DELIMS);
    for (size_t i = 0; i < list.n && ret == 0; i++) {
        size_t k;
        for (k = 0; k < sizeof(words) / sizeof(words[0]); k++)
            if (strcasecmp(list.v[i], words[k].name) == 0)
                break;
        if (k == sizeof(words) / sizeof(words[0])) {
            sbuf_printf(err, "unknown SASL security option \"%s\" (expected noanonymous, "
                        "noplaintext, noactive, nodictionary, mutual_auth or forward_secrecy)",
                        list.v[i]);
            ret = -1;
        } else {
            *flags |= words[k].flag;
        }
    }
    strv_free(&list);
    return ret;
}

const char *sasl_status_text(int status)
{
    const char *t = sasl_errstring(status, 0, 0);
    return t ? t : "unknown SASL error";
}

static int get_conf_path(void *context, const char **path)
{
    static char value[4096];
    (void) context;
    const char *v = mail_conf_str("cyrus_sasl_config_path");
    size_t n = strlen(v);
    if (n >= sizeof(value))
        return SASL_FAIL;
    memcpy(value, v, n + 1);
    *path = value;
    return SASL_OK;
}

/* Cyrus log levels to ours; the wording follows Postfix's. */
static int log_cb(void *context, int level, const char *message)
{
    (void) context;
    switch (level) {
    case SASL_LOG_ERR:
    case SASL_LOG_FAIL:
        msg_warn("SASL authentication failure: %s", message);
        break;
    case SASL_LOG_WARN:
        msg_warn("SASL authentication problem: %s", message);
        break;
    case SASL_LOG_NOTE:
        if (msg_verbose)
            msg_info("SASL authentication info: %s", message);
        break;
    default:
        if (msg_verbose > 1)
            msg_info("SASL authentication debug: %s", message);
        break;
    }
    return SASL_OK;
}

typedef int (*sasl_cb_fn)(void);

const void *sasl_common_callbacks(void)
{
    static sasl_callback_t with_path[] = {
        {SASL_CB_LOG, (sasl_cb_fn) (void (*)(void)) log_cb, 0},
        {SASL_CB_GETCONFPATH, (sasl_cb_fn) (void (*)(void)) get_conf_path, 0},
        {SASL_CB_LIST_END, 0, 0},
    };
    static sasl_callback_t without_path[] = {
        {SASL_CB_LOG, (sasl_cb_fn) (void (*)(void)) log_cb, 0},
        {SASL_CB_LIST_END, 0, 0},
    };
    return *mail_conf_str("cyrus_sasl_config_path") ? (const void *) with_path
                                                    : (const void *) without_path;
}

void sasl_b64_encode(const void *data, size_t len, sbuf *out)
{
    size_t need = 4 * ((len + 2) / 3) + 1;
    sbuf_reserve(out, need);
    int n = EVP_EncodeBlock((unsigned char *) out->s + out->len, data, (int) len);
    out->len += (size_t) n;
    out->s[out->len] = 0;
}

int sasl_b64_decode(const char *text, sbuf *out)
{
    size_t len = strlen(text);
    sbuf_reset(out);
    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                  || c == '+' || c == '/' || (c == '=' && i >= len - 2);
        if (!ok || (i == len - 2 && c == '=' && text[len - 1] != '='))
            return -1;
    }
    if (len == 0)
        return 0;
    sbuf_reserve(out, len / 4 * 3 + 1);
    int n = EVP_DecodeBlock((unsigned char *) out->s, (const unsigned char *) text, (int) len);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts the padding as data. */
    if (text[len - 1] == '=')
        n--;
    if (text[len - 2] == '=')
        n--;
    out->len = (size_t) n;
    out->s[n] = 0;
    return 0;
}
