/*
 * test_smtp_source.c - smtp-source's parsers and builders: the command
 * line (src/smtp-source/source_opts.c), message content
 * (source_content.c), reply lines (source_reply.c) and latency
 * percentiles (source_stats.c). The engine is tested end to end by
 * tests/system/test_smtp_tools.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp-source/source_content.c"
#include "smtp-source/source_opts.c"
#include "smtp-source/source_reply.c"
#include "smtp-source/source_stats.c"

/* ---- helpers ---- */

static int parse(source_opts *o, sbuf *why, ...)
{
    char   *argv[80];
    int     argc = 0;
    va_list ap;
    argv[argc++] = "smtp-source";
    va_start(ap, why);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 79;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    source_opts_init(o);
    sbuf_reset(why);
    int rc = source_opts_parse(o, argc, argv, why);
    if (rc < 0)
        print_message("parse: %s\n", sbuf_str(why));
    return rc;
}

#define PARSE(o, why, ...) parse(o, why, __VA_ARGS__, (char *) NULL)

static void expect_error(const char *want, ...)
{
    char   *argv[80];
    int     argc = 0;
    va_list ap;
    source_opts o;
    sbuf    why = SBUF_INIT;
    argv[argc++] = "smtp-source";
    va_start(ap, want);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 79;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    source_opts_init(&o);
    assert_int_equal(source_opts_parse(&o, argc, argv, &why), -1);
    if (!strstr(sbuf_str(&why), want))
        fail_msg("error \"%s\" does not mention \"%s\"", sbuf_str(&why), want);
    sbuf_free(&why);
}

#define EXPECT_ERROR(want, ...) expect_error(want, __VA_ARGS__, (char *) NULL)

/* ---- options ---- */

static void test_opts_defaults(void **state)
{
    source_opts o;
    sbuf    why = SBUF_INIT;
    assert_int_equal(PARSE(&o, &why, "127.0.0.1"), 0);
    assert_int_equal(o.messages, 1);
    assert_int_equal(o.sessions, 1);
    assert_int_equal(o.rcpts, 1);
    assert_int_equal(o.length, -1);
    assert_int_equal(o.connect_tries, 1);
    assert_int_equal(o.timeout_ms, 300000);
    assert_null(o.from);
    assert_int_equal(o.target.kind, SOCK_EP_INET);
    assert_string_equal(o.target.host, "127.0.0.1");
    assert_string_equal(o.target.port, "25");
    assert_int_equal(o.help, 0);
    assert_int_equal(PARSE(&o, &why, "--help"), 0);     /* no operand needed */
    assert_int_equal(o.help, 1);
    sbuf_free(&why);
}

static void test_opts_all(void **state)
{
    source_opts o;
    sbuf    why = SBUF_INIT;
    assert_int_equal(PARSE(&o, &why, "-4", "-A", "-c", "-C", "3", "-d", "-f", "a@example.jp",
                           "-l", "64k", "-L", "-m", "2k", "-M", "client.example.jp", "-N", "-P",
                           "-r", "50", "-R", "0.5", "-s", "200", "-S", "hello world", "-t",
                           "b@example.jp", "-T", "65535", "-v", "-v", "-w", "1.25",
                           "--latency", "--summary", "--timeout", "30", "--bind", "127.0.0.2",
                           "inet:127.0.0.1:2525"), 0);
    assert_string_equal(sbuf_str(&why), "");
    assert_int_equal(o.family, AF_INET);
    assert_true(o.keep_going && o.counter && o.reuse && o.lmtp && o.numbered);
    assert_true(o.pipelining && o.latency && o.summary);
    assert_int_equal(o.connect_tries, 3);
    assert_string_equal(o.from, "a@example.jp");
    assert_string_equal(o.to, "b@example.jp");
    assert_int_equal(o.length, 65536);
    assert_int_equal(o.messages, 2048);
    assert_string_equal(o.myhostname, "client.example.jp");
    assert_int_equal(o.rcpts, 50);
    assert_int_equal(o.random_wait_ms, 500);
    assert_int_equal(o.sessions, 200);
    assert_string_equal(o.subject, "hello world");
    assert_int_equal(o.window, 65535);
    assert_int_equal(o.verbose, 2);
    assert_int_equal(o.wait_ms, 1250);
    assert_int_equal(o.timeout_ms, 30000);
    assert_string_equal(o.bind, "127.0.0.2");
    assert_string_equal(o.target.port, "2525");
    sbuf_free(&why);
}

static void test_opts_targets(void **state)
{
    source_opts o;
    sbuf    why = SBUF_INIT;
    assert_int_equal(PARSE(&o, &why, "unix:/tmp/lmtp.sock"), 0);
    assert_int_equal(o.target.kind, SOCK_EP_UNIX);
    assert_string_equal(o.target.path, "/tmp/lmtp.sock");
    assert_int_equal(PARSE(&o, &why, "[::1]:2525"), 0);
    assert_string_equal(o.target.host, "::1");
    assert_string_equal(o.target.port, "2525");
    assert_int_equal(PARSE(&o, &why, "-6", "::1"), 0);
    assert_int_equal(o.family, AF_INET6);
    assert_string_equal(o.target.port, "25");
    sbuf_free(&why);
}

static void test_opts_errors(void **state)
{
    EXPECT_ERROR("missing server address", "-m", "5");
    EXPECT_ERROR("too many arguments", "127.0.0.1", "127.0.0.2");
    EXPECT_ERROR("-m: bad number", "-m", "0", "127.0.0.1");
    EXPECT_ERROR("-m: bad number", "-m", "ten", "127.0.0.1");
    EXPECT_ERROR("-m: bad number", "-m", "-5", "127.0.0.1");
    EXPECT_ERROR("-s: bad number", "-s", "0", "127.0.0.1");
    EXPECT_ERROR("-s: bad number", "-s", "99999999999999999999", "127.0.0.1");
    EXPECT_ERROR("-r: bad number", "-r", "", "127.0.0.1");
    EXPECT_ERROR("-l: bad length", "-l", "12q", "127.0.0.1");
    EXPECT_ERROR("-l: bad length", "-l", "-1", "127.0.0.1");
    EXPECT_ERROR("-w: bad interval", "-w", "soon", "127.0.0.1");
    EXPECT_ERROR("--timeout: bad time", "--timeout", "0", "127.0.0.1");
    EXPECT_ERROR("-f: bad address", "-f", "a b@example.jp", "127.0.0.1");
    EXPECT_ERROR("-t: bad address", "-t", "<x@example.jp>", "127.0.0.1");
    EXPECT_ERROR("-M: bad host name", "-M", "", "127.0.0.1");
    EXPECT_ERROR("-S: bad subject", "-S", "a\r\nBcc: x", "127.0.0.1");
    EXPECT_ERROR("cannot be combined", "-F", "/dev/null", "-l", "10", "127.0.0.1");
    EXPECT_ERROR("unknown option: -x", "-x", "127.0.0.1");
    EXPECT_ERROR("missing argument", "-m");
    EXPECT_ERROR("bad endpoint", "unix:");
    EXPECT_ERROR("bad endpoint", "127.0.0.1:99999");
    EXPECT_ERROR("no host", ":25");
}

static void test_parse_count(void **state)
{
    long long v;
    assert_int_equal(source_parse_count("1k", 1LL << 40, 1, &v), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(source_parse_count("1M", 1LL << 40, 1, &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(source_parse_count("1k", 1LL << 40, 0, &v), -1);
    assert_int_equal(source_parse_count("1kk", 1LL << 40, 1, &v), -1);
    assert_int_equal(source_parse_count("2000", 1999, 0, &v), -1);
    assert_int_equal(source_parse_count("9223372036854775807", 1LL << 40, 0, &v), -1);
    assert_int_equal(source_parse_count("99999999999999999999", 1LL << 40, 0, &v), -1);
    assert_int_equal(source_parse_count("", 10, 0, &v), -1);
    assert_int_equal(source_parse_count("+3", 10, 0, &v), -1);
    int     ms;
    assert_int_equal(source_parse_seconds("0.001", &ms), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(source_parse_seconds("nan", &ms), -1);
    assert_int_equal(source_parse_seconds("1e9", &ms), -1);
}

/* ---- content ---- */

static void check_payload(long long length)
{
    sbuf    b = SBUF_INIT;
    source_payload(&b, length);
    long long want = length == 1 ? 2 : length;
    assert_int_equal((long long) b.len, want);
    size_t  start = 0;
    for (size_t i = 0; i < b.len; i++) {
        if (b.s[i] == '\n') {
            assert_true(i > 0 && b.s[i - 1] == '\r');
            assert_true(i - start + 1 <= 80);
            start = i + 1;
        } else if (b.s[i] == '\r') {
            assert_true(i + 1 < b.len && b.s[i + 1] == '\n');
        } else {
            assert_true(b.s[i] > ' ' && b.s[i] < 0x7f);
        }
        if (i == start)
            assert_true(b.s[i] != '.');
    }
    assert_int_equal(start, b.len);     /* ends with CRLF (or is empty) */
    sbuf_free(&b);
}

static void test_payload_lengths(void **state)
{
    long long lens[] = { 0, 1, 2, 3, 79, 80, 81, 82, 160, 1000, 1024, 65536, 1048576 };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        check_payload(lens[i]);
    sbuf    b = SBUF_INIT;
    source_payload(&b, -1);
    assert_true(b.len > 2 && b.s[b.len - 1] == '\n');
    sbuf_free(&b);
}

static void test_file_content(void **state)
{
    sbuf    b = SBUF_INIT;
    const char in[] = "Subject: x\n\n.dot\n..two\nmid.dot\r\n.\nlast";
    source_file_content(&b, in, sizeof(in) - 1);
    assert_string_equal(sbuf_str(&b),
                        "Subject: x\r\n\r\n..dot\r\n...two\r\nmid.dot\r\n..\r\nlast\r\n");
    sbuf_reset(&b);
    source_file_content(&b, "", 0);
    assert_int_equal(b.len, 0);
    sbuf_reset(&b);
    source_file_content(&b, "a\0b\n", 4);       /* NULs pass through */
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.s, "a\0b\r\n", 5);
    sbuf_free(&b);
}

static void test_headers(void **state)
{
    sbuf    b = SBUF_INIT;
    source_headers(&b, "a@example.jp", "b@example.jp", "Hi", "client.example.jp", 7,
                   1600000000, 123);
    const char *s = sbuf_str(&b);
    assert_non_null(strstr(s, "From: <a@example.jp>\r\n"));
    assert_non_null(strstr(s, "To: <b@example.jp>\r\n"));
    assert_non_null(strstr(s, "\r\nDate: "));
    assert_non_null(strstr(s, "2020"));
    assert_non_null(strstr(s, "Message-Id: <7.123.1600000000@client.example.jp>\r\n"));
    assert_non_null(strstr(s, "Subject: Hi\r\n"));
    assert_true(b.len > 4 && strcmp(s + b.len - 4, "\r\n\r\n") == 0);
    sbuf_reset(&b);
    source_headers(&b, "a@x", "b@x", NULL, "h", 1, 1600000000, 1);
    assert_null(strstr(sbuf_str(&b), "Subject"));
    sbuf_free(&b);
}

static void test_recipient(void **state)
{
    sbuf    b = SBUF_INIT;
    source_recipient(&b, "foo@example.jp", 12, 1);
    assert_string_equal(sbuf_str(&b), "12foo@example.jp");
    sbuf_reset(&b);
    source_recipient(&b, "foo@example.jp", 12, 0);
    assert_string_equal(sbuf_str(&b), "foo@example.jp");
    sbuf_free(&b);
}

/* ---- replies ---- */

static int feed(source_reply *r, const char *line)
{
    return source_reply_line(r, line, strlen(line));
}

static void test_reply_lines(void **state)
{
    source_reply r;
    source_reply_reset(&r);
    assert_int_equal(feed(&r, "220 mail.example.jp ESMTP"), 1);
    assert_int_equal(r.code, 220);
    source_reply_reset(&r);
    assert_int_equal(feed(&r, "250"), 1);
    assert_int_equal(r.code, 250);
    source_reply_reset(&r);
    assert_int_equal(feed(&r, "250-mail.example.jp"), 0);
    assert_int_equal(feed(&r, "250-PIPELINING"), 0);
    assert_int_equal(feed(&r, "250-SIZE 10240000"), 0);
    assert_int_equal(feed(&r, "250 8BITMIME"), 1);
    assert_int_equal(r.code, 250);
    assert_int_equal(r.lines, 4);
    assert_true(r.pipelining);
    source_reply_reset(&r);
    assert_int_equal(feed(&r, "250-x"), 0);
    assert_int_equal(feed(&r, "250-PIPELININGX"), 0);
    assert_int_equal(feed(&r, "250 pipelining "), 1);
    assert_true(r.pipelining);              /* case-insensitive, trailing space */
    source_reply_reset(&r);
    assert_int_equal(feed(&r, "250-x"), 0);
    assert_int_equal(feed(&r, "250 PIPELININGX"), 1);
    assert_false(r.pipelining);
}

static void test_reply_bad(void **state)
{
    source_reply r;
    const char *bad[] = { "", "25", "2500 x", "abc", "250x", "650 no", "099 no", "25a x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        source_reply_reset(&r);
        assert_int_equal(feed(&r, bad[i]), -1);
    }
    source_reply_reset(&r);
    assert_int_equal(feed(&r, "250-one"), 0);
    assert_int_equal(feed(&r, "550 two"), -1);   /* code changed mid-reply */
}

/* ---- latency ---- */

static void test_stats(void **state)
{
    source_stats s;
    source_stats_init(&s);
    assert_int_equal(source_stats_percentile(&s, 50), 0);
    for (int i = 100; i >= 1; i--)
        source_stats_add(&s, i);
    assert_int_equal(source_stats_percentile(&s, 0), 1);
    assert_int_equal(source_stats_percentile(&s, 50), 50);
    assert_int_equal(source_stats_percentile(&s, 99), 99);
    assert_int_equal(source_stats_percentile(&s, 99.5), 100);
    assert_int_equal(source_stats_percentile(&s, 100), 100);
    source_stats_add(&s, -5);               /* clamps to 0 */
    assert_int_equal(source_stats_percentile(&s, 0), 0);
    source_stats_add(&s, (int64_t) 1 << 40);    /* saturates */
    assert_int_equal(source_stats_percentile(&s, 100), UINT32_MAX);
    source_stats_free(&s);
    source_stats_init(&s);
    source_stats_add(&s, 42);
    assert_int_equal(source_stats_percentile(&s, 50), 42);
    assert_int_equal(source_stats_percentile(&s, 99), 42);
    source_stats_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_defaults),
        cmocka_unit_test(test_opts_all),
        cmocka_unit_test(test_opts_targets),
        cmocka_unit_test(test_opts_errors),
        cmocka_unit_test(test_parse_count),
        cmocka_unit_test(test_payload_lengths),
        cmocka_unit_test(test_file_content),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_recipient),
        cmocka_unit_test(test_reply_lines),
        cmocka_unit_test(test_reply_bad),
        cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
