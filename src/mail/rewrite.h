/*
 * rewrite.h - canonicalise an address as trivial-rewrite does.
 *
 * Context "local" (locally posted mail, and remote mail when
 * local_header_rewrite_clients allows) applies append_at_myorigin and
 * append_dot_mydomain; "remote" appends remote_header_rewrite_domain (or
 * nothing). Both: strip a source route, swap_bangpath (a!b -> b@a),
 * allow_percent_hack (a%b@local -> a@b), and "user@" -> "user". Reads
 * main.cf through mail_conf; no tables.
 */
#ifndef HK_MAIL_REWRITE_H
#define HK_MAIL_REWRITE_H

#include "util/sbuf.h"

#define REWRITE_LOCAL  "local"
#define REWRITE_REMOTE "remote"

void rewrite_address(const char *context, const char *addr, sbuf *out);

#endif
