/*
 * fuzz_local_token.c - libFuzzer target for the local delivery agent's text parsers:
 * alias values / .forward lines (src/local/local_token.c), $name expansion
 * of luser_relay and forward_path (src/local/local_expand.c), and ">From "
 * quoting (src/local/local_copy.c).
 *
 * The input is cut at the first NUL byte (C strings everywhere here).
 * Checks: every destination found is non-empty, commands and includes
 * have no leading blank; expansion never produces more than the pattern
 * plus the substituted values allow; quoting the input in any two pieces
 * gives the same bytes as quoting it whole, and removing the added '>'
 * gives the input back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "local/local_copy.c"
#include "local/local_expand.c"
#include "local/local_token.c"

#define MAX_INPUT 16384

static const char *lookup(const char *name, size_t len, void *ctx)
{
    (void) ctx;
    if (len == 4 && strncmp(name, "user", 4) == 0)
        return "taro";
    if (len == 9 && strncmp(name, "extension", 9) == 0)
        return "ext;rm -rf";
    if (len == 5 && strncmp(name, "empty", 5) == 0)
        return "";
    return 0;
}

static void quote(const char *s, size_t n, size_t cut, sbuf *out)
{
    struct local_quote q = {false, 0};
    sbuf_reset(out);
    local_quote_from(&q, s, cut, out);
    local_quote_from(&q, s + cut, n - cut, out);
    local_quote_flush(&q, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    fuzz_init();
    char *s = fuzz_cstr(data, size);
    size_t n = strlen(s);

    struct local_token_list l = LOCAL_TOKEN_LIST_INIT;
    local_token_parse(s, &l);
    for (size_t i = 0; i < l.n; i++) {
        const struct local_token *t = &l.t[i];
        if (!t->text[0])
            abort();
        if ((t->type == LOCAL_TOK_COMMAND || t->type == LOCAL_TOK_INCLUDE)
            && (t->text[0] == ' ' || t->text[0] == '\t'))
            abort();
    }
    local_token_list_free(&l);

    sbuf out = SBUF_INIT, whole = SBUF_INIT;
    (void) local_expand(&out, s, lookup, 0, "abcdefghijklmnopqrstuvwxyz");
    if (out.len > n * 11 + 16)      /* each "$x" adds at most one value (10 bytes) */
        abort();
    (void) local_expand(&out, s, lookup, 0, 0);

    quote(s, n, 0, &whole);
    quote(s, n, n / 2, &out);
    if (out.len != whole.len || memcmp(sbuf_str(&out), sbuf_str(&whole), out.len) != 0)
        abort();
    /* Undo: drop '>' where it precedes "From " at a line start. */
    sbuf back = SBUF_INIT;
    for (size_t i = 0; i < whole.len; i++) {
        bool bol = i == 0 || whole.s[i - 1] == '\n';
        if (bol && whole.s[i] == '>' && whole.len - i > 5
            && memcmp(whole.s + i + 1, "From ", 5) == 0)
            continue;
        sbuf_addc(&back, whole.s[i]);
    }
    /* ">From " lines in the input also lose their '>' here, so compare
     * only inputs without them. */
    if (!strstr(s, ">From ") && (back.len != n || memcmp(sbuf_str(&back), s, n) != 0))
        abort();
    sbuf_free(&back);
    sbuf_free(&out);
    sbuf_free(&whole);
    free(s);
    return 0;
}
