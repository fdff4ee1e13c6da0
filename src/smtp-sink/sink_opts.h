/*
 * sink_opts.h - smtp-sink's command line, and its per-command rules.
 *
 * Options follow Postfix's smtp-sink(1) where it has them: -4 -6 -8 -a
 * -b -B -c -C -d -e -E -f -F -h -L -m -M -n -N -p -q -Q -r -R -S -t -u
 * -v -w -W. Extras are long options: --count-file PATH (a one-line
 * counter file, see smtp_sink.c), --summary (print the counters at
 * exit), --max-time SECONDS (exit after that long), --help.
 *
 * COMMAND LISTS (-f, -r, -q, -Q): commands separated by commas or white
 * space, case-insensitive: CONNECT, HELO, EHLO, LHLO, MAIL, RCPT, VRFY,
 * DATA, "." (end of data), RSET, NOOP, QUIT, ETRN, XCLIENT, XFORWARD.
 * In -f (hard reject, 5xx) and -r (soft reject, 4xx) each command may
 * carry its own reply code: "-r rcpt:452,data" answers RCPT with
 * "452 4.3.0 Error: command failed" and DATA with the -b reply; a code
 * of the wrong class ("-r rcpt:550") is an error. -f and -r imply -p
 * (no PIPELINING), as in Postfix. -q closes the connection without a
 * reply after the command; -Q answers 421 and closes.
 *
 * DELAYS: -w SECONDS before answering DATA; -W command:SECONDS before
 * answering that command (Postfix's optional ":odds" is not supported).
 *
 * NOT HERE: no I/O; nothing exits.
 */
#ifndef HK_SMTP_SINK_OPTS_H
#define HK_SMTP_SINK_OPTS_H

#include <stddef.h>

#include "util/sbuf.h"
#include "util/sock.h"

enum sink_cmd {
    SC_CONNECT, SC_HELO, SC_EHLO, SC_LHLO, SC_MAIL, SC_RCPT, SC_VRFY, SC_DATA, SC_DOT,
    SC_RSET, SC_NOOP, SC_QUIT, SC_ETRN, SC_XCLIENT, SC_XFORWARD,
    SC_COUNT
};

enum sink_action {
    SINK_ACT_NONE,          /* answer normally */
    SINK_ACT_REJECT,        /* answer with rule.code (4xx or 5xx) */
    SINK_ACT_DROP,          /* -q: close without a reply */
    SINK_ACT_421,           /* -Q: 421 and close */
};

typedef struct sink_rule {
    int     action;
    int     code;           /* SINK_ACT_REJECT: 0 = the -b/-B reply */
    int     soft;           /* SINK_ACT_REJECT: from -r (4xx) rather than -f */
    int     delay_ms;       /* -w, -W */
} sink_rule;

typedef struct sink_opts {
    int     family;         /* AF_UNSPEC, AF_INET (-4), AF_INET6 (-6) */
    int     no_8bitmime;    /* -8 */
    int     counter;        /* -c */
    const char *dump;       /* -d template */
    int     no_esmtp;       /* -e */
    int     no_enhanced;    /* -E */
    const char *hostname;   /* -h (default "smtp-sink") */
    int     lmtp;           /* -L */
    int     max_conns;      /* -m (default 256) */
    long long max_messages; /* -M (0: no limit) */
    long long max_sessions; /* -n (0: no limit) */
    int     no_dsn;         /* -N */
    int     no_pipelining;  /* -p (also set by -f and -r) */
    const char *chroot_dir; /* -R */
    const char *start_string;   /* -S, escapes already decoded */
    int     timeout_ms;     /* -t (default 100 s) */
    const char *user;       /* -u */
    int     verbose;        /* -v */
    const char *soft_reply; /* -b (default "450 4.3.0 Error: command failed") */
    const char *hard_reply; /* -B (default "500 5.3.0 Error: command failed") */
    const char *count_file; /* --count-file */
    int     summary;        /* --summary */
    int     max_time_ms;    /* --max-time (0: none) */
    int     help;           /* --help: print the usage, nothing else */
    sink_rule rules[SC_COUNT];
    sock_endpoint listen;   /* first operand */
    int     backlog;        /* second operand */
    char   *start_buf;      /* storage for start_string */
} sink_opts;

void sink_opts_init(sink_opts *o);
void sink_opts_free(sink_opts *o);
/* 0, or -1 with why set. Uses getopt_long (resets optind). */
int sink_opts_parse(sink_opts *o, int argc, char **argv, sbuf *why);

/* Command name (any case, e.g. "rcpt", ".") to SC_*, or -1. */
int sink_cmd_lookup(const char *name, size_t len);
const char *sink_cmd_name(int cmd);
/* Apply one command list ("rcpt:550, data") for option opt ('f', 'r',
 * 'q' or 'Q'). 0, or -1 with why. */
int sink_parse_cmd_list(sink_opts *o, int opt, const char *list, sbuf *why);
/* -W "command:seconds". 0, or -1 with why. */
int sink_parse_delay(sink_opts *o, const char *spec, sbuf *why);
/* Decode -S escapes (\a \b \f \n \r \t \v \\ \ddd) into out. -1 on a bad one. */
int sink_unescape(const char *in, sbuf *out);
/* The reply text for a reject rule (without CRLF). */
void sink_reject_text(const sink_opts *o, const sink_rule *r, sbuf *out);

extern const char sink_usage[];

#endif
