/*
 * pq_format.h - postqueue's output formats: the sendmail-style listing (-p,
 * mailq) and JSON lines (-j), exactly as Postfix 3.7 prints them.
 *
 * A listing is formatted one message at a time, so it streams: pq_begin,
 * pq_message for each queue_summary, pq_end. Output is appended to an
 * sbuf the caller writes out.
 *
 * -p layout (enable_long_queue_ids = no; the long layout widens the ID
 * column to 17 and uses 19-character times):
 *   -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
 *   4F3F62E0A5*     451 Sun Nov 22 17:14:06  sender@example.com
 *          (connect to mx.example.net[192.0.2.1]:25: Connection refused)
 *                                            rcpt@example.net
 *   <blank line between messages>
 *   -- 1 Kbytes in 2 Requests.
 * The queue ID is followed by '*' (active), '!' (hold), and '#' when the
 * message is forced to expire. A "(reason)" line is printed right
 * aligned (to column 78) before the first recipient it applies to and
 * again whenever it changes; a recipient without a reason that follows
 * one with a reason gets "(reason unavailable)". An empty queue is
 * "Mail queue is empty". Kbytes is the sum of the message sizes / 1024.
 * Times are local time in asctime(3) layout ("Sun Nov 22 17:14:06").
 *
 * -j: one object per line:
 *   {"queue_name": "deferred", "queue_id": "ID", "arrival_time": 1606065246,
 *    "message_size": 451, "forced_expire": false, "sender": "s@example.com",
 *    "recipients": [{"address": "r@example.net", "delay_reason": "..."}]}
 * delay_reason is present only when there is one. Strings are JSON
 * escaped (\" \\ \b \f \n \r \t, other controls \uXXXX).
 *
 * NOT HERE: where the summaries come from (showq or the queue directly).
 */
#ifndef HK_POSTQUEUE_PQ_FORMAT_H
#define HK_POSTQUEUE_PQ_FORMAT_H

#include <stdbool.h>
#include <time.h>

#include "mail/queue_summary.h"
#include "util/sbuf.h"

enum pq_mode { PQ_MODE_COMPAT, PQ_MODE_JSON };

typedef struct pq_format {
    enum pq_mode mode;
    bool    long_ids;           /* enable_long_queue_ids */
    unsigned long count;        /* messages so far */
    unsigned long long total;   /* bytes so far */
} pq_format;

void pq_begin(pq_format *f, enum pq_mode mode, bool long_ids);
void pq_message(pq_format *f, const queue_summary *qs, sbuf *out);
void pq_end(pq_format *f, sbuf *out);

/* Append text to out as the inside of a JSON string. */
void pq_json_quote(sbuf *out, const char *text);

#endif
