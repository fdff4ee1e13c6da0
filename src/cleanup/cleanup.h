/*
 * cleanup.h - the cleanup daemon's per-message state and its modules.
 *
 * One struct cleanup_state lives from an "open" request to the reply to
 * "finish". The modules, in the order a message flows through them:
 *
 *   cleanup.c           main
 *   cleanup_service.c   protocol loop, open/finish replies, qmgr wake-up
 *   cleanup_envelope.c  sender, attributes, recipients; envelope records
 *   cleanup_map.c       address rewriting, canonical, masquerade, virtual alias
 *   cleanup_content.c   content bytes -> lines -> MIME structure (mail/
 *                       mime_state.h) -> header records / body records
 *   cleanup_header.c    one logical header: checks, drop, hops, log, rewrite,
 *                       -t extraction; missing headers at the end of the block
 *   cleanup_hdr_addr.c  finding and replacing addresses inside header values
 *   cleanup_checks.c    header_checks, mime_header_checks, nested_header_checks,
 *                       body_checks: lookups and verdicts
 *   cleanup_milter.c    milters (smtpd_milters content, non_smtpd_milters)
 *   cleanup_commit.c    the end of a message: extracted, BCC and REDIRECT
 *                       recipients, filter record, size record, fsync (the
 *                       commit point), hold
 *   cleanup_bounce.c    a rejected local submission turned into a bounce
 *
 * Errors accumulate in errs (CLEANUP_STAT_* bits) with the first reason
 * text; once an error in err_mask is set the rest of the input is read and
 * thrown away so the client's finish still gets its answer. err_mask is
 * every bit, except with CLEANUP_FLAG_BOUNCE: then a content rejection
 * (or too many hops) keeps the message being written, because it will
 * be returned to its sender whole (cleanup_bounce.c).
 */
#ifndef HK_CLEANUP_CLEANUP_H
#define HK_CLEANUP_CLEANUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#include "mail/cleanup_client.h"
#include "mail/mime_state.h"
#include "mail/qfile.h"
#include "util/memtab.h"
#include "util/sbuf.h"
#include "util/strv.h"

/* Address classes (canonical_classes, masquerade_classes, ...). */
#define CLEANUP_CLS_ENV_SENDER  (1 << 0)
#define CLEANUP_CLS_ENV_RCPT    (1 << 1)
#define CLEANUP_CLS_HDR_SENDER  (1 << 2)
#define CLEANUP_CLS_HDR_RCPT    (1 << 3)

/* Headers we track (struct cleanup_state.hdr_seen bits). */
enum cleanup_hdr_id {
    HDR_OTHER = 0,
    HDR_FROM, HDR_SENDER, HDR_REPLY_TO, HDR_TO, HDR_CC, HDR_BCC, HDR_DATE, HDR_MESSAGE_ID,
    HDR_RESENT_FROM, HDR_RESENT_SENDER, HDR_RESENT_REPLY_TO, HDR_RESENT_TO, HDR_RESENT_CC,
    HDR_RESENT_BCC, HDR_RESENT_DATE, HDR_RESENT_MESSAGE_ID,
    HDR_RECEIVED, HDR_RETURN_PATH, HDR_APPARENTLY_TO, HDR_ERRORS_TO, HDR_RETURN_RECEIPT_TO,
    HDR_DISP_NOTIFICATION_TO, HDR_MAIL_FOLLOWUP_TO, HDR_CONTENT_TRANSFER_ENCODING,
    HDR_COUNT
};
#define HDR_BIT(id) (1ull << (id))

/* A recipient waiting for the envelope to be written. */
struct cleanup_rcpt {
    char   *orcpt;          /* original recipient (ORCPT), may be NULL */
    char   *dsn_orcpt;      /* DSN ORCPT= (NULL if none) */
    int     notify;         /* DSN_NOTIFY_* bits, 0 if not given */
    char   *addr;           /* final recipient */
};

struct cleanup_state {
    int     flags;              /* CLEANUP_FLAG_* from open; FILTER and MILTER are
                                 * cleared when a verdict ends inspection */
    char    queue_id[32];
    qfile  *q;                  /* NULL when no file (open failed) */
    struct timeval arrival;
    int     errs;               /* CLEANUP_STAT_* */
    int     err_mask;           /* errs that stop the output (cleanup_failed) */
    sbuf    reason;             /* "D.D.D text" for the first error */

    /* envelope */
    bool    have_sender;
    char   *sender;             /* after rewriting and mapping */
    char   *orig_sender;        /* as received */
    strv    attrs;              /* "name=value" */
    bool    local;              /* locally submitted (flag or rewrite_context=local) */
    char   *full_name;          /* attr full_name, for a generated From: */
    uint32_t qflags;            /* QFILE_FL_* */
    struct cleanup_rcpt *pending;   /* recipients before the envelope is written */
    size_t  npending, cap_pending;
    memtab *dups;               /* duplicate filter */
    size_t  ndups;
    uint32_t nrcpt;             /* recipient records written */
    off_t  *rcpt_offsets;       /* offsets of the RCPT records (REDIRECT) */
    size_t  nrcpt_offsets, cap_rcpt_offsets;
    struct cleanup_rcpt *written;   /* CLEANUP_FLAG_BOUNCE: the RCPT records, for
                                     * bounce/ID (addr, orcpt, notify, dsn_orcpt) */
    char   *first_rcpt;         /* for log lines */
    bool    envelope_done;      /* envelope records and CONTENT written */

    /* content */
    bool    in_body;            /* past the header block */
    bool    headers_done;       /* header_done() ran */
    sbuf    line;               /* incomplete input line (< line_length_limit) */
    mime_state *mime;           /* the MIME parser, from the first content byte */
    int     mime_errs;          /* MIME_ERR_* so far */
    sbuf    body;               /* body bytes waiting for a BODY record */
    bool    mid_line;           /* the content passed on so far ends inside a line */
    bool    body_8bit_check;    /* the MIME parser reports 8-bit text in 7-bit bodies */
    uint64_t seg_next;          /* offset in its body segment of the next body piece */
    bool    passthrough;        /* the rest is plain body: stored without line parsing */
    uint64_t input_size;        /* content bytes received */
    uint64_t content_size;      /* header + separator + body bytes stored */
    off_t   content_offset;
    const char *hdr_rewrite;    /* "local", "remote", or NULL: no header rewriting */
    uint64_t hdr_seen;          /* HDR_BIT() of headers seen */
    bool    resent;             /* a Resent- header was seen */
    int     hops;               /* Received: headers */
    bool    msgid_logged;
    strv    xrcpt;              /* sendmail -t: addresses from To/Cc/Bcc */
    strv    xrcpt_resent;       /* ... and from Resent-To/Cc/Bcc */

    /* verdicts of content checks (and flags, and smtpd's access actions) */
    bool    hold;
    bool    discard;
    char   *redirect;           /* REDIRECT: the only recipient */
    char   *filter;             /* "transport:nexthop" (content_filter, FILTER) */
    strv    bcc;                /* BCC: recipients to add */
    sbuf    action_log;         /* the "discard:"/"hold:" log text */
};

/* main.cf values, read once by cleanup_params_init() (cleanup_envelope.c). */
struct cleanup_params {
    bool    enable_original_recipient;
    long    duplicate_filter_limit;
    char   *empty_address_recipient;
    long long message_size_limit;
    long    hopcount_limit;
    long long header_size_limit;
    bool    always_add_missing_headers;
    char   *undisclosed_recipients_header;
    char   *myhostname;
    char   *myorigin;
    bool    header_from_standard;       /* header_from_format = standard */
    strv    drop_headers;               /* message_drop_headers, lower case */
    bool    replace_stray_cr;           /* cleanup_replace_stray_cr_lf */
    bool    remote_header_rewrite;      /* remote_header_rewrite_domain is set */
    long    extract_recipient_limit;
    long    header_address_token_limit;
    /* content inspection */
    long long body_checks_size_limit;
    long    line_length_limit;
    bool    disable_mime;               /* disable_mime_input_processing */
    long    mime_nesting_limit;
    long    mime_boundary_length_limit;
    bool    strict_8bitmime, strict_7bit_headers, strict_8bitmime_body;
    bool    strict_mime_encoding_domain;
    bool    soft_bounce;
};
extern struct cleanup_params cleanup_par;
void cleanup_params_init(void);

/* The protocol loop for one client connection (cleanup_service.c). */
void cleanup_service(vstream *client, const char *service);

/* state (cleanup_envelope.c) */
struct cleanup_state *cleanup_state_new(int flags);
/* New state with its incoming/ queue file: VERSION, SIZE placeholder, TIME.
 * When the file cannot be made, errs holds CLEANUP_STAT_WRITE. */
struct cleanup_state *cleanup_state_open(int flags);
void cleanup_state_free(struct cleanup_state *st);
/* Record an error; the first reason wins. reason NULL: the default text. */
void cleanup_error(struct cleanup_state *st, int bit, const char *reason);
/* True once nothing more is written (drain mode): an error in err_mask. */
bool cleanup_failed(const struct cleanup_state *st);
/* Write one record; a failure sets CLEANUP_STAT_WRITE and logs once. */
void cleanup_put(struct cleanup_state *st, int type, const void *data, size_t len);

/* envelope (cleanup_envelope.c) */
void cleanup_env_sender(struct cleanup_state *st, const char *addr);
void cleanup_env_attr(struct cleanup_state *st, const char *name, const char *value);
void cleanup_env_rcpt(struct cleanup_state *st, const char *addr, const char *orig, int notify,
                      const char *dsn_orcpt);
/* Write SENDER, ATTRs, recipients, CONTENT (once, at the first data or at finish). */
void cleanup_env_flush(struct cleanup_state *st);
/* One recipient found in the headers (sendmail -t), written after EXTRACTED. */
void cleanup_env_extracted(struct cleanup_state *st, const char *addr);
/* A BCC recipient (header/body_checks BCC action): NOTIFY=NEVER, after EXTRACTED. */
void cleanup_env_bcc(struct cleanup_state *st, const char *addr);
/* DSN notify bits as text for the NOTIFY record ("SUCCESS,DELAY", "NEVER"). */
void cleanup_notify_text(int notify, sbuf *out);

/* content (cleanup_content.c) */
void cleanup_content_data(struct cleanup_state *st, const char *buf, size_t len);
void cleanup_content_end(struct cleanup_state *st);
/* Write a header record (text ends in LF). */
void cleanup_out_header(struct cleanup_state *st, const char *text, size_t len);

/* headers (cleanup_header.c) */
bool cleanup_is_header(const char *line, size_t len, size_t *name_len);
enum cleanup_hdr_id cleanup_hdr_lookup(const char *name, size_t len);
void cleanup_header(struct cleanup_state *st, const char *text, size_t len);
void cleanup_header_done(struct cleanup_state *st);

/* commit (cleanup_commit.c) */
/* End the message: returns the status for the reply (reason in st->reason). */
int cleanup_commit_message(struct cleanup_state *st);
/* Make the queue file durable: the one place cleanup syncs a file. */
int cleanup_commit_durably(qfile *q);

/* bounce (cleanup_bounce.c) */
/* May this failed message be returned to its sender instead of refused? */
bool cleanup_can_bounce(const struct cleanup_state *st);
/* Commit it with every recipient bounced (bounce/ID written first);
 * returns CLEANUP_STAT_OK, or the error that prevented it. */
int cleanup_bounce_message(struct cleanup_state *st, off_t extracted_offset);

#endif
