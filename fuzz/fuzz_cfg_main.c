/*
 * fuzz_cfg_main.c - libFuzzer target for main.cf text.
 *
 * The input is a main.cf. It goes through cfg_parse_lines() and
 * cfg_split_assignment() directly, then is written to a private config
 * directory and loaded with mail_conf_try_load(); every assignment is
 * then expanded (mail_conf_expand), the whole file validated
 * (mail_conf_validate) and unknown names looked for. Only the non-fatal
 * entry points are used: a fatal exit here is a bug (postfix check and
 * postconf must report bad main.cf text, not die on it).
 * It does not exercise master.cf (fuzz_master_cf.c) or -o overrides
 * beyond one taken from the first line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "mail/mail_conf.h"
#include "util/cfg_file.h"
#include "util/mem.h"
#include "util/sbuf.h"
#include "util/strv.h"

#define MAX_INPUT (64 * 1024)

static int on_line(const char *line, int lineno, void *ctx)
{
    size_t *count = ctx;
    char *copy = xstrdup(line);
    char *name, *value;
    const char *why;
    if (cfg_split_assignment(copy, &name, &value, &why) == 0) {
        if (!*name)
            abort();            /* a name is never empty */
    } else if (!why || !*why) {
        abort();                /* a failure always says why */
    }
    (void) lineno;
    xfree(copy);
    (*count)++;
    return 0;
}

static int on_assignment(const char *name, const char *value, int line, void *ctx)
{
    (void) line;
    (void) ctx;
    sbuf out = SBUF_INIT, err = SBUF_INIT;
    mail_conf_expand(value, &out, &err);
    (void) mail_conf_raw(name);
    (void) mail_conf_is_set(name);
    (void) mail_conf_name_known(name, NULL);
    sbuf_free(&out);
    sbuf_free(&err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    fuzz_init();
    size_t count = 0;
    cfg_parse_lines((const char *) data, size, on_line, &count);

    fuzz_write_file("main.cf", data, size);
    char *err = NULL;
    if (mail_conf_try_load(fuzz_dir(), &err) == 0) {
        strv errs;
        strv_init(&errs);
        mail_conf_validate(&errs);
        strv_free(&errs);
        mail_conf_foreach(on_assignment, NULL);
        mail_conf_warn_unknown(NULL);
        /* An override taken from the first line, then validate again. */
        const uint8_t *nl = memchr(data, '\n', size);
        char *first = fuzz_cstr(data, nl ? (size_t) (nl - data) : size);
        if (mail_conf_override_assignment(first) == 0) {
            strv_init(&errs);
            mail_conf_validate(&errs);
            strv_free(&errs);
        }
        free(first);
    } else {
        if (!err || !*err)
            abort();            /* a failed load always explains itself */
        free(err);
    }
    return 0;
}
