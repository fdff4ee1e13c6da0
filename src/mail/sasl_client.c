/*
 * sasl_client.c - SMTP AUTH client over Cyrus SASL (see sasl_client.h).
 *
 * Cyrus asks for the credentials through per-connection callbacks
 * (SASL_CB_USER and SASL_CB_AUTHNAME get the user name, SASL_CB_PASS the
 * password); no interaction is ever possible. No SASL security layer is
 * negotiated (max_ssf 0): TLS protects the session when it must be
 * protected, as in Postfix.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "mail/sasl_client.h"
#include "mail/sasl_common.h"
#include "util/mem.h"
#include "util/msg.h"

struct sasl_client {
    sasl_conn_t *conn;
    char *username;
    sasl_secret_t *secret;          /* the password as Cyrus wants it */
    size_t secret_size;
    sasl_callback_t callbacks[4];
    char *mech;
    sbuf decoded;
};

static bool lib_ready;

int sasl_client_lib_init(const char *type, const char *path, sbuf *err)
{
    int r;

    (void) path;
    if (strcasecmp(type, "cyrus") != 0) {
        sbuf_printf(err, "unsupported SASL client implementation: %s (only cyrus is available)",
                    type);
        return -1;
    }
    if (lib_ready)
        return 0;
    if ((r = sasl_client_init(sasl_common_callbacks())) != SASL_OK) {
        sbuf_printf(err, "SASL per-process initialization failed: %s", sasl_status_text(r));
        return -1;
    }
    lib_ready = true;
    return 0;
}

/* SASL_CB_USER, SASL_CB_AUTHNAME: the same name for both, as Postfix. */
static int get_user(void *context, int id, const char **result, unsigned *len)
{
    sasl_client *c = context;

    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
        return SASL_FAIL;
    *result = c->username;
    if (len)
        *len = (unsigned) strlen(c->username);
    return SASL_OK;
}

static int get_password(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
    sasl_client *c = context;

    (void) conn;
    if (id != SASL_CB_PASS || !psecret)
        return SASL_BADPARAM;
    *psecret = c->secret;
    return SASL_OK;
}

typedef int (*sasl_cb_fn)(void);

sasl_client *sasl_client_create(const struct sasl_client_params *p, sbuf *err)
{
    sasl_security_properties_t props;
    unsigned flags = 0;
    int r;

    if (!lib_ready) {
        sbuf_adds(err, "SASL library not initialized");
        return 0;
    }
    if (sasl_security_parse(p->security_options, &flags, err) < 0)
        return 0;

    sasl_client *c = xcalloc(1, sizeof(*c));
    const char *pw = p->password ? p->password : "";
    size_t pwlen = strlen(pw);
    c->username = xstrdup(p->username ? p->username : "");
    c->secret_size = sizeof(sasl_secret_t) + pwlen + 1;
    c->secret = xcalloc(1, c->secret_size);
    c->secret->len = (unsigned long) pwlen;
    memcpy(c->secret->data, pw, pwlen);
    sbuf_init(&c->decoded);
    c->callbacks[0] = (sasl_callback_t) {SASL_CB_USER, (sasl_cb_fn) (void (*)(void)) get_user, c};
    c->callbacks[1] = (sasl_callback_t) {SASL_CB_AUTHNAME, (sasl_cb_fn) (void (*)(void)) get_user,
                                         c};
    c->callbacks[2] = (sasl_callback_t) {SASL_CB_PASS, (sasl_cb_fn) (void (*)(void)) get_password,
                                         c};
    c->callbacks[3] = (sasl_callback_t) {SASL_CB_LIST_END, 0, 0};

    r = sasl_client_new(p->service, p->server_name, 0, 0, c->callbacks, 0, &c->conn);
    if (r != SASL_OK) {
        sbuf_printf(err, "SASL per-connection client initialization: %s", sasl_status_text(r));
        sasl_client_free(c);
        return 0;
    }
    memset(&props, 0, sizeof(props));
    props.min_ssf = 0;
    props.max_ssf = 0;              /* no SASL security layer */
    props.maxbufsize = 0;
    props.security_flags = flags;
    if ((r = sasl_setprop(c->conn, SASL_SEC_PROPS, &props)) != SASL_OK) {
        sbuf_printf(err, "SASL per-connection security setup: %s", sasl_status_text(r));
        sasl_client_free(c);
        return 0;
    }
    return c;
}

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void sasl_client_free(sasl_client *c)
{
    if (!c)
        return;
    if (c->conn)
        sasl_dispose(&c->conn);
    if (c->secret) {
        wipe(c->secret, c->secret_size);
        xfree(c->secret);
    }
    xfree(c->username);
    xfree(c->mech);
    if (c->decoded.s)
        wipe(c->decoded.s, c->decoded.cap);
    sbuf_free(&c->decoded);
    xfree(c);
}

static void encode(const char *out, unsigned outlen, sbuf *to)
{
    sbuf_reset(to);
    if (out && outlen)
        sasl_b64_encode(out, outlen, to);
}

int sasl_client_first(sasl_client *c, const char *mechs, const char **mech, sbuf *initial,
                      bool *has_initial, sbuf *err)
{
    const char *out = 0, *chosen = 0;
    unsigned outlen = 0;
    sasl_interact_t *interact = 0;

    *has_initial = false;
    sbuf_reset(initial);
    int r = sasl_client_start(c->conn, mechs, &interact, &out, &outlen, &chosen);
    if (r != SASL_OK && r != SASL_CONTINUE) {
        sbuf_set(err, sasl_status_text(r));
        return SASL_CLNT_FAIL;
    }
    if (!chosen) {
        sbuf_set(err, "no mechanism chosen");
        return SASL_CLNT_FAIL;
    }
    xfree(c->mech);
    c->mech = xstrdup(chosen);
    *mech = c->mech;
    if (out) {
        *has_initial = true;
        encode(out, outlen, initial);
    }
    return SASL_CLNT_OK;
}

int sasl_client_next(sasl_client *c, const char *challenge, sbuf *response, sbuf *err)
{
    const char *out = 0;
    unsigned outlen = 0;
    sasl_interact_t *interact = 0;

    if (sasl_b64_decode(challenge, &c->decoded) < 0) {
        sbuf_set(err, "malformed SASL challenge from server");
        return SASL_CLNT_FAIL;
    }
    int r = sasl_client_step(c->conn, c->decoded.len ? c->decoded.s : "",
                             (unsigned) c->decoded.len, &interact, &out, &outlen);
    if (r != SASL_OK && r != SASL_CONTINUE) {
        sbuf_set(err, sasl_status_text(r));
        return SASL_CLNT_FAIL;
    }
    encode(out, outlen, response);
    return SASL_CLNT_OK;
}
