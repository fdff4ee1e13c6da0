/* test_vstream.c - unit tests for util/vstream: lines, limits, timeouts, hooks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "util/vstream.h"
#include "util/sbuf.h"

/* ---- a scripted read hook: returns the chunks one by one, then EOF ---- */

struct script {
    const char **chunks;
    size_t  next;
    size_t  off;                /* within the current chunk */
    size_t  max_per_call;       /* 0: whole chunk */
};

static ssize_t script_read(void *ctx, int fd, void *buf, size_t len, int timeout_ms)
{
    struct script *sc = ctx;
    (void) fd;
    (void) timeout_ms;
    while (sc->chunks[sc->next] && sc->chunks[sc->next][sc->off] == 0) {
        sc->next++;
        sc->off = 0;
    }
    const char *c = sc->chunks[sc->next];
    if (!c)
        return 0;
    size_t n = strlen(c + sc->off);
    if (sc->max_per_call && n > sc->max_per_call)
        n = sc->max_per_call;
    if (n > len)
        n = len;
    memcpy(buf, c + sc->off, n);
    sc->off += n;
    return (ssize_t) n;
}

static vstream *scripted(struct script *sc, const char **chunks, size_t per_call)
{
    memset(sc, 0, sizeof(*sc));
    sc->chunks = chunks;
    sc->max_per_call = per_call;
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    vstream *s = vstream_open(fd);
    vstream_set_io(s, script_read, 0, sc);
    return s;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void expect_line(vstream *s, sbuf *line, size_t max, int how, const char *text)
{
    int r = vstream_get_line(s, line, max);
    assert_int_equal(r, how);
    assert_int_equal(line->len, strlen(text));
    assert_memory_equal(line->s ? line->s : "", text, line->len);
}

static void test_crlf_lf(void **state)
{
    (void) state;
    const char *chunks[] = { "EHLO x\r\nMAIL FROM:<a>\nbare\rcr\r\n\r\n\nlast", 0 };
    struct script sc;
    sbuf line = SBUF_INIT;
    vstream *s = scripted(&sc, chunks, 0);
    expect_line(s, &line, 100, VSTREAM_LINE_CRLF, "EHLO x");
    expect_line(s, &line, 100, VSTREAM_LINE_LF, "MAIL FROM:<a>");
    expect_line(s, &line, 100, VSTREAM_LINE_CRLF, "bare\rcr");
    expect_line(s, &line, 100, VSTREAM_LINE_CRLF, "");
    expect_line(s, &line, 100, VSTREAM_LINE_LF, "");
    expect_line(s, &line, 100, VSTREAM_LINE_EOF, "last");
    assert_true(vstream_eof(s));
    assert_false(vstream_error(s));
    assert_int_equal(vstream_get_line(s, &line, 100), VSTREAM_LINE_ERR);
    assert_int_equal(line.len, 0);
    assert_int_equal(vstream_close(s), 0);
    sbuf_free(&line);
}

static void test_partial_reads(void **state)
{
    (void) state;
    /* The same text, delivered one byte per read, and split mid-CRLF. */
    const char *chunks[] = { "hel", "lo\r", "\nwor", "ld\n", "x\r", "\n", 0 };
    for (size_t per = 0; per <= 1; per++) {
        struct script sc;
        sbuf line = SBUF_INIT;
        vstream *s = scripted(&sc, chunks, per);
        expect_line(s, &line, 100, VSTREAM_LINE_CRLF, "hello");
        expect_line(s, &line, 100, VSTREAM_LINE_LF, "world");
        expect_line(s, &line, 100, VSTREAM_LINE_CRLF, "x");
        assert_int_equal(vstream_get_line(s, &line, 100), VSTREAM_LINE_ERR);
        assert_true(vstream_eof(s));
        vstream_close(s);
        sbuf_free(&line);
    }
}

static void test_long_lines(void **state)
{
    (void) state;
    const char *chunks[] = {
        "abcdefghij\r\n",       /* 10 bytes, max 5: two chunks, the second complete */
        "abcde\r\n",            /* exactly max + CRLF: complete */
        "abcde\n",              /* exactly max + LF: complete */
        "abcd\r\n",             /* CR inside the max window */
        "abcde\rX\n",           /* CR after max, not followed by LF */
        "0123456789012345\n",   /* skipped */
        "ok\n",
        0 };
    for (size_t per = 0; per <= 1; per++) {
        struct script sc;
        sbuf line = SBUF_INIT;
        vstream *s = scripted(&sc, chunks, per);
        expect_line(s, &line, 5, VSTREAM_LINE_LONG, "abcde");
        expect_line(s, &line, 5, VSTREAM_LINE_CRLF, "fghij");
        expect_line(s, &line, 5, VSTREAM_LINE_CRLF, "abcde");
        expect_line(s, &line, 5, VSTREAM_LINE_LF, "abcde");
        expect_line(s, &line, 5, VSTREAM_LINE_CRLF, "abcd");
        expect_line(s, &line, 5, VSTREAM_LINE_LONG, "abcde");
        expect_line(s, &line, 5, VSTREAM_LINE_LF, "\rX");
        expect_line(s, &line, 5, VSTREAM_LINE_LONG, "01234");
        assert_int_equal(vstream_skip_line(s), 0);
        expect_line(s, &line, 5, VSTREAM_LINE_LF, "ok");
        assert_int_equal(vstream_skip_line(s), -1);
        vstream_close(s);
        sbuf_free(&line);
    }
}

static void test_long_line_bigger_than_buffer(void **state)
{
    (void) state;
    size_t n = 3 * VSTREAM_BUFSIZE + 17;
    char *big = malloc(n + 3);
    memset(big, 'x', n);
    memcpy(big + n, "\r\n", 3);
    const char *chunks[] = { big, "tail\n", 0 };
    struct script sc;
    sbuf line = SBUF_INIT;
    vstream *s = scripted(&sc, chunks, 0);
    assert_int_equal(vstream_get_line(s, &line, n), VSTREAM_LINE_CRLF);
    assert_int_equal(line.len, n);
    expect_line(s, &line, n, VSTREAM_LINE_LF, "tail");
    vstream_close(s);

    /* The same line with a small limit, then skipped. */
    s = scripted(&sc, chunks, 0);
    assert_int_equal(vstream_get_line(s, &line, 1000), VSTREAM_LINE_LONG);
    assert_int_equal(line.len, 1000);
    assert_int_equal(vstream_skip_line(s), 0);
    expect_line(s, &line, 1000, VSTREAM_LINE_LF, "tail");
    vstream_close(s);
    sbuf_free(&line);
    free(big);
}

/* Reference splitter over a whole buffer, with the documented semantics. */
static int ref_line(const char *buf, size_t len, size_t *pos, size_t max, size_t *start,
                    size_t *n_out)
{
    size_t p = *pos, n = 0;
    while (p + n < len && n < max && buf[p + n] != '\n')
        n++;
    *start = p;
    if (p + n < len && buf[p + n] == '\n') {
        *pos = p + n + 1;
        if (n > 0 && buf[p + n - 1] == '\r') {
            *n_out = n - 1;
            return VSTREAM_LINE_CRLF;
        }
        *n_out = n;
        return VSTREAM_LINE_LF;
    }
    *n_out = n;
    if (p + n == len) {
        *pos = len;
        return n ? VSTREAM_LINE_EOF : VSTREAM_LINE_ERR;
    }
    if (buf[p + n] == '\r' && p + n + 1 < len && buf[p + n + 1] == '\n') {
        *pos = p + n + 2;
        return VSTREAM_LINE_CRLF;
    }
    *pos = p + n;
    return VSTREAM_LINE_LONG;
}

static void test_random_splitting(void **state)
{
    (void) state;
    static const char alphabet[] = "ab\r\n";
    unsigned seed = 4242;
    char text[200];
    char chunkbuf[8][200];
    const char *chunks[9];
    for (int round = 0; round < 3000; round++) {
        size_t len = 1 + (size_t) (rand_r(&seed) % (sizeof(text) - 1));
        for (size_t i = 0; i < len; i++)
            text[i] = alphabet[rand_r(&seed) % 4];
        /* Up to 8 chunks at random cut points. */
        size_t nchunks = 1 + (size_t) (rand_r(&seed) % 8), off = 0, k = 0;
        for (; k < nchunks && off < len; k++) {
            size_t take = k + 1 == nchunks ? len - off : 1 + (size_t) (rand_r(&seed) % (len - off));
            memcpy(chunkbuf[k], text + off, take);
            chunkbuf[k][take] = 0;
            chunks[k] = chunkbuf[k];
            off += take;
        }
        chunks[k] = 0;
        size_t max = 1 + (size_t) (rand_r(&seed) % 8);
        struct script sc;
        vstream *s = scripted(&sc, chunks, (size_t) (rand_r(&seed) % 3));
        sbuf line = SBUF_INIT;
        size_t pos = 0;
        for (;;) {
            size_t start, n;
            int want = ref_line(text, len, &pos, max, &start, &n);
            int got = vstream_get_line(s, &line, max);
            if (got != want || (want != VSTREAM_LINE_ERR
                                && (line.len != n || memcmp(line.s, text + start, n) != 0)))
                fail_msg("round %d: max %zu: got %d (%zu bytes), want %d (%zu bytes)",
                         round, max, got, line.len, want, n);
            if (want == VSTREAM_LINE_ERR)
                break;
        }
        vstream_close(s);
        sbuf_free(&line);
    }
}

/* vstream_get_line_ref: the same lines as the reference (and so as
 * vstream_get_line), in place or spilled, with small buffers (lines
 * longer than the buffer), lines straddling reads and buffer refills,
 * CR LF split across reads, lone dots, and EOF anywhere. */
static void test_line_ref_random(void **state)
{
    (void) state;
    static const char alphabet[] = "a.\r\n";
    static const size_t bufsizes[] = {VSTREAM_BUFSIZE_MIN, 65, 100, VSTREAM_BUFSIZE};
    unsigned seed = 777;
    char text[600];
    char chunkbuf[12][600];
    const char *chunks[13];
    size_t spilled = 0, in_place = 0;
    for (int round = 0; round < 6000; round++) {
        size_t len = 1 + (size_t) (rand_r(&seed) % (sizeof(text) - 1));
        int longish = rand_r(&seed) % 4 == 0;       /* few line ends: long lines */
        for (size_t i = 0; i < len; i++) {
            int r = rand_r(&seed) % (longish ? 60 : 8);
            text[i] = r < 4 ? alphabet[r] : 'a';
        }
        size_t nchunks = 1 + (size_t) (rand_r(&seed) % 12), off = 0, k = 0;
        for (; k < nchunks && off < len; k++) {
            size_t take = k + 1 == nchunks ? len - off : 1 + (size_t) (rand_r(&seed) % (len - off));
            memcpy(chunkbuf[k], text + off, take);
            chunkbuf[k][take] = 0;
            chunks[k] = chunkbuf[k];
            off += take;
        }
        chunks[k] = 0;
        size_t max = 1 + (size_t) (rand_r(&seed) % 150);
        size_t bufsize = bufsizes[rand_r(&seed) % 4];
        struct script sc;
        vstream *s = scripted(&sc, chunks, (size_t) (rand_r(&seed) % 4));
        vstream_set_bufsize(s, bufsize, 0);
        assert_int_equal(vstream_bufsize(s), bufsize);
        sbuf spill = SBUF_INIT;
        size_t pos = 0;
        for (;;) {
            size_t start, n, got_len;
            const char *got_line;
            int want = ref_line(text, len, &pos, max, &start, &n);
            int got = vstream_get_line_ref(s, &spill, max, &got_line, &got_len);
            if (got != want || (want != VSTREAM_LINE_ERR
                                && (got_len != n || memcmp(got_line, text + start, n) != 0)))
                fail_msg("round %d: max %zu, buffer %zu: got %d (%zu bytes), want %d "
                         "(%zu bytes)", round, max, bufsize, got, got_len, want, n);
            if (want == VSTREAM_LINE_ERR) {
                assert_int_equal(got_len, 0);
                break;
            }
            if (spill.s && got_line == spill.s)
                spilled++;
            else
                in_place++;
        }
        vstream_close(s);
        sbuf_free(&spill);
    }
    /* Both ways were taken. */
    assert_true(spilled > 100);
    assert_true(in_place > 1000);
}

/* Hand-made cases for vstream_get_line_ref around buffer boundaries. */
static void test_line_ref_boundaries(void **state)
{
    (void) state;
    sbuf spill = SBUF_INIT;
    const char *line;
    size_t len;
    struct script sc;
#define EXPECT_REF(s, max, how, text) do { \
        assert_int_equal(vstream_get_line_ref((s), &spill, (max), &line, &len), (how)); \
        assert_int_equal(len, strlen(text)); \
        assert_memory_equal(line, (text), len); \
    } while (0)

    /* CR LF split across reads; a lone "." whose CR LF comes later; a
     * line of exactly max whose CR LF is split; max then CR then X. */
    const char *c1[] = {"abc\r", "\n", "x\r\n.", "\r", "\n", "abcd\r", "\n",
                        "abcd\r", "X\n", "ok", 0};
    for (size_t per = 0; per <= 1; per++) {
        vstream *s = scripted(&sc, c1, per);
        vstream_set_bufsize(s, VSTREAM_BUFSIZE_MIN, 0);
        EXPECT_REF(s, 4, VSTREAM_LINE_CRLF, "abc");
        EXPECT_REF(s, 4, VSTREAM_LINE_CRLF, "x");
        EXPECT_REF(s, 4, VSTREAM_LINE_CRLF, ".");
        EXPECT_REF(s, 4, VSTREAM_LINE_CRLF, "abcd");
        EXPECT_REF(s, 4, VSTREAM_LINE_LONG, "abcd");
        EXPECT_REF(s, 4, VSTREAM_LINE_LF, "\rX");
        EXPECT_REF(s, 4, VSTREAM_LINE_EOF, "ok");
        assert_int_equal(vstream_get_line_ref(s, &spill, 4, &line, &len), VSTREAM_LINE_ERR);
        assert_int_equal(len, 0);
        vstream_close(s);
    }

    /* A line that fills the whole buffer exactly, and lines longer than
     * the buffer: spilled, complete, and the next line is in place. */
    char big[300];
    memset(big, 'q', sizeof(big));
    big[VSTREAM_BUFSIZE_MIN - 2] = '\r';
    big[VSTREAM_BUFSIZE_MIN - 1] = '\n';
    memcpy(big + VSTREAM_BUFSIZE_MIN, "short\n", 6);
    memcpy(big + 250, "\r\n.\r\n", 6);      /* ends the 180-byte line, then "." */
    const char *c2[] = {big, 0};
    vstream *s = scripted(&sc, c2, 0);
    vstream_set_bufsize(s, VSTREAM_BUFSIZE_MIN, 0);
    char want[300];
    memset(want, 'q', sizeof(want));
    want[VSTREAM_BUFSIZE_MIN - 2] = 0;
    EXPECT_REF(s, 1000, VSTREAM_LINE_CRLF, want);
    EXPECT_REF(s, 1000, VSTREAM_LINE_LF, "short");
    memset(want, 'q', sizeof(want));
    want[250 - VSTREAM_BUFSIZE_MIN - 6] = 0;
    EXPECT_REF(s, 1000, VSTREAM_LINE_CRLF, want);
    assert_ptr_equal(line, spill.s);
    EXPECT_REF(s, 1000, VSTREAM_LINE_CRLF, ".");
    vstream_close(s);

    /* A very long line with a small limit: LONG pieces, then the rest. */
    s = scripted(&sc, c2, 7);
    vstream_set_bufsize(s, VSTREAM_BUFSIZE_MIN, 0);
    memset(want, 'q', sizeof(want));
    want[50] = 0;
    EXPECT_REF(s, 50, VSTREAM_LINE_LONG, want);
    vstream_close(s);

    /* Timeout and error: nothing returned, flags set as for get_line. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    s = vstream_open(p[0]);
    vstream_set_timeout(s, 50);
    assert_int_equal(write(p[1], "half", 4), 4);
    assert_int_equal(vstream_get_line_ref(s, &spill, 100, &line, &len), VSTREAM_LINE_ERR);
    assert_int_equal(len, 0);
    assert_true(vstream_timed_out(s));
    vstream_close(s);
    close(p[1]);
    sbuf_free(&spill);
#undef EXPECT_REF
}

/* A write hook that keeps everything and counts the calls. */
struct sink {
    sbuf    data;
    int     calls;
    size_t  max_per_call;       /* 0: take everything */
};

static ssize_t sink_write(void *ctx, int fd, const void *buf, size_t len, int timeout_ms)
{
    struct sink *k = ctx;
    (void) fd;
    (void) timeout_ms;
    if (k->max_per_call && len > k->max_per_call)
        len = k->max_per_call;
    sbuf_add(&k->data, buf, len);
    k->calls++;
    return (ssize_t) len;
}

/* Big writes go out from the caller's memory, in order, around small
 * buffered ones; short writes by the transfer function are finished. */
static void test_write_direct(void **state)
{
    (void) state;
    size_t n = 3 * VSTREAM_BUFSIZE + 17;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char) ('a' + i % 26);
    for (size_t per = 0; per <= 1; per++) {
        struct sink k = {SBUF_INIT, 0, per ? 1000 : 0};
        int fd = open("/dev/null", O_WRONLY);
        vstream *s = vstream_open(fd);
        vstream_set_io(s, 0, sink_write, &k);
        assert_int_equal(vstream_puts(s, "head "), 0);
        assert_int_equal(vstream_write(s, big, n), 0);
        assert_int_equal(vstream_pending_output(s), 0);     /* nothing held back */
        assert_int_equal(vstream_puts(s, " tail"), 0);
        assert_int_equal(vstream_pending_output(s), 5);
        assert_int_equal(vstream_write(s, big, VSTREAM_BUFSIZE - 5), 0);   /* fills up */
        assert_int_equal(vstream_pending_output(s), VSTREAM_BUFSIZE);
        assert_int_equal(vstream_write(s, "!", 1), 0);
        assert_int_equal(vstream_flush(s), 0);
        assert_int_equal(k.data.len, 5 + n + 5 + VSTREAM_BUFSIZE - 5 + 1);
        assert_memory_equal(k.data.s, "head ", 5);
        assert_memory_equal(k.data.s + 5, big, n);
        assert_memory_equal(k.data.s + 5 + n, " tail", 5);
        assert_memory_equal(k.data.s + 10 + n, big, VSTREAM_BUFSIZE - 5);
        assert_int_equal(k.data.s[k.data.len - 1], '!');
        if (!per)
            assert_true(k.calls <= 4);      /* head+part, the rest, tail+part, "!" */
        vstream_close(s);
        sbuf_free(&k.data);
    }
    free(big);
}

/* Big reads with nothing buffered land in the caller's memory; what is
 * buffered comes first; EOF in the middle keeps what arrived. */
static void test_read_direct(void **state)
{
    (void) state;
    size_t n = 3 * VSTREAM_BUFSIZE + 5;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char) ('A' + i % 26);
    big[n] = 0;
    const char *chunks[] = {"x", big, "yz", 0};
    for (size_t per = 0; per <= 2; per += 2) {
        struct script sc;
        vstream *s = scripted(&sc, chunks, per ? 4097 : 0);
        char *dst = malloc(n);
        assert_int_equal(vstream_getc(s), 'x');
        assert_int_equal(vstream_read_exact(s, dst, n), 0);
        assert_memory_equal(dst, big, n);
        assert_int_equal(vstream_getc(s), 'y');
        sbuf b = SBUF_INIT;
        sbuf_adds(&b, "pre");
        assert_int_equal(vstream_read_append(s, &b, 1), 0);
        assert_string_equal(sbuf_str(&b), "prez");
        vstream_close(s);

        /* Straight into an sbuf, and EOF before the end. */
        s = scripted(&sc, chunks + 1, per ? 4097 : 0);
        sbuf_set(&b, "<");
        assert_int_equal(vstream_read_append(s, &b, n + 10), -1);
        assert_true(vstream_eof(s));
        assert_int_equal(b.len, 1 + n + 2);
        assert_memory_equal(b.s + 1, big, n);
        assert_string_equal(b.s + 1 + n, "yz");
        vstream_close(s);
        sbuf_free(&b);
        free(dst);
    }
    free(big);

    /* More than the step by which a direct read grows an sbuf. */
    size_t huge_n = 2 * 1024 * 1024 + 12345;
    char *huge = malloc(huge_n + 1);
    for (size_t i = 0; i < huge_n; i++)
        huge[i] = (char) ('a' + i % 23);
    huge[huge_n] = 0;
    const char *hchunks[] = {huge, 0};
    struct script sc;
    vstream *s = scripted(&sc, hchunks, 0);
    sbuf b = SBUF_INIT;
    assert_int_equal(vstream_read_append(s, &b, huge_n), 0);
    assert_int_equal(b.len, huge_n);
    assert_memory_equal(b.s, huge, huge_n);
    vstream_close(s);
    sbuf_free(&b);
    free(huge);
}

/* Resizing keeps buffered input and output. */
static void test_set_bufsize(void **state)
{
    (void) state;
    const char *chunks[] = {"one\ntwo\nthree\n", 0};
    struct script sc;
    sbuf line = SBUF_INIT;
    vstream *s = scripted(&sc, chunks, 0);
    expect_line(s, &line, 100, VSTREAM_LINE_LF, "one");
    vstream_set_bufsize(s, 65536, 0);
    assert_int_equal(vstream_bufsize(s), 65536);
    assert_int_equal(vstream_wbufsize(s), VSTREAM_BUFSIZE);
    expect_line(s, &line, 100, VSTREAM_LINE_LF, "two");
    vstream_set_bufsize(s, VSTREAM_BUFSIZE_MIN, 0);
    expect_line(s, &line, 100, VSTREAM_LINE_LF, "three");
    vstream_close(s);

    struct sink k = {SBUF_INIT, 0, 0};
    s = vstream_open(open("/dev/null", O_WRONLY));
    vstream_set_io(s, 0, sink_write, &k);
    char pending[200];
    memset(pending, 'p', sizeof(pending));
    assert_int_equal(vstream_write(s, pending, sizeof(pending)), 0);
    vstream_set_bufsize(s, 0, VSTREAM_BUFSIZE_MIN);     /* never below what it holds */
    assert_int_equal(vstream_wbufsize(s), sizeof(pending));
    assert_int_equal(vstream_pending_output(s), sizeof(pending));
    assert_int_equal(vstream_flush(s), 0);
    assert_int_equal(k.data.len, sizeof(pending));
    vstream_close(s);
    sbuf_free(&k.data);
    sbuf_free(&line);
}

/* A real bulk transfer over a socket, both ways at once: the no-wait
 * attempts before polling, big buffers, lines in place. */
static void test_socket_bulk(void **state)
{
    (void) state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Child: send 20000 numbered lines in writes of varying size,
         * then read back one line and exit. */
        close(sv[0]);
        vstream *c = vstream_open(sv[1]);
        vstream_set_timeout(c, 10000);
        sbuf out = SBUF_INIT;
        for (int i = 0; i < 20000; i++) {
            sbuf_printf(&out, "%d %s\r\n", i, i % 3 ? "line of text" : ".dotted");
            if (out.len > (size_t) (100 + (i * 7919) % 90000)) {
                if (vstream_write(c, out.s, out.len) < 0)
                    _exit(2);
                sbuf_reset(&out);
            }
        }
        vstream_write(c, out.s, out.len);
        vstream_puts(c, "end\r\n");
        sbuf line = SBUF_INIT;
        int r = vstream_get_line(c, &line, 100);    /* flushes first */
        _exit(r == VSTREAM_LINE_CRLF && strcmp(sbuf_str(&line), "thanks") == 0 ? 0 : 3);
    }
    close(sv[1]);
    vstream *s = vstream_open(sv[0]);
    vstream_set_timeout(s, 10000);
    vstream_set_bufsize(s, 65536, 0);
    sbuf spill = SBUF_INIT;
    char want[64];
    for (int i = 0; i < 20000; i++) {
        const char *line;
        size_t len;
        assert_int_equal(vstream_get_line_ref(s, &spill, 2048, &line, &len), VSTREAM_LINE_CRLF);
        int n = snprintf(want, sizeof(want), "%d %s", i, i % 3 ? "line of text" : ".dotted");
        assert_int_equal(len, (size_t) n);
        assert_memory_equal(line, want, len);
    }
    expect_line(s, &spill, 100, VSTREAM_LINE_CRLF, "end");
    assert_int_equal(vstream_puts(s, "thanks\r\n"), 0);
    assert_int_equal(vstream_flush(s), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    vstream_close(s);
    sbuf_free(&spill);
}

static void test_eof_mid_line_and_cr(void **state)
{
    (void) state;
    const char *chunks1[] = { "abc", 0 };
    const char *chunks2[] = { "abcde\r", 0 };
    struct script sc;
    sbuf line = SBUF_INIT;
    vstream *s = scripted(&sc, chunks1, 0);
    expect_line(s, &line, 10, VSTREAM_LINE_EOF, "abc");
    assert_true(vstream_eof(s));
    vstream_close(s);

    s = scripted(&sc, chunks2, 1);
    expect_line(s, &line, 5, VSTREAM_LINE_LONG, "abcde");
    expect_line(s, &line, 5, VSTREAM_LINE_EOF, "\r");
    assert_int_equal(vstream_get_line(s, &line, 5), VSTREAM_LINE_ERR);
    vstream_close(s);
    sbuf_free(&line);
}

static void test_timeout_on_silent_pipe(void **state)
{
    (void) state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    vstream *s = vstream_open(p[0]);
    vstream_set_timeout(s, 100);
    sbuf line = SBUF_INIT;
    assert_int_equal(write(p[1], "partial", 7), 7);
    int64_t t0 = mono_ms();
    assert_int_equal(vstream_get_line(s, &line, 100), VSTREAM_LINE_ERR);
    int64_t dt = mono_ms() - t0;
    assert_true(dt >= 90);
    assert_true(dt < 5000);
    assert_true(vstream_timed_out(s));
    assert_true(vstream_error(s));
    assert_false(vstream_eof(s));
    assert_int_equal(vstream_errno(s), ETIMEDOUT);
    /* Sticky: fails at once now. */
    t0 = mono_ms();
    assert_int_equal(vstream_getc(s), -1);
    assert_true(mono_ms() - t0 < 50);
    vstream_clearerr(s);
    assert_int_equal(vstream_flags(s), 0);
    vstream_close(s);
    close(p[1]);
    sbuf_free(&line);
}

static void test_exact_getc_append(void **state)
{
    (void) state;
    const char *chunks[] = { "ab", "cdef", "gh", "ij\nrest", 0 };
    struct script sc;
    vstream *s = scripted(&sc, chunks, 1);
    char buf[8];
    sbuf b = SBUF_INIT;
    assert_int_equal(vstream_getc(s), 'a');
    assert_int_equal(vstream_read_exact(s, buf, 4), 0);
    assert_memory_equal(buf, "bcde", 4);
    assert_int_equal(vstream_read_append(s, &b, 3), 0);
    assert_string_equal(sbuf_str(&b), "fgh");
    assert_int_equal(vstream_read_some(s, buf, sizeof(buf)), 1);   /* one byte per read */
    assert_int_equal(buf[0], 'i');
    assert_int_equal(vstream_skip_line(s), 0);
    sbuf_reset(&b);
    assert_int_equal(vstream_read_append(s, &b, 10), -1);          /* only 4 left */
    assert_string_equal(sbuf_str(&b), "rest");
    assert_true(vstream_eof(s));
    assert_int_equal(vstream_read_some(s, buf, sizeof(buf)), 0);
    vstream_close(s);
    sbuf_free(&b);
}

static void test_peek_and_purge(void **state)
{
    (void) state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    vstream *s = vstream_open(sv[0]);
    vstream_set_timeout(s, 1000);
    sbuf line = SBUF_INIT;
    assert_int_equal(vstream_input_waiting(s), 0);
    assert_int_equal(write(sv[1], "STARTTLS\r\nEHLO evil\r\n", 21), 21);
    assert_int_equal(vstream_input_waiting(s), 1);
    assert_int_equal(vstream_peek_pending(s), 0);
    expect_line(s, &line, 512, VSTREAM_LINE_CRLF, "STARTTLS");
    assert_int_equal(vstream_peek_pending(s), 11);   /* pipelined plaintext */
    assert_int_equal(vstream_purge_input(s), 11);
    assert_int_equal(vstream_peek_pending(s), 0);
    assert_int_equal(vstream_input_waiting(s), 0);
    vstream_close(s);
    close(sv[1]);
    sbuf_free(&line);
}

static void test_write_and_flush_before_read(void **state)
{
    (void) state;
    int sv[2];
    char buf[64];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    vstream *s = vstream_open(sv[0]);
    vstream_set_timeout(s, 100);
    assert_int_equal(vstream_printf(s, "250-%s\r\n", "hello"), 0);
    assert_int_equal(vstream_puts(s, "250 "), 0);
    assert_int_equal(vstream_putc(s, 'X'), 0);
    assert_int_equal(vstream_write(s, "\r\n", 2), 0);
    assert_int_equal(vstream_pending_output(s), 18);
    /* Nothing left yet. */
    assert_int_equal(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
    /* A read that has to wait flushes first (then times out: nobody talks). */
    assert_int_equal(vstream_getc(s), -1);
    assert_true(vstream_timed_out(s));
    assert_int_equal(vstream_pending_output(s), 0);
    assert_int_equal(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), 18);
    assert_memory_equal(buf, "250-hello\r\n250 X\r\n", 18);
    /* A read timeout does not stop writes: a server can still say 421. */
    assert_int_equal(vstream_puts(s, "421 timeout\r\n"), 0);
    assert_int_equal(vstream_flush(s), 0);
    assert_int_equal(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), 13);
    vstream_close(s);
    close(sv[1]);
}

static void test_big_printf(void **state)
{
    (void) state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    vstream *s = vstream_open(sv[0]);
    vstream *r = vstream_open(sv[1]);
    vstream_set_timeout(s, 1000);
    vstream_set_timeout(r, 1000);
    size_t n = 2 * VSTREAM_BUFSIZE + 5;
    char *big = malloc(n + 1);
    memset(big, 'q', n);
    big[n] = 0;
    assert_int_equal(vstream_puts(s, "x"), 0);
    assert_int_equal(vstream_printf(s, "<%s>\n", big), 0);
    assert_int_equal(vstream_flush(s), 0);
    sbuf line = SBUF_INIT;
    assert_int_equal(vstream_get_line(r, &line, n + 10), VSTREAM_LINE_LF);
    assert_int_equal(line.len, n + 3);
    assert_int_equal(line.s[0], 'x');
    assert_int_equal(line.s[1], '<');
    assert_int_equal(line.s[n + 2], '>');
    vstream_close(s);
    vstream_close(r);
    sbuf_free(&line);
    free(big);
}

static void test_write_timeout_and_epipe(void **state)
{
    (void) state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    char junk[4096];
    memset(junk, 'j', sizeof(junk));
    while (write(p[1], junk, sizeof(junk)) > 0)
        ;
    vstream *s = vstream_open(p[1]);
    vstream_set_timeout(s, 100);
    assert_int_equal(vstream_puts(s, "more"), 0);
    assert_int_equal(vstream_flush(s), -1);
    assert_true(vstream_timed_out(s));
    assert_int_equal(vstream_puts(s, "again"), -1);     /* sticky on the write side */
    assert_int_equal(vstream_close(s), 0);              /* nothing left to flush */
    close(p[0]);

    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    s = vstream_open(sv[0]);
    vstream_set_timeout(s, 100);
    assert_int_equal(vstream_puts(s, "hello"), 0);
    assert_int_equal(vstream_flush(s), -1);             /* EPIPE, and no SIGPIPE */
    assert_int_equal(vstream_errno(s), EPIPE);
    assert_true(vstream_error(s));
    assert_false(vstream_timed_out(s));
    vstream_close(s);
}

/* A toy transform layer (XOR 0x20) standing in for TLS. */
static int xor_calls;

static ssize_t xor_read(void *ctx, int fd, void *buf, size_t len, int timeout_ms)
{
    (void) ctx;
    (void) timeout_ms;
    ssize_t n = read(fd, buf, len);
    for (ssize_t i = 0; i < n; i++)
        ((char *) buf)[i] ^= 0x20;
    xor_calls++;
    return n;
}

static ssize_t xor_write(void *ctx, int fd, const void *buf, size_t len, int timeout_ms)
{
    char tmp[VSTREAM_BUFSIZE];
    (void) ctx;
    (void) timeout_ms;
    if (len > sizeof(tmp))
        len = sizeof(tmp);
    for (size_t i = 0; i < len; i++)
        tmp[i] = ((const char *) buf)[i] ^ 0x20;
    xor_calls++;
    return write(fd, tmp, len);
}

static void test_io_hook(void **state)
{
    (void) state;
    int sv[2];
    int cookie = 42;
    char buf[16];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    vstream *s = vstream_open(sv[0]);
    vstream_set_io(s, xor_read, xor_write, &cookie);
    assert_ptr_equal(vstream_io_context(s), &cookie);
    assert_int_equal(vstream_puts(s, "hello"), 0);
    assert_int_equal(vstream_flush(s), 0);
    assert_int_equal(read(sv[1], buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "HELLO", 5);
    assert_int_equal(write(sv[1], "WORLD\x2a", 6), 6);  /* 0x2a ^ 0x20 = '\n' */
    sbuf line = SBUF_INIT;
    expect_line(s, &line, 100, VSTREAM_LINE_LF, "world");
    assert_true(xor_calls >= 2);
    /* Back to the default. */
    vstream_set_io(s, 0, 0, 0);
    assert_int_equal(write(sv[1], "plain\n", 6), 6);
    expect_line(s, &line, 100, VSTREAM_LINE_LF, "plain");
    vstream_close(s);
    close(sv[1]);
    sbuf_free(&line);
}

/* One byte every 20 ms: fine per wait, too slow per record. */
static ssize_t slow_read(void *ctx, int fd, void *buf, size_t len, int timeout_ms)
{
    int *left = ctx;
    (void) fd;
    (void) len;
    if (timeout_ms >= 0 && timeout_ms < 20) {
        usleep((useconds_t) timeout_ms * 1000);
        errno = ETIMEDOUT;
        return -1;
    }
    usleep(20 * 1000);
    *(char *) buf = (*left)-- > 0 ? 'a' : '\n';
    return 1;
}

static void test_deadline_mode(void **state)
{
    (void) state;
    int left = 6;
    sbuf line = SBUF_INIT;
    int fd = open("/dev/null", O_RDONLY);
    vstream *s = vstream_open(fd);
    vstream_set_io(s, slow_read, 0, &left);
    vstream_set_timeout(s, 70);
    expect_line(s, &line, 100, VSTREAM_LINE_LF, "aaaaaa");    /* 140 ms in all */
    left = 6;
    vstream_set_deadline(s, 1);
    assert_int_equal(vstream_get_line(s, &line, 100), VSTREAM_LINE_ERR);
    assert_true(vstream_timed_out(s));
    vstream_close(s);
    sbuf_free(&line);
}

static void test_detach(void **state)
{
    (void) state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    vstream *s = vstream_open(p[0]);
    assert_int_equal(vstream_fd(s), p[0]);
    assert_int_equal(vstream_detach(s), p[0]);
    assert_int_equal(fcntl(p[0], F_GETFD), 0);          /* still open */
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL);   /* prove that MSG_NOSIGNAL is used */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crlf_lf),
        cmocka_unit_test(test_partial_reads),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_long_line_bigger_than_buffer),
        cmocka_unit_test(test_random_splitting),
        cmocka_unit_test(test_eof_mid_line_and_cr),
        cmocka_unit_test(test_timeout_on_silent_pipe),
        cmocka_unit_test(test_exact_getc_append),
        cmocka_unit_test(test_peek_and_purge),
        cmocka_unit_test(test_write_and_flush_before_read),
        cmocka_unit_test(test_big_printf),
        cmocka_unit_test(test_write_timeout_and_epipe),
        cmocka_unit_test(test_io_hook),
        cmocka_unit_test(test_deadline_mode),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_line_ref_random),
        cmocka_unit_test(test_line_ref_boundaries),
        cmocka_unit_test(test_write_direct),
        cmocka_unit_test(test_read_direct),
        cmocka_unit_test(test_set_bufsize),
        cmocka_unit_test(test_socket_bulk),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
