/*
 * test_milter_proto.c - the milter packet codec (src/mail/milter_proto.c):
 * encoding commands byte for byte, decoding every reply the protocol
 * defines, and refusing malformed ones (missing NULs, left-over bytes,
 * short numbers, unknown codes, bad SMTP reply text).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mail/milter_proto.h"

/* Parse a packet given as bytes (command byte first). */
static int parse(const char *pkt, size_t len, struct milter_reply *r, sbuf *why)
{
    sbuf_reset(why);
    return milter_reply_parse(pkt, len, r, why);
}

#define PKT(lit) lit, sizeof(lit) - 1

static void test_encode(void **state)
{
    (void) state;
    sbuf b = SBUF_INIT;
    size_t at = milter_pkt_begin(&b, SMFIC_HELO);
    milter_pkt_add_str(&b, "client.example");
    milter_pkt_end(&b, at);
    assert_int_equal(b.len, 4 + 1 + 15);
    assert_memory_equal(b.s, "\0\0\0\x10" "H" "client.example\0", b.len);

    /* Two packets in one buffer; numbers are big-endian. */
    at = milter_pkt_begin(&b, SMFIC_CONNECT);
    milter_pkt_add_str(&b, "h");
    milter_pkt_add_byte(&b, SMFIA_INET);
    milter_pkt_add_u16(&b, 2525);
    milter_pkt_add_str(&b, "1.2.3.4");
    milter_pkt_end(&b, at);
    assert_memory_equal(b.s + 20, "\0\0\0\x0e" "C" "h\0" "4" "\x09\xdd" "1.2.3.4\0", 18);

    sbuf_reset(&b);
    at = milter_pkt_begin(&b, SMFIC_OPTNEG);
    milter_pkt_add_u32(&b, 6);
    milter_pkt_add_u32(&b, 0x1ff);
    milter_pkt_add_u32(&b, 0x001fffff);
    milter_pkt_end(&b, at);
    assert_memory_equal(b.s, "\0\0\0\x0d" "O" "\0\0\0\x06" "\0\0\x01\xff" "\0\x1f\xff\xff", 17);

    /* NUL inside a counted string cannot end it early on the wire. */
    sbuf_reset(&b);
    at = milter_pkt_begin(&b, SMFIC_HEADER);
    milter_pkt_add_strn(&b, "X\0Y", 3);
    milter_pkt_add_strn(&b, "", 0);
    milter_pkt_end(&b, at);
    assert_memory_equal(b.s, "\0\0\0\x06" "L" "X Y\0" "\0", 10);

    /* An empty command (abort). */
    sbuf_reset(&b);
    at = milter_pkt_begin(&b, SMFIC_ABORT);
    milter_pkt_end(&b, at);
    assert_memory_equal(b.s, "\0\0\0\x01" "A", 5);
    sbuf_free(&b);
}

static void test_simple_replies(void **state)
{
    (void) state;
    struct milter_reply r;
    sbuf why = SBUF_INIT;
    const char codes[] = {SMFIR_ACCEPT, SMFIR_CONTINUE, SMFIR_DISCARD, SMFIR_CONN_FAIL,
                          SMFIR_PROGRESS, SMFIR_REJECT, SMFIR_SKIP, SMFIR_TEMPFAIL,
                          SMFIR_SHUTDOWN};
    for (size_t i = 0; i < sizeof(codes); i++) {
        assert_int_equal(parse(&codes[i], 1, &r, &why), 0);
        assert_int_equal(r.cmd, codes[i]);
        assert_string_equal(r.arg1, "");
        char two[2] = {codes[i], 'x'};
        assert_int_equal(parse(two, 2, &r, &why), -1);
        assert_non_null(strstr(sbuf_str(&why), "followed by 1 data bytes"));
    }
    assert_int_equal(parse("", 0, &r, &why), -1);
    assert_int_equal(parse(PKT("Z"), &r, &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "unknown reply code"));
    sbuf_free(&why);
}

static void test_replycode(void **state)
{
    (void) state;
    struct milter_reply r;
    sbuf why = SBUF_INIT;
    assert_int_equal(parse(PKT("y554 5.7.1 Go away\0"), &r, &why), 0);
    assert_string_equal(r.arg1, "554 5.7.1 Go away");
    assert_int_equal(parse(PKT("y421-4.7.0 one\r\n421 4.7.0 two\0"), &r, &why), 0);
    /* Not a 4xx/5xx reply, or no separator, or no NUL. */
    assert_int_equal(parse(PKT("y250 2.0.0 ok\0"), &r, &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "malformed reply"));
    assert_int_equal(parse(PKT("y55\0"), &r, &why), -1);
    assert_int_equal(parse(PKT("y5x0 text\0"), &r, &why), -1);
    assert_int_equal(parse(PKT("y550text\0"), &r, &why), -1);
    assert_int_equal(parse(PKT("y550 5.7.1 no nul"), &r, &why), -1);
    assert_int_equal(parse(PKT("y550 a\0b\0"), &r, &why), -1);
    sbuf_free(&why);
}

static void test_header_requests(void **state)
{
    (void) state;
    struct milter_reply r;
    sbuf why = SBUF_INIT;
    assert_int_equal(parse(PKT("hX-Spam\0yes\0"), &r, &why), 0);
    assert_int_equal(r.cmd, SMFIR_ADDHEADER);
    assert_string_equal(r.arg1, "X-Spam");
    assert_string_equal(r.arg2, "yes");
    assert_int_equal(parse(PKT("hX-Spam\0yes"), &r, &why), -1);
    assert_int_equal(parse(PKT("h\0value\0"), &r, &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "empty header name"));

    assert_int_equal(parse(PKT("i\0\0\0\x02" "DKIM-Signature\0v=1; a=rsa\n\tb=x\0"), &r, &why), 0);
    assert_int_equal(r.cmd, SMFIR_INSHEADER);
    assert_int_equal(r.index, 2);
    assert_string_equal(r.arg1, "DKIM-Signature");
    assert_string_equal(r.arg2, "v=1; a=rsa\n\tb=x");

    assert_int_equal(parse(PKT("m\0\0\0\x01Subject\0\0"), &r, &why), 0);
    assert_int_equal(r.cmd, SMFIR_CHGHEADER);
    assert_int_equal(r.index, 1);
    assert_string_equal(r.arg2, "");
    assert_int_equal(parse(PKT("m\0\0\x01"), &r, &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "header index"));
    assert_int_equal(parse(PKT("m\0\0\0\x01Subject\0"), &r, &why), -1);
    assert_int_equal(parse(PKT("m\0\0\0\x01Subject\0new\0extra"), &r, &why), -1);
    sbuf_free(&why);
}

static void test_envelope_requests(void **state)
{
    (void) state;
    struct milter_reply r;
    sbuf why = SBUF_INIT;
    assert_int_equal(parse(PKT("+<a@example.jp>\0"), &r, &why), 0);
    assert_int_equal(r.cmd, SMFIR_ADDRCPT);
    assert_string_equal(r.arg1, "<a@example.jp>");
    assert_int_equal(parse(PKT("-<b@example.jp>\0"), &r, &why), 0);
    assert_int_equal(r.cmd, SMFIR_DELRCPT);
    assert_int_equal(parse(PKT("-<b@example.jp>"), &r, &why), -1);
    assert_int_equal(parse(PKT("2<c@example.jp>\0NOTIFY=NEVER\0"), &r, &why), 0);
    assert_string_equal(r.arg2, "NOTIFY=NEVER");
    assert_int_equal(parse(PKT("2<c@example.jp>\0"), &r, &why), 0);
    assert_string_equal(r.arg2, "");
    assert_int_equal(parse(PKT("e<new@example.jp>\0"), &r, &why), 0);
    assert_int_equal(r.cmd, SMFIR_CHGFROM);
    assert_string_equal(r.arg1, "<new@example.jp>");
    assert_int_equal(parse(PKT("e<new@example.jp>\0SIZE=1\0"), &r, &why), 0);
    assert_string_equal(r.arg2, "SIZE=1");
    assert_int_equal(parse(PKT("e<new@example.jp>\0SIZE=1"), &r, &why), -1);
    assert_int_equal(parse(PKT("qvirus found\0"), &r, &why), 0);
    assert_int_equal(r.cmd, SMFIR_QUARANTINE);
    assert_string_equal(r.arg1, "virus found");
    sbuf_free(&why);
}

static void test_replbody(void **state)
{
    (void) state;
    struct milter_reply r;
    sbuf why = SBUF_INIT;
    assert_int_equal(parse(PKT("bnew body\r\n\0binary"), &r, &why), 0);
    assert_int_equal(r.cmd, SMFIR_REPLBODY);
    assert_int_equal(r.len, 17);
    assert_memory_equal(r.data, "new body\r\n\0binary", 17);
    assert_int_equal(parse(PKT("b"), &r, &why), 0);
    assert_int_equal(r.len, 0);
    sbuf_free(&why);
}

static void test_optneg(void **state)
{
    (void) state;
    struct milter_optneg o;
    sbuf why = SBUF_INIT;

    milter_optneg_init(&o);
    assert_int_equal(milter_optneg_parse(PKT("O\0\0\0\x06\0\0\0\x13\0\0\0\x40"), &o, &why), 0);
    assert_int_equal(o.version, 6);
    assert_int_equal(o.actions, 0x13);
    assert_int_equal(o.protocol, 0x40);
    assert_false(o.has_macros);
    milter_optneg_free(&o);

    milter_optneg_init(&o);
    assert_int_equal(milter_optneg_parse(
                         PKT("O\0\0\0\x06\0\0\0\x01\0\0\0\0"
                             "\0\0\0\x05i {mail_addr}\0"
                             "\0\0\0\x09ignored\0"
                             "\0\0\0\0j\0"), &o, &why), 0);
    assert_true(o.has_macros);
    assert_true(o.macro_set[SMFIM_EOM]);
    assert_string_equal(sbuf_str(&o.macros[SMFIM_EOM]), "i {mail_addr}");
    assert_true(o.macro_set[SMFIM_CONNECT]);
    assert_string_equal(sbuf_str(&o.macros[SMFIM_CONNECT]), "j");
    assert_false(o.macro_set[SMFIM_HELO]);
    milter_optneg_free(&o);

    milter_optneg_init(&o);
    assert_int_equal(milter_optneg_parse(PKT("O\0\0\0\x06\0\0\0\x01\0\0"), &o, &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "too short"));
    sbuf_reset(&why);
    assert_int_equal(milter_optneg_parse(PKT("O\0\0\0\x06\0\0\0\x01\0\0\0\0\0\0\0\x05i"), &o,
                                         &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "macro list"));
    sbuf_reset(&why);
    assert_int_equal(milter_optneg_parse(PKT("c"), &o, &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "unexpected reply \"c\""));
    assert_int_equal(milter_optneg_parse("", 0, &o, &why), -1);
    milter_optneg_free(&o);
    sbuf_free(&why);
}

static void test_names(void **state)
{
    (void) state;
    assert_string_equal(milter_cmd_name(SMFIC_OPTNEG), "SMFIC_OPTNEG");
    assert_string_equal(milter_cmd_name(SMFIC_BODYEOB), "SMFIC_BODYEOB");
    assert_string_equal(milter_cmd_name('z'), "(unknown MTA event)");
    assert_string_equal(milter_reply_name(SMFIR_REPLYCODE), "SMFIR_REPLYCODE");
    assert_string_equal(milter_reply_name('z'), "(unknown filter reply)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_simple_replies),
        cmocka_unit_test(test_replycode),
        cmocka_unit_test(test_header_requests),
        cmocka_unit_test(test_envelope_requests),
        cmocka_unit_test(test_replbody),
        cmocka_unit_test(test_optneg),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
