/*
 * anvil_client.c - the anvil protocol, client side (see anvil_client.h).
 *
 * One stream per process to $queue_directory/private/anvil, opened on
 * first use. A request that fails on an existing stream (anvil was
 * restarted) is tried once more on a new one. Replies are read with a
 * 10 second limit: anvil answers from memory, so a slow anvil is a broken
 * one and the limits are skipped rather than the client held up.
 *
 * Does not: decide anything about limits.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mail/anvil_client.h"
#include "mail/mail_conf.h"
#include "util/attr.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sock.h"
#include "util/vstream.h"

#define ANVIL_TIMEOUT_MS 10000

static vstream *anvil_stream;
static char *anvil_path;

void anvil_set_path(const char *path)
{
    xfree(anvil_path);
    anvil_path = path ? xstrdup(path) : 0;
    anvil_close();
}

void anvil_close(void)
{
    if (anvil_stream)
        vstream_close(anvil_stream);
    anvil_stream = 0;
}

void anvil_ident(sbuf *out, const char *service, const char *addr)
{
    sbuf_reset(out);
    sbuf_printf(out, "%s:%s", service ? service : "", addr ? addr : "");
}

static int anvil_open(void)
{
    char path[4096];
    int n = anvil_path ? snprintf(path, sizeof(path), "%s", anvil_path)
                       : snprintf(path, sizeof(path), "%s/private/%s",
                                  mail_conf_str("queue_directory"), ANVIL_SERVICE);
    int fd = n < 0 || (size_t) n >= sizeof(path) ? -1 : sock_connect_unix(path, ANVIL_TIMEOUT_MS);
    if (fd < 0) {
        msg_warn("connect to %s: %s", path, strerror(errno));
        return -1;
    }
    anvil_stream = vstream_open(fd);
    vstream_set_timeout(anvil_stream, ANVIL_TIMEOUT_MS);
    vstream_set_deadline(anvil_stream, 1);
    return 0;
}

/* One request and its reply; 0 with reply filled and status 0, or -1. */
static int anvil_call(const char *request, const char *ident, attr_list *reply)
{
    sbuf why = SBUF_INIT;
    int ret = -1;

    for (int attempt = 0; attempt < 2 && ret < 0; attempt++) {
        bool fresh = !anvil_stream;
        if (!anvil_stream && anvil_open() < 0)
            break;
        sbuf_reset(&why);
        int32_t status = -1;
        if (attr_print(anvil_stream, ATTR_SEND_STR("request", request),
                       ATTR_SEND_STR("ident", ident), ATTR_END) == 0
            && attr_read(anvil_stream, reply, 0, &why) == ATTR_OK
            && attr_get_int(reply, "status", &status) == 0 && status == 0) {
            ret = 0;
            break;
        }
        if (!why.len)
            sbuf_set(&why, status > 0 ? "request refused" : "connection failed");
        anvil_close();
        if (fresh)
            break;              /* a new connection that fails: anvil is not well */
    }
    if (ret < 0)
        msg_warn("anvil %s %s: %s", request, ident, why.len ? sbuf_str(&why) : "unavailable");
    sbuf_free(&why);
    return ret;
}

static int get_int(const attr_list *l, const char *name)
{
    int32_t v = 0;
    return attr_get_int(l, name, &v) == 0 && v >= 0 ? (int) v : 0;
}

int anvil_connect(const char *ident, int *count, int *rate)
{
    attr_list reply = ATTR_LIST_INIT;
    int ret = anvil_call(ANVIL_REQ_CONNECT, ident, &reply);
    if (ret == 0) {
        *count = get_int(&reply, "count");
        *rate = get_int(&reply, "rate");
    }
    attr_list_free(&reply);
    return ret;
}

int anvil_disconnect(const char *ident)
{
    attr_list reply = ATTR_LIST_INIT;
    int ret = anvil_call(ANVIL_REQ_DISCONNECT, ident, &reply);
    attr_list_free(&reply);
    return ret;
}

int anvil_event(const char *request, const char *ident, int *rate)
{
    attr_list reply = ATTR_LIST_INIT;
    int ret = anvil_call(request, ident, &reply);
    if (ret == 0)
        *rate = get_int(&reply, "rate");
    attr_list_free(&reply);
    return ret;
}

int anvil_lookup(const char *ident, struct anvil_lookup *out)
{
    attr_list reply = ATTR_LIST_INIT;
    int ret = anvil_call(ANVIL_REQ_LOOKUP, ident, &reply);
    if (ret == 0) {
        out->count = get_int(&reply, "count");
        out->rate = get_int(&reply, "rate");
        out->message = get_int(&reply, "message");
        out->recipient = get_int(&reply, "recipient");
        out->newtls = get_int(&reply, "newtls");
        out->auth = get_int(&reply, "auth");
    }
    attr_list_free(&reply);
    return ret;
}
