/*
 * match_list.h - Postfix pattern lists: domains (mydestination,
 * relay_domains) and hosts/networks (mynetworks, *_hosts parameters).
 *
 * A list is comma/space separated patterns: a domain name (matches itself
 * and, per parent_domain_matches_subdomains, its subdomains), ".domain"
 * (subdomains), an IPv4/IPv6 address or CIDR network ("[::1]/128"),
 * "/file/name" (patterns read from a file), "type:table" (a lookup; the
 * key is the domain/host/address), "!pattern" negation. First match wins.
 */
#ifndef HK_MAIL_MATCH_LIST_H
#define HK_MAIL_MATCH_LIST_H

#include <stdbool.h>
#include "util/strv.h"

typedef struct match_list match_list;

/* title is the parameter name, for error messages. */
match_list *match_list_open(const char *title, const char *patterns);
void match_list_free(match_list *l);
/* 1 match, 0 no match, -1 table failure (defer). */
int match_domain(match_list *l, const char *domain);
/* hostname may be "unknown"; addr is a numeric address string. */
int match_host(match_list *l, const char *hostname, const char *addr);

/*
 * Details (Postfix's documented behaviour):
 * - Names are compared without regard to case. "example.com" matches
 *   itself, and also its subdomains when the list's title is one of the
 *   features named in parent_domain_matches_subdomains (read at open
 *   time); ".example.com" matches subdomains only.
 * - A type:table pattern is looked up with the name, then with each
 *   parent ("sub.example.com" -> "example.com", ... when the title is in
 *   parent_domain_matches_subdomains, else ".example.com", ...); for
 *   match_host, then with the address. The value is ignored.
 * - Networks: 1.2.3.4, 1.2.3.0/24, [1.2.3.4], [2001:db8::]/32, [::1]/128;
 *   IPv6 without brackets is accepted too when it parses as an address.
 *   A mask with host bits set ("1.2.3.4/24") is an error, as in Postfix.
 *   An IPv4-mapped client address (::ffff:1.2.3.4) matches IPv4 patterns.
 * - "/file/name" is replaced by the patterns in the file (comma/space
 *   separated, '#' comments); "!/file/name" negates each of them.
 * - A pattern that cannot be used (bad network, unreadable file, table
 *   that fails to open) is logged with the title (and file and line) and
 *   makes every match return -1, so callers defer instead of guessing.
 */

/* Split a list value on commas and blanks, keeping "{...}" inside an item
 * ("inline:{a=1, b=2}" is one item) and unwrapping an item that is one
 * "{ ... }" group, like mail_conf_list(). Appends to out. */
void match_list_split(const char *text, strv *out);
/* True when the title is listed in parent_domain_matches_subdomains. */
bool match_list_parent_style(const match_list *l);
const char *match_list_title(const match_list *l);
/* True when a type:table pattern's table changed on disk since opening. */
bool match_list_changed(const match_list *l);

#endif
