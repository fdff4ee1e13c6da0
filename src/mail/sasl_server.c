/*
 * sasl_server.c - SMTP AUTH server over Cyrus SASL (see sasl_server.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "mail/sasl_common.h"
#include "mail/sasl_server.h"
#include "util/mem.h"
#include "util/msg.h"

struct sasl_server {
    sasl_conn_t *conn;
    char *mechs;
    char *username;
    sbuf decoded;
};

static bool lib_ready;

int sasl_server_lib_init(const char *type, const char *path, sbuf *err)
{
    int r;

    if (strcasecmp(type, "cyrus") != 0) {
        sbuf_printf(err, "unsupported SASL server implementation: %s (only cyrus is available)",
                    type);
        return -1;
    }
    if (lib_ready)
        return 0;
    if ((r = sasl_server_init(sasl_common_callbacks(), path)) != SASL_OK) {
        sbuf_printf(err, "SASL per-process initialization failed: %s", sasl_status_text(r));
        return -1;
    }
    lib_ready = true;
    return 0;
}

sasl_server *sasl_server_create(const struct sasl_server_params *p, sbuf *err)
{
    sasl_server *s;
    sasl_conn_t *conn = 0;
    sasl_security_properties_t props;
    unsigned flags = 0;
    int r;

    if (!lib_ready) {
        sbuf_adds(err, "SASL library not initialized");
        return 0;
    }
    if (sasl_security_parse(p->security_options, &flags, err) < 0)
        return 0;
    r = sasl_server_new(p->service, p->server_fqdn,
                        p->user_realm && *p->user_realm ? p->user_realm : 0, 0, 0, 0, 0, &conn);
    if (r != SASL_OK) {
        sbuf_printf(err, "SASL per-connection server initialization: %s", sasl_status_text(r));
        return 0;
    }
    memset(&props, 0, sizeof(props));
    props.min_ssf = 0;
    props.max_ssf = 0;              /* no SASL security layer: TLS does that */
    props.maxbufsize = 0;
    props.security_flags = flags;
    if ((r = sasl_setprop(conn, SASL_SEC_PROPS, &props)) != SASL_OK) {
        sbuf_printf(err, "SASL per-connection security setup: %s", sasl_status_text(r));
        sasl_dispose(&conn);
        return 0;
    }
    s = xcalloc(1, sizeof(*s));
    s->conn = conn;
    sbuf_init(&s->decoded);
    return s;
}

void sasl_server_free(sasl_server *s)
{
    if (!s)
        return;
    sasl_dispose(&s->conn);
    xfree(s->mechs);
    xfree(s->username);
    if (s->decoded.s)
        memset(s->decoded.s, 0, s->decoded.cap);    /* it held a password */
    sbuf_free(&s->decoded);
    xfree(s);
}

const char *sasl_server_mechs(sasl_server *s)
{
    const char *list = 0;
    unsigned len = 0;
    int count = 0;

    if (s->mechs)
        return s->mechs;
    if (sasl_listmech(s->conn, 0, "", " ", "", &list, &len, &count) != SASL_OK || count <= 0
        || !list)
        return 0;
    s->mechs = xstrdup(list);
    return s->mechs;
}

/* Turn a Cyrus step result into ours. */
static int step_result(sasl_server *s, int r, const char *out, unsigned outlen, sbuf *reply)
{
    sbuf_reset(reply);
    if (r == SASL_OK) {
        const void *name = 0;
        if (sasl_getprop(s->conn, SASL_USERNAME, &name) != SASL_OK || !name) {
            sbuf_adds(reply, "cannot find the authenticated user name");
            return SASL_SRV_FAIL;
        }
        xfree(s->username);
        s->username = xstrdup(name);
        for (char *p = s->username; *p; p++)
            if ((unsigned char) *p < 0x20 || (unsigned char) *p == 0x7f)
                *p = '?';
        return SASL_SRV_DONE;
    }
    if (r == SASL_CONTINUE) {
        sasl_b64_encode(out, outlen, reply);
        return SASL_SRV_MORE;
    }
    if (r == SASL_NOUSER)       /* privacy: no user enumeration */
        r = SASL_BADAUTH;
    sbuf_adds(reply, sasl_status_text(r));
    return SASL_SRV_FAIL;
}

static int decode(sasl_server *s, const char *text, sbuf *reply)
{
    if (sasl_b64_decode(text, &s->decoded) < 0) {
        sbuf_set(reply, "Invalid base64 data in continued response");
        return -1;
    }
    return 0;
}

int sasl_server_first(sasl_server *s, const char *mech, const char *initial, sbuf *reply)
{
    const char *out = 0;
    unsigned outlen = 0;
    const char *in = 0;
    unsigned inlen = 0;

    for (const char *p = mech; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_') || p - mech > 20) {
            sbuf_set(reply, "Invalid authentication mechanism");
            return SASL_SRV_FAIL;
        }
    }
    if (initial) {
        if (strcmp(initial, "=") == 0) {
            sbuf_reset(&s->decoded);
            sbuf_reserve(&s->decoded, 1);
            s->decoded.s[0] = 0;
        } else if (decode(s, initial, reply) < 0) {
            return SASL_SRV_FORM;
        }
        in = s->decoded.s;
        inlen = (unsigned) s->decoded.len;
    }
    int r = sasl_server_start(s->conn, mech, in, inlen, &out, &outlen);
    return step_result(s, r, out, outlen, reply);
}

int sasl_server_next(sasl_server *s, const char *response, sbuf *reply)
{
    const char *out = 0;
    unsigned outlen = 0;

    if (decode(s, response, reply) < 0)
        return SASL_SRV_FORM;
    int r = sasl_server_step(s->conn, s->decoded.len ? s->decoded.s : "",
                             (unsigned) s->decoded.len, &out, &outlen);
    return step_result(s, r, out, outlen, reply);
}

const char *sasl_server_username(sasl_server *s)
{
    return s->username;
}
