/*
 * fuzz_smtpd_dot.c - libFuzzer target for smtpd's DATA reader
 * (src/smtpd/smtpd_dot.c) behind real vstream line framing.
 *
 * Input: byte 0 picks smtpd_forbid_bare_newline (0 no, 1 normalize,
 * 2 reject) and how the DATA command line ended (bit 2: bare LF), byte 1
 * the line limit (1..256), the rest is what the client sends after DATA.
 * The bytes are handed out through vstream's I/O hook in small chunks.
 * Checks, for every input:
 *   - the content passed on is never longer than the input consumed;
 *   - in normalize and reject modes the data ends only where the raw
 *     input up to that point ends in <CR><LF>.<CR><LF> (or is ".<CR><LF>"
 *     right after a DATA line that ended in <CR><LF>): the SMTP smuggling
 *     defence;
 *   - in every mode the end is a "." line that follows a line end.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "util/sbuf.h"
#include "util/vstream.h"

#include "smtpd/smtpd_dot.c"

#define MAX_INPUT (64 * 1024)

struct source {
    const uint8_t *data;
    size_t size, pos;
};

static ssize_t src_read(void *ctx, int fd, void *buf, size_t len, int timeout_ms)
{
    struct source *s = ctx;
    (void) fd;
    (void) timeout_ms;
    size_t n = 1 + (s->pos * 7 % 13);       /* uneven chunks */
    if (n > len)
        n = len;
    if (n > s->size - s->pos)
        n = s->size - s->pos;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (ssize_t) n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    if (size < 2 || size > MAX_INPUT)
        return 0;
    int mode = data[0] % 3;
    int cmd_end = (data[0] & 4) ? VSTREAM_LINE_LF : VSTREAM_LINE_CRLF;
    size_t max = 1 + data[1];
    struct source src = {data + 2, size - 2, 0};

    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0)
        abort();
    vstream *s = vstream_open(fd);
    vstream_set_io(s, src_read, 0, &src);

    struct smtpd_dot d;
    sbuf line = SBUF_INIT;
    size_t out = 0, consumed = 0;
    bool ended = false;
    smtpd_dot_init(&d, mode, cmd_end);
    for (;;) {
        int how = vstream_get_line(s, &line, max);
        if (how == VSTREAM_LINE_ERR || how == VSTREAM_LINE_EOF)
            break;
        consumed += line.len + (how == VSTREAM_LINE_CRLF ? 2 : how == VSTREAM_LINE_LF ? 1 : 0);
        size_t skip;
        int kind = smtpd_dot_line(&d, line.s ? line.s : "", line.len, how, &skip);
        if (kind == SMTPD_DOT_END) {
            ended = true;
            break;
        }
        if (skip > line.len)
            abort();
        if (kind == SMTPD_DOT_CONTENT)
            out += line.len - skip + 1;
        else if (kind == SMTPD_DOT_PARTIAL)
            out += line.len - skip;
    }
    if (out > consumed)
        abort();
    if (ended) {
        const uint8_t *raw = data + 2;
        /* The terminating line is "." plus its line end. */
        if (consumed < 2 || raw[consumed - 1] != '\n')
            abort();
        if (mode != SMTPD_DOT_LAX) {
            bool first_line = consumed == 3 && cmd_end == VSTREAM_LINE_CRLF
                              && memcmp(raw, ".\r\n", 3) == 0;
            bool standard = consumed >= 5 && memcmp(raw + consumed - 5, "\r\n.\r\n", 5) == 0;
            if (!first_line && !standard)
                abort();
        }
    }
    sbuf_free(&line);
    vstream_close(s);
    return 0;
}
