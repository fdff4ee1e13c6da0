/*
 * rewrite_client.h - asking the trivial-rewrite daemon over IPC.
 *
 * Most programs call rewrite_address() and resolve_address() in-process
 * (docs/architecture.md); these calls are for tools that want the
 * answers of a running instance instead, and for tests of the daemon.
 * The requests (docs/ipc.md, "trivial-rewrite"):
 *
 *   request=rewrite  rule=local|remote  address     -> status, flags, address
 *   request=resolve  sender  address                -> status, flags, transport,
 *                                                       nexthop, recipient
 *
 * The stream is the caller's (connected to private/rewrite, or a pipe to
 * "trivial-rewrite -S"); one request and one reply per call. Both return
 * 0, or -1 with a reason in why (may be NULL) when the stream failed or
 * the reply was malformed or had a non-zero status.
 */
#ifndef HK_MAIL_REWRITE_CLIENT_H
#define HK_MAIL_REWRITE_CLIENT_H

#include "mail/resolve.h"
#include "util/sbuf.h"
#include "util/vstream.h"

#define REWRITE_REQ_REWRITE "rewrite"
#define REWRITE_REQ_RESOLVE "resolve"

int rewrite_client_rewrite(vstream *s, const char *rule, const char *addr, sbuf *out,
                           sbuf *why);
int rewrite_client_resolve(vstream *s, const char *sender, const char *addr,
                           struct resolve_reply *r, sbuf *why);

#endif
