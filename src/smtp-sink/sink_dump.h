/*
 * sink_dump.h - write one accepted message to its own file (smtp-sink -d).
 *
 * The file name comes from the template expanded with strftime(3): if
 * the result names an existing directory or ends in "/", the file is
 * made inside it, named "<time>.<queue id>"; otherwise a "." and the
 * queue id are appended to it. Missing directories are created (mode
 * 0755). The file (mode 0644, never replacing an existing one) holds,
 * as in Postfix's smtp-sink dump format: the -S start string, the
 * X-Client-Addr, X-Client-Proto, X-Helo-Args (when there was a HELO),
 * X-Mail-Args, one X-Rcpt-Args per recipient, a three-line Received:
 * header, the message with LF line ends, and an empty line. It is not
 * fsynced: this is a test tool.
 *
 * NOT HERE: the protocol (sink_proto.c).
 */
#ifndef HK_SMTP_SINK_DUMP_H
#define HK_SMTP_SINK_DUMP_H

#include <time.h>

#include "smtp-sink/sink_proto.h"
#include "util/sbuf.h"

/* Format the dump of s's current message into out. */
void sink_dump_format(const sink_session *s, time_t now, sbuf *out);
/* Expand the template into the file name for s's message. */
void sink_dump_path(const char *template, const sink_session *s, time_t now, sbuf *path);
/* Write it. 0, or -1 with errno (the caller logs and goes on). */
int sink_dump_write(const char *template, const sink_session *s, time_t now);

#endif
