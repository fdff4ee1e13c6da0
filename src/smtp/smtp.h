/*
 * smtp.h - the SMTP/LMTP client delivery agent: shared types and calls.
 *
 * One program, two protocols: run as "smtp" (master.cf services smtp,
 * relay, ...) it speaks SMTP; run as "lmtp" (argv[0], the master.cf
 * command name) it speaks LMTP and reads the lmtp_* parameters. See
 * docs/smtp.md for the behaviour; the modules are:
 *
 *   smtp.c          main, one delivery request at a time, the results
 *   smtp_param.c    smtp_/lmtp_ parameter names; the why record
 *   smtp_nexthop.c  nexthop syntax: [host]:port, host:service, unix:/path
 *   smtp_addr.c     destination -> ordered addresses (MX, A/AAAA, native)
 *   smtp_connect.c  trying destinations and their addresses; fallback
 *                   relays; the per-process connection cache
 *   smtp_proto.c    the conversation: greeting, EHLO/HELO/LHLO, MAIL,
 *                   RCPT, DATA (pipelined when offered), RSET, QUIT
 *   smtp_chat.c     commands out, replies in, with timeouts and the error
 *                   texts ("lost connection with ... while ...")
 *   smtp_content.c  queue file content -> CRLF, dot-stuffed, folded lines
 *   smtp_tls.c      TLS: the level and settings of a destination
 *                   (smtp_tls_security_level, smtp_tls_policy_maps),
 *                   STARTTLS and wrapper-mode handshakes
 *   smtp_sasl.c     SMTP AUTH with the credentials of smtp_sasl_password_maps
 *   smtp_keys.c     table keys and certificate names (pure functions)
 *
 * Results: every recipient of a request gets exactly one final status
 * (smtp_rcpt_done). Until then a failure is only remembered in the
 * recipient's "why": a soft failure (4.x.x) may still be cured by another
 * host; when no host is left, every pending recipient is finished with its
 * last why.
 */
#ifndef HK_SMTP_SMTP_H
#define HK_SMTP_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "mail/deliver_request.h"
#include "mail/dsn_util.h"
#include "mail/qfile.h"
#include "util/sbuf.h"
#include "util/sock.h"
#include "util/strv.h"
#include "util/vstream.h"

/* ---- parameters: smtp_X or lmtp_X depending on the protocol ---- */

extern bool smtp_lmtp;      /* this process speaks LMTP */

/* The full parameter name for a suffix ("connect_timeout" ->
 * "smtp_connect_timeout" or "lmtp_connect_timeout"; helo_name and
 * helo_timeout become lhlo_*; an lmtp_ name that does not exist falls
 * back to smtp_). Static buffer. */
const char *smtp_pname(const char *suffix);
const char *smtp_param_str(const char *suffix);
long smtp_param_int(const char *suffix);
int  smtp_param_bool(const char *suffix);
/* A time parameter in milliseconds for vstream/sock (0 seconds -> -1:
 * no limit, for lmtp_connect_timeout = 0s). */
int  smtp_param_ms(const char *suffix);

/* ---- why a recipient is not (yet) delivered ---- */

struct smtp_why {
    bool    set;
    char    dsn[DSN_CODE_SIZE];
    sbuf    reason;         /* the log text */
    sbuf    relay;          /* "host[addr]:port" or "none" */
    sbuf    diag;           /* the server's reply (RFC 3464 smtp; ...), or "" */
};

void smtp_why_init(struct smtp_why *w);
void smtp_why_free(struct smtp_why *w);
void smtp_why_copy(struct smtp_why *dst, const struct smtp_why *src);
/* Set dsn, relay (NULL: "none") and the reason (printf). diag cleared. */
void smtp_why_set(struct smtp_why *w, const char *dsn, const char *relay, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline bool smtp_why_soft(const struct smtp_why *w) { return w->dsn[0] != '5'; }

/* ---- one delivery request ---- */

struct smtp_rcpt {
    bool    done;           /* final status sent to qmgr */
    bool    accepted;       /* RCPT accepted in the current transaction */
    bool    tried;          /* sent to the current session already */
    struct smtp_why why;    /* last failure */
};

struct smtp_state {
    const struct deliver_request *req;
    vstream *qmgr;                  /* status replies go here */
    qfile  *qf;                     /* the queue file, read only */
    off_t   content_offset;         /* of its QREC_CONTENT record */
    struct smtp_rcpt *rcpt;
    size_t  pending;                /* recipients without a final status */
    struct timeval start;           /* request received */
    struct timeval ready;           /* a session became usable (0: not yet) */
    unsigned qflags;                /* QFILE_FL_* of the message */
    struct smtp_why last;           /* latest site-level failure */
};

/* Final status of recipient i: log line + status to qmgr. */
void smtp_rcpt_done(struct smtp_state *st, size_t i, const struct smtp_why *why);
/* The same for a delivered recipient: reason is the server's reply. */
void smtp_rcpt_sent(struct smtp_state *st, size_t i, const char *dsn, const char *relay,
                    const char *reply);
/* Remember why for every pending recipient (and as the last failure). */
void smtp_why_pending(struct smtp_state *st, const struct smtp_why *why);
/* Finish every pending recipient with its own why (or the last one). */
void smtp_finish_pending(struct smtp_state *st);

/* ---- next hops (smtp_nexthop.c) ---- */

struct smtp_dest {
    int     kind;                   /* SOCK_EP_INET or SOCK_EP_UNIX */
    bool    mx;                     /* look up MX records */
    char    host[SOCK_HOST_MAX + 1];   /* no brackets, no "ipv6:" */
    char    port[SOCK_PORT_MAX + 1];   /* as written, or the default */
    char    path[SOCK_PATH_MAX + 1];   /* kind UNIX */
    char    text[512];              /* as written (for messages) */
};

/*
 * Parse one destination. lmtp: "unix:/path", "/path", "inet:host[:port]",
 * "host[:port]"; never MX. smtp: "host", "host:port", "[host]",
 * "[host]:port", "[ipv6:addr]:port", optional "inet:". A port may be a
 * service name. def_port is used when none is given. 0, or -1 with why.
 */
int  smtp_dest_parse(const char *text, bool lmtp, const char *def_port, struct smtp_dest *d,
                     sbuf *why);
/* Split a nexthop or relay list ("[a]:25, [b]:25" or "a b") into out. */
void smtp_dest_split(const char *list, strv *out);

/* ---- addresses (smtp_addr.c) ---- */

struct smtp_addr {
    struct sockaddr_storage sa;     /* port set */
    socklen_t len;
    char    host[256];              /* name for host[addr] */
    unsigned pref;                  /* MX preference (0 without MX) */
    bool    best;                   /* among the most preferred */
};

struct smtp_addr_list {
    struct smtp_addr *a;
    size_t  n, cap;
    bool    self_mx;                /* we are an MX host of this destination */
};

void smtp_addr_list_free(struct smtp_addr_list *l);
/*
 * Addresses to try for d, best first. 0 with at least one address; -1 with
 * why set (dsn and reason; relay "none"): DNS errors, null MX, "mail for X
 * loops back to myself" (our own address is the best MX).
 */
int  smtp_addr_find(const struct smtp_dest *d, struct smtp_addr_list *out, struct smtp_why *why);
/* Pure helpers, for tests: sort by preference (stable), shuffle equal
 * preferences when randomize, put the preferred family first within a
 * preference ("ipv4", "ipv6", "any"), then cut at limit (0: none). */
void smtp_addr_order(struct smtp_addr_list *l, bool randomize, const char *family_pref,
                     size_t limit);

/* ---- sessions (smtp_proto.c, smtp_chat.c) ---- */

enum {
    SMTP_FEAT_ESMTP = 1 << 0,
    SMTP_FEAT_PIPELINING = 1 << 1,
    SMTP_FEAT_SIZE = 1 << 2,
    SMTP_FEAT_8BITMIME = 1 << 3,
    SMTP_FEAT_DSN = 1 << 4,
    SMTP_FEAT_SMTPUTF8 = 1 << 5,
    SMTP_FEAT_STARTTLS = 1 << 6,
    SMTP_FEAT_ENHANCED = 1 << 7,
};

struct smtp_tls_dest;

struct smtp_session {
    vstream *stream;
    char   *dest;               /* cache key: the request's nexthop */
    sbuf    namaddr;            /* "host[addr]" */
    sbuf    relay;              /* "host[addr]:port" (UNIX: "host[path]") */
    int     features;
    unsigned long size_limit;   /* SIZE n, 0 = none announced */
    bool    best;               /* a loop here is a bounce, not a deferral */
    bool    loop_detect;        /* SMTP to port 25: check for our own name */
    bool    broken;             /* out of step: never reuse */
    time_t  created;
    long    reuse_count;
    /* Who this is (TLS names, SASL password keys). */
    char   *host;               /* the server's name as looked up */
    int     port;               /* 0 for a UNIX-domain socket */
    char   *dest_text;          /* the destination as written ("[relay]:587"), or "" */
    /* TLS (smtp_tls.c). */
    const struct smtp_tls_dest *tlsd;   /* the destination's policy, during smtp_helo() */
    int     tls_level;          /* TLS_LEV_* in force for this session */
    bool    tls_reuse;          /* a TLS session may be cached */
    bool    tls_retry_plain;    /* level may and the handshake failed: try plaintext */
    bool    tls_verified;       /* the server certificate was verified */
    void   *tls;                /* tls_sess * while TLS is active */
    /* SASL (smtp_sasl.c). */
    strv    sasl_mechs;         /* AUTH mechanisms of the last EHLO reply */
    int     sasl_found;         /* credentials: -1 not looked up, 0 none, 1 found */
    char   *sasl_user;
    char   *sasl_pass;          /* wiped when the session is freed */
    bool    authenticated;
};

/* A server reply: code, enhanced status and the lines joined by blanks. */
struct smtp_reply {
    int     code;               /* 0 when malformed */
    char    dsn[DSN_CODE_SIZE];
    sbuf    text;               /* "550 5.1.1 <a@b>: ..." (all lines) */
    sbuf    first;              /* the first line, for EHLO parsing */
    strv    lines;              /* each line without its code */
};

void smtp_reply_init(struct smtp_reply *r);
void smtp_reply_free(struct smtp_reply *r);
/* Read one (multi-line) reply within timeout_ms. 0, or -1: the session
 * failed (lost connection or timeout) and why is set ("... while <doing>"). */
int  smtp_reply_read(struct smtp_session *s, int timeout_ms, const char *doing,
                     struct smtp_reply *r, struct smtp_why *why);
/* Buffer one command line (CRLF added); sent on the next read or flush. */
void smtp_cmd(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Flush within timeout_ms; -1 with why as smtp_reply_read. */
int  smtp_flush(struct smtp_session *s, int timeout_ms, const char *doing, struct smtp_why *why);
/* The "lost connection"/"timed out" why for a failed stream. */
void smtp_stream_why(struct smtp_session *s, const char *doing, struct smtp_why *why);
/* Reply -> why: "host X said: <text> (in reply to <cmd> command)". */
void smtp_reply_why(struct smtp_session *s, const struct smtp_reply *r, const char *cmd,
                    struct smtp_why *why);
/* Parse a reply's first line: code, dsn; for tests. -1 when malformed. */
int  smtp_reply_parse_line(const char *line, size_t len, int *code, bool *last);
/* Enhanced status code of a reply text, or the default for the code. */
void smtp_reply_dsn(int code, const char *text, char *dsn, size_t size);

struct smtp_session *smtp_session_new(vstream *stream, const char *dest, const char *host,
                                      const char *addr, int port);
void smtp_session_free(struct smtp_session *s);

/* Greeting and EHLO/HELO/LHLO. 0 ready; -1 with why (soft or hard). */
int  smtp_helo(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why);
/*
 * One mail transaction for up to limit pending recipients not yet tried on
 * this session. 2xx and 5xx results are final; a 4xx result is kept as the
 * recipient's why, so the next host may still take it.
 * Returns 0 when the session is still in step (it may be reused), -1 when
 * it is not (why set for the pending recipients).
 */
int  smtp_transaction(struct smtp_state *st, struct smtp_session *s, size_t limit);
/* RSET before reuse: 0 when the server answered 2xx. */
int  smtp_rset(struct smtp_session *s);
/* QUIT (reply awaited unless smtp_skip_quit_response) and free. */
void smtp_quit(struct smtp_session *s);

/* ---- content (smtp_content.c) ---- */

struct smtp_body {
    size_t  limit;              /* smtp_line_length_limit, 0 = none */
    size_t  col;                /* bytes on the current output line */
    bool    bol;                /* at the beginning of a line */
};

void smtp_body_init(struct smtp_body *b, size_t limit);
/* Convert LF-terminated text to SMTP form (CRLF, dot-stuffing, folding
 * with CRLF SPACE after limit bytes), appending to out. */
void smtp_body_put(struct smtp_body *b, const char *p, size_t n, sbuf *out);
/* End of content: CRLF if a line is open. */
void smtp_body_end(struct smtp_body *b, sbuf *out);
/*
 * Send the message content from the queue file (headers, the blank line,
 * body) then ".". 0; -1 with why: a stream failure, or a damaged queue
 * file (4.3.0, the session is then out of step).
 */
int  smtp_send_content(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why);

/* ---- TLS (smtp_tls.c) ---- */

/* The TLS policy of one destination, worked out before connecting. */
struct smtp_tls_dest {
    int     level;              /* TLS_LEV_* */
    bool    wrapper;            /* smtp_tls_wrappermode: TLS before the greeting */
    bool    reuse;              /* smtp_tls_connection_reuse or connection_reuse= */
    char   *protocols;          /* protocol list for this level */
    char   *grade;              /* cipher grade for this level */
    strv    exclude;            /* excluded ciphers */
    strv    match;              /* verify/secure: names and strategies; fingerprint: digests */
    char   *servername;         /* smtp_tls_servername or servername= */
    char   *nexthop;            /* the nexthop name for certificate checks */
};

/* As root, once: the policy tables, the level and the client context. */
void smtp_tls_pre_init(void);
/* The policy of destination d. 0; -1 with why (4.7.0 "client TLS
 * configuration problem", or 4.3.0 for a table that cannot be read). */
int  smtp_tls_dest_init(const struct smtp_dest *d, struct smtp_tls_dest *td,
                        struct smtp_why *why);
void smtp_tls_dest_free(struct smtp_tls_dest *td);
/* Handshake on s (after STARTTLS was accepted, or at once in wrapper
 * mode). 0; -1 with why: the session is then broken; s->tls_retry_plain
 * says whether the same server may be tried again without TLS. */
int  smtp_tls_start(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why);
/* True when a client context exists (TLS can be used at all). */
bool smtp_tls_available(void);

/* ---- SASL (smtp_sasl.c) ---- */

void smtp_sasl_pre_init(void);
/* SMTP AUTH is enabled and usable. */
bool smtp_sasl_enabled(void);
/* Look up the credentials for s (once): 1 found, 0 none, -1 with why. */
int  smtp_sasl_lookup(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why);
/* After the (last) EHLO: authenticate when the server offers AUTH and
 * credentials exist. 0 (authenticated or nothing to do); -1 with why. */
int  smtp_sasl_helo(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why);
/* Sessions must not be cached (smtp_sender_dependent_authentication). */
bool smtp_sasl_no_cache(void);

/* ---- table keys and names (smtp_keys.c) ---- */

void smtp_tls_policy_keys(const struct smtp_dest *d, const char *def_port, strv *keys);
void smtp_sasl_passwd_keys(const char *host, int port, const char *dest_text, strv *keys);
void smtp_tls_match_names(const strv *patterns, const char *hostname, const char *nexthop,
                          strv *out);
const char *smtp_tls_sni(const char *setting, const char *hostname, const char *nexthop);
void smtp_auth_mechs(const strv *ehlo_lines, strv *mechs);

/* ---- connecting and the delivery loop (smtp_connect.c) ---- */

void smtp_deliver(struct smtp_state *st);
/* Before a request: drop a cached session that expired while idle
 * (all: close any cached session, with QUIT; at exit). */
void smtp_cache_expire(bool all);
/* After a request: start the idle timer of a cached session
 * (smtp_connection_cache_time_limit). */
void smtp_cache_idle(void);

#endif
