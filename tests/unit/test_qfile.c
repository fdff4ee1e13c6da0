/*
 * test_qfile.c - queue file writing and reading (src/mail/qfile.c):
 * record framing through the write buffer, big records that go out
 * together with the buffer in one writev, offsets from qfile_tell, truncation after big records, commit, and
 * reading every record back with qfile_get and qfile_seek; qfile_validate
 * on good and damaged files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf_fixture.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"

#define WBUF 65536              /* qfile.c's write buffer */

static int setup(void **state)
{
    (void) state;
    char q[600], dir[700];
    snprintf(q, sizeof(q), "%s/queue", fixture_dir());
    mkdir(q, 0755);
    snprintf(dir, sizeof(dir), "%s/%s", q, QUEUE_INCOMING);
    mkdir(dir, 0700);
    char line[700];
    snprintf(line, sizeof(line), "queue_directory = %s", q);
    fixture_main_cf(line, (char *) 0);
    return 0;
}

/* Record i: type and size from the table, content a pattern of i. */
static const size_t sizes[] = {
    0, 5, WBUF / 4 - 1, WBUF / 4, 1, WBUF - 5, WBUF - 4, WBUF, 3, 70000, 200000, 17,
    WBUF / 2, WBUF / 2, WBUF / 2, 0, 3 * WBUF + 1, 9,
};
#define NREC (sizeof(sizes) / sizeof(sizes[0]))

static char *content_of(size_t i)
{
    char *p = malloc(sizes[i] + 1);
    for (size_t k = 0; k < sizes[i]; k++)
        p[k] = (char) ('a' + (i * 7 + k) % 26);
    return p;
}

static void test_records_roundtrip(void **state)
{
    (void) state;
    char id[32];
    qfile *q = qfile_create(QUEUE_INCOMING, id, sizeof(id));
    assert_non_null(q);
    off_t offs[NREC];
    struct qfile_sizes sz = {0, 0, 0, 1, 0};
    char sizes_text[QFILE_SIZE_LEN];
    qfile_format_sizes(&sz, sizes_text);
    assert_int_equal(qfile_put(q, QREC_SIZE, sizes_text, QFILE_SIZE_LEN), 0);
    for (size_t i = 0; i < NREC; i++) {
        char *c = content_of(i);
        offs[i] = qfile_tell(q);
        assert_int_equal(qfile_put(q, i % 2 ? QREC_BODY : QREC_HEADER, c, sizes[i]), 0);
        assert_int_equal(qfile_tell(q), offs[i] + 5 + (off_t) sizes[i]);
        free(c);
    }
    qfile_set_sizes(q, &sz);
    assert_int_equal(qfile_commit(q, true), 0);
    qfile_close(q);
    char path[4200];
    sbuf why = SBUF_INIT;
    assert_int_equal(qfile_path(path, sizeof(path), QUEUE_INCOMING, id), 0);
    assert_int_equal(qfile_validate(path, &why), 0);
    sbuf_free(&why);

    /* The file has exactly the records, in order, at their offsets. */
    q = qfile_open(QUEUE_INCOMING, id, false);
    assert_non_null(q);
    sbuf d = SBUF_INIT;
    off_t off;
    assert_int_equal(qfile_get(q, &d, &off), QREC_VERSION);
    assert_int_equal(qfile_get(q, &d, &off), QREC_SIZE);
    for (size_t i = 0; i < NREC; i++) {
        char *c = content_of(i);
        assert_int_equal(qfile_get(q, &d, &off), i % 2 ? QREC_BODY : QREC_HEADER);
        assert_int_equal(off, offs[i]);
        assert_int_equal(d.len, sizes[i]);
        assert_memory_equal(d.s, c, sizes[i]);
        free(c);
    }
    assert_int_equal(qfile_get(q, &d, &off), QREC_END);
    assert_int_equal(qfile_get(q, &d, &off), 0);
    /* Jump back to a big record. */
    assert_int_equal(qfile_seek(q, offs[10]), 0);
    assert_int_equal(qfile_get(q, &d, &off), QREC_HEADER);
    assert_int_equal(d.len, sizes[10]);
    qfile_close(q);
    sbuf_free(&d);
}

/* Cut the file after big records went out unbuffered, write on, commit. */
static void test_truncate_after_big(void **state)
{
    (void) state;
    char id[32];
    qfile *q = qfile_create(QUEUE_INCOMING, id, sizeof(id));
    assert_non_null(q);
    char *big = calloc(1, 100000);
    assert_int_equal(qfile_put(q, QREC_SENDER, "s@x", 3), 0);
    off_t cut = qfile_tell(q);
    assert_int_equal(qfile_put(q, QREC_BODY, big, 100000), 0);
    assert_int_equal(qfile_put(q, QREC_BODY, "tail", 4), 0);
    assert_int_equal(qfile_truncate(q, cut), 0);
    assert_int_equal(qfile_tell(q), cut);
    assert_int_equal(qfile_put(q, QREC_BODY, "new", 3), 0);
    assert_int_equal(qfile_commit(q, false), 0);
    qfile_close(q);
    q = qfile_open(QUEUE_INCOMING, id, false);
    sbuf d = SBUF_INIT;
    assert_int_equal(qfile_get(q, &d, 0), QREC_VERSION);
    assert_int_equal(qfile_get(q, &d, 0), QREC_SENDER);
    assert_int_equal(qfile_get(q, &d, 0), QREC_BODY);
    assert_string_equal(sbuf_str(&d), "new");
    assert_int_equal(qfile_get(q, &d, 0), QREC_END);
    qfile_close(q);
    sbuf_free(&d);
    free(big);
}

/* A raw file from pieces (type, length, data) and trailing junk. */
static void raw_file(const char *path, const char *junk, size_t junk_len, int nrec, ...)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    va_list ap;
    va_start(ap, nrec);
    for (int i = 0; i < nrec; i++) {
        int type = va_arg(ap, int);
        size_t len = va_arg(ap, size_t);
        const char *data = va_arg(ap, const char *);
        unsigned char h[5] = {(unsigned char) type, (unsigned char) (len >> 24),
                              (unsigned char) (len >> 16), (unsigned char) (len >> 8),
                              (unsigned char) len};
        fwrite(h, 1, 5, fp);
        if (data)
            fwrite(data, 1, len, fp);
        else
            for (size_t k = 0; k < len; k++)
                fputc('b', fp);
    }
    va_end(ap);
    if (junk_len)
        fwrite(junk, 1, junk_len, fp);
    fclose(fp);
}

/* qfile_validate steps over content without reading it, and still finds
 * every kind of damage. */
static void test_validate(void **state)
{
    (void) state;
    char path[700], szrec[QFILE_SIZE_LEN];
    struct qfile_sizes sz = {0, 0, 0, 1, 0};
    qfile_format_sizes(&sz, szrec);
    snprintf(path, sizeof(path), "%s/raw", fixture_dir());
    sbuf why = SBUF_INIT;
#define V QREC_VERSION, (size_t) 4, QFILE_VERSION
#define S QREC_SIZE, (size_t) QFILE_SIZE_LEN, szrec
#define E QREC_END, (size_t) 0, ""
#define CHECK(want) do { \
        sbuf_reset(&why); \
        int rc_ = qfile_validate(path, &why); \
        if ((want)[0] ? rc_ != -1 || strcmp(sbuf_str(&why), (want)) != 0 : rc_ != 0) \
            fail_msg("validate: %d \"%s\", want \"%s\"", rc_, sbuf_str(&why), (want)); \
    } while (0)

    /* Good: big body records, some bigger than the read buffer. */
    raw_file(path, 0, 0, 6, V, S, QREC_BODY, (size_t) 200000, (char *) 0,
             QREC_BODY, (size_t) 3, "abc", QREC_BODY, (size_t) 70000, (char *) 0, E);
    CHECK("");
    /* A body record that runs past the end of the file. */
    raw_file(path, "BBBB", 4, 3, V, S, QREC_BODY, (size_t) 200000, (char *) 0);
    assert_int_equal(truncate(path, 5 + 4 + 5 + QFILE_SIZE_LEN + 5 + 100000), 0);
    CHECK("damaged record");
    /* ... by one byte, with its end record "inside" it. */
    raw_file(path, 0, 0, 4, V, S, QREC_BODY, (size_t) 70000, (char *) 0, E);
    assert_int_equal(truncate(path, 5 + 4 + 5 + QFILE_SIZE_LEN + 5 + 70000 + 5 - 6), 0);
    CHECK("damaged record");
    /* A header cut short, a zero type, a length beyond the limit. */
    raw_file(path, "B\0\0", 3, 3, V, S, E);
    CHECK("damaged record");
    raw_file(path, 0, 0, 4, V, S, 0, (size_t) 3, "abc", E);
    CHECK("damaged record");
    raw_file(path, "B\xff\xff\xff\xff", 5, 2, V, S);
    CHECK("damaged record");
    /* Structure. */
    raw_file(path, 0, 0, 3, V, S, QREC_BODY, (size_t) 100000, (char *) 0);
    CHECK("no end record (incomplete file)");
    raw_file(path, 0, 0, 4, V, S, E, QREC_BODY, (size_t) 100000, (char *) 0);
    CHECK("data after the end record");
    raw_file(path, 0, 0, 3, QREC_BODY, (size_t) 100000, (char *) 0, S, E);
    CHECK("missing or unknown version record");
    raw_file(path, 0, 0, 4, V, QREC_SIZE, (size_t) 3, "123", QREC_BODY, (size_t) 1, "x", E);
    CHECK("malformed size record");
    raw_file(path, 0, 0, 2, V, E);
    CHECK("no size record");
    raw_file(path, 0, 0, 4, V, S, 'Z', (size_t) 100000, (char *) 0, E);
    CHECK("unknown record type 0x5a");
    sbuf_free(&why);
#undef V
#undef S
#undef E
#undef CHECK
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_records_roundtrip, setup),
        cmocka_unit_test_setup(test_truncate_after_big, setup),
        cmocka_unit_test_setup(test_validate, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
