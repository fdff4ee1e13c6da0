/*
 * smtpd_policy.c - check_policy_service: the Postfix policy delegation
 * protocol (SMTPD_POLICY_README), so postgrey, policyd-spf and friends
 * work unchanged.
 *
 * "check_policy_service ENDPOINT", or "check_policy_service { ENDPOINT,
 * name=value, ... }" with per-service settings named like the
 * smtpd_policy_service_* parameters without that prefix (timeout,
 * max_idle, max_ttl, request_limit, try_limit, retry_delay,
 * default_action, policy_context; "{ name = value }" groups keep blanks).
 * ENDPOINT is inet:host:port, unix:/path or unix:private/name (relative to
 * queue_directory; "local:" is the same as "unix:").
 *
 * A request is "name=value" lines ending with an empty line (request=
 * smtpd_access_policy, protocol_state, protocol_name, helo_name, queue_id,
 * sender, recipient, recipient_count, client_address, client_name,
 * reverse_client_name, client_port, server_address, server_port,
 * instance, sasl_method, sasl_username, sasl_sender, size, ccert_*,
 * encryption_*, etrn_domain, stress, policy_context, compatibility_level,
 * mail_version); the reply is "name=value" lines ending with an empty
 * line, of which "action" is used as an access(5) result
 * (smtpd_access_result) in the current restriction list's context.
 *
 * Connections are kept per endpoint across requests and sessions of this
 * process; one is closed when it was idle longer than max_idle, lived
 * longer than max_ttl, served request_limit requests (0: no limit), or
 * the server closed it. Each attempt is bounded by timeout (connect,
 * write, read). A failed attempt ("warning: problem talking to server
 * X: why") is retried after retry_delay, try_limit times in all; then
 * default_action answers ("451 4.3.5 Server configuration problem").
 *
 * Does not: spawn policy servers (master.cf and spawn(8) do).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "mail/match_list.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sock.h"
#include "util/strv.h"
#include "util/vstream.h"

#include "smtpd/smtpd_restrict.h"

#define POLICY_LINE_MAX 4096        /* one reply line */
#define POLICY_LINES_MAX 100        /* lines in one reply */

struct policy_conf {
    char   *endpoint;
    long    timeout, max_idle, max_ttl, retry_delay;
    long    request_limit, try_limit;
    char   *default_action;
    char   *policy_context;
};

struct policy_conn {
    char   *key;                    /* the restriction argument as written */
    vstream *s;                     /* NULL: not connected */
    time_t  created, last_used;
    long    requests;
};
static struct policy_conn *conns;
static size_t nconns;

static void conf_free(struct policy_conf *pc)
{
    xfree(pc->endpoint);
    xfree(pc->default_action);
    xfree(pc->policy_context);
}

static int set_time(const char *name, const char *value, long *out)
{
    if (mail_conf_parse_time(value, 's', out) < 0 || *out < 0) {
        msg_warn("check_policy_service: bad %s value \"%s\"", name, value);
        return -1;
    }
    return 0;
}

static int set_int(const char *name, const char *value, long *out)
{
    long long v;
    if (mail_conf_parse_long(value, &v) < 0 || v < 0 || v > 1000000) {
        msg_warn("check_policy_service: bad %s value \"%s\"", name, value);
        return -1;
    }
    *out = (long) v;
    return 0;
}

/* The endpoint and settings for one restriction argument; -1 when bad. */
static int conf_parse(const char *arg, struct policy_conf *pc)
{
    strv items;
    int ret = 0;

    memset(pc, 0, sizeof(*pc));
    pc->timeout = mail_conf_time("smtpd_policy_service_timeout");
    pc->max_idle = mail_conf_time("smtpd_policy_service_max_idle");
    pc->max_ttl = mail_conf_time("smtpd_policy_service_max_ttl");
    pc->retry_delay = mail_conf_time("smtpd_policy_service_retry_delay");
    pc->request_limit = mail_conf_int("smtpd_policy_service_request_limit");
    pc->try_limit = mail_conf_int("smtpd_policy_service_try_limit");
    pc->default_action = xstrdup(mail_conf_str("smtpd_policy_service_default_action"));
    pc->policy_context = xstrdup(mail_conf_str("smtpd_policy_service_policy_context"));

    strv_init(&items);
    match_list_split(arg, &items);
    if (items.n == 0) {
        msg_warn("check_policy_service: no server endpoint");
        strv_free(&items);
        return -1;
    }
    pc->endpoint = xstrdup(items.v[0]);
    for (size_t i = 1; i < items.n && ret == 0; i++) {
        char *item = items.v[i];
        char *eq = strchr(item, '=');
        if (!eq) {
            msg_warn("check_policy_service %s: expected name=value, not \"%s\"",
                     pc->endpoint, item);
            ret = -1;
            break;
        }
        /* "{ name = value }" groups may have blanks around the '='. */
        char *name_end = eq;
        while (name_end > item && (name_end[-1] == ' ' || name_end[-1] == '\t'))
            name_end--;
        *name_end = 0;
        char *value = eq + 1;
        value += strspn(value, " \t");
        size_t vlen = strlen(value);
        while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
            value[--vlen] = 0;
        const char *name = item + strspn(item, " \t");
        if (strcmp(name, "timeout") == 0)
            ret = set_time(name, value, &pc->timeout);
        else if (strcmp(name, "max_idle") == 0)
            ret = set_time(name, value, &pc->max_idle);
        else if (strcmp(name, "max_ttl") == 0)
            ret = set_time(name, value, &pc->max_ttl);
        else if (strcmp(name, "retry_delay") == 0)
            ret = set_time(name, value, &pc->retry_delay);
        else if (strcmp(name, "request_limit") == 0)
            ret = set_int(name, value, &pc->request_limit);
        else if (strcmp(name, "try_limit") == 0)
            ret = set_int(name, value, &pc->try_limit);
        else if (strcmp(name, "default_action") == 0) {
            xfree(pc->default_action);
            pc->default_action = xstrdup(value);
        } else if (strcmp(name, "policy_context") == 0) {
            xfree(pc->policy_context);
            pc->policy_context = xstrdup(value);
        } else {
            msg_warn("check_policy_service %s: unknown setting \"%s\"", pc->endpoint, name);
            ret = -1;
        }
    }
    strv_free(&items);
    if (pc->try_limit < 1)
        pc->try_limit = 1;
    if (pc->timeout < 1)
        pc->timeout = 1;
    return ret;
}

/* ---- connections ---- */

static struct policy_conn *conn_for(const char *key)
{
    for (size_t i = 0; i < nconns; i++)
        if (strcmp(conns[i].key, key) == 0)
            return &conns[i];
    conns = xreallocarray(conns, nconns + 1, sizeof(*conns));
    memset(&conns[nconns], 0, sizeof(conns[nconns]));
    conns[nconns].key = xstrdup(key);
    return &conns[nconns++];
}

static void conn_close(struct policy_conn *pc)
{
    if (pc->s)
        vstream_close(pc->s);
    pc->s = 0;
    pc->requests = 0;
}

static int timeout_ms(long secs)
{
    return secs > 2000000 ? 2000000000 : (int) (secs * 1000);
}

/* Connect to the endpoint; the stream, or NULL with why. */
static vstream *conn_open(const struct policy_conf *pc, sbuf *why)
{
    const char *ep = pc->endpoint;
    int fd = -1;

    if (strncasecmp(ep, "unix:", 5) == 0 || strncasecmp(ep, "local:", 6) == 0) {
        const char *path = strchr(ep, ':') + 1;
        sbuf full = SBUF_INIT;
        if (*path != '/')
            sbuf_printf(&full, "%s/", mail_conf_str("queue_directory"));
        sbuf_adds(&full, path);
        if (!*path || full.len > SOCK_PATH_MAX) {
            sbuf_printf(why, "bad UNIX socket path \"%s\"", path);
        } else if ((fd = sock_connect_unix(sbuf_str(&full), timeout_ms(pc->timeout))) < 0) {
            sbuf_printf(why, "connect to %s: %m", sbuf_str(&full));
        }
        sbuf_free(&full);
    } else if (strncasecmp(ep, "inet:", 5) == 0) {
        sock_endpoint e;
        if (sock_parse_endpoint(ep, 0, &e, why) < 0 || e.kind != SOCK_EP_INET) {
            if (!why->len)
                sbuf_printf(why, "bad endpoint \"%s\"", ep);
        } else if ((fd = sock_connect_inet(e.host, e.port, 0, timeout_ms(pc->timeout))) < 0) {
            sbuf_printf(why, "connect to %s:%s: %m", e.host, e.port);
        }
    } else {
        sbuf_printf(why, "unsupported endpoint type (expected inet: or unix:): \"%s\"", ep);
    }
    if (fd < 0)
        return 0;
    vstream *s = vstream_open(fd);
    vstream_set_timeout(s, timeout_ms(pc->timeout));
    vstream_set_deadline(s, 1);
    return s;
}

/* ---- the request ---- */

/* name=value, with line breaks in the value made harmless. */
static void put_attr(sbuf *req, const char *name, const char *value)
{
    sbuf_printf(req, "%s=", name);
    for (const char *p = value ? value : ""; *p; p++)
        sbuf_addc(req, *p == '\n' || *p == '\r' ? ' ' : *p);
    sbuf_addc(req, '\n');
}

static void put_int(sbuf *req, const char *name, long long v)
{
    sbuf_printf(req, "%s=%lld\n", name, v);
}

static bool data_stage(const struct smtpd_check *c)
{
    return c->stage && (strcmp(c->stage, "DATA") == 0 || strcmp(c->stage, "END-OF-MESSAGE") == 0);
}

static void build_request(struct smtpd_check *c, const struct policy_conf *pc, sbuf *req)
{
    bool data = data_stage(c);

    sbuf_reset(req);
    put_attr(req, "request", "smtpd_access_policy");
    put_attr(req, "protocol_state", c->stage ? c->stage : "");
    put_attr(req, "protocol_name", c->protocol ? c->protocol : "SMTP");
    put_attr(req, "helo_name", c->helo);
    put_attr(req, "queue_id", c->queue_id);
    put_attr(req, "sender", c->sender);
    /* At DATA and END-OF-MESSAGE only when there is just one recipient. */
    put_attr(req, "recipient", !data || c->rcpt_count == 1 ? c->recipient : "");
    put_int(req, "recipient_count", data ? c->rcpt_count : 0);
    put_attr(req, "client_address", c->client_addr);
    put_attr(req, "client_name", c->client_name);
    put_attr(req, "reverse_client_name", c->reverse_name);
    put_attr(req, "instance", c->instance);
    put_attr(req, "sasl_method", c->sasl_method);
    put_attr(req, "sasl_username", c->sasl_username);
    put_attr(req, "sasl_sender", c->sasl_sender);
    put_int(req, "size", c->size);
    put_attr(req, "ccert_subject", c->ccert_subject);
    put_attr(req, "ccert_issuer", c->ccert_issuer);
    put_attr(req, "ccert_fingerprint", c->ccert_fingerprint);
    put_attr(req, "ccert_pubkey_fingerprint", c->ccert_pkey_fingerprint);
    put_attr(req, "encryption_protocol", c->tls_protocol);
    put_attr(req, "encryption_cipher", c->tls_cipher);
    put_int(req, "encryption_keysize", c->tls_keysize);
    put_attr(req, "etrn_domain", c->etrn_domain);
    put_attr(req, "stress", "");
    put_attr(req, "client_port", c->client_port);
    put_attr(req, "policy_context", pc->policy_context);
    put_attr(req, "server_address", c->server_addr);
    put_attr(req, "server_port", c->server_port);
    put_attr(req, "compatibility_level", mail_conf_str("compatibility_level"));
    put_attr(req, "mail_version", mail_conf_str("mail_version"));
    sbuf_addc(req, '\n');
}

/* One attempt on conn: 0 and the action, or -1 with why. */
static int attempt(struct policy_conn *conn, const struct policy_conf *pc, const sbuf *req,
                   sbuf *action, sbuf *why)
{
    time_t now = time(0);

    /* Retire a connection that is stale, or that the server closed. */
    if (conn->s && (now - conn->last_used > pc->max_idle || now - conn->created > pc->max_ttl
                    || (pc->request_limit > 0 && conn->requests >= pc->request_limit)
                    || vstream_input_waiting(conn->s)))
        conn_close(conn);
    if (!conn->s) {
        if (!(conn->s = conn_open(pc, why)))
            return -1;
        conn->created = now;
        conn->requests = 0;
    }
    conn->last_used = now;
    conn->requests++;
    if (vstream_write(conn->s, req->s, req->len) < 0 || vstream_flush(conn->s) < 0) {
        sbuf_printf(why, "write: %s", vstream_timed_out(conn->s) ? "timeout" : "error");
        return -1;
    }
    sbuf line = SBUF_INIT;
    bool have_action = false;
    int ret = -1;
    for (int n = 0; n < POLICY_LINES_MAX; n++) {
        int how = vstream_get_line(conn->s, &line, POLICY_LINE_MAX);
        if (how == VSTREAM_LINE_EOF || how == VSTREAM_LINE_ERR) {
            sbuf_adds(why, vstream_timed_out(conn->s) ? "read timeout"
                      : "lost connection while reading the reply");
            goto out;
        }
        if (how == VSTREAM_LINE_LONG) {
            sbuf_adds(why, "reply line too long");
            goto out;
        }
        if (line.len == 0) {
            if (!have_action) {
                sbuf_adds(why, "reply without an action attribute");
                goto out;
            }
            ret = 0;
            goto out;
        }
        if (strncmp(sbuf_str(&line), "action=", 7) == 0 && !have_action) {
            sbuf_set(action, sbuf_str(&line) + 7);
            have_action = true;
        } else if (!strchr(sbuf_str(&line), '=')) {
            sbuf_adds(why, "malformed reply line");
            goto out;
        }
    }
    sbuf_adds(why, "reply too long");
out:
    sbuf_free(&line);
    return ret;
}

static int r_policy(struct smtpd_check *c, const char *n, const char *arg)
{
    struct policy_conf pc;
    sbuf req = SBUF_INIT, action = SBUF_INIT, why = SBUF_INIT;
    int status;
    (void) n;

    if (conf_parse(arg, &pc) < 0) {
        conf_free(&pc);
        return smtpd_check_config_error(c);
    }
    struct policy_conn *conn = conn_for(arg);
    build_request(c, &pc, &req);
    bool ok = false;
    for (long t = 0; t < pc.try_limit && !ok; t++) {
        if (t > 0 && pc.retry_delay > 0)
            sleep((unsigned) (pc.retry_delay > 3600 ? 3600 : pc.retry_delay));
        sbuf_reset(&why);
        if (attempt(conn, &pc, &req, &action, &why) == 0) {
            ok = true;
        } else {
            msg_warn("problem talking to server %s: %s", pc.endpoint, sbuf_str(&why));
            conn_close(conn);
        }
    }
    if (!ok)
        sbuf_set(&action, pc.default_action);
    if (msg_verbose)
        msg_info("policy %s: action=%s", pc.endpoint, sbuf_str(&action));
    status = smtpd_access_result(c, sbuf_str(&action), pc.endpoint, c->reply_name,
                                 c->reply_class, 0);
    sbuf_free(&req);
    sbuf_free(&action);
    sbuf_free(&why);
    conf_free(&pc);
    return status;
}

static const struct smtpd_restriction policy_restrictions[] = {
    {"check_policy_service", SMTPD_R_ARG, r_policy},
    {0, 0, 0},
};

void smtpd_policy_register(void)
{
    smtpd_check_register(policy_restrictions);
}
