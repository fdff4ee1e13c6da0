/* test_attr.c - unit tests for util/attr: round trips and malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "util/attr.h"
#include "util/vstream.h"
#include "util/sbuf.h"

struct pair {
    vstream *a, *b;
};

static void pair_open(struct pair *p)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->a = vstream_open(sv[0]);
    p->b = vstream_open(sv[1]);
    vstream_set_timeout(p->a, 2000);
    vstream_set_timeout(p->b, 2000);
}

static void pair_close(struct pair *p)
{
    if (p->a)
        vstream_close(p->a);
    if (p->b)
        vstream_close(p->b);
}

static void test_roundtrip_all_types(void **state)
{
    (void) state;
    struct pair p;
    attr_list out = ATTR_LIST_INIT, in = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    static const char bin[] = { 'a', 0, 'b', 0, 0, (char) 0xff, '\n', 0 };

    pair_open(&p);
    attr_add_str(&out, "request", "resolve");
    attr_add_int(&out, "int_min", INT32_MIN);
    attr_add_int(&out, "int_max", INT32_MAX);
    attr_add_int(&out, "zero", 0);
    attr_add_long(&out, "long_min", INT64_MIN);
    attr_add_long(&out, "long_max", INT64_MAX);
    attr_add_str(&out, "empty", "");
    attr_add_data(&out, "binary", bin, sizeof(bin));
    attr_list *sub = attr_add_list(&out, "nested");
    attr_add_str(sub, "rcpt", "a@example.com");
    attr_add_list(sub, "empty_list");
    attr_add_int(&out, "after", 7);
    assert_int_equal(attr_write(p.a, &out), 0);
    assert_int_equal(attr_read(p.b, &in, 0, &why), ATTR_OK);

    const char *s;
    const char *d;
    size_t len;
    int32_t i;
    int64_t l;
    assert_int_equal(in.n, out.n);
    assert_int_equal(attr_get_str(&in, "request", &s), 0);
    assert_string_equal(s, "resolve");
    assert_int_equal(attr_get_int(&in, "int_min", &i), 0);
    assert_int_equal(i, INT32_MIN);
    assert_int_equal(attr_get_int(&in, "int_max", &i), 0);
    assert_int_equal(i, INT32_MAX);
    assert_int_equal(attr_get_long(&in, "long_min", &l), 0);
    assert_true(l == INT64_MIN);
    assert_int_equal(attr_get_long(&in, "long_max", &l), 0);
    assert_true(l == INT64_MAX);
    assert_int_equal(attr_get_str(&in, "empty", &s), 0);
    assert_string_equal(s, "");
    assert_int_equal(attr_get_data(&in, "binary", &d, &len), 0);
    assert_int_equal(len, sizeof(bin));
    assert_memory_equal(d, bin, sizeof(bin));
    assert_int_equal(attr_get_str(&in, "binary", &s), -1);     /* holds NULs */
    const attr_list *nl = attr_get_list(&in, "nested");
    assert_non_null(nl);
    assert_int_equal(nl->n, 2);
    assert_int_equal(attr_get_str(nl, "rcpt", &s), 0);
    assert_string_equal(s, "a@example.com");
    assert_non_null(attr_get_list(nl, "empty_list"));
    assert_int_equal(attr_get_list(nl, "empty_list")->n, 0);
    assert_int_equal(attr_get_int(&in, "after", &i), 0);
    assert_int_equal(i, 7);

    /* Missing and wrong-type lookups fail cleanly. */
    assert_int_equal(attr_get_int(&in, "nope", &i), -1);
    assert_int_equal(attr_get_int(&in, "request", &i), -1);
    assert_int_equal(attr_get_long(&in, "int_max", &l), -1);
    assert_int_equal(attr_get_str(&in, "zero", &s), -1);
    assert_null(attr_get_list(&in, "request"));

    /* Encoding is deterministic: re-encoding what was read gives the same bytes. */
    sbuf e1 = SBUF_INIT, e2 = SBUF_INIT;
    attr_encode(&e1, &out);
    attr_encode(&e2, &in);
    assert_int_equal(e1.len, e2.len);
    assert_memory_equal(e1.s, e2.s, e1.len);

    /* The peer closing between messages is ATTR_CLOSED, not an error. */
    vstream_close(p.a);
    p.a = 0;
    assert_int_equal(attr_read(p.b, &in, 0, &why), ATTR_CLOSED);
    assert_int_equal(in.n, 0);
    pair_close(&p);
    attr_list_free(&out);
    attr_list_free(&in);
    sbuf_free(&e1);
    sbuf_free(&e2);
    sbuf_free(&why);
}

static void test_print_scan(void **state)
{
    (void) state;
    struct pair p;
    attr_list in = ATTR_LIST_INIT, sub = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    pair_open(&p);
    attr_add_str(&sub, "x", "y");
    assert_int_equal(attr_print(p.a, ATTR_SEND_INT("status", 0),
                                ATTR_SEND_STR("reason", "ok"),
                                ATTR_SEND_LONG("size", 5000000000LL),
                                ATTR_SEND_DATA("blob", "a\0b", 3),
                                ATTR_SEND_LIST("sub", &sub),
                                ATTR_SEND_INT("status", -1),     /* repeated name */
                                ATTR_END), 0);
    /* Two messages back to back on one stream. */
    assert_int_equal(attr_print(p.a, ATTR_SEND_STR("request", "second"), ATTR_END), 0);
    assert_int_equal(attr_read(p.b, &in, 0, &why), ATTR_OK);

    int32_t status = 99;
    const char *reason = 0, *blob = 0;
    size_t bloblen = 0;
    int64_t size = 0;
    const attr_list *l = 0;
    assert_int_equal(attr_scan(&in, &why, ATTR_RECV_INT("status", &status),
                               ATTR_RECV_STR("reason", &reason),
                               ATTR_RECV_LONG("size", &size),
                               ATTR_RECV_DATA("blob", &blob, &bloblen),
                               ATTR_RECV_LIST("sub", &l), ATTR_END), 0);
    assert_int_equal(status, 0);                /* the first of the repeated */
    assert_string_equal(reason, "ok");
    assert_true(size == 5000000000LL);
    assert_int_equal(bloblen, 3);
    assert_memory_equal(blob, "a\0b", 3);
    assert_non_null(l);
    long idx = attr_find(&in, "status", 0);
    assert_int_equal(idx, 0);
    idx = attr_find(&in, "status", (size_t) idx + 1);
    assert_int_equal(idx, 5);
    assert_int_equal(in.a[idx].v.i, -1);
    assert_int_equal(attr_find(&in, "status", (size_t) idx + 1), -1);

    assert_int_equal(attr_scan(&in, &why, ATTR_RECV_INT("status", &status),
                               ATTR_RECV_STR("missing", &reason), ATTR_END), -1);
    assert_string_equal(sbuf_str(&why), "missing attribute \"missing\"");
    assert_int_equal(attr_scan(&in, &why, ATTR_RECV_INT("reason", &status), ATTR_END), -1);
    assert_string_equal(sbuf_str(&why), "attribute \"reason\" has type string, expected int");
    assert_int_equal(attr_scan(&in, &why, ATTR_RECV_STR("blob", &reason), ATTR_END), -1);
    assert_string_equal(sbuf_str(&why), "attribute \"blob\" contains a NUL byte");
    assert_int_equal(attr_scan(&in, 0, ATTR_RECV_LIST("reason", &l), ATTR_END), -1);

    assert_int_equal(attr_read(p.b, &in, 0, &why), ATTR_OK);
    assert_int_equal(attr_scan(&in, &why, ATTR_RECV_STR("request", &reason), ATTR_END), 0);
    assert_string_equal(reason, "second");

    sbuf f = SBUF_INIT;
    attr_list_reset(&in);
    attr_add_int(&in, "status", 4);
    attr_add_data(&in, "reason", "say \"hi\"\n\0", 10);
    attr_list *ln = attr_add_list(&in, "l");
    attr_add_long(ln, "n", -3);
    attr_format(&f, &in);
    assert_string_equal(sbuf_str(&f), "status=4, reason=\"say \\\"hi\\\"\\x0a\\x00\", l={n=-3}");
    sbuf_free(&f);

    pair_close(&p);
    attr_list_free(&in);
    attr_list_free(&sub);
    sbuf_free(&why);
}

static void test_many_attributes(void **state)
{
    (void) state;
    struct pair p;
    attr_list out = ATTR_LIST_INIT, in = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    char name[32];
    pair_open(&p);
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "a%d", i);
        if (i % 2)
            attr_add_int(&out, name, i);
        else
            attr_add_str(&out, name, name);
    }
    /* Bigger than a socket buffer may hold: the writer runs in a child. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(attr_write(p.a, &out) == 0 ? 0 : 1);
    }
    assert_int_equal(attr_read(p.b, &in, 0, &why), ATTR_OK);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(in.n, 2000);
    int32_t v;
    const char *s;
    assert_int_equal(attr_get_int(&in, "a1999", &v), 0);
    assert_int_equal(v, 1999);
    assert_int_equal(attr_get_str(&in, "a1000", &s), 0);
    assert_string_equal(s, "a1000");
    pair_close(&p);
    attr_list_free(&out);
    attr_list_free(&in);
    sbuf_free(&why);
}

/* ---- malformed input ---- */

/* Decode raw bytes from memory and from a stream; both must fail. */
static void expect_bad(const void *buf, size_t len, size_t max, const char *why_part)
{
    attr_list l = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    assert_int_equal(attr_decode(buf, len, &l, max, &why), ATTR_ERROR);
    assert_int_equal(l.n, 0);
    if (why_part && !strstr(sbuf_str(&why), why_part))
        fail_msg("decode: \"%s\" does not mention \"%s\"", sbuf_str(&why), why_part);

    struct pair p;
    pair_open(&p);
    vstream_set_timeout(p.b, 500);
    if (len) {
        assert_int_equal(vstream_write(p.a, buf, len), 0);
        assert_int_equal(vstream_flush(p.a), 0);
    }
    vstream_close(p.a);
    p.a = 0;
    int r = attr_read(p.b, &l, max, &why);
    if (len == 0) {
        assert_int_equal(r, ATTR_CLOSED);
    } else {
        assert_int_equal(r, ATTR_ERROR);
        assert_true(why.len > 0);
    }
    assert_int_equal(l.n, 0);
    pair_close(&p);
    attr_list_free(&l);
    sbuf_free(&why);
}

static void test_truncated(void **state)
{
    (void) state;
    attr_list out = ATTR_LIST_INIT;
    sbuf enc = SBUF_INIT;
    attr_add_str(&out, "request", "x");
    attr_add_int(&out, "i", 1);
    attr_add_long(&out, "l", 2);
    attr_add_list(attr_add_list(&out, "n"), "m");
    attr_encode(&enc, &out);
    /* Every proper prefix is an error (the empty one, on a stream, a clean close). */
    for (size_t n = 0; n < enc.len; n++)
        expect_bad(enc.s, n, 0, 0);
    /* The whole message decodes, and one extra byte is refused. */
    attr_list in = ATTR_LIST_INIT;
    assert_int_equal(attr_decode(enc.s, enc.len, &in, 0, 0), ATTR_OK);
    /* On a stream that byte would be the next (empty) message. */
    sbuf why = SBUF_INIT;
    sbuf_addc(&enc, 0);
    assert_int_equal(attr_decode(enc.s, enc.len, &in, 0, &why), ATTR_ERROR);
    assert_non_null(strstr(sbuf_str(&why), "after the end"));
    sbuf_free(&why);
    attr_list_free(&in);
    attr_list_free(&out);
    sbuf_free(&enc);
}

static void test_malformed(void **state)
{
    (void) state;
    /* bad type */
    expect_bad("X\x01" "a\x00\x00", 5, 0, "unknown attribute type 0x58");
    /* int with the wrong value length */
    expect_bad("I\x01" "a\x03\x00\x00\x01\x00", 8, 0, "has length 3");
    /* long with the wrong value length */
    expect_bad("L\x01" "a\x04\x00\x00\x00\x01\x00", 9, 0, "has length 4");
    /* empty name, name too long, name with a control character or space */
    expect_bad("S\x00\x00\x00", 4, 0, "name length 0");
    expect_bad("S\x80\x02", 3, 0, "name length 256");
    expect_bad("S\x01\x07\x00\x00", 5, 0, "bad attribute name");
    expect_bad("S\x02" "a b\x00\x00", 7, 0, "bad attribute name");
    /* non-canonical and over-long varints */
    expect_bad("S\x81\x00" "a\x00\x00", 6, 0, "non-canonical");
    expect_bad("S\x01" "a\xff\xff\xff\xff\xff\x01", 9, 0, "too long");
    expect_bad("S\x01" "a\xff\xff\xff\xff\x7f", 8, 0, "out of range");
    /* a string length beyond the message limit: refused before allocating */
    expect_bad("S\x01" "a\xff\xff\xff\xff\x0f" "abc", 10, 0, "message too large");
    expect_bad("S\x01" "a\x0a" "0123456789\x00", 15, 8, "message too large");
    /* missing end marker */
    expect_bad("S\x01" "a\x01" "b", 5, 0, 0);
    /* nested list longer or shorter than its contents */
    expect_bad("N\x01" "n\x03" "\x00\x00\x00\x00", 8, 0, "shorter than its length");
    expect_bad("N\x01" "n\x02" "I\x01" "a\x04\x00\x00\x00\x00\x00\x00", 13, 0, "overruns");
    expect_bad("N\x01" "n\x00\x00", 5, 0, "overruns");
    /* garbage */
    expect_bad("\xde\xad\xbe\xef", 4, 0, 0);
    expect_bad("GET / HTTP/1.0\r\n\r\n", 18, 0, 0);
}

static void test_depth_and_count_limits(void **state)
{
    (void) state;
    attr_list out = ATTR_LIST_INIT;
    sbuf enc = SBUF_INIT;
    attr_list *l = &out;
    for (int i = 0; i < ATTR_MAX_DEPTH; i++)
        l = attr_add_list(l, "d");
    attr_encode(&enc, &out);
    attr_list in = ATTR_LIST_INIT;
    assert_int_equal(attr_decode(enc.s, enc.len, &in, 0, 0), ATTR_OK);  /* at the limit */
    attr_add_list(l, "d");
    sbuf_reset(&enc);
    attr_encode(&enc, &out);
    expect_bad(enc.s, enc.len, 0, "nested too deeply");

    attr_list_reset(&out);
    for (int i = 0; i <= ATTR_MAX_COUNT; i++)
        attr_add_int(&out, "i", i);
    sbuf_reset(&enc);
    attr_encode(&enc, &out);
    sbuf why = SBUF_INIT;
    assert_int_equal(attr_decode(enc.s, enc.len, &in, 0, &why), ATTR_ERROR);
    assert_non_null(strstr(sbuf_str(&why), "too many attributes"));
    attr_list_free(&in);
    attr_list_free(&out);
    sbuf_free(&enc);
    sbuf_free(&why);
}

static void test_oversized_stream(void **state)
{
    (void) state;
    /* A 2 MiB string against the default 1 MiB limit: error, no hang. */
    struct pair p;
    attr_list in = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    pair_open(&p);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t n = 2 * 1024 * 1024;
        char *big = calloc(1, n);
        vstream_close(p.b);
        signal(SIGPIPE, SIG_IGN);
        vstream_set_timeout(p.a, 1000);
        attr_print(p.a, ATTR_SEND_DATA("big", big, n), ATTR_END);
        _exit(0);
    }
    assert_int_equal(attr_read(p.b, &in, 0, &why), ATTR_ERROR);
    assert_non_null(strstr(sbuf_str(&why), "message too large"));
    pair_close(&p);
    waitpid(pid, 0, 0);

    /* A raised limit accepts it. */
    pair_open(&p);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t n = 2 * 1024 * 1024;
        char *big = calloc(1, n);
        vstream_close(p.b);
        _exit(attr_print(p.a, ATTR_SEND_DATA("big", big, n), ATTR_END) == 0 ? 0 : 1);
    }
    assert_int_equal(attr_read(p.b, &in, 4 * 1024 * 1024, &why), ATTR_OK);
    const char *d;
    size_t len;
    assert_int_equal(attr_get_data(&in, "big", &d, &len), 0);
    assert_int_equal(len, 2 * 1024 * 1024);
    pair_close(&p);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    attr_list_free(&in);
    sbuf_free(&why);
}

static void test_timeout_mid_message(void **state)
{
    (void) state;
    struct pair p;
    attr_list in = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    pair_open(&p);
    vstream_set_timeout(p.b, 100);
    assert_int_equal(vstream_write(p.a, "S\x01" "a\x05" "ab", 6), 0);
    assert_int_equal(vstream_flush(p.a), 0);
    assert_int_equal(attr_read(p.b, &in, 0, &why), ATTR_ERROR);
    assert_non_null(strstr(sbuf_str(&why), "timeout"));
    assert_int_equal(in.n, 0);
    /* A silent peer before the first byte is a timeout too, not a close. */
    pair_close(&p);
    pair_open(&p);
    vstream_set_timeout(p.b, 100);
    assert_int_equal(attr_read(p.b, &in, 0, &why), ATTR_ERROR);
    assert_non_null(strstr(sbuf_str(&why), "timeout"));
    pair_close(&p);
    attr_list_free(&in);
    sbuf_free(&why);
}

static void test_random_garbage(void **state)
{
    (void) state;
    /* Random bytes and random mutations of a valid message: never a crash. */
    attr_list out = ATTR_LIST_INIT, in = ATTR_LIST_INIT;
    sbuf enc = SBUF_INIT;
    attr_add_str(&out, "request", "deliver");
    attr_add_long(&out, "offset", 12345);
    attr_list *sub = attr_add_list(&out, "rcpt");
    attr_add_str(sub, "addr", "a@b");
    attr_add_int(sub, "flags", 3);
    attr_encode(&enc, &out);
    unsigned seed = 12345;
    unsigned char buf[256];
    int ok = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len;
        if (round % 2) {
            len = (size_t) (rand_r(&seed) % sizeof(buf));
            for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char) rand_r(&seed);
        } else {
            len = enc.len;
            memcpy(buf, enc.s, len);
            int flips = 1 + rand_r(&seed) % 3;
            for (int f = 0; f < flips; f++)
                buf[rand_r(&seed) % len] = (unsigned char) rand_r(&seed);
        }
        if (attr_decode(buf, len, &in, 0, 0) == ATTR_OK)
            ok++;
    }
    assert_true(ok < 20000);
    attr_list_free(&out);
    attr_list_free(&in);
    sbuf_free(&enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_print_scan),
        cmocka_unit_test(test_many_attributes),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_depth_and_count_limits),
        cmocka_unit_test(test_oversized_stream),
        cmocka_unit_test(test_timeout_mid_message),
        cmocka_unit_test(test_random_garbage),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
