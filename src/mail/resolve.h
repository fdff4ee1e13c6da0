/*
 * resolve.h - decide where a recipient goes: (transport, nexthop, recipient).
 *
 * Address classes, in order: local (domain in mydestination, or an
 * address of inet_interfaces/proxy_interfaces, or no domain), virtual
 * alias (virtual_alias_domains), virtual mailbox (virtual_mailbox_domains),
 * relay (relay_domains), default (everything else). Each class has its
 * transport (local_transport, virtual_transport, relay_transport,
 * default_transport) and nexthop (relayhost for default; the domain
 * otherwise). transport_maps override per full address, domain,
 * ".domain" (parent-domain match, per parent_domain_matches_subdomains)
 * and "*", and an empty field keeps the default ("* :"). A table failure
 * is RESOLVE_FLAG_FAIL (defer, never a bounce).
 */
#ifndef HK_MAIL_RESOLVE_H
#define HK_MAIL_RESOLVE_H

#include "util/sbuf.h"

#define RESOLVE_CLASS_LOCAL    (1 << 0)
#define RESOLVE_CLASS_ALIAS    (1 << 1)     /* virtual_alias_domains */
#define RESOLVE_CLASS_VIRTUAL  (1 << 2)     /* virtual_mailbox_domains */
#define RESOLVE_CLASS_RELAY    (1 << 3)
#define RESOLVE_CLASS_DEFAULT  (1 << 4)
#define RESOLVE_FLAG_ROUTED    (1 << 8)     /* source-routed or percent/bang address */
#define RESOLVE_FLAG_ERROR     (1 << 9)     /* bad address syntax */
#define RESOLVE_FLAG_FAIL      (1 << 10)    /* table lookup failed: try again later */

struct resolve_reply {
    sbuf transport;     /* "local", "smtp", "relay", "error" */
    sbuf nexthop;       /* "mail.example.jp", "[192.168.1.2]", "example.jp" */
    sbuf recipient;     /* possibly rewritten recipient */
    int  flags;         /* RESOLVE_CLASS_* | RESOLVE_FLAG_* */
};

void resolve_init(struct resolve_reply *r);
void resolve_free(struct resolve_reply *r);
/* sender may be "" (sender_dependent_* maps use it). */
void resolve_address(const char *sender, const char *addr, struct resolve_reply *r);
/* Is this domain one of ours (local class)? Used by smtpd and local. */
int  resolve_local_domain(const char *domain);   /* 1 yes, 0 no, -1 table failure */

#endif
