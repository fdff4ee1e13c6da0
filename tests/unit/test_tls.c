/*
 * test_tls.c - the parts of the TLS and SASL modules that need no peer:
 * protocol lists (tls_proto.c), cipher grades, level names, fingerprints
 * (tls_log.c), the log summary, PEM loading and certificate checks
 * (tls_ctx.c, tls_check.c with certificates made by OpenSSL here), ticket
 * key files (tls_tickets.c), and sasl_common.c (security options,
 * base64). Handshakes are covered by tests/system/test_tls.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf_fixture.h"
#include "mail/sasl_common.h"
#include "mail/tls.h"
#include "mail/tls_int.h"
#include "util/safe_file.h"

static void test_levels(void **state)
{
    (void) state;
    assert_int_equal(tls_level_parse("none"), TLS_LEV_NONE);
    assert_int_equal(tls_level_parse("MAY"), TLS_LEV_MAY);
    assert_int_equal(tls_level_parse("encrypt"), TLS_LEV_ENCRYPT);
    assert_int_equal(tls_level_parse("secure"), TLS_LEV_SECURE);
    assert_int_equal(tls_level_parse("sometimes"), -1);
    assert_string_equal(tls_level_name(TLS_LEV_VERIFY), "verify");
    assert_string_equal(tls_level_name(99), "unknown");
}

static int mask(const char *list)
{
    sbuf err = SBUF_INIT;
    int m = tls_protocols_parse(list, &err);
    sbuf_free(&err);
    return m;
}

static void test_protocol_lists(void **state)
{
    (void) state;
    assert_int_equal(mask(""), TLS_PROTO_USABLE);
    assert_int_equal(mask(">=TLSv1"), TLS_PROTO_USABLE);
    assert_int_equal(mask("!SSLv2, !SSLv3"), TLS_PROTO_USABLE);
    assert_int_equal(mask("!SSLv2:!SSLv3:!TLSv1:!TLSv1.1"), TLS_PROTO_TLSv1_2 | TLS_PROTO_TLSv1_3);
    assert_int_equal(mask(">=TLSv1.2"), TLS_PROTO_TLSv1_2 | TLS_PROTO_TLSv1_3);
    assert_int_equal(mask("<=TLSv1.2 >=tlsv1.1"), TLS_PROTO_TLSv1_1 | TLS_PROTO_TLSv1_2);
    assert_int_equal(mask("TLSv1.3"), TLS_PROTO_TLSv1_3);
    assert_int_equal(mask("TLSv1 TLSv1.2"), TLS_PROTO_TLSv1 | TLS_PROTO_TLSv1_2);
    /* An exclusion of a name this library does not know is ignored. */
    assert_int_equal(mask("!TLSv1.4, !SSLv2"), TLS_PROTO_USABLE);

    sbuf err = SBUF_INIT;
    assert_int_equal(tls_protocols_parse("TLSv9", &err), -1);
    assert_string_equal(sbuf_str(&err), "unknown TLS protocol name \"TLSv9\" in \"TLSv9\"");
    sbuf_reset(&err);
    assert_int_equal(tls_protocols_parse(">=SSLv9", &err), -1);
    sbuf_reset(&err);
    assert_int_equal(tls_protocols_parse("SSLv3", &err), -1);
    assert_non_null(strstr(sbuf_str(&err), "leaves no usable protocol"));
    sbuf_reset(&err);
    assert_int_equal(tls_protocols_parse(">=TLSv1.3 <=TLSv1.2", &err), -1);
    sbuf_free(&err);
}

static void test_protocols_openssl(void **state)
{
    int lo, hi;
    long no;
    (void) state;
    tls_protocols_openssl(TLS_PROTO_TLSv1_2 | TLS_PROTO_TLSv1_3, &lo, &hi, &no);
    assert_int_equal(lo, TLS1_2_VERSION);
    assert_int_equal(hi, TLS1_3_VERSION);
    assert_int_equal(no, 0);
    tls_protocols_openssl(TLS_PROTO_TLSv1 | TLS_PROTO_TLSv1_2, &lo, &hi, &no);
    assert_int_equal(lo, TLS1_VERSION);
    assert_int_equal(hi, TLS1_2_VERSION);
    assert_int_equal(no, SSL_OP_NO_TLSv1_1);
}

static void test_cipher_grades(void **state)
{
    sbuf out = SBUF_INIT, err = SBUF_INIT;
    strv ex;
    (void) state;
    fixture_main_cf("tls_high_cipherlist = HIGH:!aNULL", NULL);
    strv_init(&ex);
    strv_add(&ex, "aNULL");
    strv_add(&ex, "RC4");
    assert_int_equal(tls_cipher_string("high", &ex, &out, &err), 0);
    assert_string_equal(sbuf_str(&out), "HIGH:!aNULL:!aNULL:!RC4");
    assert_int_equal(tls_cipher_string("MEDIUM", 0, &out, &err), 0);
    assert_string_equal(sbuf_str(&out), "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH");
    assert_int_equal(tls_cipher_string("strong", 0, &out, &err), -1);
    assert_non_null(strstr(sbuf_str(&err), "invalid cipher grade \"strong\""));
    strv_free(&ex);
    sbuf_free(&out);
    sbuf_free(&err);
}

static void test_fingerprint_and_summary(void **state)
{
    char fp[TLS_FPRINT_MAX];
    sbuf line = SBUF_INIT;
    struct tls_info i;
    (void) state;

    assert_int_equal(tls_fingerprint("md5", (const unsigned char *) "abc", 3, fp, sizeof(fp)), 0);
    assert_string_equal(fp, "90:01:50:98:3C:D2:4F:B0:D6:96:3F:7D:28:E1:7F:72");
    assert_int_equal(tls_fingerprint("nosuch", (const unsigned char *) "abc", 3, fp, sizeof(fp)),
                     -1);
    assert_int_equal(tls_fingerprint("sha256", (const unsigned char *) "abc", 3, fp, 10), -1);

    memset(&i, 0, sizeof(i));
    i.protocol = "TLSv1.3";
    i.cipher = "TLS_AES_256_GCM_SHA384";
    i.cipher_usebits = i.cipher_algbits = 256;
    snprintf(i.kex, sizeof(i.kex), "X25519");
    snprintf(i.srv_sig, sizeof(i.srv_sig), "RSA-PSS");
    i.srv_sig_bits = 2048;
    snprintf(i.srv_sig_dgst, sizeof(i.srv_sig_dgst), "SHA256");
    tls_info_summary(&i, &line);
    assert_string_equal(sbuf_str(&line), "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 "
                        "bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) "
                        "server-digest SHA256");
    assert_string_equal(tls_info_trust(&i), "Anonymous");
    i.peer_cert = true;
    assert_string_equal(tls_info_trust(&i), "Untrusted");
    i.peer_trusted = true;
    assert_string_equal(tls_info_trust(&i), "Trusted");
    i.peer_verified = true;
    assert_string_equal(tls_info_trust(&i), "Verified");
    sbuf_free(&line);
}

/* A self-signed EC certificate and its key, as PEM files. */
static void make_cert(const char *cert, const char *key, mode_t key_mode)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(pk);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pk);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *) "mail.example.jp", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, 0, 0, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(0, &v3, NID_subject_alt_name,
                                              "DNS:mail.example.jp");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(0, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    FILE *f = fopen(cert, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key, "w");
    PEM_write_PrivateKey(f, pk, 0, 0, 0, 0, 0);
    fclose(f);
    chmod(key, key_mode);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static int count_containing(const strv *v, const char *needle)
{
    int n = 0;
    for (size_t i = 0; i < v->n; i++)
        n += strstr(v->v[i], needle) != 0;
    return n;
}

static void test_certificates_and_check(void **state)
{
    char cert[300], key[300], key2[300], mcf[300];
    strv errs, warns;
    sbuf err = SBUF_INIT;
    (void) state;

    snprintf(cert, sizeof(cert), "%s/c.pem", fixture_dir());
    snprintf(key, sizeof(key), "%s/c.key", fixture_dir());
    snprintf(key2, sizeof(key2), "%s/other.key", fixture_dir());
    make_cert(cert, key, 0600);
    snprintf(mcf, sizeof(mcf), "%s/other.pem", fixture_dir());
    make_cert(mcf, key2, 0644);
    fixture_write("master.cf", "smtp inet n - n - - smtpd\n");

    char l1[400], l2[400];
    snprintf(l1, sizeof(l1), "smtpd_tls_cert_file = %s", cert);
    snprintf(l2, sizeof(l2), "smtpd_tls_key_file = %s", key);
    char l3[400];
    snprintf(l3, sizeof(l3), "data_directory = %s", fixture_dir());
    fixture_main_cf("smtpd_tls_security_level = may", l1, l2, l3, NULL);
    tls_library_init();
    assert_int_equal(tls_load_server_certs(0, "smtpd", &err), 1);
    strv_init(&errs);
    strv_init(&warns);
    assert_int_equal(tls_check_config("smtpd", &errs, &warns), 0);
    tls_ctx *ctx = tls_server_ctx("smtpd", false, &err);
    assert_non_null(ctx);
    tls_ctx_free(ctx);

    /* The key of another certificate, readable by everybody. */
    snprintf(l2, sizeof(l2), "smtpd_tls_key_file = %s", key2);
    fixture_main_cf("smtpd_tls_security_level = may", l1, l2, "smtpd_tls_protocols = TLSv7",
                    "smtpd_tls_ciphers = strong", NULL);
    assert_int_equal(tls_check_config("smtpd", &errs, &warns), 4);
    assert_int_equal(count_containing(&errs, "does not match the certificate"), 1);
    assert_int_equal(count_containing(&errs, "is readable by other users (mode 0644)"), 1);
    assert_int_equal(count_containing(&errs, "main.cf, line 3: smtpd_tls_key_file"), 1);
    assert_int_equal(count_containing(&errs, "unknown TLS protocol name \"TLSv7\""), 1);
    assert_int_equal(count_containing(&errs, "invalid cipher grade"), 1);
    sbuf_reset(&err);
    assert_null(tls_server_ctx("smtpd", false, &err));

    /* Missing certificate; TLS off: nothing to check. */
    strv_free(&errs);
    strv_init(&errs);
    fixture_main_cf("smtpd_tls_security_level = may", "smtpd_tls_cert_file = /nonexistent.pem",
                    NULL);
    assert_int_equal(tls_check_config("smtpd", &errs, &warns), 1);
    assert_int_equal(count_containing(&errs, "cannot get RSA certificate from file "
                                             "\"/nonexistent.pem\""), 1);
    strv_free(&errs);
    strv_init(&errs);
    fixture_main_cf("smtpd_tls_cert_file = /nonexistent.pem", NULL);
    assert_int_equal(tls_check_config("smtpd", &errs, &warns), 0);
    /* ... unless a master.cf service turns it on. */
    fixture_write("master.cf", "smtps inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n");
    assert_int_equal(tls_check_config("smtpd", &errs, &warns), 1);
    /* A client-only level is a warning (encrypt is used); a bad name an error. */
    strv_free(&errs);
    strv_init(&errs);
    fixture_write("master.cf", "smtp inet n - n - - smtpd\n");
    fixture_main_cf("smtpd_tls_security_level = secure", "smtpd_tls_cert_file = /no.pem", NULL);
    assert_int_equal(tls_check_config("smtpd", &errs, &warns), 1);
    assert_int_equal(count_containing(&warns, "not supported by the SMTP server"), 1);
    assert_int_equal(count_containing(&errs, "cannot get RSA certificate"), 1);
    strv_free(&errs);
    strv_init(&errs);
    fixture_main_cf("smtpd_tls_security_level = sometimes", NULL);
    assert_int_equal(tls_check_config("smtpd", &errs, &warns), 1);
    assert_int_equal(count_containing(&errs, "invalid security level"), 1);
    strv_free(&errs);
    strv_free(&warns);
    sbuf_free(&err);
}

static void test_ticket_keys(void **state)
{
    char dir[300], path[400], line[400];
    (void) state;
    snprintf(dir, sizeof(dir), "%s/data", fixture_dir());
    mkdir(dir, 0755);
    snprintf(line, sizeof(line), "data_directory = %s", dir);
    fixture_main_cf(line, NULL);
    snprintf(path, sizeof(path), "%s/tls_ticket_keys", dir);
    assert_string_equal(tls_ticket_file(), path);
    assert_int_equal(tls_tickets_maintain(3600), 0);
    size_t len = 0;
    char *text = read_file(path, 65536, &len);
    assert_non_null(text);
    /* One line: time, 16-byte name, two 32-byte keys, in hex. */
    assert_int_equal(len, strlen(text));
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    assert_null(strchr(nl + 1, '\n'));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Not due: unchanged. Lifetime 0 (treated as 1 s) after a while: a new key. */
    assert_int_equal(tls_tickets_maintain(3600), 0);
    size_t len2 = 0;
    char *text2 = read_file(path, 65536, &len2);
    assert_string_equal(text, text2);
    free(text2);
    free(text);
    /* Garbage lines are ignored and a fresh key is made. */
    FILE *f = fopen(path, "w");
    fputs("not a key\n12 zz\n", f);
    fclose(f);
    assert_int_equal(tls_tickets_maintain(3600), 0);
    text = read_file(path, 65536, &len);
    assert_null(strstr(text, "not a key"));
    free(text);

    /* No data_directory: no file. */
    fixture_main_cf("data_directory =", NULL);
    assert_string_equal(tls_ticket_file(), "");
    assert_int_equal(tls_tickets_maintain(3600), -1);
}

/* A handshake over a socketpair: the server in a child, the client here. */
static int client_handshake(int level, const char *match, const char *fprint, char *trust,
                            size_t tsize)
{
    int sv[2];
    sbuf err = SBUF_INIT;
    strv names, fps;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        tls_ctx *sc = tls_server_ctx("smtpd", false, &err);
        vstream *s = vstream_open(sv[1]);
        tls_sess *t = sc ? tls_server_start(sc, s, "client[127.0.0.1]", 5000, &err) : 0;
        if (t) {
            sbuf line = SBUF_INIT;
            if (vstream_get_line(s, &line, 100) > 0)
                vstream_printf(s, "echo %s\r\n", sbuf_str(&line));
            vstream_flush(s);
            tls_sess_stop(t, s, false);
        }
        _exit(t ? 0 : 1);
    }
    close(sv[1]);
    strv_init(&names);
    strv_init(&fps);
    if (match)
        strv_split(&names, match, " ");
    if (fprint)
        strv_add(&fps, fprint);
    tls_ctx *cc = tls_client_ctx("smtp", false, &err);
    assert_non_null(cc);
    vstream *s = vstream_open(sv[0]);
    struct tls_client_start p = {"mail.example.jp[127.0.0.1]:25", "mail.example.jp", level,
                                 &names, &fps, 5000};
    tls_sess *t = tls_client_start(cc, s, &p, &err);
    int ok = t != 0;
    if (t) {
        sbuf line = SBUF_INIT;
        snprintf(trust, tsize, "%s", tls_info_trust(tls_sess_info(t)));
        vstream_puts(s, "hello\r\n");
        assert_true(vstream_get_line(s, &line, 100) > 0);
        assert_string_equal(sbuf_str(&line), "echo hello");
        sbuf_free(&line);
        tls_sess_stop(t, s, false);
    }
    vstream_close(s);
    int status;
    waitpid(pid, &status, 0);
    tls_ctx_free(cc);
    strv_free(&names);
    strv_free(&fps);
    sbuf_free(&err);
    return ok;
}

static void test_client_verification(void **state)
{
    char cert[300], key[300], l1[400], l2[400], l3[400], l4[400], trust[32];
    (void) state;
    snprintf(cert, sizeof(cert), "%s/s.pem", fixture_dir());
    snprintf(key, sizeof(key), "%s/s.key", fixture_dir());
    make_cert(cert, key, 0600);
    snprintf(l1, sizeof(l1), "smtpd_tls_cert_file = %s", cert);
    snprintf(l2, sizeof(l2), "smtpd_tls_key_file = %s", key);
    snprintf(l3, sizeof(l3), "smtp_tls_CAfile = %s", cert);
    snprintf(l4, sizeof(l4), "data_directory = %s", fixture_dir());
    fixture_main_cf(l1, l2, l3, l4, NULL);

    /* The server certificate's fingerprint, as the client computes it. */
    char fp[TLS_FPRINT_MAX];
    FILE *f = fopen(cert, "r");
    X509 *x = PEM_read_X509(f, 0, 0, 0);
    fclose(f);
    unsigned char *der = 0;
    int len = i2d_X509(x, &der);
    tls_fingerprint("sha256", der, (size_t) len, fp, sizeof(fp));
    OPENSSL_free(der);
    X509_free(x);

    assert_true(client_handshake(TLS_LEV_MAY, 0, 0, trust, sizeof(trust)));
    assert_string_equal(trust, "Trusted");
    assert_true(client_handshake(TLS_LEV_VERIFY, "mail.example.jp", 0, trust, sizeof(trust)));
    assert_string_equal(trust, "Verified");
    assert_true(client_handshake(TLS_LEV_SECURE, "other.example .example.jp", 0, trust,
                                 sizeof(trust)));
    assert_false(client_handshake(TLS_LEV_SECURE, "other.example", 0, trust, sizeof(trust)));
    assert_true(client_handshake(TLS_LEV_FPRINT, 0, fp, trust, sizeof(trust)));
    assert_string_equal(trust, "Verified");
    assert_false(client_handshake(TLS_LEV_FPRINT, 0, "AA:BB", trust, sizeof(trust)));

    /* Without the CA: encrypt works (untrusted), verify does not. */
    fixture_main_cf(l1, l2, l4, NULL);
    assert_true(client_handshake(TLS_LEV_ENCRYPT, 0, 0, trust, sizeof(trust)));
    assert_string_equal(trust, "Untrusted");
    assert_false(client_handshake(TLS_LEV_VERIFY, "mail.example.jp", 0, trust, sizeof(trust)));
}

static void test_sasl_security_options(void **state)
{
    unsigned flags;
    sbuf err = SBUF_INIT;
    (void) state;
    assert_int_equal(sasl_security_parse("", &flags, &err), 0);
    assert_int_equal(flags, 0);
    assert_int_equal(sasl_security_parse("noanonymous, noplaintext", &flags, &err), 0);
    assert_int_not_equal(flags, 0);
    assert_int_equal(sasl_security_parse("noanonymous, nosuchthing", &flags, &err), -1);
    assert_non_null(strstr(sbuf_str(&err), "unknown SASL security option \"nosuchthing\""));
    sbuf_free(&err);
}

static void test_base64(void **state)
{
    sbuf out = SBUF_INIT;
    (void) state;
    sasl_b64_encode("\0user\0secret", 12, &out);
    assert_string_equal(sbuf_str(&out), "AHVzZXIAc2VjcmV0");
    assert_int_equal(sasl_b64_decode("AHVzZXIAc2VjcmV0", &out), 0);
    assert_int_equal(out.len, 12);
    assert_memory_equal(out.s, "\0user\0secret", 12);
    assert_int_equal(sasl_b64_decode("dXNlcg==", &out), 0);
    assert_string_equal(sbuf_str(&out), "user");
    assert_int_equal(sasl_b64_decode("dXNlcjE=", &out), 0);
    assert_string_equal(sbuf_str(&out), "user1");
    assert_int_equal(sasl_b64_decode("", &out), 0);
    assert_int_equal(out.len, 0);
    /* Bad input. */
    assert_int_equal(sasl_b64_decode("abc", &out), -1);
    assert_int_equal(sasl_b64_decode("ab=c", &out), -1);
    assert_int_equal(sasl_b64_decode("a=bc", &out), -1);
    assert_int_equal(sasl_b64_decode("ab c", &out), -1);
    assert_int_equal(sasl_b64_decode("!!!!", &out), -1);
    assert_int_equal(sasl_b64_decode("ab=\n", &out), -1);
    sbuf_free(&out);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);       /* as in every daemon (mail_server.c) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_protocol_lists),
        cmocka_unit_test(test_protocols_openssl),
        cmocka_unit_test(test_cipher_grades),
        cmocka_unit_test(test_fingerprint_and_summary),
        cmocka_unit_test(test_certificates_and_check),
        cmocka_unit_test(test_ticket_keys),
        cmocka_unit_test(test_client_verification),
        cmocka_unit_test(test_sasl_security_options),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
