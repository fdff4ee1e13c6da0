/*
 * fuzz_qfile.c - libFuzzer target for queue files read back from disk.
 *
 * The input bytes are written to a file, which is then checked with
 * qfile_validate() and walked the way a reader (qmgr, postcat) does:
 * every record with qfile_get(), the size record parsed and its
 * content/extracted offsets followed with qfile_seek(), every recipient
 * record marked done with qfile_mark_done() on a writable open, and the
 * file validated again. A damaged record must end the walk with -1, never
 * read beyond the file or loop. Writing queue files is not fuzzed here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "support.h"
#include "mail/qfile.h"
#include "util/sbuf.h"

#define MAX_INPUT (256 * 1024)
#define MAX_RCPT 64

/* Read from here to the end; returns the number of records, aborts on a loop. */
static int walk(qfile *q, sbuf *data, size_t size)
{
    int type, n = 0;
    off_t off, last = -1;
    while ((type = qfile_get(q, data, &off)) > 0) {
        if (off <= last || (uint64_t) off >= size || data->len > size)
            abort();            /* records move forward inside the file */
        last = off;
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    const char *path = fuzz_write_file("q", data, size);
    sbuf why = SBUF_INIT, rec = SBUF_INIT;
    int valid = qfile_validate(path, &why) == 0;
    if (!valid && why.len == 0)
        abort();                /* a refusal always has a reason */

    qfile *q = qfile_open_path(path, true);
    if (!q)
        abort();
    off_t rcpt[MAX_RCPT];
    int nrcpt = 0, type, n = 0;
    off_t off, last = -1;
    struct qfile_sizes sz;
    int have_sizes = 0;
    while ((type = qfile_get(q, &rec, &off)) > 0) {
        if (off <= last || (uint64_t) off >= size || rec.len > size)
            abort();
        last = off;
        n++;
        if (type == QREC_SIZE && qfile_parse_sizes(rec.s, rec.len, &sz) == 0) {
            char text[QFILE_SIZE_LEN];
            struct qfile_sizes back;
            qfile_format_sizes(&sz, text);
            if (qfile_parse_sizes(text, sizeof(text), &back) < 0
                || memcmp(&back, &sz, sizeof(sz)) != 0)
                abort();        /* format and parse agree */
            have_sizes = 1;
        }
        if (type == QREC_RCPT && nrcpt < MAX_RCPT)
            rcpt[nrcpt++] = off;
    }
    if (valid && type != 0)
        abort();                /* validate and the walk agree on damage */
    if (have_sizes) {
        uint64_t targets[2] = {sz.content_offset, sz.extracted_offset};
        for (int i = 0; i < 2; i++) {
            if (targets[i] > (uint64_t) INT64_MAX)
                continue;
            if (qfile_seek(q, (off_t) targets[i]) == 0)
                walk(q, &rec, size);
        }
    }
    for (int i = 0; i < nrcpt; i++)
        if (qfile_mark_done(q, rcpt[i]) < 0)
            abort();            /* a recipient record just read can be marked */
    qfile_close(q);
    if (nrcpt) {
        sbuf_reset(&why);
        if ((qfile_validate(path, &why) == 0) != valid)
            abort();            /* marking recipients done changes no validity */
    }
    sbuf_free(&why);
    sbuf_free(&rec);
    return 0;
}
