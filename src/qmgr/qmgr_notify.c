/*
 * qmgr_notify.c - ask the bounce service for a notification, without blocking.
 *
 * Connects to $queue_directory/private/$bounce_service_name, sends one
 * bounce request (bounce_client.h) and waits in the event loop for the
 * reply, at most qmgr_ipc_timeout. On success the log the notice was
 * made from is done with: bounce/ID or trace/ID is removed, or the
 * delay warning record is cleared so the warning is sent once. On any
 * failure the message is kept (m->notify_failed) and the log stays, so
 * the next attempt asks again. Either way qmgr_message_finish() then
 * continues with the message's next step.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mail/bounce_client.h"
#include "mail/dsn_log.h"
#include "mail/mail_conf.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "qmgr/qmgr.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sock.h"

#define NOTIFY_CONNECT_TIMEOUT_MS 5000

struct notify_conv {
    struct qmgr_message *msg;
    char    kind[16];
    vstream *stream;
    uint64_t timer;
    bool    ok;
};

/* The warning is sent: zero the time in the QREC_WARN record. */
static void clear_warning(struct qmgr_message *m)
{
    qfile *qf = qfile_open(QUEUE_ACTIVE, m->id, true);
    if (!qf) {
        msg_warn("%s: open to update the delay warning time: %m", m->id);
        return;
    }
    char zero[20];
    memset(zero, '0', sizeof(zero));
    if (pwrite(qfile_fd(qf), zero, sizeof(zero), m->warn_offset + 5) != (ssize_t) sizeof(zero))
        msg_warn("%s: update the delay warning time: %m", m->id);
    qfile_close(qf);
    m->warn_time = 0;
}

static void conv_end(struct notify_conv *c)
{
    struct qmgr_message *m = c->msg;
    if (c->timer)
        event_timer_cancel(qmgr.loop, c->timer);
    if (c->stream) {
        event_fd_remove(qmgr.loop, vstream_fd(c->stream));
        vstream_close(c->stream);
    }
    if (c->ok) {
        if (strcmp(c->kind, BOUNCE_KIND_FAILURE) == 0)
            dsn_log_delete(DSN_LOG_BOUNCE, m->id);
        else if (strcmp(c->kind, BOUNCE_KIND_SUCCESS) == 0)
            dsn_log_delete(DSN_LOG_TRACE, m->id);
        else if (m->warn_offset >= 0)
            clear_warning(m);
    } else {
        m->notify_failed = true;
    }
    qmgr.notifying--;
    xfree(c);
    qmgr_message_finish(m);
}

static void on_reply(event_loop *loop, int fd, int ready, void *ctx)
{
    (void) loop;
    (void) fd;
    (void) ready;
    struct notify_conv *c = ctx;
    sbuf reason = SBUF_INIT, nid = SBUF_INIT;
    int rc = bounce_reply_read(c->stream, &reason, &nid);
    if (rc == BOUNCE_STAT_OK) {
        c->ok = true;
    } else {
        msg_warn("%s: %s notification: %s -- will try again later", c->msg->id, c->kind,
                 reason.len ? sbuf_str(&reason) : "bounce service failure");
    }
    sbuf_free(&reason);
    sbuf_free(&nid);
    conv_end(c);
}

static void on_timeout(event_loop *loop, void *ctx)
{
    (void) loop;
    struct notify_conv *c = ctx;
    c->timer = 0;
    msg_warn("%s: %s notification: timeout waiting for the %s service -- will try again later",
             c->msg->id, c->kind, qmgr.bounce_service);
    conv_end(c);
}

static void on_failed_start(event_loop *loop, void *ctx)
{
    (void) loop;
    conv_end(ctx);
}

void qmgr_notify(struct qmgr_message *m, const char *kind)
{
    struct notify_conv *c = xcalloc(1, sizeof(*c));
    qmgr.notifying++;
    c->msg = m;
    snprintf(c->kind, sizeof(c->kind), "%s", kind);
    char path[4200];
    int fd = -1;
    if (snprintf(path, sizeof(path), "%s/private/%s", mail_conf_str("queue_directory"),
                 qmgr.bounce_service) < (int) sizeof(path))
        fd = sock_connect_unix(path, NOTIFY_CONNECT_TIMEOUT_MS);
    if (fd < 0) {
        msg_warn("%s: %s notification: connect to private/%s: %m -- will try again later",
                 m->id, kind, qmgr.bounce_service);
        event_defer(qmgr.loop, on_failed_start, c);
        return;
    }
    c->stream = vstream_open(fd);
    vstream_set_timeout(c->stream, qmgr.ipc_timeout_ms);
    if (bounce_request_write(c->stream, kind, QUEUE_ACTIVE, m->id) < 0) {
        msg_warn("%s: %s notification: write to private/%s: %s -- will try again later",
                 m->id, kind, qmgr.bounce_service, strerror(vstream_errno(c->stream)));
        event_defer(qmgr.loop, on_failed_start, c);
        return;
    }
    if (event_fd_add(qmgr.loop, fd, EVENT_READ, on_reply, c) < 0) {
        msg_warn("%s: watch private/%s connection: %m", m->id, qmgr.bounce_service);
        event_defer(qmgr.loop, on_failed_start, c);
        return;
    }
    c->timer = event_timer_add(qmgr.loop, qmgr.ipc_timeout_ms, 0, on_timeout, c);
}
