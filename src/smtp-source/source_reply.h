/*
 * source_reply.h - read SMTP/LMTP replies one line at a time.
 *
 * A reply is one or more lines "DDD-text" ending with "DDD text" or a
 * bare "DDD" (RFC 5321 4.2.1). source_reply_line() takes one line
 * without its CRLF and returns 1 when the reply is complete (r->code
 * holds it), 0 when more lines follow, -1 when the line is not a reply
 * line or its code differs from the first line's. While reading an EHLO
 * or LHLO reply it notes whether PIPELINING was offered.
 *
 * NOT HERE: no I/O, no interpretation of the codes.
 */
#ifndef HK_SMTP_SOURCE_REPLY_H
#define HK_SMTP_SOURCE_REPLY_H

#include <stddef.h>

typedef struct source_reply {
    int     code;           /* 100..599 once a line was read, else 0 */
    int     lines;          /* lines of the current reply so far */
    int     pipelining;     /* some line's text was the PIPELINING keyword */
} source_reply;

void source_reply_reset(source_reply *r);
int source_reply_line(source_reply *r, const char *line, size_t len);

#endif
