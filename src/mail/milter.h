/*
 * milter.h - the MTA side of the Sendmail milter protocol (versions 2 to
 * 6): a list of mail filters, the SMTP events, the message content and
 * every reply and modification a filter may send.
 *
 * A "milters" object is the list configured in smtpd_milters or
 * non_smtpd_milters (or received from smtpd, see milter_send.h). Each
 * entry is "unix:/path", "inet:host:port" or Postfix 3 style
 * "{ inet:host:port, connect_timeout=10s, command_timeout=10s,
 * content_timeout=300s, default_action=accept, protocol=6 }". The
 * connection is made at the connect event and negotiated with
 * SMFIC_OPTNEG (milter_protocol: a version 2..6, optionally
 * "no_header_reply"); a filter that asks for a higher version or for
 * actions we did not offer is refused.
 *
 * EVENTS. milters_connect(), _helo(), _mail(), _rcpt(), _data(),
 * _unknown() go to every filter in order and return the first verdict
 * that is not "continue":
 *   NULL              continue (or accept, or the filter was skipped)
 *   "4xx x.y.z text"  tempfail, or a SMFIR_REPLYCODE 4xx
 *   "5xx x.y.z text"  reject, or a SMFIR_REPLYCODE 5xx
 *   MILTER_DISCARD    "D": accept the message and throw it away
 *   MILTER_HOLD       "H": quarantine, put the message on hold
 *   MILTER_SHUTDOWN   "S": 421, end the session
 * A reject or tempfail at connect or HELO (and SMFIR_SHUTDOWN anywhere)
 * sticks: every later event of that filter answers the same, as Sendmail
 * does. SMFIR_ACCEPT at connect/HELO ends the filter's part in the
 * session, elsewhere in the message. milters_abort() ends a transaction
 * (SMFIC_ABORT), milters_quit() the session (SMFIC_QUIT, close).
 *
 * CONTENT. milters_message() sends one filter at a time the headers
 * (SMFIC_HEADER, name and value with folded lines joined by LF, as
 * Sendmail sends them), SMFIC_EOH, the body in chunks of at most 65535
 * bytes with CR LF line ends, and SMFIC_BODYEOB; the modification
 * requests that come back go to the caller's edit callbacks as they
 * arrive, and after each filter the caller's done() runs, so the next
 * filter sees the changes (the caller rewrites its copy there).
 *
 * FAILURES. A filter that cannot be reached, times out
 * (milter_connect_timeout, milter_command_timeout for commands,
 * milter_content_timeout for content), closes the connection or sends
 * something malformed is logged ("warning: milter inet:...: can't read
 * SMFIC_MAIL reply packet header: Connection timed out") and from then
 * on answers its milter_default_action: accept (NULL), reject ("550
 * 5.5.0 Service unavailable"), tempfail ("451 4.7.1 Service unavailable
 * - try again later") or quarantine (MILTER_HOLD). The socket is shut
 * down, so a process that shares it (smtpd after cleanup) sees the
 * failure too. Nothing here waits longer than a configured timeout.
 *
 * MACROS. Each event sends the macros of its stage (milter_*_macros, or
 * the lists a protocol-6 filter asked for in its SMFIC_OPTNEG reply);
 * values come from the caller's lookup function, which gets the name
 * without braces ("i", "client_addr"); milter_macro_defaults fills in
 * values the lookup does not know. Macros without a value are not sent.
 *
 * NOT HERE: what a verdict does to the SMTP session or the queue file,
 * log lines about the mail (smtpd_milter.c, cleanup_milter.c), the wire
 * format (milter_proto.h), handing filters to another process
 * (milter_send.h).
 */
#ifndef HK_MAIL_MILTER_H
#define HK_MAIL_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sbuf.h"
#include "util/strv.h"

#define MILTER_HOLD     "H"
#define MILTER_DISCARD  "D"
#define MILTER_SHUTDOWN "S"

/* Macro stages: the SMFIM_* numbers, and one for unknown commands. */
enum milter_stage {
    MILTER_MAC_CONNECT = 0, MILTER_MAC_HELO, MILTER_MAC_MAIL, MILTER_MAC_RCPT,
    MILTER_MAC_DATA, MILTER_MAC_EOM, MILTER_MAC_EOH, MILTER_MAC_UNKNOWN, MILTER_MAC_COUNT
};

/* Body replacement steps (repl_body op). */
enum { MILTER_BODY_START = 1, MILTER_BODY_DATA, MILTER_BODY_END };

typedef struct milters milters;
typedef struct milter milter;

/* Value of a macro (name without braces), or NULL when unknown. */
typedef const char *(*milter_macro_fn)(void *ctx, const char *name);

/* Where milters_message() reads the message (see CONTENT above). */
struct milter_message_src {
    /* Start again at the first header (once per filter). 0 or -1. */
    int (*rewind)(void *ctx);
    /* Next header as stored: "Name: value\n", folds "\n\t". 1 with it
     * in hdr, 0 after the last header, -1 on error. */
    int (*header)(void *ctx, sbuf *hdr);
    /* More body bytes, LF line ends: 1 with bytes in buf, 0 at the end,
     * -1 on error. */
    int (*body)(void *ctx, sbuf *buf);
};

/*
 * The modification requests, delivered while a filter answers
 * SMFIC_BODYEOB. Each returns NULL, or an SMTP reply ("451 4.3.0 ...")
 * that becomes the verdict. Header text is ready to store: "Name:
 * value\n" with CR LF turned into LF and every continuation line
 * starting with white space. Addresses are as the filter sent them
 * (usually "<user@domain>"); args may be "".
 */
struct milter_edit_ops {
    const char *(*add_header)(void *ctx, const char *name, const char *text, size_t len);
    /* index: the filter's, 0 = before the first header of the message. */
    const char *(*ins_header)(void *ctx, uint32_t index, const char *name, const char *text,
                              size_t len);
    /* index: 1 = the first header called name that the filter saw; text
     * NULL deletes it. */
    const char *(*chg_header)(void *ctx, uint32_t index, const char *name, const char *text,
                              size_t len);
    const char *(*chg_from)(void *ctx, const char *addr, const char *args);
    const char *(*add_rcpt)(void *ctx, const char *addr, const char *args);
    const char *(*del_rcpt)(void *ctx, const char *addr);
    /* START, then DATA with LF line ends (any split), then END. */
    const char *(*repl_body)(void *ctx, int op, const char *data, size_t len);
    /* After each filter's end-of-message (verdict NULL or "H" so far). */
    const char *(*done)(void *ctx);
};

/*
 * Make the list from a milter list ("inet:127.0.0.1:8891, { unix:/x,
 * default_action=accept }"), with milter_connect_timeout,
 * milter_command_timeout, milter_content_timeout, milter_default_action,
 * milter_protocol, the milter_*_macros lists and milter_macro_defaults
 * from main.cf. Nothing is connected yet. NULL when the list is empty;
 * bad entries are logged and skipped.
 */
milters *milters_create(const char *list);
void milters_free(milters *ms);
size_t milters_count(const milters *ms);
void milters_set_macros(milters *ms, milter_macro_fn fn, void *ctx);

/* family: AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC; port may be NULL. */
const char *milters_connect(milters *ms, const char *client_name, const char *client_addr,
                            const char *client_port, int family);
const char *milters_helo(milters *ms, const char *helo);
/* argv: "<sender>" then the ESMTP parameters; NULL-terminated. */
const char *milters_mail(milters *ms, const char *const *argv);
const char *milters_rcpt(milters *ms, const char *const *argv);
const char *milters_data(milters *ms);
const char *milters_unknown(milters *ms, const char *command);
/* The sticky verdict of any filter (connect/HELO reject, failure). */
const char *milters_other(milters *ms);
void milters_abort(milters *ms);
void milters_quit(milters *ms);

/* Content of one message to every filter that still wants it. */
const char *milters_message(milters *ms, const struct milter_message_src *src, void *src_ctx,
                            const struct milter_edit_ops *ed, void *ed_ctx);

/* True when some filter still takes part in the current message (it has
 * not accepted, rejected or failed): worth sending the content. */
bool milters_want_message(const milters *ms);

/* Built-in names of the macro stages (for logs and tests). */
const char *milter_stage_name(int stage);

/* ---- the parts milter_send.c needs ---- */

size_t milters_size(const milters *ms);
milter *milters_get(const milters *ms, size_t i);
const char *milter_name(const milter *m);
/* The per-filter settings and negotiated state, for handing over. */
struct milter_xfer {
    const char *name;
    int     conn_timeout, cmd_timeout, msg_timeout;     /* seconds */
    const char *def_action;
    const char *protocol;
    uint32_t version, actions, events, np_mask;
    int     state;
    const strv *macros;         /* [MILTER_MAC_COUNT] effective lists */
    int     fd;                 /* the connection, -1 if none */
};
void milter_get_xfer(const milter *m, struct milter_xfer *x);
/* A list that receives filters from another process. */
milters *milters_new_empty(void);
/* Add a filter with its state and a connection (the list owns fd). */
void milters_add_xfer(milters *ms, const struct milter_xfer *x);
/* True when the filter takes part in the current message. */
bool milter_in_message(const milter *m);

#endif
