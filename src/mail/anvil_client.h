/*
 * anvil_client.h - talk to the anvil service: per-client connection
 * counts and event rates (anvil(8)).
 *
 * The service lives at $queue_directory/private/anvil (master.cf
 * "anvil unix - - n - 1 anvil"). Requests and replies are attribute
 * lists (docs/ipc.md codec); docs/anvil.md is the protocol:
 *
 *   request=connect ident=S     -> status=0 count=N rate=N
 *   request=disconnect ident=S  -> status=0
 *   request=message ident=S     -> status=0 rate=N
 *   request=recipient ident=S   -> status=0 rate=N
 *   request=newtls ident=S      -> status=0 rate=N
 *   request=newtls_report ident=S -> status=0 rate=N   (no update)
 *   request=auth ident=S        -> status=0 rate=N
 *   request=lookup ident=S      -> status=0 count rate message recipient
 *                                  newtls auth (no update)
 *
 * ident is "service:address" (anvil_ident). Counts are simultaneous
 * connections; rates are events in the current anvil_rate_time_unit
 * window. A connection that ends without its disconnect is taken off the
 * count by anvil when the client's stream closes.
 *
 * The client keeps one connection per process and reconnects once when
 * it broke. Every call returns 0, or -1 (after logging a warning) when
 * anvil cannot be reached: callers then skip the limit, as Postfix does.
 *
 * NOT HERE: limits and replies (smtpd_anvil.c), the server (src/anvil/).
 */
#ifndef HK_MAIL_ANVIL_CLIENT_H
#define HK_MAIL_ANVIL_CLIENT_H

#include "util/sbuf.h"

#define ANVIL_SERVICE "anvil"           /* private/anvil */

#define ANVIL_REQ_CONNECT      "connect"
#define ANVIL_REQ_DISCONNECT   "disconnect"
#define ANVIL_REQ_MESSAGE      "message"
#define ANVIL_REQ_RECIPIENT    "recipient"
#define ANVIL_REQ_NEWTLS       "newtls"
#define ANVIL_REQ_NEWTLS_REPORT "newtls_report"
#define ANVIL_REQ_AUTH         "auth"
#define ANVIL_REQ_LOOKUP       "lookup"

struct anvil_lookup {
    int count, rate, message, recipient, newtls, auth;
};

/* "service:addr" into out. */
void anvil_ident(sbuf *out, const char *service, const char *addr);

int anvil_connect(const char *ident, int *count, int *rate);
int anvil_disconnect(const char *ident);
/* message, recipient, newtls, newtls_report, auth: the new rate. */
int anvil_event(const char *request, const char *ident, int *rate);
int anvil_lookup(const char *ident, struct anvil_lookup *out);
/* Close the connection (tests, or before exec). */
void anvil_close(void);
/* Use this socket path instead of $queue_directory/private/anvil (tests). */
void anvil_set_path(const char *path);

#endif
