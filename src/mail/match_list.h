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

typedef struct match_list match_list;

/* title is the parameter name, for error messages. */
match_list *match_list_open(const char *title, const char *patterns);
void match_list_free(match_list *l);
/* 1 match, 0 no match, -1 table failure (defer). */
int match_domain(match_list *l, const char *domain);
/* hostname may be "unknown"; addr is a numeric address string. */
int match_host(match_list *l, const char *hostname, const char *addr);

#endif
