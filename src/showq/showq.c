/*
 * showq - list the mail queue for postqueue -p / -j and mailq (showq(8)).
 *
 * master.cf: "showq unix n - n - - showq", i.e. $queue_directory/public/showq,
 * reachable by any local user through the set-group-ID postqueue. The
 * daemon runs as mail_owner, so it can read every queue file that
 * unprivileged users cannot. It reads nothing from the client: on each
 * connection it walks maildrop, active, incoming, deferred and hold (in
 * that order, queue IDs sorted within a queue), sends one summary per
 * message (src/mail/showq_proto.h) and an end record. Formatting is the
 * client's job (postqueue), as in Postfix.
 *
 * A file that cannot be read is logged and left out; the end record then
 * says the listing is incomplete (status -1), so postqueue can warn.
 * Writes are bounded by ipc_timeout; a client that stops reading is
 * dropped.
 *
 * NOT HERE: output formats (src/postqueue), queue changes (postsuper).
 */
#include <string.h>

#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "mail/queue_scan.h"
#include "mail/queue_summary.h"
#include "mail/showq_proto.h"
#include "util/msg.h"
#include "util/sbuf.h"

struct walk {
    vstream *client;
    queue_summary qs;
    long    unreadable;
    bool    failed;         /* the client went away */
};

static int show_one(const char *queue, const char *id, const char *path, void *ctx)
{
    (void) path;
    struct walk *w = ctx;
    sbuf why = SBUF_INIT;
    int r = queue_summary_read(queue, id, &w->qs, &why);
    if (r < 0) {
        msg_warn("%s", sbuf_str(&why));
        w->unreadable++;
    } else if (r > 0 && showq_send_message(w->client, &w->qs) < 0) {
        w->failed = true;
    }
    sbuf_free(&why);
    return w->failed ? 1 : 0;
}

static void showq_serve(vstream *client, const char *service)
{
    (void) service;
    long timeout = mail_conf_time("ipc_timeout");
    vstream_set_timeout(client, timeout > 0 && timeout < 86400 ? (int) timeout * 1000 : -1);
    struct walk w;
    memset(&w, 0, sizeof(w));
    w.client = client;
    queue_summary_init(&w.qs);
    queue_walk(QUEUE_SCAN_LISTED, show_one, &w);
    queue_summary_free(&w.qs);
    if (w.failed) {
        if (msg_verbose)
            msg_info("client went away during the listing");
        return;
    }
    if (w.unreadable) {
        sbuf why = SBUF_INIT;
        sbuf_printf(&why, "%ld queue file%s could not be read", w.unreadable,
                    w.unreadable == 1 ? "" : "s");
        showq_send_end(client, -1, sbuf_str(&why));
        sbuf_free(&why);
    } else {
        showq_send_end(client, 0, 0);
    }
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "showq",
        .kind = MAIL_SERVER_STREAM,
        .serve = showq_serve,
    };
    return mail_server_main(argc, argv, &srv);
}
