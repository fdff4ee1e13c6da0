/*
 * test_smtp.c - pieces of the SMTP/LMTP client (src/smtp/) that need no
 * server: nexthop syntax, address ordering, reply parsing and the error
 * texts, the SMTP form of the content (CRLF, dot-stuffing, folding) and
 * the smtp_/lmtp_ parameter names. The conversation itself is tested
 * against real sinks in tests/system/test_smtp_client.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf_fixture.h"

#include "smtp/smtp_param.c"
#include "smtp/smtp_nexthop.c"
#include "smtp/smtp_addr.c"
#include "smtp/smtp_chat.c"
#include "smtp/smtp_content.c"

/* ---- nexthop syntax ---- */

static void test_smtp_destinations(void **state)
{
    (void) state;
    struct smtp_dest d;
    sbuf why = SBUF_INIT;
    assert_int_equal(smtp_dest_parse("example.com", false, "smtp", &d, &why), 0);
    assert_true(d.mx);
    assert_int_equal(d.kind, SOCK_EP_INET);
    assert_string_equal(d.host, "example.com");
    assert_string_equal(d.port, "smtp");

    assert_int_equal(smtp_dest_parse("example.com.:2525", false, "smtp", &d, &why), 0);
    assert_true(d.mx);
    assert_string_equal(d.host, "example.com");
    assert_string_equal(d.port, "2525");

    assert_int_equal(smtp_dest_parse("[192.0.2.1]", false, "smtp", &d, &why), 0);
    assert_false(d.mx);
    assert_string_equal(d.host, "192.0.2.1");

    assert_int_equal(smtp_dest_parse("[mail.example.com]:submission", false, "smtp", &d, &why), 0);
    assert_false(d.mx);
    assert_string_equal(d.host, "mail.example.com");
    assert_string_equal(d.port, "submission");

    assert_int_equal(smtp_dest_parse("[ipv6:2001:db8::1]:25", false, "smtp", &d, &why), 0);
    assert_false(d.mx);
    assert_string_equal(d.host, "2001:db8::1");
    assert_string_equal(d.text, "[ipv6:2001:db8::1]:25");

    assert_int_equal(smtp_dest_parse("inet:[127.0.0.1]:10025", false, "smtp", &d, &why), 0);
    assert_false(d.mx);
    assert_string_equal(d.port, "10025");

    /* A bare address is taken literally (no MX lookup of "192.0.2.7"). */
    assert_int_equal(smtp_dest_parse("192.0.2.7", false, "smtp", &d, &why), 0);
    assert_false(d.mx);

    const char *bad[] = { "", "[unclosed", "ex ample.com", "a..b.example", "[]:25",
                          "[x.example]:99999", "host.example:", "-lead.example",
                          "[bad_host!]", "2001:db8::1:25x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(smtp_dest_parse(bad[i], false, "smtp", &d, &why), -1);
        assert_non_null(strstr(sbuf_str(&why), "bad destination syntax"));
    }
    char huge[2000];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = 0;
    assert_int_equal(smtp_dest_parse(huge, false, "smtp", &d, &why), -1);
    sbuf_free(&why);
}

static void test_lmtp_destinations(void **state)
{
    (void) state;
    struct smtp_dest d;
    assert_int_equal(smtp_dest_parse("unix:/var/run/dovecot/lmtp", true, "24", &d, 0), 0);
    assert_int_equal(d.kind, SOCK_EP_UNIX);
    assert_string_equal(d.path, "/var/run/dovecot/lmtp");
    assert_int_equal(smtp_dest_parse("unix:private/dovecot-lmtp", true, "24", &d, 0), 0);
    assert_int_equal(d.kind, SOCK_EP_UNIX);
    assert_string_equal(d.path, "private/dovecot-lmtp");
    assert_int_equal(smtp_dest_parse("/run/lmtp.sock", true, "24", &d, 0), 0);
    assert_int_equal(d.kind, SOCK_EP_UNIX);
    assert_int_equal(smtp_dest_parse("inet:localhost", true, "24", &d, 0), 0);
    assert_int_equal(d.kind, SOCK_EP_INET);
    assert_false(d.mx);                 /* LMTP never looks up MX */
    assert_string_equal(d.port, "24");
    assert_int_equal(smtp_dest_parse("mail.example.com:2424", true, "24", &d, 0), 0);
    assert_false(d.mx);
    assert_string_equal(d.port, "2424");
    assert_int_equal(smtp_dest_parse("unix:", true, "24", &d, 0), -1);
}

static void test_dest_split(void **state)
{
    (void) state;
    strv l = {0};
    smtp_dest_split("[10.0.0.1]:587, [10.0.0.2]:587\tbackup.example", &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "[10.0.0.1]:587");
    assert_string_equal(l.v[2], "backup.example");
    strv_free(&l);
    smtp_dest_split(0, &l);
    assert_int_equal(l.n, 0);
    strv_free(&l);
}

/* ---- address ordering ---- */

static void add(struct smtp_addr_list *l, const char *ip, unsigned pref)
{
    struct sockaddr_storage ss;
    socklen_t len;
    unsigned char bin[16];
    int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
    inet_pton(fam, ip, bin);
    set_sockaddr(&ss, &len, fam, bin, 25);
    add_addr(l, (struct sockaddr *) &ss, len, ip, pref);
}

static const char *ip_of(const struct smtp_addr *a)
{
    static char buf[SOCK_ADDR_STRLEN];
    return sock_addr_str((const struct sockaddr *) &a->sa, a->len, buf);
}

static void test_addr_order(void **state)
{
    (void) state;
    struct smtp_addr_list l = {0};
    add(&l, "192.0.2.30", 30);
    add(&l, "2001:db8::10", 10);
    add(&l, "192.0.2.10", 10);
    add(&l, "192.0.2.20", 20);
    add(&l, "192.0.2.10", 10);         /* a duplicate is kept once */
    assert_int_equal(l.n, 4);
    smtp_addr_order(&l, false, "any", 0);
    assert_string_equal(ip_of(&l.a[0]), "2001:db8::10");
    assert_string_equal(ip_of(&l.a[1]), "192.0.2.10");
    assert_string_equal(ip_of(&l.a[2]), "192.0.2.20");
    assert_string_equal(ip_of(&l.a[3]), "192.0.2.30");
    assert_true(l.a[0].best && l.a[1].best);
    assert_false(l.a[2].best);

    smtp_addr_order(&l, false, "ipv4", 0);
    assert_string_equal(ip_of(&l.a[0]), "192.0.2.10");
    assert_string_equal(ip_of(&l.a[1]), "2001:db8::10");
    smtp_addr_order(&l, false, "ipv6", 3);
    assert_string_equal(ip_of(&l.a[0]), "2001:db8::10");
    assert_int_equal(l.n, 3);

    /* Shuffling never breaks the preference order. */
    for (int round = 0; round < 50; round++) {
        smtp_addr_order(&l, true, "any", 0);
        for (size_t i = 1; i < l.n; i++)
            assert_true(l.a[i - 1].pref <= l.a[i].pref);
    }
    smtp_addr_list_free(&l);
}

/* ---- replies ---- */

static void test_reply_lines(void **state)
{
    (void) state;
    int code;
    bool last;
    assert_int_equal(smtp_reply_parse_line("250 ok", 6, &code, &last), 0);
    assert_int_equal(code, 250);
    assert_true(last);
    assert_int_equal(smtp_reply_parse_line("250-ok", 6, &code, &last), 0);
    assert_false(last);
    assert_int_equal(smtp_reply_parse_line("354", 3, &code, &last), 0);
    assert_true(last);
    assert_int_equal(smtp_reply_parse_line("25", 2, &code, &last), -1);
    assert_int_equal(smtp_reply_parse_line("2500", 4, &code, &last), -1);
    assert_int_equal(smtp_reply_parse_line("abc def", 7, &code, &last), -1);
    assert_int_equal(smtp_reply_parse_line("650 x", 5, &code, &last), -1);

    char dsn[DSN_CODE_SIZE];
    smtp_reply_dsn(550, "5.1.1 <u@x>: unknown", dsn, sizeof(dsn));
    assert_string_equal(dsn, "5.1.1");
    smtp_reply_dsn(550, "4.1.1 wrong class", dsn, sizeof(dsn));
    assert_string_equal(dsn, "5.0.0");
    smtp_reply_dsn(250, "Ok", dsn, sizeof(dsn));
    assert_string_equal(dsn, "2.0.0");
    smtp_reply_dsn(421, "", dsn, sizeof(dsn));
    assert_string_equal(dsn, "4.0.0");
    smtp_reply_dsn(0, "junk", dsn, sizeof(dsn));
    assert_string_equal(dsn, "4.0.0");
}

static struct smtp_session *session_with(const char *input)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (*input)
        assert_int_equal(write(sv[1], input, strlen(input)), (ssize_t) strlen(input));
    close(sv[1]);
    return smtp_session_new(vstream_open(sv[0]), "dest", "mx.example", "192.0.2.1", 25);
}

static void test_reply_read(void **state)
{
    (void) state;
    struct smtp_reply r;
    struct smtp_why why;
    smtp_reply_init(&r);
    smtp_why_init(&why);

    struct smtp_session *s = session_with("250-mx.example hello\r\n250-PIPELINING\r\n"
                                          "250 SIZE 1000\r\n550 5.7.1 no\r\n");
    assert_int_equal(smtp_reply_read(s, 1000, "x", &r, &why), 0);
    assert_int_equal(r.code, 250);
    assert_string_equal(sbuf_str(&r.text), "250-mx.example hello 250-PIPELINING 250 SIZE 1000");
    assert_int_equal(r.lines.n, 3);
    assert_string_equal(r.lines.v[1], "PIPELINING");
    assert_int_equal(smtp_reply_read(s, 1000, "x", &r, &why), 0);
    assert_int_equal(r.code, 550);
    assert_string_equal(r.dsn, "5.7.1");
    smtp_reply_why(s, &r, "RCPT TO", &why);
    assert_string_equal(sbuf_str(&why.reason),
                        "host mx.example[192.0.2.1] said: 550 5.7.1 no (in reply to RCPT TO command)");
    assert_string_equal(sbuf_str(&why.relay), "mx.example[192.0.2.1]:25");
    assert_string_equal(sbuf_str(&why.diag), "550 5.7.1 no");
    /* Then the server is gone. */
    assert_int_equal(smtp_reply_read(s, 1000, "sending RCPT TO", &r, &why), -1);
    assert_string_equal(sbuf_str(&why.reason),
                        "lost connection with mx.example[192.0.2.1] while sending RCPT TO");
    assert_string_equal(why.dsn, "4.4.2");
    assert_true(s->broken);
    smtp_session_free(s);

    /* Garbage, control characters, a line without its end. */
    s = session_with("hello there\r\n");
    assert_int_equal(smtp_reply_read(s, 1000, "x", &r, &why), 0);
    assert_int_equal(r.code, 0);
    assert_true(s->broken);
    smtp_session_free(s);
    s = session_with("220 a\x01\x7f" "b\r\n");
    assert_int_equal(smtp_reply_read(s, 1000, "x", &r, &why), 0);
    assert_string_equal(sbuf_str(&r.text), "220 a??b");
    smtp_session_free(s);
    s = session_with("220 no end");
    assert_int_equal(smtp_reply_read(s, 1000, "receiving the initial server greeting", &r, &why),
                     -1);
    smtp_session_free(s);

    /* A very long line is cut, and the reply still ends where it should. */
    sbuf big = SBUF_INIT;
    sbuf_adds(&big, "250-");
    for (int i = 0; i < 10000; i++)
        sbuf_addc(&big, 'x');
    sbuf_adds(&big, "\r\n250 end\r\n");
    s = session_with(sbuf_str(&big));
    assert_int_equal(smtp_reply_read(s, 1000, "x", &r, &why), 0);
    assert_int_equal(r.code, 250);
    assert_true(r.text.len < 5000);
    assert_string_equal(r.lines.v[1], "end");
    smtp_session_free(s);
    sbuf_free(&big);

    /* A server that says nothing: a timeout. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s = smtp_session_new(vstream_open(sv[0]), "d", "mx.example", "192.0.2.1", 25);
    assert_int_equal(smtp_reply_read(s, 100, "receiving the initial server greeting", &r, &why),
                     -1);
    assert_string_equal(sbuf_str(&why.reason), "conversation with mx.example[192.0.2.1] timed out "
                                               "while receiving the initial server greeting");
    smtp_session_free(s);
    close(sv[1]);

    smtp_reply_free(&r);
    smtp_why_free(&why);
}

/* ---- content ---- */

static void body_of(const char *const *pieces, size_t limit, sbuf *out)
{
    struct smtp_body b;
    smtp_body_init(&b, limit);
    sbuf_reset(out);
    for (size_t i = 0; pieces[i]; i++)
        smtp_body_put(&b, pieces[i], strlen(pieces[i]), out);
    smtp_body_end(&b, out);
}

static void test_body(void **state)
{
    (void) state;
    sbuf out = SBUF_INIT;
    const char *p1[] = { "a\n.b\n", "..c\n", ".", "d\n", "no end", 0 };
    body_of(p1, 0, &out);
    assert_string_equal(sbuf_str(&out), "a\r\n..b\r\n...c\r\n..d\r\nno end\r\n");

    const char *p2[] = { "0123456789", "abcdef\n", "short\n", 0 };
    body_of(p2, 8, &out);
    assert_string_equal(sbuf_str(&out), "01234567\r\n 89abcde\r\n f\r\nshort\r\n");

    /* A line of exactly the limit is not folded; a folded part never gets
     * a dot-stuffing (it starts with a space). */
    const char *p3[] = { "12345678\n", "........X\n", 0 };
    body_of(p3, 8, &out);
    assert_string_equal(sbuf_str(&out), "12345678\r\n.........\r\n X\r\n");

    const char *p4[] = { "", 0 };
    body_of(p4, 8, &out);
    assert_string_equal(sbuf_str(&out), "");
    sbuf_free(&out);
}

/* The conversion as a byte-at-a-time reference: LF -> CRLF; before a
 * byte past the limit CRLF SPACE; a "." at a line start doubled. */
static void ref_body_put(struct smtp_body *b, const char *p, size_t n, sbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\n') {
            sbuf_add(out, "\r\n", 2);
            b->col = 0;
            b->bol = true;
            continue;
        }
        if (b->limit && b->col >= b->limit) {
            sbuf_add(out, "\r\n ", 3);
            b->col = 1;
            b->bol = false;
        }
        if (b->bol && c == '.')
            sbuf_addc(out, '.');
        sbuf_addc(out, c);
        b->col++;
        b->bol = false;
    }
}

/* The run-at-a-time conversion equals the reference for random text cut
 * into random pieces, for limits 0 (none), 1, 2, 3, 8 and 998: dots at
 * line starts and after folds, lines that reach the limit exactly, a
 * line split across pieces at the limit. */
static void test_body_runs(void **state)
{
    (void) state;
    static const size_t limits[] = {0, 1, 2, 3, 8, 998};
    static const char alphabet[] = "..\nab \r";
    unsigned seed = 99;
    char text[3000];
    sbuf want = SBUF_INIT, got = SBUF_INIT;
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t) (rand_r(&seed) % (round % 10 == 0 ? sizeof(text) : 40));
        int spread = round % 3 == 0 ? 200 : 7;      /* some rounds have long lines */
        for (size_t i = 0; i < len; i++) {
            int r = rand_r(&seed) % spread;
            text[i] = r < 7 ? alphabet[r] : 'x';
        }
        size_t limit = limits[rand_r(&seed) % 6];
        struct smtp_body rb, b;
        smtp_body_init(&rb, limit);
        smtp_body_init(&b, limit);
        sbuf_reset(&want);
        sbuf_reset(&got);
        ref_body_put(&rb, text, len, &want);
        for (size_t off = 0; off < len;) {
            size_t k = 1 + (size_t) (rand_r(&seed) % (len - off));
            smtp_body_put(&b, text + off, k, &got);
            off += k;
        }
        smtp_body_end(&rb, &want);
        smtp_body_end(&b, &got);
        if (got.len != want.len || memcmp(got.s, want.s, want.len) != 0)
            fail_msg("round %d, limit %zu: %zu bytes, want %zu", round, limit, got.len,
                     want.len);
    }
    sbuf_free(&want);
    sbuf_free(&got);
}

/* ---- parameter names ---- */

static void test_param_names(void **state)
{
    (void) state;
    fixture_main_cf("lmtp_connect_timeout = 7s", (char *) 0);
    smtp_lmtp = false;
    assert_string_equal(smtp_pname("helo_name"), "smtp_helo_name");
    assert_string_equal(smtp_pname("connect_timeout"), "smtp_connect_timeout");
    smtp_lmtp = true;
    assert_string_equal(smtp_pname("helo_name"), "lmtp_lhlo_name");
    assert_string_equal(smtp_pname("helo_timeout"), "lmtp_lhlo_timeout");
    assert_string_equal(smtp_pname("discard_ehlo_keywords"), "lmtp_discard_lhlo_keywords");
    assert_string_equal(smtp_pname("connect_timeout"), "lmtp_connect_timeout");
    /* There is no lmtp_skip_4xx_greeting: the smtp_ one is used. */
    assert_string_equal(smtp_pname("skip_4xx_greeting"), "smtp_skip_4xx_greeting");
    assert_int_equal(smtp_param_ms("connect_timeout"), 7000);
    mail_conf_override("lmtp_connect_timeout", "0s");
    assert_int_equal(smtp_param_ms("connect_timeout"), -1);
    assert_string_equal(smtp_param_str("tcp_port"), "24");
    smtp_lmtp = false;
    assert_string_equal(smtp_param_str("tcp_port"), "smtp");
}

static void test_why(void **state)
{
    (void) state;
    struct smtp_why a, b;
    smtp_why_init(&a);
    smtp_why_init(&b);
    smtp_why_set(&a, "4.4.1", 0, "connect to %s: %s", "x", "refused");
    assert_true(a.set);
    assert_true(smtp_why_soft(&a));
    assert_string_equal(sbuf_str(&a.relay), "none");
    assert_string_equal(sbuf_str(&a.reason), "connect to x: refused");
    smtp_why_copy(&b, &a);
    assert_string_equal(b.dsn, "4.4.1");
    smtp_why_set(&a, "5.1.1", "h[1.2.3.4]:25", "gone");
    assert_false(smtp_why_soft(&a));
    assert_string_equal(sbuf_str(&b.reason), "connect to x: refused");
    smtp_why_free(&a);
    smtp_why_free(&b);
}

int main(void)
{
    msg_init("test_smtp", MSG_TO_STDERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smtp_destinations),
        cmocka_unit_test(test_lmtp_destinations),
        cmocka_unit_test(test_dest_split),
        cmocka_unit_test(test_addr_order),
        cmocka_unit_test(test_reply_lines),
        cmocka_unit_test(test_reply_read),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_body_runs),
        cmocka_unit_test(test_param_names),
        cmocka_unit_test(test_why),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
