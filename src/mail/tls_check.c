/*
 * tls_check.c - "postfix check" for the TLS server settings (see tls.h).
 *
 * TLS counts as in use when main.cf says so (smtpd_tls_security_level
 * may or encrypt, or the old smtpd_use_tls / smtpd_enforce_tls) or when
 * a master.cf smtpd service turns it on with -o (smtpd_tls_wrappermode,
 * smtpd_tls_security_level, ...). Then the certificate and key files
 * must load and match, and no private key may be readable or writable
 * by other users. Level names, protocol lists and cipher grades are
 * checked whenever they are set. Messages name main.cf and the line.
 *
 * Does not: start anything or change files.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mail/mail_conf.h"
#include "mail/master_cf.h"
#include "mail/tls_int.h"
#include "util/mem.h"
#include "util/msg.h"

static void add(strv *list, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(strv *list, const char *name, const char *fmt, ...)
{
    sbuf text = SBUF_INIT;
    va_list ap;
    int line = name ? mail_conf_line(name) : 0;

    if (line > 0)
        sbuf_printf(&text, "%s, line %d: ", mail_conf_file(), line);
    va_start(ap, fmt);
    sbuf_vprintf(&text, fmt, ap);
    va_end(ap);
    strv_add(list, sbuf_str(&text));
    sbuf_free(&text);
}

static const char *pname(const char *prefix, const char *suffix)
{
    static char name[128];
    snprintf(name, sizeof(name), "%s_tls_%s", prefix, suffix);
    return name;
}

/* A -o override in master.cf that turns TLS on for an smtpd service. */
static bool service_enables_tls(const char *prefix)
{
    char path[PATH_MAX];
    struct master_cf cf;
    char *err = 0;
    bool on = false;

    snprintf(path, sizeof(path), "%s/master.cf", mail_conf_dir());
    if (master_cf_load(path, &cf, &err) < 0) {
        xfree(err);
        return false;
    }
    for (size_t i = 0; i < cf.n && !on; i++) {
        if (strcmp(cf.svc[i].command, prefix) != 0)
            continue;
        for (size_t j = 0; j < cf.svc[i].overrides.n && !on; j++) {
            const char *o = cf.svc[i].overrides.v[j];
            char name[128];
            const char *eq = strchr(o, '=');
            if (!eq || (size_t) (eq - o) >= sizeof(name))
                continue;
            memcpy(name, o, (size_t) (eq - o));
            name[eq - o] = 0;
            const char *v = eq + 1;
            if (strcmp(name, pname(prefix, "wrappermode")) == 0
                || strcmp(name, pname(prefix, "security_level")) == 0) {
                on = strcasecmp(v, "yes") == 0 || strcasecmp(v, "may") == 0
                     || strcasecmp(v, "encrypt") == 0;
            }
        }
    }
    master_cf_free(&cf);
    return on;
}

/* The effective server level from main.cf: -1 after an error. */
static int main_cf_level(const char *prefix, strv *errs, strv *warns)
{
    const char *lname = pname(prefix, "security_level");
    const char *v = mail_conf_str(lname);
    char legacy[64];

    if (*v) {
        int lev = tls_level_parse(v);
        if (lev < 0) {
            add(errs, lname, "%s = %s: invalid security level (expected none, may or encrypt)",
                lname, v);
            return -1;
        }
        if (lev > TLS_LEV_ENCRYPT) {
            add(warns, lname, "%s = %s: not supported by the SMTP server; \"encrypt\" is used",
                lname, v);
            return TLS_LEV_ENCRYPT;
        }
        return lev;
    }
    snprintf(legacy, sizeof(legacy), "%s_enforce_tls", prefix);
    if (mail_conf_bool(legacy))
        return TLS_LEV_ENCRYPT;
    snprintf(legacy, sizeof(legacy), "%s_use_tls", prefix);
    return mail_conf_bool(legacy) ? TLS_LEV_MAY : TLS_LEV_NONE;
}

static void check_key_mode(const char *param, const char *file, strv *errs)
{
    struct stat st;
    if (!*file || stat(file, &st) < 0)
        return;                 /* loading reports it */
    if (st.st_mode & (S_IROTH | S_IWOTH))
        add(errs, param, "%s: private key file %s is %s by other users (mode %04o); "
            "run \"chmod o-rwx %s\"", param, file,
            (st.st_mode & S_IROTH) ? "readable" : "writable",
            (unsigned) (st.st_mode & 07777), file);
}

int tls_check_config(const char *prefix, strv *errs, strv *warns)
{
    size_t before = errs->n;
    sbuf err = SBUF_INIT;
    int level = main_cf_level(prefix, errs, warns);
    bool in_use = level > TLS_LEV_NONE || mail_conf_bool(pname(prefix, "wrappermode"))
                  || service_enables_tls(prefix);

    /* Protocol lists and cipher grades: whenever set or in use. */
    static const char *const plists[] = {"protocols", "mandatory_protocols"};
    for (size_t i = 0; i < 2; i++) {
        const char *name = pname(prefix, plists[i]);
        if (!in_use && !mail_conf_is_set(name))
            continue;
        sbuf_reset(&err);
        if (tls_protocols_parse(mail_conf_str(name), &err) < 0)
            add(errs, name, "%s: %s", name, sbuf_str(&err));
    }
    static const char *const grades[] = {"ciphers", "mandatory_ciphers"};
    for (size_t i = 0; i < 2; i++) {
        char name[128];
        snprintf(name, sizeof(name), "%s", pname(prefix, grades[i]));
        if (!in_use && !mail_conf_is_set(name))
            continue;
        sbuf out = SBUF_INIT;
        sbuf_reset(&err);
        if (tls_cipher_string(mail_conf_str(name), 0, &out, &err) < 0)
            add(errs, name, "%s: %s", name, sbuf_str(&err));
        sbuf_free(&out);
    }
    if (in_use) {
        tls_library_init();
        sbuf_reset(&err);
        int pairs = tls_load_server_certs(0, prefix, &err);
        if (pairs < 0)
            add(errs, 0, "TLS server certificate: %s", sbuf_str(&err));
        else if (pairs == 0)
            add(errs, 0, "TLS is enabled but no server certificate is configured: set %s "
                "and %s (or %s)", pname(prefix, "cert_file"), pname(prefix, "key_file"),
                pname(prefix, "chain_files"));
        static const char *const keys[][2] = {
            {"key_file", "cert_file"}, {"eckey_file", "eccert_file"}, {"dkey_file", "dcert_file"}};
        strv chain;
        strv_init(&chain);
        mail_conf_list(pname(prefix, "chain_files"), &chain);
        if (chain.n) {
            for (size_t i = 0; i < chain.n; i++)
                check_key_mode(pname(prefix, "chain_files"), chain.v[i], errs);
        } else {
            for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                char name[128];
                snprintf(name, sizeof(name), "%s", pname(prefix, keys[i][0]));
                char *file = xstrdup(mail_conf_str(name));
                char *cert = xstrdup(mail_conf_str(pname(prefix, keys[i][1])));
                if (*cert && strcmp(cert, "none") != 0)
                    check_key_mode(name, *file ? file : cert, errs);
                xfree(file);
                xfree(cert);
            }
        }
        strv_free(&chain);
        static const char *const ca[] = {"CAfile", "CApath"};
        for (size_t i = 0; i < 2; i++) {
            char name[128];
            snprintf(name, sizeof(name), "%s", pname(prefix, ca[i]));
            const char *f = mail_conf_str(name);
            struct stat st;
            if (*f && stat(f, &st) < 0) {
                const char *why = strerror(errno);
                add(errs, name, "%s = %s: %s", name, f, why);
            }
        }
    }
    sbuf_free(&err);
    return (int) (errs->n - before);
}

int tls_check_report(bool quiet)
{
    strv errs, warns;
    strv_init(&errs);
    strv_init(&warns);
    int n = tls_check_config("smtpd", &errs, &warns);
    for (size_t i = 0; i < errs.n; i++)
        msg_error("%s", errs.v[i]);
    for (size_t i = 0; !quiet && i < warns.n; i++)
        msg_warn("%s", warns.v[i]);
    strv_free(&errs);
    strv_free(&warns);
    return n;
}
