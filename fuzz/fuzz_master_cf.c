/*
 * fuzz_master_cf.c - libFuzzer target for master.cf text.
 *
 * Parses the input with master_cf_parse(); for every service read, asks
 * the effective flags and limits, looks it up by name, and formats it the
 * way postconf -M and -F do (plain, folded, with a value rewrite). The
 * formatted table is parsed again (its result is not compared: the
 * layout normalises braces). A parse failure must come with a message.
 * It does not start or check any program.
 */
#include <stdint.h>
#include <stdlib.h>

#include "support.h"
#include "mail/master_cf.h"
#include "util/mem.h"
#include "util/sbuf.h"

#define MAX_INPUT (64 * 1024)

static const char *upper_first(const char *value, void *ctx)
{
    sbuf *b = ctx;
    sbuf_set(b, value);
    if (b->len && b->s[0] >= 'a' && b->s[0] <= 'z')
        b->s[0] = (char) (b->s[0] - 'a' + 'A');
    return sbuf_str(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    struct master_cf cf;
    char *err = NULL;
    if (master_cf_parse("master.cf", (const char *) data, size, &cf, &err) < 0) {
        if (!err || !*err)
            abort();
        xfree(err);
        master_cf_free(&cf);
        return 0;
    }
    sbuf all = SBUF_INIT, xbuf = SBUF_INIT, cmd = SBUF_INIT;
    for (size_t i = 0; i < cf.n; i++) {
        const struct master_service *s = &cf.svc[i];
        bool cond;
        (void) master_service_private(s);
        (void) master_service_unpriv(s);
        (void) master_service_chroot(s);
        (void) master_service_maxproc(s, 100);
        (void) master_service_wakeup(s, &cond);
        if (master_cf_find(&cf, s->name, s->type) == NULL)
            abort();
        char *line = master_service_format(s);
        sbuf_adds(&all, line);
        sbuf_addc(&all, '\n');
        xfree(line);
        line = master_service_format_ex(s, MASTER_FMT_FOLD, upper_first, &xbuf);
        xfree(line);
        sbuf_reset(&cmd);
        master_service_format_command(s, MASTER_FMT_FOLD, 8, NULL, NULL, &cmd);
    }
    master_cf_free(&cf);

    struct master_cf again;
    err = NULL;
    if (master_cf_parse("master.cf", all.s ? all.s : "", all.len, &again, &err) < 0)
        xfree(err);
    master_cf_free(&again);
    sbuf_free(&all);
    sbuf_free(&xbuf);
    sbuf_free(&cmd);
    return 0;
}
