/*
 * sink_proto.h - smtp-sink's side of one SMTP/LMTP conversation, without I/O.
 *
 * The caller reads from the socket, splits the input into lines and
 * hands each to sink_input() with its terminator removed (eol = 1), or,
 * for a line longer than it wants to buffer, in pieces (eol = 0 for all
 * but the last). Replies are appended to out, ready to send, CRLF
 * included; the caller sends them when it has no more complete input
 * lines, which is what makes PIPELINING work. The return value is a set
 * of SINK_R_* flags saying what the caller must do besides sending.
 *
 * SINK_R_MESSAGE: a message was accepted at "." (for LMTP: for at least
 * one recipient). Until the next sink_input() call, s->helo, s->mail,
 * s->rcpts, s->data (when dumping) and s->data_bytes describe it, and
 * s->queue_id names it.
 *
 * Behaviour: permissive like Postfix's smtp-sink (no HELO needed, no
 * address checks), but the order of MAIL, RCPT and DATA is enforced
 * (503 otherwise). Command lines longer than SINK_LINE_MAX get
 * "500 5.5.0 Error: line too long". The end of data is a line that is
 * exactly "." (CRLF or bare LF); a leading dot of any other line is
 * removed from what is kept for a dump (RFC 5321 4.5.2).
 *
 * NOT HERE: sockets, timers, counting, dump files (smtp_sink.c,
 * sink_dump.c).
 */
#ifndef HK_SMTP_SINK_PROTO_H
#define HK_SMTP_SINK_PROTO_H

#include <stddef.h>

#include "smtp-sink/sink_opts.h"
#include "util/sbuf.h"
#include "util/strv.h"

#define SINK_LINE_MAX 4096

enum {
    SINK_R_MESSAGE = 1,     /* a message was accepted */
    SINK_R_CLOSE = 2,       /* close after sending what is in out (-q adds no reply) */
    SINK_R_DELAY = 4,       /* hold out back for *delay_ms first */
};

typedef struct sink_session {
    const sink_opts *o;
    char    client[64];     /* client address, for the dump */
    const char *proto;      /* "SMTP", "ESMTP" or "LMTP" */
    int     in_data;
    int     midline;        /* in DATA: the last piece did not end a line */
    int     long_line;      /* a command line is being skipped as too long */
    int     in_tx;          /* MAIL accepted */
    int     tx_done;        /* the transaction ended: clear it on the next input */
    unsigned long long seq; /* messages accepted in this session */
    char    queue_id[24];
    sbuf    helo;           /* arguments of the last HELO/EHLO/LHLO */
    sbuf    mail;           /* arguments of MAIL */
    strv    rcpts;          /* arguments of each accepted RCPT */
    sbuf    data;           /* the message, LF line ends, when dumping */
    unsigned long long data_bytes;
} sink_session;

void sink_session_init(sink_session *s, const sink_opts *o, const char *client);
void sink_session_free(sink_session *s);
/* The greeting (or the CONNECT rule's reply, or nothing with DROP). */
int sink_greet(sink_session *s, sbuf *out, int *delay_ms);
int sink_input(sink_session *s, const char *line, size_t len, int eol, sbuf *out,
               int *delay_ms);

#endif
