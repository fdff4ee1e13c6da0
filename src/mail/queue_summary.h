/*
 * queue_summary.h - what mailq shows about one queued message.
 *
 * queue_summary_read() reads $queue_directory/<queue>/<id> and its defer
 * log ($queue_directory/defer/<id>, dsn_log.h) and fills a summary: queue
 * name, queue ID, arrival time, message size, sender, and the recipients
 * still to be delivered (QREC_RCPT records; done ones are left out), each
 * with its original address and the reason of its last deferral ("" when
 * it has none). A recipient is matched to its defer log records by the
 * offset of its queue file record (qmgr records it), or by address when
 * the log has no offset. Recipients with a reason come first, in defer log
 * order (so equal reasons group), then the others in queue file order, as
 * Postfix's showq does.
 *
 * Everything in a summary is printable text: addresses are in external
 * (quoted) form, the null sender is $empty_address_recipient
 * ("MAILER-DAEMON"), and control characters or bytes that are not UTF-8
 * are replaced with '?', so a listing cannot carry terminal escapes.
 *
 * Sizes: message_size is the content size from the size record (headers
 * and body with LF line ends), or the file size when the record has none.
 * The arrival time is the time record, or the file's modification time.
 *
 * NOT HERE: listing queues (queue_scan.h), output formats (postqueue),
 * the showq protocol (showq_proto.h).
 */
#ifndef HK_MAIL_QUEUE_SUMMARY_H
#define HK_MAIL_QUEUE_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sbuf.h"

struct queue_rcpt {
    char   *address;        /* printable external form */
    char   *orig;           /* original recipient, printable; "" if unknown */
    char   *reason;         /* last deferral reason, printable; "" if none */
};

typedef struct queue_summary {
    char    queue[16];      /* "deferred", "hold", ... */
    char    id[32];
    long long arrival;      /* seconds since the epoch */
    long long size;         /* message_size */
    bool    forced_expire;  /* always false: Hikyaku has no postsuper -e/-f yet */
    char   *sender;         /* printable external form */
    struct queue_rcpt *rcpt;
    size_t  nrcpt;
    size_t  cap;
} queue_summary;

void queue_summary_init(queue_summary *qs);
/* Frees the strings and recipients; qs is ready for reuse (as after init). */
void queue_summary_free(queue_summary *qs);
/* Copies the strings (NULL is ""). */
void queue_summary_set(queue_summary *qs, const char *queue, const char *id, long long arrival,
                       long long size, const char *sender);
void queue_summary_add_rcpt(queue_summary *qs, const char *address, const char *orig,
                            const char *reason);

/*
 * Read one message. Returns 1 with qs filled; 0 when there is nothing to
 * show (the file vanished, is not a regular file, or is still being
 * written: mode without the owner-execute bit); -1 with why when the file
 * cannot be read or is not a queue file (why names queue/id). A file
 * damaged after its envelope is shown with what could be read, and a
 * warning is logged. qs is reset first.
 */
int queue_summary_read(const char *queue, const char *id, queue_summary *qs, sbuf *why);

/*
 * Append s (len bytes) to out with control characters, DEL and bytes
 * that are not part of a well-formed UTF-8 sequence replaced by '?'.
 */
void queue_printable(sbuf *out, const char *s, size_t len);
/* Internal address -> printable external form ("" -> empty, not MAILER-DAEMON). */
void queue_printable_address(sbuf *out, const char *addr);

/*
 * The asctime(3) text of a local time, "Sun Nov 22 17:14:06 2020\n", in
 * out (size >= 32), as mailq and postcat show times; "??\n" when the time
 * cannot be converted. English names whatever the locale; never
 * overflows, whatever the year.
 */
void queue_asctime(long long when, char *out, size_t size);

#endif
