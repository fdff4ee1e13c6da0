/*
 * tls_policy.c - TLS policy values for the SMTP/LMTP client (see
 * tls_policy.h): parsing smtp_tls_policy_maps entries and working out
 * the main.cf default level. Pure: no lookups, no I/O.
 */
#include <string.h>
#include <strings.h>

#include "mail/tls.h"
#include "mail/tls_policy.h"
#include "util/mem.h"

void tls_policy_init(struct tls_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->level = TLS_LEV_NONE;
    p->connection_reuse = -1;
    strv_init(&p->match);
}

void tls_policy_free(struct tls_policy *p)
{
    xfree(p->protocols);
    xfree(p->ciphers);
    xfree(p->exclude);
    xfree(p->servername);
    strv_free(&p->match);
    /* tls_policy_init()'s values, but a freed policy owns no memory: an
     * empty strv needs no array (strv_add and strv_free accept it). */
    memset(p, 0, sizeof(*p));
    p->level = TLS_LEV_NONE;
    p->connection_reuse = -1;
}

/* Set a single-valued attribute once. */
static int set_once(char **slot, const char *name, const char *value, sbuf *err)
{
    if (*slot) {
        sbuf_printf(err, "attribute \"%s\" is specified more than once", name);
        return -1;
    }
    *slot = xstrdup(value);
    return 0;
}

static int parse_level(const char *word, struct tls_policy *p, sbuf *err)
{
    if (strcasecmp(word, "dane") == 0) {
        p->level = TLS_LEV_MAY;
        p->dane = true;
        return 0;
    }
    if (strcasecmp(word, "dane-only") == 0) {
        sbuf_adds(err, "security level \"dane-only\" needs DNSSEC-validated TLSA records, "
                       "which this client does not look up");
        return -1;
    }
    int lev = tls_level_parse(word);
    if (lev < 0) {
        sbuf_printf(err, "invalid TLS security level \"%s\"", word);
        return -1;
    }
    p->level = lev;
    return 0;
}

static int parse_attr(const char *word, struct tls_policy *p, sbuf *err)
{
    const char *eq = strchr(word, '=');
    if (!eq || eq == word) {
        sbuf_printf(err, "malformed attribute \"%s\" (expected name=value)", word);
        return -1;
    }
    size_t nlen = (size_t) (eq - word);
    const char *value = eq + 1;
    char name[32];
    if (nlen >= sizeof(name)) {
        sbuf_printf(err, "invalid attribute name \"%.*s\"", (int) (nlen > 40 ? 40 : nlen), word);
        return -1;
    }
    memcpy(name, word, nlen);
    name[nlen] = 0;
    if (!*value) {
        sbuf_printf(err, "attribute \"%s\" has an empty value", name);
        return -1;
    }
    if (strcasecmp(name, "protocols") == 0)
        return set_once(&p->protocols, name, value, err);
    if (strcasecmp(name, "ciphers") == 0)
        return set_once(&p->ciphers, name, value, err);
    if (strcasecmp(name, "exclude") == 0)
        return set_once(&p->exclude, name, value, err);
    if (strcasecmp(name, "servername") == 0)
        return set_once(&p->servername, name, value, err);
    if (strcasecmp(name, "match") == 0) {
        /* Fingerprints contain ':' themselves; names use ':' as separator. */
        strv_split(&p->match, value, p->level == TLS_LEV_FPRINT ? "|" : ":");
        return 0;
    }
    if (strcasecmp(name, "connection_reuse") == 0) {
        if (p->connection_reuse >= 0) {
            sbuf_printf(err, "attribute \"%s\" is specified more than once", name);
            return -1;
        }
        if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0)
            p->connection_reuse = 1;
        else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0)
            p->connection_reuse = 0;
        else {
            sbuf_printf(err, "attribute \"%s\" must be yes or no, not \"%s\"", name, value);
            return -1;
        }
        return 0;
    }
    sbuf_printf(err, "invalid attribute name \"%s\"", name);
    return -1;
}

int tls_policy_parse(const char *value, struct tls_policy *p, sbuf *err)
{
    strv words;
    int ret = 0;

    tls_policy_free(p);
    strv_init(&words);
    strv_split(&words, value ? value : "", STRV_LIST_DELIMS);
    if (words.n == 0) {
        sbuf_adds(err, "empty TLS policy");
        ret = -1;
    } else {
        ret = parse_level(words.v[0], p, err);
    }
    for (size_t i = 1; i < words.n && ret == 0; i++)
        ret = parse_attr(words.v[i], p, err);
    strv_free(&words);
    if (ret < 0)
        tls_policy_free(p);
    return ret;
}

int tls_policy_default_level(const char *level_param, bool use_tls, bool enforce_tls,
                             bool enforce_peername, sbuf *err)
{
    if (level_param && *level_param) {
        struct tls_policy p;
        tls_policy_init(&p);
        int r = parse_level(level_param, &p, err);
        int lev = p.level;
        tls_policy_free(&p);
        return r < 0 ? -1 : lev;
    }
    if (enforce_tls)
        return enforce_peername ? TLS_LEV_VERIFY : TLS_LEV_ENCRYPT;
    if (use_tls)
        return TLS_LEV_MAY;
    return TLS_LEV_NONE;
}
