/*
 * fuzz_vstream_lines.c - libFuzzer target for vstream line framing.
 *
 * Input: byte 0 picks the line limit (1..64, or 8k..18k to cross the
 * buffer size), byte 1 holds flags (bit 0: the source ends with an I/O
 * error instead of end of file), bytes 2..9 are the sizes in which the
 * source hands out data (1..255, 0 = 4096), the rest is the stream. The
 * stream is read through vstream's I/O hook (no descriptor is read; a
 * /dev/null descriptor is only there to satisfy vstream_open) with a
 * mix of get_line, getc, read_exact, read_some and skip_line chosen by
 * a generator seeded from the input. Every byte returned is compared
 * with the position it must come from, and every line ending with the
 * bytes that follow, so the framing can neither lose, invent nor
 * reorder data. Each line is echoed through a second stream whose
 * hook accepts partial writes, and the echo is compared at the end.
 * Timeouts are not exercised (no clock in a deterministic target).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "util/sbuf.h"
#include "util/vstream.h"

#define MAX_INPUT (128 * 1024)

struct source {
    const uint8_t *data;
    size_t size, pos;
    const uint8_t *splits;      /* 8 chunk sizes */
    unsigned k;
    int fail_at_end;
};

struct sink {
    sbuf got;
    const uint8_t *splits;
    unsigned k;
};

static size_t chunk(const uint8_t *splits, unsigned *k)
{
    uint8_t c = splits[(*k)++ % 8];
    return c ? c : 4096;
}

static ssize_t src_read(void *ctx, int fd, void *buf, size_t len, int timeout_ms)
{
    struct source *s = ctx;
    (void) fd;
    (void) timeout_ms;
    if (s->pos == s->size) {
        if (s->fail_at_end) {
            errno = EIO;
            return -1;
        }
        return 0;
    }
    size_t n = chunk(s->splits, &s->k);
    if (n > len)
        n = len;
    if (n > s->size - s->pos)
        n = s->size - s->pos;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (ssize_t) n;
}

static ssize_t sink_write(void *ctx, int fd, const void *buf, size_t len, int timeout_ms)
{
    struct sink *k = ctx;
    (void) fd;
    (void) timeout_ms;
    size_t n = chunk(k->splits, &k->k);
    if (n > len)
        n = len;
    sbuf_add(&k->got, buf, n);
    return (ssize_t) n;
}

static int null_fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 10 || size > MAX_INPUT)
        return 0;
    if (null_fd < 0 && (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
        abort();
    size_t max = data[0] < 192 ? (size_t) (data[0] % 64) + 1 : 8000 + (size_t) data[0] * 40;
    struct source src = {data + 10, size - 10, 0, data + 2, 0, data[1] & 1};
    struct sink snk = {SBUF_INIT, data + 2, 3};
    const uint8_t *in = src.data;
    size_t n_in = src.size;
    uint32_t rng = (uint32_t) data[1] * 2654435761u + 1;

    vstream *s = vstream_open(null_fd);
    vstream *out = vstream_open(null_fd);
    vstream_set_io(s, src_read, NULL, &src);
    vstream_set_io(out, NULL, sink_write, &snk);
    sbuf line = SBUF_INIT, expect = SBUF_INIT;
    size_t pos = 0;             /* bytes of in consumed so far */
    int done = 0, lost = 0;     /* lost: a failed read_exact took an unknown amount */

    while (!done) {
        rng = rng * 1103515245u + 12345u;
        unsigned op = (rng >> 16) % 12;
        if (op < 7) {
            int kind = vstream_get_line(s, &line, max);
            if (kind == VSTREAM_LINE_ERR) {
                if (line.len)
                    abort();
                done = 1;
                continue;
            }
            if (line.len > max || line.len > n_in - pos
                || (line.len && memcmp(line.s, in + pos, line.len) != 0)
                || memchr(line.s ? line.s : "", '\n', line.len))
                abort();
            pos += line.len;
            switch (kind) {
            case VSTREAM_LINE_CRLF:
                if (n_in - pos < 2 || in[pos] != '\r' || in[pos + 1] != '\n')
                    abort();
                pos += 2;
                break;
            case VSTREAM_LINE_LF:
                if (n_in - pos < 1 || in[pos] != '\n')
                    abort();
                pos += 1;
                break;
            case VSTREAM_LINE_LONG:
                /* Complete lines of exactly max bytes are not "long". */
                if (line.len != max || pos == n_in || in[pos] == '\n'
                    || (n_in - pos >= 2 && in[pos] == '\r' && in[pos + 1] == '\n'))
                    abort();
                break;
            case VSTREAM_LINE_EOF:
                if (pos != n_in || src.fail_at_end || !vstream_eof(s))
                    abort();
                done = 1;
                break;
            default:
                abort();
            }
            vstream_printf(out, "%d:", kind);
            vstream_write(out, line.s ? line.s : "", line.len);
            vstream_putc(out, '\n');
            sbuf_printf(&expect, "%d:", kind);
            sbuf_add(&expect, line.s ? line.s : "", line.len);
            sbuf_addc(&expect, '\n');
        } else if (op == 7) {
            int c = vstream_getc(s);
            if (c < 0) {
                done = 1;
            } else {
                if (pos == n_in || in[pos] != c)
                    abort();
                pos++;
            }
        } else if (op == 8 || op == 9) {
            uint8_t buf[300];
            size_t want = (rng >> 8) % sizeof(buf) + 1;
            if (op == 8) {
                if (vstream_read_exact(s, buf, want) < 0) {
                    done = lost = 1;    /* how much was taken is unspecified */
                    continue;
                }
                if (n_in - pos < want || memcmp(buf, in + pos, want) != 0)
                    abort();
                pos += want;
            } else {
                ssize_t got = vstream_read_some(s, buf, want);
                if (got <= 0) {
                    done = 1;
                    continue;
                }
                if ((size_t) got > want || n_in - pos < (size_t) got
                    || memcmp(buf, in + pos, (size_t) got) != 0)
                    abort();
                pos += (size_t) got;
            }
        } else if (op == 10) {
            const uint8_t *lf = pos < n_in ? memchr(in + pos, '\n', n_in - pos) : NULL;
            if (vstream_skip_line(s) < 0) {
                if (lf)
                    abort();        /* a line end was there to find */
                pos = n_in;         /* the rest was skipped */
                done = 1;
                continue;
            }
            if (!lf)
                abort();
            pos = (size_t) (lf - in) + 1;
        } else {
            (void) vstream_peek_pending(s);
            (void) vstream_flags(s);
        }
    }
    /* Everything was consumed, and the way it ended is reported. */
    if (!src.fail_at_end && !lost && pos != n_in)
        abort();
    if (src.fail_at_end ? !vstream_error(s) : !vstream_eof(s))
        abort();
    if (vstream_flush(out) < 0 || snk.got.len != expect.len
        || (expect.len && memcmp(snk.got.s, expect.s, expect.len) != 0))
        abort();
    vstream_detach(s);
    vstream_detach(out);
    sbuf_free(&line);
    sbuf_free(&expect);
    sbuf_free(&snk.got);
    return 0;
}
