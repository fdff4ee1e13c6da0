/*
 * test_smtpd_dot.c - the DATA reader state machine (src/smtpd/smtpd_dot.c):
 * end of data, dot-unstuffing, long lines and the SMTP smuggling defence
 * for each smtpd_forbid_bare_newline mode.
 *
 * Input goes through a real vstream over a pipe, read with
 * vstream_get_line_ref() exactly as smtpd_data.c does, so the line
 * endings the state machine sees are the ones the daemon would see; every
 * case is read with several buffer sizes (lines across buffer refills,
 * lines longer than the buffer, a buffer that grows between two lines)
 * and with the copying vstream_get_line(), and all must agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/sbuf.h"
#include "util/vstream.h"

#include "smtpd/smtpd_dot.c"

struct result {
    sbuf content;           /* what would go to cleanup */
    sbuf rest;              /* what follows the end of data (next commands) */
    bool ended;
    bool bare_lf;
};

/* How the lines are read: copied (vstream_get_line) or in place
 * (vstream_get_line_ref, as smtpd_data.c does), with a buffer size. */
struct reader {
    bool    in_place;
    size_t  bufsize;
    size_t  grow_after;         /* content bytes after which the buffer grows to
                                 * 64 KiB between two lines, as smtpd_data.c does
                                 * (0: never) */
};

/* Feed input (after a DATA command that ended with cmd_end) to the reader. */
static void run_with(const char *input, size_t len, int mode, int cmd_end, size_t max,
                     struct reader rd, struct result *r)
{
    int fds[2];
    struct smtpd_dot d;
    sbuf line = SBUF_INIT;

    sbuf_init(&r->content);
    sbuf_init(&r->rest);
    r->ended = false;
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], input, len), (ssize_t) len);
    close(fds[1]);
    vstream *s = vstream_open(fds[0]);
    vstream_set_timeout(s, 2000);
    vstream_set_bufsize(s, rd.bufsize, 0);

    smtpd_dot_init(&d, mode, cmd_end);
    for (;;) {
        const char *text;
        size_t n;
        int how;
        if (rd.in_place) {
            how = vstream_get_line_ref(s, &line, max, &text, &n);
        } else {
            how = vstream_get_line(s, &line, max);
            text = line.s ? line.s : "";
            n = line.len;
        }
        if (how == VSTREAM_LINE_ERR || how == VSTREAM_LINE_EOF)
            break;
        size_t skip;
        int kind = smtpd_dot_line(&d, text, n, how, &skip);
        if (kind == SMTPD_DOT_END) {
            r->ended = true;
            break;
        }
        if (kind == SMTPD_DOT_DROP)
            continue;
        sbuf_add(&r->content, text + skip, n - skip);
        if (kind == SMTPD_DOT_CONTENT)
            sbuf_addc(&r->content, '\n');
        if (rd.grow_after && r->content.len > rd.grow_after && vstream_bufsize(s) < 65536)
            vstream_set_bufsize(s, 65536, 0);
    }
    if (r->ended) {
        char buf[512];
        ssize_t k;
        while ((k = vstream_read_some(s, buf, sizeof(buf))) > 0)
            sbuf_add(&r->rest, buf, (size_t) k);
    }
    r->bare_lf = smtpd_dot_bare_lf(&d);
    vstream_close(s);
    sbuf_free(&line);
}

static void done(struct result *r);

/* Every reader gives the same result; r receives it. The smallest buffer
 * puts buffer boundaries everywhere and spills lines longer than it. */
static void run(const char *input, size_t len, int mode, int cmd_end, size_t max,
                struct result *r)
{
    static const struct reader readers[] = {
        {true, VSTREAM_BUFSIZE_MIN, 0}, {true, 100, 0}, {true, 65536, 0},
        {true, VSTREAM_BUFSIZE_MIN, 1}, {true, 100, 70},
        {false, VSTREAM_BUFSIZE, 0},
    };
    struct result ref;
    run_with(input, len, mode, cmd_end, max, readers[sizeof(readers) / sizeof(readers[0]) - 1],
             &ref);
    for (size_t i = 0; i + 1 < sizeof(readers) / sizeof(readers[0]); i++) {
        run_with(input, len, mode, cmd_end, max, readers[i], r);
        if (r->ended != ref.ended || r->bare_lf != ref.bare_lf
            || r->content.len != ref.content.len || r->rest.len != ref.rest.len
            || (ref.content.len && memcmp(r->content.s, ref.content.s, ref.content.len) != 0)
            || (ref.rest.len && memcmp(r->rest.s, ref.rest.s, ref.rest.len) != 0))
            fail_msg("reader %zu (in place %d, buffer %zu, growing after %zu) differs from "
                     "the copying reader", i, readers[i].in_place, readers[i].bufsize,
                     readers[i].grow_after);
        done(r);
    }
    *r = ref;
}

static void done(struct result *r)
{
    sbuf_free(&r->content);
    sbuf_free(&r->rest);
}

#define RUN(str, mode, r) run(str, sizeof(str) - 1, mode, VSTREAM_LINE_CRLF, 1000, r)

static void test_mode_parse(void **state)
{
    (void) state;
    assert_int_equal(smtpd_dot_mode_parse("normalize"), SMTPD_DOT_NORMALIZE);
    assert_int_equal(smtpd_dot_mode_parse("Yes"), SMTPD_DOT_NORMALIZE);
    assert_int_equal(smtpd_dot_mode_parse("reject"), SMTPD_DOT_REJECT);
    assert_int_equal(smtpd_dot_mode_parse("no"), SMTPD_DOT_LAX);
    assert_int_equal(smtpd_dot_mode_parse("maybe"), -1);
    assert_int_equal(smtpd_dot_mode_parse(""), -1);
}

static void test_plain_message(void **state)
{
    struct result r;
    (void) state;
    RUN("Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n", SMTPD_DOT_NORMALIZE, &r);
    assert_true(r.ended);
    assert_string_equal(sbuf_str(&r.content), "Subject: hi\n\nbody\n");
    assert_string_equal(sbuf_str(&r.rest), "QUIT\r\n");
    assert_false(r.bare_lf);
    done(&r);
}

static void test_empty_message(void **state)
{
    struct result r;
    (void) state;
    RUN(".\r\n", SMTPD_DOT_NORMALIZE, &r);
    assert_true(r.ended);
    assert_int_equal(r.content.len, 0);
    done(&r);
}

static void test_dot_unstuffing(void **state)
{
    struct result r;
    (void) state;
    RUN("..\r\n...x\r\n.y\r\nz.\r\n.\r\n", SMTPD_DOT_NORMALIZE, &r);
    assert_true(r.ended);
    assert_string_equal(sbuf_str(&r.content), ".\n..x\ny\nz.\n");
    done(&r);
}

static void test_no_end_is_not_end(void **state)
{
    struct result r;
    (void) state;
    RUN("a\r\n. \r\n .\r\n.x\r\n", SMTPD_DOT_NORMALIZE, &r);
    assert_false(r.ended);
    assert_string_equal(sbuf_str(&r.content), "a\n \n .\nx\n");
    done(&r);
}

/* The three smuggling end markers never end the data in normalize mode;
 * the smuggled command stays message content. */
static void test_smuggling_lf_dot_lf(void **state)
{
    struct result r;
    (void) state;
    RUN("a\r\n\n.\nMAIL FROM:<evil@x>\r\n.\r\nQUIT\r\n", SMTPD_DOT_NORMALIZE, &r);
    assert_true(r.ended);
    assert_string_equal(sbuf_str(&r.content), "a\n\nMAIL FROM:<evil@x>\n");
    assert_string_equal(sbuf_str(&r.rest), "QUIT\r\n");
    done(&r);
}

static void test_smuggling_lf_dot_crlf(void **state)
{
    struct result r;
    (void) state;
    RUN("a\n.\r\nMAIL FROM:<evil@x>\r\n.\r\n", SMTPD_DOT_NORMALIZE, &r);
    assert_true(r.ended);
    assert_string_equal(sbuf_str(&r.content), "a\nMAIL FROM:<evil@x>\n");
    done(&r);
}

static void test_smuggling_crlf_dot_lf(void **state)
{
    struct result r;
    (void) state;
    RUN("a\r\n.\nMAIL FROM:<evil@x>\r\n.\r\n", SMTPD_DOT_NORMALIZE, &r);
    assert_true(r.ended);
    assert_string_equal(sbuf_str(&r.content), "a\nMAIL FROM:<evil@x>\n");
    done(&r);
}

static void test_smuggling_cr_dot_cr(void **state)
{
    struct result r;
    (void) state;
    RUN("a\r.\rMAIL FROM:<evil@x>\r\n.\r\n", SMTPD_DOT_NORMALIZE, &r);
    assert_true(r.ended);
    assert_string_equal(sbuf_str(&r.content), "a\r.\rMAIL FROM:<evil@x>\n");
    done(&r);
}

/* The DATA command itself ended in a bare LF: ".<CR><LF>" right after
 * it is <LF>.<CR><LF>, not the standard end. */
static void test_data_command_bare_lf(void **state)
{
    struct result r;
    (void) state;
    run(".\r\nx\r\n.\r\n", 9, SMTPD_DOT_NORMALIZE, VSTREAM_LINE_LF, 1000, &r);
    assert_true(r.ended);
    assert_string_equal(sbuf_str(&r.content), "x\n");
    done(&r);
}

/* Bare LF is still a line end in normalize mode (dot-unstuffing too). */
static void test_normalize_bare_lf_lines(void **state)
{
    struct result r;
    (void) state;
    RUN("a\nb\n..c\n.\r\n", SMTPD_DOT_NORMALIZE, &r);
    /* ".\r\n" follows a bare LF: not the end. */
    assert_false(r.ended);
    assert_string_equal(sbuf_str(&r.content), "a\nb\n.c\n");
    assert_true(r.bare_lf);
    done(&r);
    RUN("a\nb\r\n.\r\n", SMTPD_DOT_NORMALIZE, &r);
    assert_true(r.ended);
    assert_string_equal(sbuf_str(&r.content), "a\nb\n");
    done(&r);
}

static void test_reject_mode_flags_bare_lf(void **state)
{
    struct result r;
    (void) state;
    RUN("a\nb\r\n.\r\n", SMTPD_DOT_REJECT, &r);
    assert_true(r.ended);
    assert_true(r.bare_lf);
    done(&r);
    RUN("a\r\nb\r\n.\r\n", SMTPD_DOT_REJECT, &r);
    assert_true(r.ended);
    assert_false(r.bare_lf);
    done(&r);
    RUN("a\r\n.\nb\r\n.\r\n", SMTPD_DOT_REJECT, &r);
    assert_true(r.ended);
    assert_string_equal(sbuf_str(&r.content), "a\nb\n");
    done(&r);
}

/* smtpd_forbid_bare_newline = no: the old behaviour, <LF>.<LF> ends. */
static void test_lax_mode(void **state)
{
    struct result r;
    (void) state;
    RUN("a\n.\nMAIL FROM:<x@y>\r\n", SMTPD_DOT_LAX, &r);
    assert_true(r.ended);
    assert_string_equal(sbuf_str(&r.content), "a\n");
    assert_string_equal(sbuf_str(&r.rest), "MAIL FROM:<x@y>\r\n");
    done(&r);
}

/* Long lines come in chunks; only the first chunk can carry a stuffed
 * dot, and a "." chunk that continues a line is not the end. */
static void test_long_lines(void **state)
{
    struct result r;
    char in[400];
    (void) state;

    /* 100 'x' + "." + CRLF with max 100: chunks "x..x" (LONG) and "." */
    memset(in, 'x', 100);
    memcpy(in + 100, ".\r\n.\r\n", 6);
    run(in, 106, SMTPD_DOT_NORMALIZE, VSTREAM_LINE_CRLF, 100, &r);
    assert_true(r.ended);
    assert_int_equal(r.content.len, 102);
    assert_memory_equal(r.content.s + 100, ".\n", 2);
    done(&r);

    /* ".." + 150 'y': the stuffed dot goes, the rest is kept whole. */
    in[0] = '.';
    in[1] = '.';
    memset(in + 2, 'y', 150);
    memcpy(in + 152, "\r\n.\r\n", 5);
    run(in, 157, SMTPD_DOT_NORMALIZE, VSTREAM_LINE_CRLF, 100, &r);
    assert_true(r.ended);
    assert_int_equal(r.content.len, 152);
    assert_int_equal(r.content.s[0], '.');
    assert_int_equal(r.content.s[1], 'y');
    assert_int_equal(r.content.s[151], '\n');
    done(&r);
}

static void test_eof_before_end(void **state)
{
    struct result r;
    (void) state;
    RUN("a\r\nb", SMTPD_DOT_NORMALIZE, &r);
    assert_false(r.ended);
    done(&r);
}

/* The end of data, a lone dot, a stuffed dot and each smuggling marker
 * at every position relative to the reader's buffer boundaries, with CR
 * LF split by a refill; and long lines around the limit. */
static void test_buffer_boundaries(void **state)
{
    (void) state;
    static const char *const tails[] = {
        "\r\n.\r\nQUIT\r\n",
        "\r\n..x\r\n.\r\n",
        "\r\n\n.\nMAIL FROM:<e@x>\r\n.\r\n",
        "\n.\r\nMAIL FROM:<e@x>\r\n.\r\n",
        "\r\n.\nRCPT TO:<e@x>\r\n.\r\n",
        "\r.\rX\r\n.\r\n",
    };
    char in[400];
    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
        for (size_t pad = 0; pad < 140; pad++) {
            size_t tl = strlen(tails[t]);
            memset(in, 'p', pad);
            for (size_t i = 30; i < pad; i += 31)
                memcpy(in + i - 1, "\r\n", 2);     /* some short lines first */
            memcpy(in + pad, tails[t], tl);
            for (int mode = SMTPD_DOT_LAX; mode <= SMTPD_DOT_REJECT; mode++) {
                struct result r;
                run(in, pad + tl, mode, VSTREAM_LINE_CRLF, 1000, &r);
                assert_true(r.ended);
                done(&r);
                run(in, pad + tl, mode, VSTREAM_LINE_CRLF, 40, &r);    /* long lines */
                done(&r);
            }
        }
    }
}

/* The state machine alone, without a stream. */
static void test_direct_calls(void **state)
{
    struct smtpd_dot d;
    size_t skip = 9;
    (void) state;
    smtpd_dot_init(&d, SMTPD_DOT_NORMALIZE, VSTREAM_LINE_CRLF);
    assert_int_equal(smtpd_dot_line(&d, "..", 2, VSTREAM_LINE_CRLF, &skip), SMTPD_DOT_CONTENT);
    assert_int_equal(skip, 1);
    assert_int_equal(smtpd_dot_line(&d, ".", 1, VSTREAM_LINE_LF, &skip), SMTPD_DOT_DROP);
    assert_int_equal(smtpd_dot_line(&d, ".", 1, VSTREAM_LINE_CRLF, &skip), SMTPD_DOT_DROP);
    assert_int_equal(smtpd_dot_line(&d, ".", 1, VSTREAM_LINE_CRLF, &skip), SMTPD_DOT_END);
    assert_int_equal(skip, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_parse),
        cmocka_unit_test(test_plain_message),
        cmocka_unit_test(test_empty_message),
        cmocka_unit_test(test_dot_unstuffing),
        cmocka_unit_test(test_no_end_is_not_end),
        cmocka_unit_test(test_smuggling_lf_dot_lf),
        cmocka_unit_test(test_smuggling_lf_dot_crlf),
        cmocka_unit_test(test_smuggling_crlf_dot_lf),
        cmocka_unit_test(test_smuggling_cr_dot_cr),
        cmocka_unit_test(test_data_command_bare_lf),
        cmocka_unit_test(test_normalize_bare_lf_lines),
        cmocka_unit_test(test_reject_mode_flags_bare_lf),
        cmocka_unit_test(test_lax_mode),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_eof_before_end),
        cmocka_unit_test(test_direct_calls),
        cmocka_unit_test(test_buffer_boundaries),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
