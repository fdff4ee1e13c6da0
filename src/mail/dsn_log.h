/*
 * dsn_log.h - per-message delivery status logs: defer/ID, bounce/ID, trace/ID.
 *
 * qmgr appends one record per recipient result that must be remembered
 * beyond the delivery attempt: a deferral to $queue_directory/defer/ID
 * (mailq shows the last reason), a permanent failure to bounce/ID (the
 * bounce service turns it into a non-delivery notification), a success
 * that asked for NOTIFY=SUCCESS to trace/ID. bounce reads them back.
 *
 * Format: a sequence of attribute-codec messages (docs/ipc.md), one per
 * record, with the attributes recipient, orig_recipient, dsn_orcpt,
 * notify (int), offset (long), status ("4.4.1"), action ("delayed",
 * "failed", "delivered"), reason, relay, diag_type, diag_text, time
 * (long, seconds). Nothing is free text to be parsed: a reason with
 * any bytes in it cannot forge a record. Appends are one write(2) in
 * O_APPEND mode; a crash can at worst leave a truncated last record,
 * which the reader reports and skips.
 *
 * Records accumulate: the same recipient may appear several times (one
 * per attempt); dsn_log_find() returns the last record for an address,
 * which is what mailq shows.
 *
 * NOT HERE: no notification text (src/bounce), no decision about which
 * log a result goes to (qmgr), no locking (qmgr is the only writer).
 */
#ifndef HK_MAIL_DSN_LOG_H
#define HK_MAIL_DSN_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "util/sbuf.h"

/* One recipient's status. Strings are never NULL in records that
 * dsn_log_read() returns ("" when absent); for dsn_log_append() a NULL
 * string is written as "". */
struct dsn_rec {
    const char *recipient;      /* final recipient */
    const char *orig_recipient; /* as the client gave it ("" if unknown) */
    const char *dsn_orcpt;      /* DSN ORCPT= ("rfc822;a@b") or "" */
    int     notify;             /* DSN_NOTIFY_* bits, 0 = not given */
    off_t   offset;             /* of the recipient's queue file record */
    char    status[16];         /* enhanced status code "5.1.1" */
    const char *action;         /* "failed", "delayed", "delivered", ... */
    const char *reason;         /* human-readable text for logs and notices */
    const char *relay;          /* "mx.example.jp[192.0.2.1]:25", "none", "local" */
    const char *diag_type;      /* "smtp", "x-unix" or "" */
    const char *diag_text;      /* "550 5.1.1 User unknown" or "" */
    time_t  time;               /* when the result was recorded */
};

/* The records of one log file, in file order. */
typedef struct dsn_log {
    struct dsn_rec *rec;
    size_t  n;
    size_t  cap;
} dsn_log;

#define DSN_LOG_INIT { 0, 0, 0 }

/* Which log: the queue names of queue_dirs.h. */
#define DSN_LOG_DEFER  "defer"
#define DSN_LOG_BOUNCE "bounce"
#define DSN_LOG_TRACE  "trace"

/*
 * Append n records to $queue_directory/<log>/<id> (created mode 0600).
 * With sync, fdatasync before returning (qmgr does this before it marks a
 * bounced recipient done, so the notice cannot be lost). 0, or -1 with
 * errno. The _path variant takes the file name.
 */
int  dsn_log_append(const char *log, const char *id, const struct dsn_rec *recs, size_t n,
                    bool sync);
int  dsn_log_append_path(const char *path, const struct dsn_rec *recs, size_t n, bool sync);

/*
 * Read every record. Returns the number of records (0 when the file does
 * not exist), or -1 on an open/read error with the reason in why (may be
 * NULL). A damaged or truncated record ends the reading: the records
 * before it are returned and a warning names the file and the record.
 * out is reset first; free it with dsn_log_free().
 */
int  dsn_log_read(const char *log, const char *id, dsn_log *out, sbuf *why);
int  dsn_log_read_path(const char *path, dsn_log *out, sbuf *why);
void dsn_log_free(dsn_log *l);

/* The last record for this recipient (exact match), or NULL. */
const struct dsn_rec *dsn_log_find(const dsn_log *l, const char *recipient);

/* Remove the log; 0 also when it did not exist, -1 with errno otherwise. */
int  dsn_log_delete(const char *log, const char *id);
/* 1 when the log exists and holds data, 0 when absent or empty. */
int  dsn_log_exists(const char *log, const char *id);

/* Encode / decode one record (exposed for tests and for mailq). */
void dsn_rec_encode(sbuf *out, const struct dsn_rec *r);

#endif
