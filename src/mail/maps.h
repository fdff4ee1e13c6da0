/*
 * maps.h - a list of lookup tables used as one (alias_maps, transport_maps,
 * virtual_alias_maps, check_*_access ...), and Postfix's address search order.
 *
 * maps_open("hash:/etc/aliases, texthash:/x", flags) opens each table
 * once (tables are shared by name within a process). maps_find() tries
 * each table in order. maps_find_addr() tries, for user+ext@domain:
 * user+ext@domain, user@domain, user+ext, user (the last two only when
 * the domain is local or absent, as Postfix's address lookups do),
 * @domain. A table failure is reported in *error (DICT_ERR_RETRY) so the
 * caller defers instead of treating it as "not found".
 *
 * maps_find() sends the key to every table in order and returns the
 * first value (owned by the table: valid until the next lookup on it).
 * Empty keys are never looked up. error may be NULL everywhere. An entry
 * of the spec without "type:" or one that does not open is logged with
 * the title ("transport_maps: hash:/x: open ...: No such file ...") and
 * turns lookups that reach it into DICT_ERR_CONFIG failures. Sharing is
 * by "type:name" and dict flags, reference counted; a table that changed
 * on disk is opened afresh for the next maps_open(), while lists opened
 * earlier keep their copy until closed.
 */
#ifndef HK_MAIL_MAPS_H
#define HK_MAIL_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include "util/dict.h"
#include "util/sbuf.h"

typedef struct maps maps;

/* Never NULL; tables that fail to open make lookups fail with DICT_ERR_CONFIG. */
maps *maps_open(const char *title, const char *spec, int dict_flags);
void  maps_close(maps *m);
const char *maps_find(maps *m, const char *key, int *error);
/* As maps_find, but pattern tables (regexp, pcre, cidr) are skipped: for
 * partial keys (parent domains, shortened network addresses) that only
 * fixed-string tables may see (access(5)). */
const char *maps_find_fixed(maps *m, const char *key, int *error);
/* local_domain: -1 work it out (the domain is $myorigin, or
 * resolve_local_domain() says yes), 0 no, 1 yes. MAPS_FIND_ADDR_DEFAULT. */
const char *maps_find_addr(maps *m, const char *addr, int local_domain, int *error,
                           sbuf *matched_key);
bool  maps_empty(const maps *m);
const char *maps_title(const maps *m);
/* True when any table changed on disk since it was opened (daemons restart). */
bool  maps_changed(const maps *m);

/*
 * Search strategies. Keys are tried in this fixed order, each one through
 * every table of the list before the next key (Postfix's "each query
 * pattern is sent to each table"); only the FIRST key tried also goes to
 * pattern tables (regexp, pcre, cidr), which see the address once, whole.
 * With recipient_delimiter "+" and the address user+ext@domain:
 *
 *   MAPS_FIND_FULL       user+ext@domain, user@domain
 *                        (no domain: user+ext, user)
 *   MAPS_FIND_LOCALPART  user+ext, user - only when the domain is local
 *                        (local_domain, or -1: equal to $myorigin or
 *                        resolve_local_domain()) or there is no domain
 *   MAPS_FIND_DOMAIN     domain; with MAPS_FIND_PARENT also the parent
 *                        domains, as ".parent" keys, or as bare "parent"
 *                        keys with MAPS_FIND_PARENT_SELF (the feature is
 *                        in parent_domain_matches_subdomains)
 *   MAPS_FIND_USER_AT    user+ext@, user@            (access(5))
 *   MAPS_FIND_ATDOMAIN   @domain
 *   MAPS_FIND_STAR       *                           (transport(5))
 *
 * Per table kind:
 *   canonical(5), virtual(5), relocated, sender maps: MAPS_FIND_ADDR_DEFAULT
 *   aliases(5): MAPS_FIND_LOCALPART with local_domain 1 (or the local part)
 *   transport(5): MAPS_FIND_TRANSPORT (+ MAPS_FIND_PARENT_SELF when
 *                 transport_maps is in parent_domain_matches_subdomains)
 *   access(5) for addresses: MAPS_FIND_ACCESS (+ PARENT_SELF likewise)
 *
 * The extension is not split off for postmaster, mailer-daemon and
 * $double_bounce_sender, nor (owner_request_special = yes, delimiter '-')
 * for owner-xxx and xxx-request (postconf(5) recipient_delimiter).
 */
#define MAPS_FIND_FULL        (1 << 0)
#define MAPS_FIND_LOCALPART   (1 << 1)
#define MAPS_FIND_DOMAIN      (1 << 2)
#define MAPS_FIND_PARENT      (1 << 3)
#define MAPS_FIND_PARENT_SELF (1 << 4)
#define MAPS_FIND_USER_AT     (1 << 5)
#define MAPS_FIND_ATDOMAIN    (1 << 6)
#define MAPS_FIND_STAR        (1 << 7)

#define MAPS_FIND_ADDR_DEFAULT (MAPS_FIND_FULL | MAPS_FIND_LOCALPART | MAPS_FIND_ATDOMAIN)
#define MAPS_FIND_TRANSPORT   (MAPS_FIND_FULL | MAPS_FIND_DOMAIN | MAPS_FIND_PARENT | \
                               MAPS_FIND_STAR)
#define MAPS_FIND_ACCESS      (MAPS_FIND_FULL | MAPS_FIND_DOMAIN | MAPS_FIND_PARENT | \
                               MAPS_FIND_USER_AT)

/*
 * The general form of maps_find_addr(). matched_key (may be NULL) gets
 * the key that hit; extension (may be NULL) gets the extension the hit
 * did not use ("+ext" when user@domain or user hit for user+ext@domain,
 * else "") for propagate_unmatched_extensions. A table failure returns
 * NULL with *error set (DICT_ERR_RETRY or DICT_ERR_CONFIG); so does a
 * failing resolve_local_domain() (DICT_ERR_RETRY).
 */
const char *maps_find_addr_opt(maps *m, const char *addr, int strategy, int local_domain,
                               int *error, sbuf *matched_key, sbuf *extension);

/*
 * Split an address local part at recipient_delimiter, with the special
 * names above left whole. Returns true and base "user", ext "+ext" (with
 * its delimiter) when split; else false, base = local, ext = "".
 */
bool maps_split_extension(const char *local, sbuf *base, sbuf *ext);

/* Tables currently open in the process-wide cache (tests, diagnostics). */
size_t maps_cache_size(void);

#endif
