/*
 * cleanup_hdr_addr.h - find, and optionally replace, the addresses in an
 * RFC 5322 address header value (From:, To:, Cc:, ...).
 *
 * The value is scanned once, understanding comments (nested, with
 * quoted-pairs), quoted strings, angle addresses (with an obsolete source
 * route "@a,@b:" skipped), display names, groups ("name: a, b;") and the
 * comma list. For each address fn gets its text in external form (quotes
 * kept, comments and unquoted white space removed); if fn puts a
 * replacement into repl and returns 1, that address's span is replaced
 * in out and everything else (names, comments, folding) is copied
 * unchanged. Empty addresses ("<>") are skipped. Unterminated quotes,
 * comments or angle brackets run to the end of the value; nothing here
 * reads outside the given bytes.
 *
 * NOT HERE: unquoting and rewriting the address itself (address.h and
 * cleanup_map.h); no refolding of long results.
 */
#ifndef HK_CLEANUP_CLEANUP_HDR_ADDR_H
#define HK_CLEANUP_CLEANUP_HDR_ADDR_H

#include <stddef.h>
#include "util/sbuf.h"

typedef int (*hdr_addr_fn)(void *ctx, const char *addr, sbuf *repl);

/*
 * Scan value[0..len); at most max addresses are passed to fn (the rest
 * is copied unchanged). out may be NULL (find only). Returns the number
 * of addresses passed to fn.
 */
size_t hdr_addr_scan(const char *value, size_t len, size_t max, hdr_addr_fn fn, void *ctx,
                     sbuf *out);

#endif
