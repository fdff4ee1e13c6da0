/*
 * fuzz_smtpd_restrict.c - libFuzzer target for the restriction parsers that
 * see text from outside smtpd's own code: access(5) results (table values
 * and policy server actions, src/smtpd/smtpd_access.c), RBL reply
 * templates and "=d.d.d.d" filters (src/smtpd/smtpd_rbl.c).
 *
 * Input: byte 0 picks the parser (0 access result, 1 template, 2 filter),
 * the rest is the text. Checks, for every input:
 *   - an access result gives one of the SMTPD_CHECK_* statuses, and a
 *     rejection always has a reply "DDD D.D.D text" of at most 510 bytes
 *     whose status class matches its code;
 *   - a template either fails with a reason or expands to text made only
 *     of template bytes and filtered values;
 *   - a filter either fails or accepts exactly 4 bytes per address.
 * DNS is never asked (dns_resolver_conf names a file that does not exist,
 * so every lookup fails at once), and "sleep" is not given to the
 * evaluator.
 */
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "mail/mail_conf.h"
#include "util/msg.h"

#include "smtpd/smtpd_access.c"
#include "smtpd/smtpd_check.c"
#include "smtpd/smtpd_rbl.c"

#define MAX_INPUT 4096

static void quiet_log(void *ctx, const char *whatsup, const char *reply)
{
    (void) ctx;
    (void) whatsup;
    (void) reply;
}

static const struct smtpd_check_ops ops = {.log = quiet_log};

static const char *lookup(void *ctx, const char *name)
{
    (void) ctx;
    if (strcmp(name, "rbl_code") == 0)
        return "554";
    if (strcmp(name, "set") == 0)
        return "value\twith \x01 bytes";
    return strcmp(name, "empty") == 0 ? "" : 0;
}

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    fuzz_init();
    char conf[600];
    snprintf(conf, sizeof(conf), "dns_resolver_conf = %s/no-such-resolv.conf\n", fuzz_dir());
    fuzz_write_file("main.cf", conf, strlen(conf));
    mail_conf_load(fuzz_dir());
    smtpd_access_register();
}

static void check_access(const char *text)
{
    struct smtpd_check c;
    struct smtpd_actions acts;

    if (strstr(text, "sleep"))
        return;
    smtpd_actions_init(&acts);
    smtpd_check_init(&c, &ops, 0);
    c.namaddr = "unknown[192.0.2.1]";
    c.client_addr = "192.0.2.1";
    c.client_name = "unknown";
    c.sender = "a@b.example";
    c.recipient = "c@d.example";
    c.stage = "RCPT";
    c.actions = &acts;
    c.reply_name = c.recipient;
    c.reply_class = SMTPD_NAME_RECIPIENT;
    int status = smtpd_access_result(&c, text, "fuzz:table", "c@d.example",
                                     SMTPD_NAME_RECIPIENT, text[0] & 1 ? SMTPD_ACCESS_NO_OK : 0);
    if (status != SMTPD_CHECK_DUNNO && status != SMTPD_CHECK_OK && status != SMTPD_CHECK_REJECT)
        abort();
    if (status == SMTPD_CHECK_REJECT) {
        const char *r = sbuf_str(&c.reply);
        if (c.reply.len < 6 || c.reply.len > 510 || (r[0] != '4' && r[0] != '5')
            || r[3] != ' ' || r[4] != r[0] || r[5] != '.')
            abort();
    }
    smtpd_check_free(&c);
    smtpd_actions_free(&acts);
}

static void check_template(const char *text)
{
    sbuf out = SBUF_INIT, err = SBUF_INIT;
    if (smtpd_rbl_expand(text, lookup, 0, &out, &err) < 0) {
        if (err.len == 0)
            abort();
    } else if (!strchr(text, '\x01')) {
        for (size_t i = 0; i < out.len; i++)
            if (out.s[i] == '\x01')
                abort();            /* a value byte that the filter must replace */
    }
    sbuf_free(&out);
    sbuf_free(&err);
}

static void check_filter(const char *text)
{
    struct rbl_filter f;
    if (filter_parse(text, &f) == 0) {
        for (int i = 0; i < 4; i++) {
            int any = 0;
            for (int b = 0; b < 32; b++)
                any |= f.ok[i][b];
            if (!any)
                abort();            /* every byte position accepts something */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1 || size > MAX_INPUT)
        return 0;
    char *text = fuzz_cstr(data + 1, size - 1);
    switch (data[0] % 3) {
    case 0: check_access(text); break;
    case 1: check_template(text); break;
    default: check_filter(text); break;
    }
    free(text);
    return 0;
}
