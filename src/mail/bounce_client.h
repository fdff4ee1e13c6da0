/*
 * bounce_client.h - the qmgr -> bounce service protocol (private/bounce).
 *
 * qmgr asks the bounce service to turn a message's delivery status log
 * into a notification for its sender:
 *
 *   request: request=bounce, kind ("failure", "delay" or "success"),
 *            queue_name ("active"), queue_id
 *   reply:   status (int: BOUNCE_STAT_OK, BOUNCE_STAT_RETRY), reason
 *            (string, for the log when status != 0), notice_id (string,
 *            the queue ID of the notification, "" when none was needed)
 *
 * The service reads everything else itself: the envelope and the
 * original message from queue_name/queue_id, the recipients and reasons
 * from bounce/ID (failure), defer/ID (delay) or trace/ID (success). It
 * replies only after the notification is safely queued (cleanup said
 * OK), or when no notification is needed (DSN NOTIFY=NEVER, a bounce of a
 * bounce that is dropped): status 0. Any other outcome is status 1 and
 * qmgr keeps the message and its log and asks again later.
 *
 * NOT HERE: the notification text (src/bounce), connecting and waiting
 * (the caller: qmgr does it from its event loop).
 */
#ifndef HK_MAIL_BOUNCE_CLIENT_H
#define HK_MAIL_BOUNCE_CLIENT_H

#include "util/attr.h"
#include "util/sbuf.h"
#include "util/vstream.h"

#define BOUNCE_KIND_FAILURE "failure"
#define BOUNCE_KIND_DELAY   "delay"
#define BOUNCE_KIND_SUCCESS "success"

enum { BOUNCE_STAT_OK = 0, BOUNCE_STAT_RETRY = 1 };

struct bounce_req {
    char    kind[16];
    char    queue_name[32];
    char    queue_id[32];
};

/* Client side. 0, or -1 when the stream failed. */
int bounce_request_write(vstream *s, const char *kind, const char *queue_name,
                         const char *queue_id);
/* BOUNCE_STAT_OK or BOUNCE_STAT_RETRY (reason set), or -1 when the stream
 * failed or the reply is malformed (reason set). notice_id may be NULL. */
int bounce_reply_read(vstream *s, sbuf *reason, sbuf *notice_id);

/* Server side. 0, or -1 (malformed or closed; why says which, "" when the
 * peer just closed). */
int bounce_request_read(vstream *s, struct bounce_req *req, sbuf *why);
int bounce_reply_write(vstream *s, int status, const char *reason, const char *notice_id);

#endif
