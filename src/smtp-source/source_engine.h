/*
 * source_engine.h - smtp-source's sessions: many SMTP/LMTP clients in one loop.
 *
 * source_engine_run() connects up to opts->sessions clients to the
 * target at once (non-blocking sockets on one event loop), and gives
 * each connection messages until opts->messages have been tried. Every
 * message ends counted once: in done (2xx at the end of DATA for every
 * recipient) or in errors (any unexpected reply, a connection that
 * failed or broke). Without -A the first unexpected reply or failed
 * connection is fatal, as in Postfix's smtp-source. Each step of the
 * conversation is bounded by opts->timeout_ms, so a run always ends.
 *
 * Latency: the time from writing the last byte of "." to reading the
 * complete reply (for LMTP, the last per-recipient reply) is recorded
 * for every message that got that far.
 *
 * NOT HERE: option parsing, output of the summary (smtp_source.c).
 */
#ifndef HK_SMTP_SOURCE_ENGINE_H
#define HK_SMTP_SOURCE_ENGINE_H

#include <stdint.h>
#include <sys/socket.h>

#include "smtp-source/source_opts.h"
#include "smtp-source/source_stats.h"
#include "util/sbuf.h"

typedef struct source_result {
    long long done;             /* messages accepted for every recipient */
    long long errors;           /* messages that were not */
    int64_t elapsed_us;         /* first connect to last message concluded */
    source_stats latency;       /* end of DATA -> reply, microseconds */
} source_result;

typedef struct source_target {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct sockaddr_storage bind;   /* --bind, if bindlen > 0 */
    socklen_t bindlen;
} source_target;

/* content: the wire form of the payload (or -F file), shared by all
 * messages; myhostname, from, to: resolved defaults. */
void source_engine_run(const source_opts *o, const source_target *t, const sbuf *content,
                       const char *myhostname, const char *from, const char *to,
                       source_result *res);

#endif
