/*
 * bounce.h - the bounce service's pieces: the original message's envelope,
 * and the composition of RFC 3464 delivery status notifications.
 *
 * bounce.c serves requests (bounce_client.h) and decides who gets which
 * notice; bounce_queue.c reads the original queue file; bounce_notice.c
 * writes the notification text through an output callback (cleanup_data
 * in production, a buffer in tests).
 */
#ifndef HK_BOUNCE_BOUNCE_H
#define HK_BOUNCE_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mail/dsn_log.h"
#include "mail/qfile.h"
#include "util/sbuf.h"

/* The original message, as far as a notice needs it. */
struct bounce_msg {
    char    queue_name[32];
    char    queue_id[32];
    char   *sender;
    char   *dsn_envid;          /* "" if none */
    int     dsn_ret;            /* 0, 1 FULL, 2 HDRS */
    time_t  arrival;
    struct qfile_sizes sizes;
};

/* bounce_queue.c */
/* Read the envelope of queue_name/queue_id. 0, or -1 with why. */
int  bounce_msg_read(const char *queue_name, const char *queue_id, struct bounce_msg *m,
                     sbuf *why);
void bounce_msg_free(struct bounce_msg *m);

/* Output: 0, or -1 to stop (the connection to cleanup failed). */
typedef int (*bounce_out_fn)(void *ctx, const void *buf, size_t len);

/* Copy the original message (headers, and unless headers_only the empty
 * line and the body) to out. 0, or -1 (read error: why says so; or out
 * failed). */
int  bounce_copy_content(const struct bounce_msg *m, bool headers_only, bounce_out_fn out,
                         void *ctx, sbuf *why);

/* bounce_notice.c */
enum bounce_notice_kind {
    NOTICE_FAILURE,             /* non-delivery: Action: failed */
    NOTICE_DELAY,               /* still trying: Action: delayed */
    NOTICE_SUCCESS,             /* delivered: Action: delivered */
};

struct bounce_notice {
    enum bounce_notice_kind kind;
    bool    postmaster;         /* a copy for the postmaster, not the sender's notice */
    const char *to;             /* the notice's recipient (header To:) */
    const char *notice_id;      /* queue ID of the notice (Message-Id, boundary) */
    const char *myhostname;
    const char *mail_name;
    time_t  now;
    long    lifetime;           /* maximal_queue_lifetime, for the delay text */
    bool    headers_only;       /* attach text/rfc822-headers, not message/rfc822 */
    bool    double_bounce;      /* the failed message was itself a notification */
    const struct bounce_msg *msg;
    const struct dsn_rec *const *recs;
    size_t  nrecs;
};

/* Write the whole notice (headers, text part, delivery-status part, the
 * original message or its headers) through out. 0, or -1. */
int  bounce_notice_write(const struct bounce_notice *n, bounce_out_fn out, void *ctx,
                         sbuf *why);

/* Diagnostic-Code for a record: the agent's type and text ("x-unix; ..." from
 * local), "smtp; 550 5.1.1 ..." from a server's reply, else "X-Postfix; text". */
void bounce_diagnostic(const struct dsn_rec *r, sbuf *out);
/* Remote-MTA value ("dns; mx.example.jp") from a relay, or "" when none. */
void bounce_remote_mta(const char *relay, sbuf *out);

#endif
