/*
 * milter_send.c - pass mail filters and their sockets from smtpd to
 * cleanup (see milter_send.h for the exchange).
 *
 * The descriptors travel only after cleanup has answered the request:
 * at that moment cleanup's buffered reader holds nothing, so the byte
 * that carries them is read by recvmsg() and never by a plain read()
 * that would drop them.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail/milter_int.h"
#include "mail/milter_send.h"
#include "util/mem.h"
#include "util/msg.h"

#define MAX_SEND 32                 /* filters in one hand-over */

static const int content_stages[] = {MILTER_MAC_DATA, MILTER_MAC_EOH, MILTER_MAC_EOM};

static void bare_name(const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    if (n >= 2 && name[0] == '{' && name[n - 1] == '}')
        snprintf(out, size, "%.*s", (int) (n - 2), name + 1);
    else
        snprintf(out, size, "%s", name);
}

static int send_fds(int sock, const int *fds, int n)
{
    char byte = 'M';
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * MAX_SEND)];
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t) n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t) n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t) n);
    ssize_t rc;
    do
        rc = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (rc < 0 && errno == EINTR);
    return rc == 1 ? 0 : -1;
}

int milters_send(milters *ms, vstream *stream, milter_macro_fn fn, void *ctx)
{
    attr_list req = ATTR_LIST_INIT, reply = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT, joined = SBUF_INIT;
    strv names;
    int fds[MAX_SEND];
    int n = 0, ret = -1;

    strv_init(&names);
    attr_add_str(&req, "request", MILTER_REQ_MILTERS);
    for (size_t i = 0; ms && i < ms->n && n < MAX_SEND; i++) {
        milter *m = ms->v[i];
        if (!milter_in_message(m))
            continue;
        struct milter_xfer x;
        milter_get_xfer(m, &x);
        attr_list *l = attr_add_list(&req, "milter");
        attr_add_str(l, "name", x.name);
        attr_add_int(l, "conn_timeout", x.conn_timeout);
        attr_add_int(l, "cmd_timeout", x.cmd_timeout);
        attr_add_int(l, "msg_timeout", x.msg_timeout);
        attr_add_str(l, "def_action", x.def_action);
        attr_add_str(l, "protocol", x.protocol);
        attr_add_int(l, "version", (int32_t) x.version);
        attr_add_int(l, "actions", (int32_t) x.actions);
        attr_add_int(l, "events", (int32_t) x.events);
        attr_add_int(l, "np_mask", (int32_t) x.np_mask);
        attr_add_int(l, "state", x.state);
        for (int k = 0; k < MILTER_MAC_COUNT; k++) {
            char key[16];
            snprintf(key, sizeof(key), "mac%d", k);
            char *j = strv_join(&x.macros[k], " ");
            attr_add_str(l, key, j);
            xfree(j);
        }
        for (size_t k = 0; k < sizeof(content_stages) / sizeof(content_stages[0]); k++) {
            const strv *list = &x.macros[content_stages[k]];
            for (size_t j = 0; j < list->n; j++)
                strv_add(&names, list->v[j]);
        }
        fds[n++] = x.fd;
    }
    if (n == 0) {
        ret = 0;
        goto out;
    }
    attr_add_int(&req, "count", n);
    attr_list *mac = attr_add_list(&req, "macros");
    for (size_t i = 0; i < names.n && fn; i++) {
        char bare[128];
        bare_name(names.v[i], bare, sizeof(bare));
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            char other[128];
            bare_name(names.v[j], other, sizeof(other));
            dup = strcmp(bare, other) == 0;
        }
        const char *value = dup ? 0 : fn(ctx, bare);
        if (!value)
            continue;
        sbuf_reset(&joined);
        sbuf_printf(&joined, "%s=%s", bare, value);
        attr_add_str(mac, "macro", sbuf_str(&joined));
    }

    int32_t status = -1;
    if (attr_write(stream, &req) < 0) {
        msg_warn("milter hand-over: send request: %s", strerror(vstream_errno(stream)));
    } else if (attr_read(stream, &reply, 0, &why) != ATTR_OK
               || attr_scan(&reply, &why, ATTR_RECV_INT("status", &status), ATTR_END) < 0) {
        msg_warn("milter hand-over: reply: %s", why.len ? sbuf_str(&why) : "connection closed");
    } else if (status != 0) {
        msg_warn("milter hand-over: refused (status %d)", (int) status);
    } else if (send_fds(vstream_fd(stream), fds, n) < 0) {
        msg_warn("milter hand-over: send descriptors: %m");
    } else {
        ret = 0;
    }
out:
    attr_list_free(&req);
    attr_list_free(&reply);
    strv_free(&names);
    sbuf_free(&why);
    sbuf_free(&joined);
    return ret;
}

/* Receive exactly want descriptors on one byte. 0 or -1. */
static int recv_fds(int sock, int timeout_ms, int *fds, int want)
{
    struct pollfd p = {sock, POLLIN, 0};
    int rc;
    do
        rc = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc <= 0) {
        errno = rc == 0 ? ETIMEDOUT : errno;
        return -1;
    }
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * MAX_SEND)];
    } u;
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof(u.buf);
    ssize_t got;
    do
        got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (got < 0 && errno == EINTR);
    if (got != 1) {
        if (got == 0)
            errno = ECONNRESET;
        return -1;
    }
    int have = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int) ((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int tmp[MAX_SEND];
        memcpy(tmp, CMSG_DATA(c), sizeof(int) * (size_t) (k > MAX_SEND ? MAX_SEND : k));
        for (int i = 0; i < k && i < MAX_SEND; i++) {
            if (have < want)
                fds[have++] = tmp[i];
            else
                close(tmp[i]);
        }
    }
    if (have != want || (mh.msg_flags & MSG_CTRUNC)) {
        for (int i = 0; i < have; i++)
            close(fds[i]);
        errno = EPROTO;
        return -1;
    }
    return 0;
}

milters *milters_receive(vstream *stream, const attr_list *req, sbuf *why)
{
    int32_t count = 0;
    if (attr_get_int(req, "count", &count) < 0 || count < 1 || count > MAX_SEND) {
        sbuf_set(why, "milters request without a valid count");
        return 0;
    }
    struct milter_xfer x[MAX_SEND];
    strv lists[MAX_SEND][MILTER_MAC_COUNT];
    int n = 0;
    bool bad = false;
    memset(x, 0, sizeof(x));
    for (size_t i = 0; i < req->n && !bad; i++) {
        if (req->a[i].type != ATTR_LIST || strcmp(req->a[i].name, "milter") != 0)
            continue;
        if (n >= count) {
            bad = true;
            break;
        }
        const attr_list *l = req->a[i].v.list;
        int32_t ct, mt, gt, ver, act, ev, np, state;
        const char *name, *def_action, *protocol;
        if (attr_scan(l, why, ATTR_RECV_STR("name", &name), ATTR_RECV_INT("conn_timeout", &ct),
                      ATTR_RECV_INT("cmd_timeout", &mt), ATTR_RECV_INT("msg_timeout", &gt),
                      ATTR_RECV_STR("def_action", &def_action),
                      ATTR_RECV_STR("protocol", &protocol), ATTR_RECV_INT("version", &ver),
                      ATTR_RECV_INT("actions", &act), ATTR_RECV_INT("events", &ev),
                      ATTR_RECV_INT("np_mask", &np), ATTR_RECV_INT("state", &state),
                      ATTR_END) < 0) {
            bad = true;
            break;
        }
        x[n] = (struct milter_xfer){name, ct, mt, gt, def_action, protocol, (uint32_t) ver,
                                    (uint32_t) act, (uint32_t) ev, (uint32_t) np, state,
                                    lists[n], -1};
        for (int k = 0; k < MILTER_MAC_COUNT; k++) {
            char key[16];
            const char *v = "";
            snprintf(key, sizeof(key), "mac%d", k);
            (void) attr_get_str(l, key, &v);
            strv_init(&lists[n][k]);
            strv_split(&lists[n][k], v, " ");
        }
        n++;
    }
    milters *ms = 0;
    int fds[MAX_SEND];
    if (bad || n != count) {
        if (!why->len)
            sbuf_set(why, "milters request does not match its count");
    } else if (vstream_peek_pending(stream) != 0) {
        sbuf_set(why, "milters request followed by unexpected data");
    } else if (attr_print(stream, ATTR_SEND_INT("status", 0), ATTR_END) < 0) {
        sbuf_printf(why, "reply: %s", strerror(vstream_errno(stream)));
    } else if (recv_fds(vstream_fd(stream), vstream_timeout_ms(stream), fds, n) < 0) {
        sbuf_printf(why, "receive descriptors: %s", strerror(errno));
    } else {
        ms = milters_new_empty();
        for (int i = 0; i < n; i++) {
            x[i].fd = fds[i];
            milters_add_xfer(ms, &x[i]);
        }
        const attr_list *mac = attr_get_list(req, "macros");
        for (size_t i = 0; mac && i < mac->n; i++)
            if (mac->a[i].type == ATTR_STR && strcmp(mac->a[i].name, "macro") == 0
                && strchr(mac->a[i].v.str.data, '=')
                && strlen(mac->a[i].v.str.data) == mac->a[i].v.str.len)
                strv_add(&ms->received, mac->a[i].v.str.data);
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < MILTER_MAC_COUNT; k++)
            strv_free(&lists[i][k]);
    return ms;
}

const char *milters_received_macro(const milters *ms, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; ms && i < ms->received.n; i++)
        if (strncmp(ms->received.v[i], name, n) == 0 && ms->received.v[i][n] == '=')
            return ms->received.v[i] + n + 1;
    return 0;
}
