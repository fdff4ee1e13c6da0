/*
 * source_content.h - what smtp-source sends: payload, headers, addresses.
 *
 * source_payload() makes the generated body of -l bytes: lines of
 * printable text, each ending in CRLF, never starting with '.', so it
 * needs no dot-stuffing (a length of 1 is rounded up to one empty
 * line). source_file_content() turns a pre-formatted message (-F) into
 * the wire form: every line ends in CRLF (a missing final newline is
 * added), lines that start with '.' get another '.'. Both are built
 * once and shared by all sessions.
 *
 * source_headers() appends the per-message header block (From, To,
 * Date, Message-Id, optional Subject) and the empty line that ends it.
 * source_recipient() makes recipient number i of a message: the -t
 * address itself when there is one recipient and no -N, otherwise a
 * number prepended to it ("12foo@example.jp").
 *
 * NOT HERE: no I/O; the terminating "." line is the engine's.
 */
#ifndef HK_SMTP_SOURCE_CONTENT_H
#define HK_SMTP_SOURCE_CONTENT_H

#include <stddef.h>
#include <time.h>

#include "util/sbuf.h"

/* length < 0: the default body (one short line). */
void source_payload(sbuf *out, long long length);
void source_file_content(sbuf *out, const char *data, size_t len);
void source_headers(sbuf *out, const char *from, const char *to, const char *subject,
                    const char *myhostname, unsigned long long seq, time_t now, long pid);
void source_recipient(sbuf *out, const char *to, unsigned long long number, int numbered);

#endif
