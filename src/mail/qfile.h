/*
 * qfile.h - queue files: typed, length-prefixed records (docs/queue-format.md).
 *
 * A queue file is a sequence of records: one type byte, a 4-byte
 * big-endian length, then that many bytes of data. The first record is
 * QREC_VERSION, the last QREC_END; a file without QREC_END is incomplete
 * and is never delivered. Record data is opaque bytes (never parsed as
 * lines), so nothing a client sends can forge a record.
 *
 * Writing (cleanup, postdrop): qfile_create() makes a new file with a
 * fresh queue ID, qfile_put() appends records, qfile_commit() fixes up
 * the size record, writes the end record, fsyncs, and marks the file
 * complete (mode 0700). Until then the file has mode 0600 and readers
 * skip it.
 *
 * Reading (qmgr, delivery agents, postcat, showq): qfile_open() and
 * qfile_get() walk the records; qfile_seek() jumps to an offset recorded
 * earlier (the content, a recipient). qfile_mark_done() turns one
 * recipient record into a done record in place (one byte), which is how
 * a restart knows not to deliver to it again.
 *
 * This module knows record types and their order, not addresses or
 * headers; it does not log deliveries.
 */
#ifndef HK_MAIL_QFILE_H
#define HK_MAIL_QFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/sbuf.h"
#include "util/vstream.h"

/* Record types (one byte each). */
enum qrec_type {
    QREC_VERSION = 'V',     /* "HKQ1": first record */
    QREC_SIZE = 'S',        /* fixed-size binary: see struct qfile_sizes */
    QREC_TIME = 'T',        /* arrival time "seconds.microseconds" */
    QREC_SENDER = 'F',      /* envelope sender, "" for the null sender */
    QREC_ATTR = 'A',        /* "name=value": client_name, helo_name, protocol, ... */
    QREC_ORCPT = 'O',       /* original recipient of the next QREC_RCPT */
    QREC_NOTIFY = 'N',      /* DSN NOTIFY of the next QREC_RCPT ("SUCCESS,DELAY") */
    QREC_DSN_ORCPT = 'o',   /* DSN ORCPT= of the next QREC_RCPT ("rfc822;a@b") */
    QREC_RCPT = 'R',        /* recipient still to be delivered */
    QREC_DONE = 'D',        /* recipient delivered, bounced or otherwise finished */
    QREC_WARN = 'W',        /* time of the delay warning still to send (fixed 20 bytes) */
    QREC_CONTENT = 'M',     /* start of the content; empty */
    QREC_HEADER = 'H',      /* one logical header line, folds kept, ends in LF */
    QREC_BODY = 'B',        /* body bytes, LF line ends; a line may span records */
    QREC_EXTRACTED = 'X',   /* start of records found while reading the content */
    QREC_FILTER = 'L',      /* content filter "transport:nexthop" for qmgr (after X;
                             * the last one counts, empty = none) */
    QREC_END = 'E',         /* last record; empty */
};

#define QFILE_VERSION       "HKQ1"
#define QFILE_MAX_RECORD    (16 * 1024 * 1024)
#define QFILE_MODE_BUSY     0600
#define QFILE_MODE_DONE     0700

/* QREC_SIZE data: 5 fixed-width decimal fields, space separated, 81 bytes. */
struct qfile_sizes {
    uint64_t content_offset;    /* offset of the QREC_CONTENT record */
    uint64_t content_size;      /* message bytes (headers + body, LF ends) */
    uint64_t extracted_offset;  /* offset of the QREC_EXTRACTED record */
    uint32_t nrcpt;             /* recipients at commit */
    uint32_t flags;             /* QFILE_FL_* */
};
#define QFILE_SIZE_LEN 81

#define QFILE_FL_BOUNCE     (1u << 0)   /* this message is itself a notification */
#define QFILE_FL_8BITMIME   (1u << 1)
#define QFILE_FL_SMTPUTF8   (1u << 2)

typedef struct qfile qfile;

/* ---- queue IDs and paths ---- */

/* Queue IDs: upper-case hex of the microseconds (5 digits) and the inode number, as long as the file exists unique across all queues (same file system). */

/* True if id looks like a queue ID (no '/', no "..", [0-9A-Za-z] only). */
bool qfile_id_ok(const char *id);
/* "$queue_directory/<queue>/<id>" into path; -1 if it does not fit. */
int  qfile_path(char *path, size_t size, const char *queue, const char *id);

/* ---- writing ---- */

/* Create queue/<new id> with mode 0600; id receives the ID. NULL + errno. */
qfile *qfile_create(const char *queue, char *id, size_t id_size);
/*
 * The writer of a new file holds an exclusive flock(2) on it from before
 * the file has its name until qfile_close/qfile_abort (the kernel drops it
 * when the writer dies, kill -9 included). So an incomplete file that
 * nobody has locked has lost its writer. qfile_writer_alive(path): 1 the
 * lock is held, 0 it is not, -1 with errno when the file cannot be opened.
 */
int  qfile_writer_alive(const char *path);
/*
 * As qfile_create, with the permission bits in extra (e.g. 0044) added to
 * both the busy and the done mode: postdrop uses it so that pickup, which
 * runs as mail_owner, can read a maildrop file the submitting user owns.
 * Modes are set with fchmod, so the caller's umask does not matter.
 */
qfile *qfile_create_mode(const char *queue, char *id, size_t id_size, mode_t extra);
int  qfile_put(qfile *q, int type, const void *data, size_t len);
int  qfile_puts(qfile *q, int type, const char *text);
int  qfile_putf(qfile *q, int type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Offset the next record will have (for content_offset and the like). */
off_t qfile_tell(const qfile *q);
/* Write out buffered records (so another handle can read them). 0 or -1. */
int  qfile_flush(qfile *q);
/* Cut a file still being written at offset (a record boundary the caller
 * knows) and continue writing there: cleanup rewrites the records after
 * the envelope start when mail filters change the message. 0 or -1. */
int  qfile_truncate(qfile *q, off_t offset);
void qfile_set_sizes(qfile *q, const struct qfile_sizes *sz);
/*
 * The commit point: size record updated, end record, fsync, mode 0700.
 * 0 on success; -1 with errno (the file is then removed). When fsync is
 * false the caller promises to fsync later (group commit) with qfile_sync().
 */
int  qfile_commit(qfile *q, bool fsync_now);
int  qfile_sync(qfile *q);
/* Abandon: close and unlink. */
void qfile_abort(qfile *q);
/* Close after commit (the file stays). */
int  qfile_close(qfile *q);

/* ---- reading ---- */

/* Open queue/id. writable is for qfile_mark_done. NULL + errno. */
qfile *qfile_open(const char *queue, const char *id, bool writable);
qfile *qfile_open_path(const char *path, bool writable);
/*
 * Next record: returns its type and fills data (reset first), or
 *  0 at end of file, -1 on a damaged record (length beyond the file or
 *  QFILE_MAX_RECORD; errno EINVAL) or a read error.
 * *offset (if not NULL) receives the record's offset.
 */
int  qfile_get(qfile *q, sbuf *data, off_t *offset);
int  qfile_seek(qfile *q, off_t offset);
/* Change the record at offset from QREC_RCPT to QREC_DONE. 0 or -1. */
int  qfile_mark_done(qfile *q, off_t offset);
int  qfile_fd(const qfile *q);
const char *qfile_id(const qfile *q);
const char *qfile_file(const qfile *q);   /* full path */

/* Parse and format the size record. */
int  qfile_parse_sizes(const char *data, size_t len, struct qfile_sizes *sz);
void qfile_format_sizes(const struct qfile_sizes *sz, char out[QFILE_SIZE_LEN]);

/*
 * Validate a whole file: version first, sizes present, every record well
 * formed, end record last. Returns 0, or -1 with a reason in why.
 */
int  qfile_validate(const char *path, sbuf *why);

/*
 * The same record framing over a stream (sendmail -> postdrop): type
 * byte, 4-byte big-endian length, data. qrec_write buffers (no flush);
 * 0 or -1. qrec_read returns the type and fills data (reset first), 0 at
 * a clean end of input (before a type byte), -1 on a read error, a type
 * byte of 0, a truncated record or one longer than max (errno EINVAL).
 */
int  qrec_write(vstream *s, int type, const void *data, size_t len);
int  qrec_read(vstream *s, sbuf *data, size_t max);

#endif
