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
 *
 * Details (transport(5), postconf(5), docs/addressing.md):
 * - The address is the internal (unquoted) form. "" is resolved as
 *   $empty_address_recipient; an address without domain gets
 *   @$myhostname. Every local domain is stripped; a percent, bang or
 *   (quoted) '@' route left in the local part is then rewritten
 *   (rewrite_address_canon) and resolved again: user%remote@local ends up
 *   as user@remote in the default class. resolve_dequoted_address = no
 *   makes a local part that needs quotes opaque.
 * - RESOLVE_FLAG_ROUTED: a NON-local result whose local part still holds
 *   '@', '%' or '!' (user%elsewhere@relay.domain, "a@b"@relay.domain):
 *   reject_unauth_destination refuses these unless
 *   allow_untrusted_routing = yes. Local results are never ROUTED.
 * - RESOLVE_FLAG_ERROR: empty domain (user@, unless resolve_null_domain),
 *   bad [literal], bad host name, user@1.2.3.4 (unless
 *   resolve_numeric_domain, which makes it user@[1.2.3.4]).
 * - Nexthops: local_transport's, else $myhostname; virtual_transport's,
 *   else the domain; relay: relay_transport's, else
 *   sender_dependent_relayhost_maps, else relayhost, else the domain;
 *   default: sender_dependent_default_transport_maps (replaces
 *   default_transport), its nexthop, else sender_dependent_relayhost_maps,
 *   relayhost, the domain. Virtual alias class: transport "error",
 *   nexthop "5.1.1 User unknown in virtual alias table".
 * - transport_maps (MAPS_FIND_TRANSPORT order: user+ext@domain,
 *   user@domain, domain, .parent..., *) override any class: "" transport
 *   keeps the class transport ("* :" changes nothing, ":[gw]" only the
 *   nexthop); a transport with no nexthop takes the recipient domain
 *   ("local:" -> local, example.jp; "error:" gets "Address is
 *   undeliverable").
 * - recipient is the resolved address (user@domain, domain as given).
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
/* Is this domain one of ours (local class)? Used by smtpd and local.
 * Yes for a match in mydestination (one trailing dot ignored), and for
 * "[addr]" / "[ipv6:addr]" of an inet_interfaces or proxy_interfaces
 * address ("all": every interface; "loopback-only" and "localhost":
 * 127.0.0.1 and ::1, without a resolver query). */
int  resolve_local_domain(const char *domain);   /* 1 yes, 0 no, -1 table failure */

/* Open the lists and tables resolving needs now (daemons call it before
 * dropping privileges); they are otherwise opened on first use. */
void resolve_preload(void);

#define RESOLVE_CLASS_MASK  (RESOLVE_CLASS_LOCAL | RESOLVE_CLASS_ALIAS | RESOLVE_CLASS_VIRTUAL \
                             | RESOLVE_CLASS_RELAY | RESOLVE_CLASS_DEFAULT)
/* Final destination classes (reject_unauth_destination's "final"). */
#define RESOLVE_CLASS_FINAL (RESOLVE_CLASS_LOCAL | RESOLVE_CLASS_ALIAS | RESOLVE_CLASS_VIRTUAL)

#endif
