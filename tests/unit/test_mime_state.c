/*
 * test_mime_state.c - the MIME structure parser (src/mail/mime_state.c).
 *
 * A recorder turns the callbacks into a transcript ("P:Subject: x|" for a
 * primary header, "M:" part header, "N:" nested header, "E|" end of the
 * primary headers, "B@off:" body piece, "!code" error), so each test
 * states the expected events in input order. Covers folding, the header
 * size limit, multipart parts and boundaries (nested, closing an outer
 * one, no empty line after part headers, boundary length limit),
 * message/rfc822 and multipart/digest, the nesting limit, encoding-domain
 * and 8-bit errors, disabled MIME, body segment offsets, Content-Type
 * syntax (comments, quoting, improper unquoted boundaries), arbitrary
 * input cutting (every byte comes out once), and junk.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mail/mime_state.h"
#include "util/mem.h"
#include "util/sbuf.h"

struct rec {
    sbuf    log;                /* transcript */
    sbuf    out;                /* headers + body bytes, as they came out */
    int     errors;
    bool    show_offsets;
};

static void on_header(void *ctx, int cls, const char *text, size_t len)
{
    struct rec *r = ctx;
    assert_true(len > 0 && text[len - 1] == '\n');
    sbuf_addc(&r->log, cls == MIME_HDR_PRIMARY ? 'P' : cls == MIME_HDR_MULTIPART ? 'M' : 'N');
    sbuf_addc(&r->log, ':');
    sbuf_add(&r->log, text, len - 1);
    sbuf_addc(&r->log, '|');
    sbuf_add(&r->out, text, len);
}

static void on_header_end(void *ctx)
{
    struct rec *r = ctx;
    sbuf_adds(&r->log, "E|");
    sbuf_addc(&r->out, '\n');
}

static void on_body(void *ctx, const char *text, size_t len, uint64_t offset)
{
    struct rec *r = ctx;
    if (r->show_offsets)
        sbuf_printf(&r->log, "B@%llu:", (unsigned long long) offset);
    else
        sbuf_adds(&r->log, "B:");
    size_t n = len && text[len - 1] == '\n' ? len - 1 : len;
    sbuf_add(&r->log, text, n);
    sbuf_addc(&r->log, '|');
    sbuf_add(&r->out, text, len);
}

static void on_error(void *ctx, int code, const char *text, size_t len)
{
    struct rec *r = ctx;
    (void) text;
    (void) len;
    r->errors |= code;
    sbuf_printf(&r->log, "!%d|", code);
}

static const struct mime_callbacks callbacks = {on_header, on_header_end, on_body, on_error};

#define ALL_REPORTS (MIME_OPT_REPORT_NESTING | MIME_OPT_REPORT_8BIT_IN_HEADER \
                     | MIME_OPT_REPORT_8BIT_IN_7BIT_BODY | MIME_OPT_REPORT_ENCODING_DOMAIN \
                     | MIME_OPT_REPORT_TRUNC_HEADER)

/* Feed text in pieces of at most chunk bytes that never cross a line end
 * (0: whole lines), as cleanup does. */
static int feed(mime_state *ms, const char *text, size_t chunk)
{
    const char *p = text, *end = text + strlen(text);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t n = nl ? (size_t) (nl - p) + 1 : (size_t) (end - p);
        if (chunk && n > chunk)
            n = chunk;
        mime_state_update(ms, p, n);
        p += n;
    }
    return mime_state_end(ms);
}

static void run_opts(struct rec *r, int options, size_t hsize, int nesting, size_t blen,
                     const char *text, size_t chunk)
{
    struct mime_limits lim = {hsize, nesting, blen};
    sbuf_init(&r->log);
    sbuf_init(&r->out);
    mime_state *ms = mime_state_create(options, &lim, &callbacks, r);
    int errs = feed(ms, text, chunk);
    assert_int_equal(errs, r->errors);
    mime_state_free(ms);
}

static void run(struct rec *r, const char *text)
{
    run_opts(r, ALL_REPORTS, 102400, 100, 2048, text, 0);
}

static void rec_free(struct rec *r)
{
    sbuf_free(&r->log);
    sbuf_free(&r->out);
    r->errors = 0;
}

/* ---- tests ---- */

static void test_plain_message(void **state)
{
    (void) state;
    struct rec r = {0};
    run(&r, "Subject: hello\n"
            "To: a@example.jp,\n"
            "\tb@example.jp\n"
            "\n"
            "line 1\n"
            "\n"
            "Subject: not a header\n");
    assert_string_equal(sbuf_str(&r.log),
                        "P:Subject: hello|P:To: a@example.jp,\n\tb@example.jp|E|"
                        "B:line 1|B:|B:Subject: not a header|");
    assert_int_equal(r.errors, 0);
    rec_free(&r);
}

static void test_non_header_ends_block(void **state)
{
    (void) state;
    struct rec r = {0};
    run(&r, "Subject: x\nthis is body\n more\n");
    assert_string_equal(sbuf_str(&r.log), "P:Subject: x|E|B:this is body|B: more|");
    rec_free(&r);
    /* No header at all, and a continuation line first. */
    run(&r, " leading space\nSubject: body now\n");
    assert_string_equal(sbuf_str(&r.log), "E|B: leading space|B:Subject: body now|");
    rec_free(&r);
    /* Input that ends inside the headers, without a final LF. */
    run(&r, "Subject: a\n b");
    assert_string_equal(sbuf_str(&r.log), "P:Subject: a\n b|E|");
    rec_free(&r);
    run(&r, "");
    assert_string_equal(sbuf_str(&r.log), "E|");
    rec_free(&r);
}

static const char multipart_msg[] =
    "From: a@example.jp\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed;\n"
    "\tboundary=\"=-=b1\"\n"
    "\n"
    "preamble\n"
    "--=-=b1\n"
    "Content-Type: text/plain\n"
    "\n"
    "hello spam\n"
    "--=-=b1\n"
    "Content-Type: application/octet-stream; name=\"virus.scr\"\n"
    "Content-Disposition: attachment;\n"
    " filename=\"virus.scr\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "QUJD\n"
    "--=-=b1--\n"
    "epilogue\n";

static void test_multipart(void **state)
{
    (void) state;
    struct rec r = {0};
    run(&r, multipart_msg);
    assert_string_equal(sbuf_str(&r.log),
                        "P:From: a@example.jp|P:MIME-Version: 1.0|"
                        "P:Content-Type: multipart/mixed;\n\tboundary=\"=-=b1\"|E|"
                        "B:preamble|B:--=-=b1|M:Content-Type: text/plain|B:|B:hello spam|"
                        "B:--=-=b1|M:Content-Type: application/octet-stream; name=\"virus.scr\"|"
                        "M:Content-Disposition: attachment;\n filename=\"virus.scr\"|"
                        "M:Content-Transfer-Encoding: base64|B:|B:QUJD|B:--=-=b1--|"
                        "B:epilogue|");
    assert_int_equal(r.errors, 0);
    rec_free(&r);
}

static void test_every_byte_once(void **state)
{
    (void) state;
    static const char *const inputs[] = {
        multipart_msg,
        "Subject: x\n\nbody\nno final newline",
        "A: 1\n\n--x\nnot a boundary\n",
        "Content-Type: message/rfc822\n\nFrom: inner\n\ninner body\n",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        static const size_t chunks[] = {0, 27, 28, 31, 40, 64};
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
            struct rec r = {0};
            run_opts(&r, ALL_REPORTS, 102400, 100, 2048, inputs[i], chunks[c]);
            assert_int_equal(r.out.len, strlen(inputs[i]));
            assert_memory_equal(r.out.s, inputs[i], r.out.len);
            rec_free(&r);
        }
    }
}

static void test_pieces_same_structure(void **state)
{
    (void) state;
    /* Cut into 3-byte pieces, the headers and boundaries are the same. */
    struct rec whole = {0}, cut = {0};
    run_opts(&whole, ALL_REPORTS, 102400, 100, 2048, multipart_msg, 0);
    run_opts(&cut, ALL_REPORTS, 102400, 100, 2048, multipart_msg, 40);
    assert_string_equal(sbuf_str(&whole.log), sbuf_str(&cut.log));
    rec_free(&whole);
    rec_free(&cut);
    /* A body line cut in pieces comes out as pieces, and a boundary is
     * only recognized at the start of a line. */
    struct mime_limits lim = {102400, 100, 2048};
    sbuf_init(&cut.log);
    sbuf_init(&cut.out);
    mime_state *ms = mime_state_create(ALL_REPORTS, &lim, &callbacks, &cut);
    mime_state_update(ms, "Content-Type: multipart/mixed; boundary=q\n", 42);
    mime_state_update(ms, "\n", 1);
    mime_state_update(ms, "--q\n", 4);
    mime_state_update(ms, "X: 1\n", 5);
    mime_state_update(ms, "\n", 1);
    mime_state_update(ms, "ab", 2);
    mime_state_update(ms, "--q\n", 4);
    mime_state_update(ms, "--q", 3);
    mime_state_update(ms, "--\n", 3);
    mime_state_end(ms);
    mime_state_free(ms);
    assert_string_equal(sbuf_str(&cut.log),
                        "P:Content-Type: multipart/mixed; boundary=q|E|B:--q|M:X: 1|B:|"
                        "B:ab|B:--q|B:--q|B:--|");
    rec_free(&cut);
}

static void test_nested_message(void **state)
{
    (void) state;
    struct rec r = {0};
    run(&r, "Content-Type: multipart/mixed; boundary=outer\n"
            "\n"
            "--outer\n"
            "Content-Type: message/rfc822\n"
            "\n"
            "From: inner@example.jp\n"
            "Subject: inner\n"
            "Content-Type: multipart/alternative; boundary=\"inner\"\n"
            "\n"
            "--inner\n"
            "Content-Type: text/html\n"
            "\n"
            "<p>x</p>\n"
            "--outer--\n"
            "after\n");
    assert_string_equal(sbuf_str(&r.log),
                        "P:Content-Type: multipart/mixed; boundary=outer|E|"
                        "B:--outer|M:Content-Type: message/rfc822|B:|"
                        "N:From: inner@example.jp|N:Subject: inner|"
                        "N:Content-Type: multipart/alternative; boundary=\"inner\"|B:|"
                        "B:--inner|M:Content-Type: text/html|B:|B:<p>x</p>|"
                        "B:--outer--|B:after|");
    rec_free(&r);
}

static void test_digest_default(void **state)
{
    (void) state;
    struct rec r = {0};
    run(&r, "Content-Type: multipart/digest; boundary=d\n"
            "\n"
            "--d\n"
            "\n"
            "Subject: digest item\n"
            "\n"
            "text\n"
            "--d\n"
            "Content-Type: text/plain\n"
            "\n"
            "Subject: plain\n"
            "--d--\n");
    assert_string_equal(sbuf_str(&r.log),
                        "P:Content-Type: multipart/digest; boundary=d|E|B:--d|B:|"
                        "N:Subject: digest item|B:|B:text|B:--d|M:Content-Type: text/plain|B:|"
                        "B:Subject: plain|B:--d--|");
    rec_free(&r);
}

static void test_part_without_empty_line(void **state)
{
    (void) state;
    struct rec r = {0};
    run(&r, "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n"
            "--b\nX-A: 1\nbody without separator\n--b--\n");
    assert_string_equal(sbuf_str(&r.log),
                        "P:Content-Type: multipart/mixed; boundary=b|E|B:--b|"
                        "M:Content-Type: text/plain|B:--b|M:X-A: 1|B:body without separator|"
                        "B:--b--|");
    rec_free(&r);
}

static void test_nesting_limit(void **state)
{
    (void) state;
    const char *msg = "Content-Type: multipart/mixed; boundary=a\n\n"
                      "--a\nContent-Type: multipart/mixed; boundary=b\n\n"
                      "--b\nContent-Type: multipart/mixed; boundary=c\n\n"
                      "--c\nX: deep\n\n--c--\n--b--\n--a--\n";
    struct rec r = {0};
    run_opts(&r, ALL_REPORTS, 102400, 2, 2048, msg, 0);
    assert_int_equal(r.errors, MIME_ERR_NESTING);
    /* Level 3 is not followed: "--c" and "X: deep" are body lines. */
    assert_non_null(strstr(sbuf_str(&r.log), "!1|B:|B:--c|B:X: deep|B:|B:--c--|B:--b--|B:--a--|"));
    rec_free(&r);
    run_opts(&r, ALL_REPORTS, 102400, 3, 2048, msg, 0);
    assert_int_equal(r.errors, 0);
    assert_non_null(strstr(sbuf_str(&r.log), "M:X: deep|"));
    rec_free(&r);
    /* Without the report option the limit still applies, silently. */
    run_opts(&r, 0, 102400, 2, 2048, msg, 0);
    assert_int_equal(r.errors, 0);
    assert_null(strstr(sbuf_str(&r.log), "M:X: deep|"));
    rec_free(&r);
    /* A deep chain of attached messages. */
    sbuf deep = SBUF_INIT;
    for (int i = 0; i < 200; i++)
        sbuf_adds(&deep, "Content-Type: message/rfc822\n\n");
    sbuf_adds(&deep, "end\n");
    run_opts(&r, ALL_REPORTS, 102400, 100, 2048, sbuf_str(&deep), 0);
    assert_int_equal(r.errors, MIME_ERR_NESTING);
    rec_free(&r);
    sbuf_free(&deep);
}

static void test_boundary_limit(void **state)
{
    (void) state;
    struct rec r = {0};
    /* Boundaries compared on their first 4 bytes. */
    run_opts(&r, ALL_REPORTS, 102400, 100, 4,
             "Content-Type: multipart/mixed; boundary=abcdefgh\n\n--abcdXYZ\nX: 1\n\n"
             "--abcdefgh--\n", 0);
    assert_string_equal(sbuf_str(&r.log),
                        "P:Content-Type: multipart/mixed; boundary=abcdefgh|E|B:--abcdXYZ|"
                        "M:X: 1|B:|B:--abcdefgh--|");
    rec_free(&r);
}

static void test_header_size_limit(void **state)
{
    (void) state;
    struct rec r = {0};
    run_opts(&r, ALL_REPORTS, 16, 100, 2048,
             "Subject: 0123456789abcdef\n continued\nTo: x\n\nbody\n", 0);
    assert_string_equal(sbuf_str(&r.log), "!2|P:Subject: 012345|P:To: x|E|B:body|");
    assert_int_equal(r.errors, MIME_ERR_TRUNC_HEADER);
    rec_free(&r);
    /* Not reported without the option, still cut. */
    run_opts(&r, 0, 16, 100, 2048, "Subject: 0123456789abcdef\n\n", 0);
    assert_string_equal(sbuf_str(&r.log), "P:Subject: 012345|E|");
    rec_free(&r);
}

static void test_encoding_domain(void **state)
{
    (void) state;
    struct rec r = {0};
    const char *msg = "Content-Type: multipart/mixed; boundary=b\n"
                      "Content-Transfer-Encoding: base64\n\n--b\nX: 1\n\n--b--\n";
    run(&r, msg);
    assert_int_equal(r.errors, MIME_ERR_ENCODING_DOMAIN);
    assert_non_null(strstr(sbuf_str(&r.log), "B:--b|B:X: 1|"));     /* not parsed inside */
    rec_free(&r);
    run_opts(&r, 0, 102400, 100, 2048, msg, 0);
    assert_int_equal(r.errors, 0);
    rec_free(&r);
    /* An identity encoding is fine. */
    run(&r, "Content-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\nFrom: x\n\n");
    assert_int_equal(r.errors, 0);
    assert_non_null(strstr(sbuf_str(&r.log), "N:From: x|"));
    rec_free(&r);
}

static void test_8bit(void **state)
{
    (void) state;
    struct rec r = {0};
    run(&r, "Subject: caf\xc3\xa9\n\nplain\n");
    assert_int_equal(r.errors, MIME_ERR_8BIT_IN_HEADER);
    rec_free(&r);
    run(&r, "Subject: x\n\ncaf\xc3\xa9\n");
    assert_int_equal(r.errors, MIME_ERR_8BIT_IN_7BIT_BODY);
    rec_free(&r);
    run(&r, "Subject: x\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n");
    assert_int_equal(r.errors, 0);
    rec_free(&r);
    run_opts(&r, MIME_OPT_REPORT_NESTING, 102400, 100, 2048, "Subject: \xff\n\n\xff\n", 0);
    assert_int_equal(r.errors, 0);
    rec_free(&r);
    const char *text = mime_state_error_text(MIME_ERR_8BIT_IN_7BIT_BODY);
    assert_string_equal(text, "improper use of 8-bit data in message body");
    assert_string_equal(mime_state_error_text(MIME_ERR_NESTING | MIME_ERR_8BIT_IN_HEADER),
                        "MIME nesting exceeds safety limit");
    assert_string_equal(mime_state_error_dsn(MIME_ERR_NESTING), "5.6.0");
}

static void test_disable_mime(void **state)
{
    (void) state;
    struct rec r = {0};
    run_opts(&r, MIME_OPT_DISABLE_MIME | ALL_REPORTS, 102400, 100, 2048, multipart_msg, 0);
    const char *log = sbuf_str(&r.log);
    assert_non_null(strstr(log, "E|B:preamble|B:--=-=b1|B:Content-Type: text/plain|"));
    assert_null(strstr(log, "M:"));
    assert_int_equal(r.errors, 0);
    rec_free(&r);
}

static void test_offsets(void **state)
{
    (void) state;
    struct rec r = {0};
    r.show_offsets = true;
    run(&r, "Content-Type: multipart/mixed; boundary=b\n\npre\n--b\nX: 1\n\nabc\ndefg\n"
            "--b--\nepi\n");
    assert_string_equal(sbuf_str(&r.log),
                        "P:Content-Type: multipart/mixed; boundary=b|E|B@0:pre|B@0:--b|"
                        "M:X: 1|B@0:|B@0:abc|B@4:defg|B@0:--b--|B@6:epi|");
    rec_free(&r);
}

static void test_content_type_syntax(void **state)
{
    (void) state;
    struct rec r = {0};
    /* Comments, folding and case; an unquoted boundary with '='. */
    run(&r, "content-TYPE: (c) Multipart (x) / Mixed ; (y)\n charset=x;"
            " BOUNDARY = ----=_Part_1 (tail)\n\n------=_Part_1\nX: 1\n");
    assert_non_null(strstr(sbuf_str(&r.log), "B:------=_Part_1|M:X: 1|"));
    rec_free(&r);
    /* Quoted boundary with an escaped quote; junk before a parameter. */
    run(&r, "Content-Type: multipart/mixed junk; boundary=\"a\\\"b\"\n\n--a\"b\nX: 1\n");
    assert_non_null(strstr(sbuf_str(&r.log), "B:--a\"b|M:X: 1|"));
    rec_free(&r);
    /* Multipart without a boundary, missing subtype, empty value: body. */
    static const char *const bad[] = {
        "Content-Type: multipart/mixed\n\n--\nX: 1\n",
        "Content-Type: multipart\n\n--\nX: 1\n",
        "Content-Type: multipart/mixed; boundary=\"\"\n\n--\nX: 1\n",
        "Content-Type: multipart/mixed; boundary\n\n--\nX: 1\n",
        "Content-Type: ((((\n\n--\nX: 1\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        run(&r, bad[i]);
        assert_null(strstr(sbuf_str(&r.log), "M:"));
        rec_free(&r);
    }
}

static void test_is_mime_header(void **state)
{
    (void) state;
    const char *yes[] = {"Content-Type: text/plain\n", "mime-version:1.0", "Content-ID : <x>",
                         "CONTENT-DISPOSITION: attachment", "Content-Description: d",
                         "Content-Transfer-Encoding: 7bit"};
    const char *no[] = {"Subject: x", "Content-Length: 3", "Content-Typo: x", "From x", "",
                        ": empty", "Content-Type"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(mime_header_is_mime(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(mime_header_is_mime(no[i], strlen(no[i])));
}

static void test_junk(void **state)
{
    (void) state;
    struct rec r = {0};
    static const char junk[] = "A: \0b\n\n--\n\0\0\n--\n";
    struct mime_limits lim = {100, 5, 10};
    sbuf_init(&r.log);
    sbuf_init(&r.out);
    mime_state *ms = mime_state_create(ALL_REPORTS, &lim, &callbacks, &r);
    for (const char *p = junk, *end = junk + sizeof(junk) - 1; p < end;) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t n = nl ? (size_t) (nl - p) + 1 : (size_t) (end - p);
        mime_state_update(ms, p, n);
        p += n;
    }
    mime_state_update(ms, "", 0);
    mime_state_end(ms);
    mime_state_update(ms, "ignored\n", 8);      /* after the end: nothing */
    assert_int_equal(r.out.len, sizeof(junk) - 1);
    assert_int_equal(mime_state_depth(ms), 0);
    mime_state_free(ms);
    mime_state_free(0);
    rec_free(&r);
    /* Silly limits are raised to the minimum. */
    struct mime_limits zero = {0, 0, 0};
    sbuf_init(&r.log);
    sbuf_init(&r.out);
    ms = mime_state_create(0, &zero, &callbacks, &r);
    feed(ms, "Subject: x\nContent-Type: multipart/mixed; boundary=z\n\n--z\nA: b\n", 0);
    mime_state_free(ms);
    assert_non_null(strstr(sbuf_str(&r.log), "P:S|"));
    rec_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_message),
        cmocka_unit_test(test_non_header_ends_block),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_every_byte_once),
        cmocka_unit_test(test_pieces_same_structure),
        cmocka_unit_test(test_nested_message),
        cmocka_unit_test(test_digest_default),
        cmocka_unit_test(test_part_without_empty_line),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_boundary_limit),
        cmocka_unit_test(test_header_size_limit),
        cmocka_unit_test(test_encoding_domain),
        cmocka_unit_test(test_8bit),
        cmocka_unit_test(test_disable_mime),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_content_type_syntax),
        cmocka_unit_test(test_is_mime_header),
        cmocka_unit_test(test_junk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
