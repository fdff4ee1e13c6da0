/*
 * source_opts.h - smtp-source's command line: options and the target.
 *
 * source_opts_parse() turns argv into a source_opts and checks every
 * value: numbers in range, addresses without spaces or brackets, a
 * target that parses as [inet:]host[:port] or unix:path. (Whether the
 * -F file can be read is found out by main, which reads it.)
 * On a bad command line it returns -1 with a one-line reason in why;
 * it never exits and never prints, so it can be tested.
 *
 * The options follow Postfix's smtp-source(1) where it has them (-4 -6
 * -A -c -C -d -f -F -l -L -m -M -N -o -r -R -s -S -t -T -v -w; -C
 * retries any failed connection, not only a reset one); the
 * extras are long options: --latency, --summary, --pipelining (also
 * -P), --timeout SECONDS, --bind ADDRESS, --help (then nothing
 * else is checked).
 *
 * NOT HERE: no I/O, no name lookups (main resolves the target).
 */
#ifndef HK_SMTP_SOURCE_OPTS_H
#define HK_SMTP_SOURCE_OPTS_H

#include "util/sbuf.h"
#include "util/sock.h"

typedef struct source_opts {
    int     family;             /* AF_UNSPEC, AF_INET (-4) or AF_INET6 (-6) */
    int     keep_going;         /* -A: count unexpected replies, do not abort */
    int     counter;            /* -c: running counter on stdout */
    int     connect_tries;      /* -C: connection attempts per session (>= 1) */
    int     reuse;              /* -d: next message over the same connection */
    const char *from;           /* -f, NULL: foo@myhostname */
    const char *file;           /* -F: pre-formatted message */
    long long length;           /* -l: payload bytes; -1: a one-line default body */
    int     lmtp;               /* -L */
    long long messages;         /* -m (default 1) */
    const char *myhostname;     /* -M, NULL: gethostname() */
    int     numbered;           /* -N: unique recipient numbers across the run */
    int     old_mode;           /* -o: no HELO, no generated headers */
    int     rcpts;              /* -r (default 1) */
    int     random_wait_ms;     /* -R: random 0..n ms wait between messages */
    int     sessions;           /* -s (default 1) */
    const char *subject;        /* -S */
    const char *to;             /* -t, NULL: foo@myhostname */
    int     window;             /* -T: SO_RCVBUF/SO_SNDBUF, 0 = system default */
    int     verbose;            /* -v (repeatable) */
    int     wait_ms;            /* -w: fixed wait between messages */
    int     latency;            /* --latency: print end-of-DATA -> reply percentiles */
    int     summary;            /* --summary: one machine-readable line at the end */
    int     pipelining;         /* -P / --pipelining: MAIL, RCPTs and DATA in one write */
    int     timeout_ms;         /* --timeout: per-step limit (default 300 s) */
    const char *bind;           /* --bind: local address for inet connections */
    int     help;               /* --help: print the usage, nothing else */
    sock_endpoint target;       /* the one operand */
} source_opts;

void source_opts_init(source_opts *o);
/* 0, or -1 with why set ("-m: bad number: x"). Uses getopt_long (resets optind). */
int source_opts_parse(source_opts *o, int argc, char **argv, sbuf *why);
/* "count" in 1..max (k/K, m/M suffixes allowed when suffix_ok). -1 if bad. */
int source_parse_count(const char *text, long long max, int suffix_ok, long long *out);
/* Seconds with an optional fraction ("0.25") to milliseconds; -1 if bad. */
int source_parse_seconds(const char *text, int *ms);
extern const char source_usage[];

#endif
