/*
 * address.h - mail addresses: parsing, quoting, splitting (RFC 5321 / 5322).
 *
 * Internal form: an address is kept "unquoted" (local part with quotes
 * and backslashes removed: "a b"@x is stored as a b@x), as Postfix does;
 * address_quote() turns it back into the external form for SMTP and
 * headers. Splitting finds the LAST '@' (local parts may contain '@' when
 * quoted). Nothing here consults tables or main.cf.
 */
#ifndef HK_MAIL_ADDRESS_H
#define HK_MAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include "util/sbuf.h"
#include "util/strv.h"

/* External -> internal: remove RFC 5322 quoting ("a b"@x -> a b@x,
 * a\"b@x -> a"b@x). The output buffer is replaced, not appended to. */
void address_unquote(const char *external, sbuf *internal);
/* Internal -> external: quote the local part (before the last '@') when it
 * is not a valid dot-atom: a b@x -> "a b"@x, @x -> ""@x, "" stays "".
 * Bytes >= 0x80 count as atext (SMTPUTF8). Output replaced. */
void address_quote(const char *internal, sbuf *external);

/* Split at the last '@'. local/domain receive copies; domain "" if none. */
void address_split(const char *addr, sbuf *local, sbuf *domain);
/* Pointer to the domain part (after the last '@') or NULL. */
const char *address_domain(const char *addr);
/* Fold the domain (or the whole address when fold_local) to lower case. */
void address_fold(const char *addr, bool fold_local, sbuf *out);

/*
 * Parse an SMTP path argument "<addr>" from MAIL FROM/RCPT TO (with
 * optional source route @a,@b:addr, stripped). strict: require the angle
 * brackets and RFC 5321 syntax (strict_rfc821_envelopes). Returns 0 and
 * the internal form, or -1 with a reason ("5.1.7 Bad sender address
 * syntax" style text without the code chosen by the caller).
 *
 * Details: leading white space is skipped in both modes. "<>" gives "".
 * *rest points at the ESMTP parameters after the path ("SIZE=100 ..."),
 * white space skipped ("" when none). Lenient mode (strict = false) also
 * takes a bare address ("a@b SIZE=1"), "Name <a@b>", blanks inside the
 * brackets, "(comments)" before the parameters and unquoted blanks in the
 * local part, as Postfix does with strict_rfc821_envelopes = no. Both
 * modes refuse control characters, unbalanced <> or quotes, text glued
 * after '>' and addresses longer than 2048 bytes. Strict mode refuses
 * blanks, phrases, comments, bad dots, more than one '@' and domains that
 * are not a name or a [literal]. *why (may be NULL) is a short detail for
 * logs ("unbalanced '<' or '>'"); the SMTP reply text is the caller's.
 */
int address_parse_smtp_path(const char *arg, bool strict, sbuf *addr, const char **rest,
                            const char **why);

/*
 * Extract addresses from a header value (To:, Cc:, From: ...): groups,
 * comments, display names, quoted strings, angle addresses; the internal
 * form of each address appended to out. Returns the count.
 */
int address_parse_header_list(const char *value, strv *out);

/* Syntax checks used by restrictions. */
bool address_is_fqdn_domain(const char *domain);
/* RFC 1035 letters-digits-hyphen labels of 1..63 bytes, 255 in all, no
 * empty label (so no trailing dot); '_' tolerated as Postfix does; an
 * all-numeric name ("1.2.3.4") is not a host name. */
bool address_valid_hostname(const char *name);
bool address_is_ip_literal(const char *domain);    /* "[1.2.3.4]" or "[ipv6:...]" */

/*
 * Extension handling (recipient_delimiter): split user+ext at the FIRST
 * byte that is one of delimiters. base gets "user", ext gets "+ext" WITH
 * the delimiter (so base + ext is the original; ext + 1 is ${extension}).
 * No delimiter, a delimiter in the first position, or empty delimiters:
 * base is the whole local part and ext is "". Knows no special names (see
 * maps_split_extension() for postmaster, owner-, -request).
 */
void address_strip_extension(const char *local, const char *delimiters, sbuf *base, sbuf *ext);

#endif
