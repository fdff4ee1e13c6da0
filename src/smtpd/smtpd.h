/*
 * smtpd.h - the SMTP server's session state and the functions its files share.
 *
 * One SMTPD_STATE lives for one client connection (serve() in smtpd.c).
 * The command loop in smtpd.c reads a line, finds the command in its
 * table and calls one handler from smtpd_helo.c, smtpd_mail.c,
 * smtpd_rcpt.c, smtpd_data.c or smtpd_misc.c. A handler writes its own
 * reply (smtpd_reply) and returns 0 for success or -1 for a failed
 * command (the loop counts errors and keeps the per-command statistics
 * that end up in the "disconnect from" log line).
 *
 * Configuration is read once per session into the state (conf_load in
 * smtpd.c), so -o overrides from master.cf apply and nothing re-reads
 * main.cf in the middle of a command.
 *
 * NOT HERE: the restriction evaluator (smtpd_check.h), the DATA line
 * state machine (smtpd_dot.h), the lookups behind restrictions
 * (smtpd_lookup.c), TLS (smtpd_tls.c over src/mail/tls.h) and SASL
 * (smtpd_sasl.c over src/mail/sasl_server.h).
 */
#ifndef HK_SMTPD_SMTPD_H
#define HK_SMTPD_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "mail/cleanup_client.h"
#include "util/sbuf.h"
#include "util/sock.h"
#include "util/strv.h"
#include "util/vstream.h"

#include "smtpd/smtpd_check.h"

/* Command statistics, in the order of the "disconnect from" log line. */
enum smtpd_cmd_id {
    SMTPD_CMD_HELO, SMTPD_CMD_EHLO, SMTPD_CMD_STARTTLS, SMTPD_CMD_AUTH, SMTPD_CMD_MAIL, SMTPD_CMD_RCPT, SMTPD_CMD_DATA,
    SMTPD_CMD_RSET, SMTPD_CMD_NOOP, SMTPD_CMD_VRFY, SMTPD_CMD_ETRN, SMTPD_CMD_QUIT,
    SMTPD_CMD_UNKNOWN, SMTPD_CMD_COUNT
};

#define SMTPD_NAME_MAX 255
#define SMTPD_NAMADDR_MAX (SMTPD_NAME_MAX + SOCK_ADDR_STRLEN + 16)
#define SMTPD_QUEUE_ID_MAX 64

typedef struct smtpd_state {
    vstream *client;
    const char *service;

    /* The client (smtpd_peer.c). */
    char name[SMTPD_NAME_MAX + 1];          /* verified host name or "unknown" */
    char addr[SOCK_ADDR_STRLEN];            /* "192.0.2.1", "2001:db8::1" */
    char rfc_addr[SOCK_ADDR_STRLEN + 8];    /* addr, "IPv6:..." for IPv6 (Received:) */
    char port[8];                           /* "12345" or "0" */
    char namaddr[SMTPD_NAMADDR_MAX];        /* "name[addr]" (":port" when configured) */

    /* Configuration snapshot (smtpd_conf_load in smtpd.c). */
    size_t line_limit;                      /* line_length_limit */
    long long size_limit;                   /* message_size_limit, 0 = none */
    long recipient_limit, recipient_overshoot;
    long soft_error_limit, hard_error_limit, error_sleep;
    long junk_limit;
    int timeout_ms;
    bool helo_required, strict_821, disable_vrfy, forbid_unauth_pipelining;
    bool smtputf8;
    int dot_mode;                           /* SMTPD_DOT_* for this client */
    const char *myhostname;

    /* Session. */
    char *helo_name;                        /* NULL until HELO/EHLO */
    const char *protocol;                   /* "SMTP" or "ESMTP" */
    const char *where;                      /* "CONNECT", "EHLO", "RCPT", ... for logs */
    int error_count;
    int junk_cmds;
    bool pipelining;                        /* PIPELINING was offered in EHLO */
    bool pregreet;                          /* input arrived before the greeting */
    bool done;                              /* QUIT or a fatal condition: end the session */
    char *access_denied;                    /* smtpd_delay_reject=no: client refusal */
    int cmd_total[SMTPD_CMD_COUNT];
    int cmd_ok[SMTPD_CMD_COUNT];

    /* Transaction (reset by RSET, HELO/EHLO and after DATA). */
    char *sender;                           /* NULL before MAIL; "" null sender */
    long long decl_size;                    /* SIZE= value, 0 if none */
    const char *encoding;                   /* NULL, "7BIT" or "8BITMIME" */
    char *dsn_envid;                        /* ENVID= (xtext decoded) */
    const char *dsn_ret;                    /* NULL, "FULL" or "HDRS" */
    bool smtputf8_requested;
    char *recipient;                        /* the RCPT being processed / last accepted */
    int rcpt_count;                         /* accepted recipients */
    int rcpt_overshoot;
    cleanup_client *cleanup;                /* open after the first accepted RCPT */
    char queue_id[SMTPD_QUEUE_ID_MAX];      /* "" when no queue file yet */
    time_t arrival;

    /* TLS (smtpd_tls.c). */
    int tls_level;                          /* TLS_LEV_NONE, _MAY or _ENCRYPT */
    bool tls_wrapper;                       /* smtpd_tls_wrappermode: TLS from the start */
    bool tls_offer;                         /* STARTTLS is offered in EHLO */
    bool tls_auth_only;                     /* smtpd_tls_auth_only */
    struct tls_sess *tls;                   /* NULL while in plaintext */

    /* SASL (smtpd_sasl.c). */
    bool sasl_enabled;                      /* AUTH is available to this client */
    struct sasl_server *sasl;               /* Cyrus connection, NULL when disabled */
    char *sasl_method;                      /* after a successful AUTH: "PLAIN" */
    char *sasl_username;                    /* ... and the login name */
    char *sasl_sender;                      /* MAIL FROM ... AUTH=<addr> (not "<>") */

    sbuf line;                              /* the current command line */
    int line_end;                           /* how it ended: VSTREAM_LINE_CRLF or _LF */
    struct smtpd_lookup *lookup;            /* tables behind the restrictions */

    /* Restrictions (smtpd_peer.c, smtpd_actions.c, smtpd_restrict.h). */
    char reverse_name[SMTPD_NAME_MAX + 1];  /* unverified PTR name or "unknown" */
    int name_status, reverse_name_status;   /* SMTPD_PEER_* */
    bool unauth_pipelining;                 /* reject_unauth_pipelining: seen once */
    struct smtpd_actions actions;           /* HOLD, DISCARD, ... of this transaction */
    char instance[48];                      /* policy "instance" of this transaction */
} SMTPD_STATE;

/* smtpd_chat.c: replies and log lines. */
void smtpd_reply(SMTPD_STATE *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "QUEUEID" or "NOQUEUE" */
const char *smtpd_queue_id(const SMTPD_STATE *st);
/* Log "ID: whatsup: WHERE from name[addr]: reply; from=<> to=<> proto=ESMTP helo=<>". */
void smtpd_log_whatsup(SMTPD_STATE *st, const char *whatsup, const char *reply);
/* Append a printable rendering of untrusted bytes (CR -> "\r", LF -> "\n"),
 * at most max bytes of it. */
void smtpd_printable(sbuf *out, const char *buf, size_t len, size_t max);
/* Fill a check request with the session's facts (sender, helo, ...). */
void smtpd_check_setup(SMTPD_STATE *st, struct smtpd_check *c);
/* Transaction reset: drop sender, recipients, parameters, cleanup session. */
void smtpd_mail_reset(SMTPD_STATE *st);

/* smtpd_peer.c */
void smtpd_peer_init(SMTPD_STATE *st, int fd, bool port_logging);

/* Command handlers: args is the text after the verb (leading and trailing
 * blanks removed, possibly ""). 0 = success, -1 = failed command. */
int smtpd_helo_cmd(SMTPD_STATE *st, const char *args);
int smtpd_ehlo_cmd(SMTPD_STATE *st, const char *args);
int smtpd_mail_cmd(SMTPD_STATE *st, const char *args);
int smtpd_rcpt_cmd(SMTPD_STATE *st, const char *args);
int smtpd_data_cmd(SMTPD_STATE *st, const char *args);
int smtpd_rset_cmd(SMTPD_STATE *st, const char *args);
int smtpd_noop_cmd(SMTPD_STATE *st, const char *args);
int smtpd_vrfy_cmd(SMTPD_STATE *st, const char *args);
int smtpd_etrn_cmd(SMTPD_STATE *st, const char *args);
int smtpd_quit_cmd(SMTPD_STATE *st, const char *args);

/* smtpd_rcpt.c: start the queue file and log "ID: client=..."; 0, or -1
 * after replying 451. */
int smtpd_open_queue_file(SMTPD_STATE *st);

/* smtpd_mail.c helpers shared with rcpt (ESMTP parameter values). */
/* Decode RFC 3461 xtext into out; -1 on bad syntax or non-printable result. */
int smtpd_xtext_decode(const char *in, sbuf *out);

/* smtpd_received.c */
/* The Received: header, LF-terminated lines, folded with TABs. */
void smtpd_received(const SMTPD_STATE *st, time_t when, sbuf *out);

/* smtpd_tls.c: STARTTLS, wrapper mode, client certificates. */
void smtpd_tls_pre_init(void);                  /* as root: context, tables */
void smtpd_tls_session_init(SMTPD_STATE *st);   /* level for this session */
/* Wrapper mode: handshake before the greeting. 0, or -1: end the session. */
int  smtpd_tls_wrapper_start(SMTPD_STATE *st);
/* Level encrypt without TLS yet: the command must wait for STARTTLS. */
bool smtpd_tls_required(const SMTPD_STATE *st);
void smtpd_tls_session_end(SMTPD_STATE *st);
/* Received: lines after "from": "\t(using ...)\n\t(No client ...)\n". */
void smtpd_tls_received(const SMTPD_STATE *st, sbuf *out);
int  smtpd_starttls_cmd(SMTPD_STATE *st, const char *args);
/* The TLS facts of a restriction request (tls, tls_protocol, ccert_*). */
void smtpd_tls_check_facts(const SMTPD_STATE *st, struct smtpd_check *c);

/* smtpd_sasl.c: AUTH (RFC 4954), AUTH= on MAIL, sender login checks. */
void smtpd_sasl_pre_init(void);                 /* as root: Cyrus, tables */
void smtpd_sasl_session_init(SMTPD_STATE *st);  /* also after STARTTLS */
void smtpd_sasl_session_end(SMTPD_STATE *st);
/* The EHLO lines: "AUTH PLAIN LOGIN" (and "AUTH=..." for broken
 * clients), or nothing; added to lines. */
void smtpd_sasl_ehlo(SMTPD_STATE *st, strv *keywords, strv *lines);
int  smtpd_auth_cmd(SMTPD_STATE *st, const char *args);
/* MAIL FROM AUTH=value; NULL, or the error reply. */
const char *smtpd_sasl_mail_opt(SMTPD_STATE *st, const char *value);
/* ", sasl_method=PLAIN, sasl_username=u[, sasl_sender=s]" or "". */
void smtpd_sasl_log_suffix(const SMTPD_STATE *st, sbuf *out);

/* smtpd_anvil.c: smtpd_client_*_limit through the anvil service. */
void smtpd_anvil_init(void);                    /* pre_init: exception list */
/* After "connect from": 0, or -1 after a 421 reply (the session ends). */
int  smtpd_anvil_connect(SMTPD_STATE *st);
void smtpd_anvil_disconnect(SMTPD_STATE *st);
/* Before MAIL, RCPT and AUTH: 0, or -1 after a 4xx reply. */
int  smtpd_anvil_command(SMTPD_STATE *st, int cmd_id);
/* STARTTLS: before the handshake, 0 or -1 after a 421 reply (new TLS
 * session rate over the limit); after a new (not resumed) session,
 * count it. */
int  smtpd_anvil_newtls_check(SMTPD_STATE *st);
/* After a handshake: count a new (not resumed) session; -1 over the limit
 * (logged; the caller ends the session). */
int  smtpd_anvil_newtls_count(SMTPD_STATE *st, bool resumed);

/* smtpd_actions.c: access(5) message actions on their way to cleanup. */
/* cleanup_open flags for the actions decided so far. */
int  smtpd_actions_open_flags(SMTPD_STATE *st);
/* Before "354": HOLD, FILTER, REDIRECT as cleanup attributes, BCC
 * recipients; PREPEND header lines appended to headers. */
void smtpd_actions_apply(SMTPD_STATE *st, sbuf *headers);
/* Transaction reset: forget the actions, new policy instance. */
void smtpd_actions_reset(SMTPD_STATE *st);

/* smtpd_lookup.c: the tables behind restrictions (default check ops). */
struct smtpd_lookup *smtpd_lookup_open(void);   /* pre_init: as root */
/* True when a table changed on disk (the process should restart). */
bool smtpd_lookup_changed(const struct smtpd_lookup *lk);
/* Is the client in smtpd_forbid_bare_newline_exclusions? 1, 0, -1. */
int  smtpd_lookup_bare_lf_excluded(SMTPD_STATE *st);
/* The check ops; their context is the SMTPD_STATE. */
extern const struct smtpd_check_ops smtpd_lookup_ops;

#endif
