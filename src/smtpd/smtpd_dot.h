/*
 * smtpd_dot.h - the DATA reader's line state machine: end-of-data and
 * dot-unstuffing (RFC 5321 4.1.1.4, 4.5.2), and the SMTP smuggling defence.
 *
 * The caller reads the message with vstream_get_line() or, without
 * copying, vstream_get_line_ref() (the same lines), and passes each line
 * (without its terminator) and how it ended (VSTREAM_LINE_CRLF,
 * VSTREAM_LINE_LF or VSTREAM_LINE_LONG). The state machine says whether
 * the line is content (and how many leading bytes to drop: the stuffed
 * dot), the end of the data, or a line to drop.
 *
 * smtpd_forbid_bare_newline (Postfix 3.9 semantics):
 *   normalize (and its alias yes): a bare LF ends a content line, but the
 *     end of data is only <CR><LF>.<CR><LF>: a "." line is the end only
 *     when both the line before it and the line itself ended in CR LF. A
 *     "." line next to a bare LF (<LF>.<LF>, <LF>.<CR><LF>,
 *     <CR><LF>.<LF>) is not the end and is dropped, like Postfix does;
 *     what follows it stays message content, so a smuggled "MAIL FROM"
 *     cannot become a command.
 *   reject: as normalize, and any bare LF marks the message for rejection
 *     (smtpd_dot_bare_lf() tells the caller after the end of data).
 *   no: a bare LF is a line end everywhere, and <LF>.<LF> ends the data
 *     (the old, smuggling-prone behaviour; only for excluded clients).
 * A bare CR is always data: <CR>.<CR> is never a line end.
 *
 * Pure computation: no I/O, no allocation, no configuration reads.
 */
#ifndef HK_SMTPD_SMTPD_DOT_H
#define HK_SMTPD_SMTPD_DOT_H

#include <stdbool.h>
#include <stddef.h>

enum smtpd_dot_mode {
    SMTPD_DOT_LAX,          /* smtpd_forbid_bare_newline = no */
    SMTPD_DOT_NORMALIZE,    /* normalize, yes */
    SMTPD_DOT_REJECT,       /* reject */
};

enum smtpd_dot_result {
    SMTPD_DOT_CONTENT,      /* a complete content line: write it plus LF */
    SMTPD_DOT_PARTIAL,      /* part of a long line: write it without LF */
    SMTPD_DOT_DROP,         /* not content and not the end */
    SMTPD_DOT_END,          /* end of data: the line is not content */
};

struct smtpd_dot {
    int mode;               /* enum smtpd_dot_mode */
    int prev;               /* how the previous line ended (VSTREAM_LINE_*) */
    long bare_lf;           /* lines that ended in a bare LF */
};

/* Parse smtpd_forbid_bare_newline; -1 for an unknown value. */
int  smtpd_dot_mode_parse(const char *value);
/* Start a message. cmd_end: how the DATA command line ended. */
void smtpd_dot_init(struct smtpd_dot *d, int mode, int cmd_end);
/* Classify one line; *skip = leading bytes to drop (0 or 1). */
int  smtpd_dot_line(struct smtpd_dot *d, const char *line, size_t len, int how, size_t *skip);
/* Did the message contain a bare LF line end? */
bool smtpd_dot_bare_lf(const struct smtpd_dot *d);

#endif
