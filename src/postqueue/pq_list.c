/*
 * pq_list.c - postqueue -p and -j: get the queue listing and print it.
 *
 * The listing comes from the showq service ($queue_directory/public/
 * $showq_service_name), which reads the queue as mail_owner. When nobody
 * answers there (the mail system is down), root reads the queue directly
 * with the same code showq uses (Postfix runs showq stand-alone for
 * this); other users get "Queue report unavailable - mail system is down".
 * Output streams: each message is printed as soon as it is read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "mail/queue_scan.h"
#include "mail/queue_summary.h"
#include "mail/showq_proto.h"
#include "postqueue/postqueue.h"
#include "util/msg.h"
#include "util/sock.h"
#include "util/vstream.h"

#define SHOWQ_CONNECT_MS 10000

static void emit(sbuf *out)
{
    if (out->len && fwrite(out->s, 1, out->len, stdout) != out->len)
        pq_fatal(EX_IOERR, "output write error: %m");
    sbuf_reset(out);
    if (fflush(stdout) != 0)
        pq_fatal(EX_IOERR, "output write error: %m");
}

static void from_showq(int fd, pq_format *f)
{
    vstream *s = vstream_open(fd);
    long t = mail_conf_time("ipc_timeout");
    vstream_set_timeout(s, t > 0 && t < 86400 ? (int) t * 1000 : -1);
    queue_summary qs;
    queue_summary_init(&qs);
    sbuf out = SBUF_INIT, why = SBUF_INIT, reason = SBUF_INIT;
    int status = 0, r;
    while ((r = showq_read(s, &qs, &status, &reason, &why)) > 0) {
        pq_message(f, &qs, &out);
        emit(&out);
    }
    if (r < 0) {
        emit(&out);
        pq_fatal(EX_SOFTWARE, "malformed showq server response: %s", sbuf_str(&why));
    }
    vstream_close(s);
    if (status != 0)
        msg_warn("the queue listing may be incomplete: %s", sbuf_str(&reason));
    pq_end(f, &out);
    emit(&out);
    queue_summary_free(&qs);
    sbuf_free(&out);
    sbuf_free(&why);
    sbuf_free(&reason);
}

struct direct {
    pq_format *f;
    queue_summary qs;
    sbuf    out;
};

static int direct_one(const char *queue, const char *id, const char *path, void *ctx)
{
    (void) path;
    struct direct *d = ctx;
    sbuf why = SBUF_INIT;
    int r = queue_summary_read(queue, id, &d->qs, &why);
    if (r < 0)
        msg_warn("%s", sbuf_str(&why));
    else if (r > 0) {
        pq_message(d->f, &d->qs, &d->out);
        emit(&d->out);
    }
    sbuf_free(&why);
    return 0;
}

static void from_queue(pq_format *f)
{
    struct direct d;
    memset(&d, 0, sizeof(d));
    d.f = f;
    queue_summary_init(&d.qs);
    queue_walk(QUEUE_SCAN_LISTED, direct_one, &d);
    pq_end(f, &d.out);
    emit(&d.out);
    queue_summary_free(&d.qs);
    sbuf_free(&d.out);
}

int pq_list(enum pq_mode mode)
{
    pq_check_acl("authorized_mailq_users", "view the mail queue");
    pq_format f;
    pq_begin(&f, mode, mail_conf_bool("enable_long_queue_ids"));
    char path[4200];
    snprintf(path, sizeof(path), "%s/public/%s", mail_conf_str("queue_directory"),
             mail_conf_str("showq_service_name"));
    int fd = sock_connect_unix(path, SHOWQ_CONNECT_MS);
    if (fd >= 0) {
        from_showq(fd, &f);
        return 0;
    }
    if (msg_verbose)
        msg_info("connect to %s: %m", path);
    if (getuid() != 0)
        pq_fatal(EX_UNAVAILABLE, "Queue report unavailable - mail system is down");
    from_queue(&f);
    return 0;
}
