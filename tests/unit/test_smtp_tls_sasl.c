/*
 * test_smtp_tls_sasl.c - what the SMTP client's TLS and SASL support can
 * be checked for without a server: smtp_tls_policy_maps values and the
 * main.cf default level (src/mail/tls_policy.c), the table keys, names
 * and mechanism lists of src/smtp/smtp_keys.c, and the Cyrus client glue
 * (src/mail/sasl_client.c) up to the first responses. The conversation
 * with a real provider is tests/system/test_smtp_client_tls_sasl.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/sasl_client.h"
#include "mail/sasl_common.h"
#include "mail/tls.h"
#include "mail/tls_policy.h"

#include "smtp/smtp_nexthop.c"
#include "smtp/smtp_keys.c"

static char *joined(const strv *v)
{
    static char buf[1024];
    char *j = strv_join(v, " ");
    snprintf(buf, sizeof(buf), "%s", j);
    free(j);
    return buf;
}

/* ---- policy values ---- */

static void test_policy_levels(void **state)
{
    struct tls_policy p;
    sbuf err = SBUF_INIT;
    (void) state;
    tls_policy_init(&p);

    static const struct { const char *v; int level; } ok[] = {
        {"none", TLS_LEV_NONE}, {"may", TLS_LEV_MAY}, {"ENCRYPT", TLS_LEV_ENCRYPT},
        {"verify", TLS_LEV_VERIFY}, {"secure", TLS_LEV_SECURE},
        {"fingerprint", TLS_LEV_FPRINT}, {"  encrypt  ", TLS_LEV_ENCRYPT},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(tls_policy_parse(ok[i].v, &p, &err), 0);
        assert_int_equal(p.level, ok[i].level);
        assert_false(p.dane);
    }
    /* dane: no DNSSEC here, so "may" (and the caller warns). */
    assert_int_equal(tls_policy_parse("dane", &p, &err), 0);
    assert_int_equal(p.level, TLS_LEV_MAY);
    assert_true(p.dane);

    static const struct { const char *v, *msg; } bad[] = {
        {"", "empty TLS policy"},
        {"maybe", "invalid TLS security level \"maybe\""},
        {"dane-only", "dane-only"},
        {"encrypt bogus=1", "invalid attribute name \"bogus\""},
        {"encrypt ciphers", "malformed attribute \"ciphers\""},
        {"encrypt =high", "malformed attribute \"=high\""},
        {"encrypt ciphers=", "attribute \"ciphers\" has an empty value"},
        {"encrypt ciphers=high ciphers=medium", "specified more than once"},
        {"encrypt connection_reuse=maybe", "must be yes or no"},
        {"encrypt averyveryveryverylongattributename=1", "invalid attribute name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sbuf_reset(&err);
        assert_int_equal(tls_policy_parse(bad[i].v, &p, &err), -1);
        if (!strstr(sbuf_str(&err), bad[i].msg))
            fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].v, sbuf_str(&err), bad[i].msg);
        assert_int_equal(p.match.n, 0);
    }
    tls_policy_free(&p);
    sbuf_free(&err);
}

static void test_policy_attributes(void **state)
{
    struct tls_policy p;
    sbuf err = SBUF_INIT;
    (void) state;
    tls_policy_init(&p);

    assert_int_equal(tls_policy_parse("encrypt protocols=TLSv1.2:TLSv1.3, ciphers=high "
                                      "exclude=aNULL:MD5 connection_reuse=yes "
                                      "servername=hostname", &p, &err), 0);
    assert_int_equal(p.level, TLS_LEV_ENCRYPT);
    assert_string_equal(p.protocols, "TLSv1.2:TLSv1.3");
    assert_string_equal(p.ciphers, "high");
    assert_string_equal(p.exclude, "aNULL:MD5");
    assert_string_equal(p.servername, "hostname");
    assert_int_equal(p.connection_reuse, 1);

    /* match= adds up; names are separated by colons. */
    assert_int_equal(tls_policy_parse("secure match=.example.net:example.net match=nexthop",
                                      &p, &err), 0);
    assert_int_equal(p.level, TLS_LEV_SECURE);
    assert_string_equal(joined(&p.match), ".example.net example.net nexthop");
    assert_null(p.protocols);
    assert_int_equal(p.connection_reuse, -1);

    /* Fingerprints contain colons: "|" separates them. */
    assert_int_equal(tls_policy_parse("fingerprint match=AA:BB:CC|DD:EE match=11:22", &p, &err),
                     0);
    assert_string_equal(joined(&p.match), "AA:BB:CC DD:EE 11:22");

    /* The protocol list of a policy is one the TLS code accepts. */
    assert_int_equal(tls_policy_parse("may protocols=!SSLv2:!SSLv3:!TLSv1", &p, &err), 0);
    assert_true(tls_protocols_parse(p.protocols, &err) > 0);
    tls_policy_free(&p);
    sbuf_free(&err);
}

static void test_default_level(void **state)
{
    sbuf err = SBUF_INIT;
    (void) state;
    /* smtp_tls_security_level wins over the old parameters. */
    assert_int_equal(tls_policy_default_level("encrypt", false, false, true, &err),
                     TLS_LEV_ENCRYPT);
    assert_int_equal(tls_policy_default_level("none", true, true, true, &err), TLS_LEV_NONE);
    assert_int_equal(tls_policy_default_level("dane", false, false, true, &err), TLS_LEV_MAY);
    /* Empty: smtp_enforce_tls, smtp_tls_enforce_peername, smtp_use_tls. */
    assert_int_equal(tls_policy_default_level("", false, true, true, &err), TLS_LEV_VERIFY);
    assert_int_equal(tls_policy_default_level("", false, true, false, &err), TLS_LEV_ENCRYPT);
    assert_int_equal(tls_policy_default_level("", true, false, true, &err), TLS_LEV_MAY);
    assert_int_equal(tls_policy_default_level("", false, false, true, &err), TLS_LEV_NONE);
    assert_int_equal(tls_policy_default_level("strong", false, false, true, &err), -1);
    assert_non_null(strstr(sbuf_str(&err), "invalid TLS security level \"strong\""));
    sbuf_free(&err);
}

/* ---- keys and names ---- */

static void policy_keys(const char *dest, const char *def_port, const char *want)
{
    struct smtp_dest d;
    strv keys;
    sbuf why = SBUF_INIT;
    strv_init(&keys);
    assert_int_equal(smtp_dest_parse(dest, false, def_port, &d, &why), 0);
    smtp_tls_policy_keys(&d, def_port, &keys);
    if (strcmp(joined(&keys), want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", dest, joined(&keys), want);
    strv_free(&keys);
    sbuf_free(&why);
}

static void test_tls_policy_keys(void **state)
{
    (void) state;
    policy_keys("[mail.example.org]:587", "smtp", "[mail.example.org]:587");
    policy_keys("[mail.example.org]", "smtp", "[mail.example.org]");
    policy_keys("[mail.example.org]:smtp", "smtp", "[mail.example.org]");
    policy_keys("[192.0.2.1]:25", "25", "[192.0.2.1]");
    policy_keys("192.0.2.1", "smtp", "[192.0.2.1]");
    /* A recipient domain: itself, then its parents as ".parent". */
    policy_keys("mx.sub.example.com", "smtp", "mx.sub.example.com .sub.example.com .example.com "
                ".com");
    policy_keys("example.com:2525", "smtp", "example.com:2525");
    policy_keys("inet:[127.0.0.1]:10025", "smtp", "[127.0.0.1]:10025");
    if (getservbyname("smtp", "tcp"))
        policy_keys("[mail.example.org]:25", "smtp", "[mail.example.org]");

    /* LMTP over a UNIX-domain socket: the path, without "unix:". */
    struct smtp_dest d;
    strv keys;
    strv_init(&keys);
    assert_int_equal(smtp_dest_parse("unix:/run/lmtp", true, "24", &d, 0), 0);
    smtp_tls_policy_keys(&d, "24", &keys);
    assert_string_equal(joined(&keys), "/run/lmtp");
    strv_free(&keys);
}

static void test_sasl_passwd_keys(void **state)
{
    strv keys;
    (void) state;
    strv_init(&keys);
    smtp_sasl_passwd_keys("mail.isp.example", 587, "[mail.isp.example]:submission", &keys);
    assert_string_equal(joined(&keys), "[mail.isp.example]:587 mail.isp.example:587 "
                                       "[mail.isp.example] mail.isp.example "
                                       "[mail.isp.example]:submission");
    strv_free(&keys);

    /* The same key twice is tried once; "inet:" is not part of a key. */
    strv_init(&keys);
    smtp_sasl_passwd_keys("127.0.0.2", 2525, "inet:[127.0.0.2]:2525", &keys);
    assert_string_equal(joined(&keys), "[127.0.0.2]:2525 127.0.0.2:2525 [127.0.0.2] 127.0.0.2");
    strv_free(&keys);

    /* An MX host of a recipient domain, then the domain. */
    strv_init(&keys);
    smtp_sasl_passwd_keys("mx1.example.com", 25, "example.com", &keys);
    assert_string_equal(joined(&keys), "[mx1.example.com]:25 mx1.example.com:25 "
                                       "[mx1.example.com] mx1.example.com example.com");
    strv_free(&keys);

    /* No host (a UNIX-domain socket): only the destination. */
    strv_init(&keys);
    smtp_sasl_passwd_keys(0, 0, "unix:/run/lmtp", &keys);
    assert_string_equal(joined(&keys), "unix:/run/lmtp");
    strv_free(&keys);
}

static void test_match_names_and_sni(void **state)
{
    strv pat, out;
    (void) state;
    strv_init(&pat);
    strv_init(&out);
    strv_split(&pat, "hostname, nexthop, dot-nexthop, mail.example.net, .example.org", ", ");
    smtp_tls_match_names(&pat, "mx1.example.com", "example.com", &out);
    assert_string_equal(joined(&out), "mx1.example.com example.com .example.com "
                                      "mail.example.net .example.org");
    strv_free(&out);
    /* [host]: hostname and nexthop are the same name, kept once. */
    strv_init(&out);
    smtp_tls_match_names(&pat, "relay.example.com", "relay.example.com", &out);
    assert_string_equal(joined(&out), "relay.example.com .relay.example.com mail.example.net "
                                      ".example.org");
    strv_free(&out);
    strv_free(&pat);

    assert_null(smtp_tls_sni("", "mx1.example.com", "example.com"));
    assert_string_equal(smtp_tls_sni("hostname", "mx1.example.com", "example.com"),
                        "mx1.example.com");
    assert_string_equal(smtp_tls_sni("nexthop", "mx1.example.com", "example.com"),
                        "example.com");
    assert_string_equal(smtp_tls_sni("smtp.example.net", "mx1", "example.com"),
                        "smtp.example.net");
}

static void test_auth_mechs(void **state)
{
    strv lines, mechs;
    (void) state;
    strv_init(&lines);
    strv_init(&mechs);
    strv_add(&lines, "mail.example.jp");
    strv_add(&lines, "PIPELINING");
    strv_add(&lines, "AUTH PLAIN LOGIN CRAM-MD5");
    strv_add(&lines, "AUTH=PLAIN LOGIN");               /* the old form: nothing new */
    strv_add(&lines, "AUTHX GSSAPI");                   /* another keyword */
    strv_add(&lines, "auth scram-sha-256 bad/mech x{y} TOOLONGMECHANISMNAME-123456");
    smtp_auth_mechs(&lines, &mechs);
    assert_string_equal(joined(&mechs), "PLAIN LOGIN CRAM-MD5 scram-sha-256");
    strv_free(&mechs);
    strv_free(&lines);
    /* No AUTH keyword: nothing. */
    strv_init(&lines);
    strv_init(&mechs);
    strv_add(&lines, "mail.example.jp");
    strv_add(&lines, "AUTH");
    smtp_auth_mechs(&lines, &mechs);
    assert_int_equal(mechs.n, 0);
    strv_free(&mechs);
    strv_free(&lines);
}

/* ---- the Cyrus client glue ---- */

static void test_sasl_client(void **state)
{
    sbuf err = SBUF_INIT, initial = SBUF_INIT, resp = SBUF_INIT;
    const char *mech = 0;
    bool has_initial = false;
    (void) state;

    assert_int_equal(sasl_client_lib_init("dovecot", "", &err), -1);
    assert_non_null(strstr(sbuf_str(&err), "unsupported SASL client implementation: dovecot"));
    sbuf_reset(&err);
    assert_int_equal(sasl_client_lib_init("cyrus", "", &err), 0);
    assert_int_equal(sasl_client_lib_init("cyrus", "", &err), 0);

    struct sasl_client_params p = {"smtp", "mail.example.jp", "noanonymous", "user", "secret"};
    struct sasl_client_params bad = p;
    bad.security_options = "noanonymous, nosuch";
    assert_null(sasl_client_create(&bad, &err));
    assert_non_null(strstr(sbuf_str(&err), "nosuch"));

    /* PLAIN: an initial response "\0user\0secret" or "user\0user\0secret". */
    sasl_client *c = sasl_client_create(&p, &err);
    assert_non_null(c);
    if (sasl_client_first(c, "PLAIN", &mech, &initial, &has_initial, &err) != SASL_CLNT_OK) {
        sasl_client_free(c);
        skip();                 /* the PLAIN plug-in is not installed */
    }
    assert_string_equal(mech, "PLAIN");
    assert_true(has_initial);
    sbuf dec = SBUF_INIT;
    assert_int_equal(sasl_b64_decode(sbuf_str(&initial), &dec), 0);
    assert_true(dec.len >= 12);
    assert_memory_equal(dec.s + dec.len - 12, "\0user\0secret", 12);
    sasl_client_free(c);

    /* noplaintext: PLAIN and LOGIN are not worthy. */
    p.security_options = "noplaintext, noanonymous";
    c = sasl_client_create(&p, &err);
    assert_non_null(c);
    sbuf_reset(&err);
    assert_int_equal(sasl_client_first(c, "PLAIN LOGIN", &mech, &initial, &has_initial, &err),
                     SASL_CLNT_FAIL);
    assert_true(err.len > 0);
    sasl_client_free(c);

    /* LOGIN: no initial response, then the user name and the password. */
    p.security_options = "";
    c = sasl_client_create(&p, &err);
    assert_non_null(c);
    if (sasl_client_first(c, "LOGIN", &mech, &initial, &has_initial, &err) == SASL_CLNT_OK) {
        assert_string_equal(mech, "LOGIN");
        assert_int_equal(sasl_client_next(c, "VXNlcm5hbWU6", &resp, &err), SASL_CLNT_OK);
        assert_string_equal(sbuf_str(&resp), "dXNlcg==");              /* "user" */
        assert_int_equal(sasl_client_next(c, "UGFzc3dvcmQ6", &resp, &err), SASL_CLNT_OK);
        assert_string_equal(sbuf_str(&resp), "c2VjcmV0");              /* "secret" */
    }
    sasl_client_free(c);

    /* A challenge that is not base64. */
    c = sasl_client_create(&p, &err);
    assert_non_null(c);
    if (sasl_client_first(c, "LOGIN", &mech, &initial, &has_initial, &err) == SASL_CLNT_OK) {
        sbuf_reset(&err);
        assert_int_equal(sasl_client_next(c, "!!not base64", &resp, &err), SASL_CLNT_FAIL);
        assert_string_equal(sbuf_str(&err), "malformed SASL challenge from server");
    }
    sasl_client_free(c);
    sasl_client_free(0);
    sbuf_free(&dec);
    sbuf_free(&err);
    sbuf_free(&initial);
    sbuf_free(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_levels),
        cmocka_unit_test(test_policy_attributes),
        cmocka_unit_test(test_default_level),
        cmocka_unit_test(test_tls_policy_keys),
        cmocka_unit_test(test_sasl_passwd_keys),
        cmocka_unit_test(test_match_names_and_sni),
        cmocka_unit_test(test_auth_mechs),
        cmocka_unit_test(test_sasl_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
