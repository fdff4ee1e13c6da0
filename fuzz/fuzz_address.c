/*
 * fuzz_address.c - libFuzzer target for mail addresses (src/mail/address.h).
 *
 * The input (cut at the first NUL) is parsed as an SMTP path argument in
 * strict and lenient mode, as a header address list, and used as an
 * internal address for quoting. Checks: a refusal says why; *rest points
 * into the argument; an internal address without quotes or backslashes
 * in its domain survives address_quote() then address_unquote(); an
 * address with a host name or literal domain taken in strict mode,
 * quoted and put back in <>, parses again (strict) to the same internal
 * form. Also drives split, fold and the
 * syntax predicates on what was parsed. Nothing here does DNS.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "mail/address.h"
#include "util/sbuf.h"
#include "util/strv.h"

#define MAX_INPUT 8192

static void check_round_trip(const char *internal, sbuf *ext, sbuf *back)
{
    const char *at = strrchr(internal, '@');
    if (at && at[strcspn(at, "\"\\")])
        return;                 /* the domain is not quoted: only local parts are */
    address_quote(internal, ext);
    address_unquote(sbuf_str(ext), back);
    if (strcmp(sbuf_str(back), internal) != 0)
        abort();
}

static void exercise(const char *internal, sbuf *a, sbuf *b)
{
    address_split(internal, a, b);
    (void) address_domain(internal);
    address_fold(internal, false, a);
    address_fold(internal, true, a);
    const char *dom = address_domain(internal);
    if (dom) {
        (void) address_is_fqdn_domain(dom);
        (void) address_valid_hostname(dom);
        (void) address_is_ip_literal(dom);
    }
    address_split(internal, a, b);
    sbuf base = SBUF_INIT, ext = SBUF_INIT;
    address_strip_extension(sbuf_str(a), "+-", &base, &ext);
    if (base.len + ext.len != a->len)
        abort();                /* base + ext is the original */
    sbuf_free(&base);
    sbuf_free(&ext);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    char *s = fuzz_cstr(data, size);
    size_t slen = strlen(s);
    sbuf addr = SBUF_INIT, ext = SBUF_INIT, back = SBUF_INIT, x = SBUF_INIT, y = SBUF_INIT;

    for (int strict = 0; strict < 2; strict++) {
        const char *rest = NULL, *why = NULL;
        if (address_parse_smtp_path(s, strict, &addr, &rest, &why) < 0) {
            if (!why || !*why)
                abort();
            continue;
        }
        if (!rest || rest < s || rest > s + slen)
            abort();
        char *internal = strdup(sbuf_str(&addr));
        check_round_trip(internal, &ext, &back);
        exercise(internal, &x, &y);
        /* A quoted local part may hold '@' and no domain follow ("<\"a@b c\">"):
         * the internal form then splits wrongly, as in Postfix. Only addresses
         * whose last '@' starts a real domain are requoted and parsed again. */
        const char *dom = address_domain(internal);
        if (strict && dom && (address_valid_hostname(dom) || address_is_ip_literal(dom))) {
            address_quote(internal, &ext);
            sbuf_reset(&back);
            sbuf_printf(&back, "<%s>", sbuf_str(&ext));
            if (back.len < 1000) {
                char *path = strdup(sbuf_str(&back));
                const char *why2 = NULL;
                if (address_parse_smtp_path(path, true, &addr, NULL, &why2) < 0
                    || strcmp(sbuf_str(&addr), internal) != 0)
                    abort();    /* what strict mode took, quoted, is taken again */
                free(path);
            }
        }
        free(internal);
    }

    strv list;
    strv_init(&list);
    int n = address_parse_header_list(s, &list);
    if (n < 0 || (size_t) n != list.n)
        abort();
    for (size_t i = 0; i < list.n; i++) {
        check_round_trip(list.v[i], &ext, &back);
        exercise(list.v[i], &x, &y);
    }
    strv_free(&list);

    check_round_trip(s, &ext, &back);
    address_unquote(s, &back);
    exercise(s, &x, &y);

    sbuf_free(&addr);
    sbuf_free(&ext);
    sbuf_free(&back);
    sbuf_free(&x);
    sbuf_free(&y);
    free(s);
    return 0;
}
