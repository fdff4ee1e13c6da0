/*
 * rewrite.h - canonicalise an address as trivial-rewrite does.
 *
 * Context "local" (locally posted mail, and remote mail when
 * local_header_rewrite_clients allows) applies append_at_myorigin and
 * append_dot_mydomain; "remote" appends remote_header_rewrite_domain (or
 * nothing). Both: strip a source route, swap_bangpath (a!b -> b@a),
 * allow_percent_hack (a%b@local -> a@b); "user@" is left for the
 * resolver to judge (see below). Reads main.cf through mail_conf.
 *
 * Precisely (Postfix's documented behaviour; docs/addressing.md):
 *   ""                  -> ""  (the null sender stays null)
 *   "@"                 -> ""
 *   "@a,@b:user@site"   -> "user@site"
 *   "site!user"         -> "user@site"          (swap_bangpath, no '@' only)
 *   "user%site"         -> "user@site"          (allow_percent_hack, no '@' only)
 *   "user"              -> "user@$myorigin"     (append_at_myorigin; remote:
 *                          @$remote_header_rewrite_domain, nothing if empty)
 *   "user@host"         -> "user@host.$mydomain" (append_dot_mydomain, only
 *                          when the domain has no dot and is not [literal];
 *                          remote: .$remote_header_rewrite_domain)
 *   "user@site."        -> "user@site"          (one trailing dot)
 *   "user%site@local"   -> "user@site"          (local = resolve_local_domain;
 *                          likewise "site!user@local")
 * and, as Postfix does:
 *   "user@"             -> "user@"  (left alone, so the resolver can flag
 *                          it: resolve_null_domain decides; smtpd refuses)
 * The only tables consulted are those mydestination may name (for the
 * last rule). The relay check must use resolve_address() flags: it sees
 * routing operators that rewriting may have removed.
 */
#ifndef HK_MAIL_REWRITE_H
#define HK_MAIL_REWRITE_H

#include "util/sbuf.h"

#define REWRITE_LOCAL  "local"
#define REWRITE_REMOTE "remote"

/* context: REWRITE_LOCAL or REWRITE_REMOTE (anything else is "local").
 * out is replaced; addr must not point into out. */
void rewrite_address(const char *context, const char *addr, sbuf *out);

/* The same rules without the last one (no local-domain test, no tables):
 * what resolve_address() applies between its own local-domain strips. */
void rewrite_address_canon(const char *context, const char *addr, sbuf *out);

#endif
