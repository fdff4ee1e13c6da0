/*
 * cleanup_map.h - address rewriting and table-driven mapping in cleanup.
 *
 * One address at a time, in Postfix's order:
 *   rewrite_address (trivial-rewrite, in process: src/mail/rewrite.h)
 *   -> sender_canonical_maps or recipient_canonical_maps (per class)
 *   -> canonical_maps -> masquerade_domains
 * and for envelope recipients afterwards virtual_alias_maps, which may
 * turn one address into many (recursively, within
 * virtual_alias_recursion_limit and virtual_alias_expansion_limit).
 * The *_classes parameters decide which maps apply to which class of
 * address. Canonical results and virtual alias results that have no
 * domain get one through rewrite_address (append_at_myorigin).
 *
 * Tables are opened once by cleanup_map_init() (as root, before the
 * daemon drops privileges). Addresses are in internal (unquoted) form.
 *
 * NOT HERE: duplicate elimination, queue file records, header parsing.
 */
#ifndef HK_CLEANUP_CLEANUP_MAP_H
#define HK_CLEANUP_CLEANUP_MAP_H

#include <stdbool.h>
#include "util/sbuf.h"
#include "util/strv.h"

/* Results of the mapping functions. */
#define CLEANUP_MAP_OK      0
#define CLEANUP_MAP_RETRY   (-1)    /* a table lookup failed: try again later */
#define CLEANUP_MAP_LIMIT   (-2)    /* nesting, loop or expansion limit: not accepted */

void cleanup_map_init(void);
void cleanup_map_free(void);
/* True when a table was rebuilt since it was opened (the daemon restarts). */
bool cleanup_map_changed(void);

/*
 * Rewrite in the given context ("local"/"remote") and apply canonical
 * mapping and masquerading for address class cls (CLEANUP_CLS_*); with
 * map_ok false only the rewrite happens. out receives the result (also
 * on failure: the best address so far). why receives a reason on failure.
 */
int cleanup_map_addr(int cls, const char *context, bool map_ok, const char *in, sbuf *out,
                     sbuf *why);

/* Virtual alias expansion of one (already canonical) recipient: the final
 * addresses are appended to out (the address itself when no alias applies). */
int cleanup_map_virtual(const char *addr, strv *out, sbuf *why);

/* Masquerading only (exposed for tests). */
void cleanup_masquerade(const char *addr, sbuf *out);

#endif
