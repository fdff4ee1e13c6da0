/* test_queue_summary.c - unit tests for src/mail/queue_summary.c (what mailq
 * shows about one message), src/mail/queue_scan.c and src/mail/showq_proto.c
 * (the showq protocol), on queue files made with the qfile writer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_fixture.h"
#include "mail/dsn_log.h"
#include "mail/qfile.h"
#include "mail/queue_scan.h"
#include "mail/queue_summary.h"
#include "mail/showq_proto.h"
#include "util/attr.h"

#define T0 1606065246L
#define REASON "connect to mx.example.net[192.0.2.1]:25: Connection refused"

static char qdir[512];

static int setup(void **state)
{
    (void) state;
    snprintf(qdir, sizeof(qdir), "%s/spool", fixture_dir());
    mkdir(qdir, 0700);
    static const char *const queues[] = {"deferred", "active", "hold", "incoming", "defer",
                                         "maildrop"};
    for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", qdir, queues[i]);
        mkdir(p, 0700);
    }
    char line[600];
    snprintf(line, sizeof(line), "queue_directory = %s", qdir);
    fixture_main_cf(line, (const char *) 0);
    return 0;
}

/* A committed queue file in queue; offsets of the recipient records in off[]. */
static void make_file(const char *queue, char *id, size_t id_size, const char *sender,
                      const char *const *rcpts, size_t n, off_t *off, bool done_first)
{
    qfile *q = qfile_create(queue, id, id_size);
    assert_non_null(q);
    struct qfile_sizes sz = {0};
    char sizes[QFILE_SIZE_LEN];
    qfile_format_sizes(&sz, sizes);
    assert_int_equal(qfile_put(q, QREC_SIZE, sizes, QFILE_SIZE_LEN), 0);
    assert_int_equal(qfile_putf(q, QREC_TIME, "%ld.000001", T0), 0);
    assert_int_equal(qfile_puts(q, QREC_SENDER, sender), 0);
    assert_int_equal(qfile_puts(q, QREC_ATTR, "rewrite_context=local"), 0);
    for (size_t i = 0; i < n; i++) {
        char orig[256];
        snprintf(orig, sizeof(orig), "Orig-%s", rcpts[i]);
        assert_int_equal(qfile_puts(q, QREC_ORCPT, orig), 0);
        off[i] = qfile_tell(q);
        assert_int_equal(qfile_puts(q, QREC_RCPT, rcpts[i]), 0);
    }
    sz.content_offset = (uint64_t) qfile_tell(q);
    assert_int_equal(qfile_put(q, QREC_CONTENT, "", 0), 0);
    assert_int_equal(qfile_puts(q, QREC_HEADER, "Subject: x\n"), 0);
    assert_int_equal(qfile_puts(q, QREC_BODY, "body\n"), 0);
    sz.content_size = 16;
    sz.extracted_offset = (uint64_t) qfile_tell(q);
    assert_int_equal(qfile_put(q, QREC_EXTRACTED, "", 0), 0);
    assert_int_equal(qfile_puts(q, QREC_RCPT, "extracted@example.org"), 0);
    sz.nrcpt = (uint32_t) n + 1;
    qfile_set_sizes(q, &sz);
    if (done_first)
        assert_int_equal(qfile_mark_done(q, off[0]), 0);
    assert_int_equal(qfile_commit(q, false), 0);
    assert_int_equal(qfile_close(q), 0);
}

static void defer(const char *id, const char *rcpt, off_t offset, const char *reason)
{
    struct dsn_rec r;
    memset(&r, 0, sizeof(r));
    r.recipient = rcpt;
    r.offset = offset;
    snprintf(r.status, sizeof(r.status), "4.4.1");
    r.action = "delayed";
    r.reason = reason;
    assert_int_equal(dsn_log_append(DSN_LOG_DEFER, id, &r, 1, false), 0);
}

static void test_summary_order_and_reasons(void **state)
{
    (void) state;
    const char *rcpts[] = {"done@example.net", "a@example.net", "b@example.net",
                           "c@example.net", "x y@example.net"};
    off_t off[5];
    char id[32];
    make_file("deferred", id, sizeof(id), "", rcpts, 5, off, true);
    /* c was deferred first, then a; a second attempt for c changes its reason.
     * b's record has no offset (matched by address); one log record is for a
     * recipient that is not pending (done): it is not shown. */
    defer(id, "c@example.net", off[3], "first");
    defer(id, "a@example.net", off[1], REASON);
    defer(id, "c@example.net", off[3], REASON);
    defer(id, "b@example.net", 0, "by address");
    defer(id, "done@example.net", off[0], "old");

    queue_summary qs;
    queue_summary_init(&qs);
    sbuf why = SBUF_INIT;
    assert_int_equal(queue_summary_read("deferred", id, &qs, &why), 1);
    assert_string_equal(qs.queue, "deferred");
    assert_string_equal(qs.id, id);
    assert_int_equal(qs.arrival, T0);
    assert_int_equal(qs.size, 16);
    assert_string_equal(qs.sender, "MAILER-DAEMON");
    assert_int_equal(qs.nrcpt, 5);
    assert_string_equal(qs.rcpt[0].address, "a@example.net");
    assert_string_equal(qs.rcpt[0].reason, REASON);
    assert_string_equal(qs.rcpt[0].orig, "Orig-a@example.net");
    assert_string_equal(qs.rcpt[1].address, "c@example.net");
    assert_string_equal(qs.rcpt[1].reason, REASON);
    assert_string_equal(qs.rcpt[2].address, "b@example.net");
    assert_string_equal(qs.rcpt[2].reason, "by address");
    assert_string_equal(qs.rcpt[3].address, "\"x y\"@example.net");
    assert_string_equal(qs.rcpt[3].reason, "");
    assert_string_equal(qs.rcpt[4].address, "extracted@example.org");
    assert_string_equal(qs.rcpt[4].orig, "");
    queue_summary_free(&qs);
    sbuf_free(&why);
}

static void test_summary_skips_and_errors(void **state)
{
    (void) state;
    queue_summary qs;
    queue_summary_init(&qs);
    sbuf why = SBUF_INIT;
    /* Missing file, bad ID: nothing to show / error. */
    assert_int_equal(queue_summary_read("deferred", "NOSUCH", &qs, &why), 0);
    assert_int_equal(queue_summary_read("deferred", "../x", &qs, &why), -1);
    /* A file still being written (no owner-execute bit) is skipped. */
    const char *rcpts[] = {"r@example.net"};
    off_t off[1];
    char id[32];
    make_file("incoming", id, sizeof(id), "s@example.com", rcpts, 1, off, false);
    char path[600];
    snprintf(path, sizeof(path), "%s/incoming/%s", qdir, id);
    chmod(path, 0600);
    assert_int_equal(queue_summary_read("incoming", id, &qs, &why), 0);
    /* Not a queue file. */
    snprintf(path, sizeof(path), "%s/hold/GARBAGE1", qdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello world", 11), 11);
    close(fd);
    sbuf_reset(&why);
    assert_int_equal(queue_summary_read("hold", "GARBAGE1", &qs, &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "hold/GARBAGE1"));
    /* Truncated after the envelope: shown with what was read. */
    make_file("hold", id, sizeof(id), "s@example.com", rcpts, 1, off, false);
    snprintf(path, sizeof(path), "%s/hold/%s", qdir, id);
    assert_int_equal(truncate(path, off[0] + 3), 0);
    assert_int_equal(queue_summary_read("hold", id, &qs, &why), 1);
    assert_string_equal(qs.sender, "s@example.com");
    assert_int_equal(qs.nrcpt, 0);
    queue_summary_free(&qs);
    sbuf_free(&why);
}

static void test_scan_lists_ids_sorted(void **state)
{
    (void) state;
    static const char *const names[] = {"ZZZ9", "AAA1", ".123.456.789", "MMM5"};
    for (size_t i = 0; i < 4; i++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/maildrop/%s", qdir, names[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        close(fd);
    }
    strv ids = {0};
    strv_init(&ids);
    assert_int_equal(queue_scan_list("maildrop", &ids), 0);
    assert_int_equal(ids.n, 3);
    assert_string_equal(ids.v[0], "AAA1");
    assert_string_equal(ids.v[1], "MMM5");
    assert_string_equal(ids.v[2], "ZZZ9");
    strv_free(&ids);
    strv_init(&ids);
    assert_int_equal(queue_scan_list("nosuchqueue", &ids), -1);
    assert_int_equal(errno, ENOENT);
    strv_free(&ids);
    assert_true(queue_scan_is_known_queue("defer"));
    assert_true(queue_scan_is_known_queue("corrupt"));
    assert_false(queue_scan_is_known_queue("private"));
    assert_false(queue_scan_is_message_queue("defer"));
}

static void test_protocol_round_trip(void **state)
{
    (void) state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    vstream *w = vstream_open(sv[0]), *r = vstream_open(sv[1]);
    vstream_set_timeout(r, 5000);
    queue_summary qs;
    queue_summary_init(&qs);
    queue_summary_set(&qs, "deferred", "ABC123", T0, 451, "s@example.com");
    queue_summary_add_rcpt(&qs, "a@example.net", "A@example.net", REASON);
    queue_summary_add_rcpt(&qs, "b@example.net", "", "");
    assert_int_equal(showq_send_message(w, &qs), 0);
    queue_summary_free(&qs);
    queue_summary_set(&qs, "hold", "DEF", T0 + 1, 7, "MAILER-DAEMON");
    assert_int_equal(showq_send_message(w, &qs), 0);
    assert_int_equal(showq_send_end(w, -1, "1 queue file could not be read"), 0);
    queue_summary_free(&qs);

    int status = 99;
    sbuf reason = SBUF_INIT, why = SBUF_INIT;
    assert_int_equal(showq_read(r, &qs, &status, &reason, &why), 1);
    assert_string_equal(qs.queue, "deferred");
    assert_string_equal(qs.id, "ABC123");
    assert_int_equal(qs.arrival, T0);
    assert_int_equal(qs.size, 451);
    assert_int_equal(qs.nrcpt, 2);
    assert_string_equal(qs.rcpt[0].orig, "A@example.net");
    assert_string_equal(qs.rcpt[0].reason, REASON);
    assert_int_equal(showq_read(r, &qs, &status, &reason, &why), 1);
    assert_string_equal(qs.queue, "hold");
    assert_int_equal(qs.nrcpt, 0);
    assert_int_equal(showq_read(r, &qs, &status, &reason, &why), 0);
    assert_int_equal(status, -1);
    assert_string_equal(sbuf_str(&reason), "1 queue file could not be read");
    queue_summary_free(&qs);
    sbuf_free(&reason);
    sbuf_free(&why);
    vstream_close(w);
    vstream_close(r);
}

/* A hostile or broken server: the client reports an error, never crashes. */
static void expect_bad(const attr_list *msgs, size_t n, bool close_early)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    vstream *w = vstream_open(sv[0]), *r = vstream_open(sv[1]);
    vstream_set_timeout(r, 5000);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(attr_write(w, &msgs[i]), 0);
    if (close_early)
        vstream_close(w);
    queue_summary qs;
    queue_summary_init(&qs);
    int status = 0, rc;
    sbuf why = SBUF_INIT;
    while ((rc = showq_read(r, &qs, &status, 0, &why)) > 0)
        ;
    assert_int_equal(rc, -1);
    assert_true(why.len > 0);
    queue_summary_free(&qs);
    sbuf_free(&why);
    if (!close_early)
        vstream_close(w);
    vstream_close(r);
}

static void test_protocol_bad_input(void **state)
{
    (void) state;
    attr_list m[2];
    /* A message record that promises more recipients than it sends. */
    attr_list_init(&m[0]);
    attr_add_str(&m[0], "type", "message");
    attr_add_str(&m[0], "queue_name", "deferred");
    attr_add_str(&m[0], "queue_id", "X1");
    attr_add_long(&m[0], "arrival_time", T0);
    attr_add_long(&m[0], "message_size", 1);
    attr_add_int(&m[0], "forced_expire", 0);
    attr_add_str(&m[0], "sender", "s\x1b@example.com");
    attr_add_int(&m[0], "rcpt_count", 3);
    expect_bad(m, 1, true);
    /* A negative count. */
    attr_list_reset(&m[0]);
    attr_add_str(&m[0], "type", "message");
    attr_add_str(&m[0], "queue_name", "deferred");
    attr_add_str(&m[0], "queue_id", "X1");
    attr_add_long(&m[0], "arrival_time", T0);
    attr_add_long(&m[0], "message_size", 1);
    attr_add_int(&m[0], "forced_expire", 0);
    attr_add_str(&m[0], "sender", "s@example.com");
    attr_add_int(&m[0], "rcpt_count", -1);
    expect_bad(m, 1, true);
    /* Missing attributes; unknown record type; no end record. */
    attr_list_reset(&m[0]);
    attr_add_str(&m[0], "type", "message");
    expect_bad(m, 1, true);
    attr_list_reset(&m[0]);
    attr_add_str(&m[0], "type", "surprise");
    expect_bad(m, 1, true);
    attr_list_reset(&m[0]);
    attr_add_int(&m[0], "type", 1);
    expect_bad(m, 1, true);
    expect_bad(m, 0, true);
    attr_list_free(&m[0]);

    /* Control characters from the server are neutralised. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    vstream *w = vstream_open(sv[0]), *r = vstream_open(sv[1]);
    queue_summary qs;
    queue_summary_init(&qs);
    queue_summary_set(&qs, "deferred", "ID\n1", T0, 1, "s\x1b[2J@example.com");
    queue_summary_add_rcpt(&qs, "r\r@example.net", "", "why\x07");
    assert_int_equal(showq_send_message(w, &qs), 0);
    assert_int_equal(showq_send_end(w, 0, 0), 0);
    queue_summary_free(&qs);
    int status = 1;
    sbuf why = SBUF_INIT;
    assert_int_equal(showq_read(r, &qs, &status, 0, &why), 1);
    assert_string_equal(qs.id, "ID?1");
    assert_string_equal(qs.sender, "s?[2J@example.com");
    assert_string_equal(qs.rcpt[0].address, "r?@example.net");
    assert_string_equal(qs.rcpt[0].reason, "why?");
    assert_int_equal(showq_read(r, &qs, &status, 0, &why), 0);
    assert_int_equal(status, 0);
    queue_summary_free(&qs);
    sbuf_free(&why);
    vstream_close(w);
    vstream_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_order_and_reasons),
        cmocka_unit_test(test_summary_skips_and_errors),
        cmocka_unit_test(test_scan_lists_ids_sorted),
        cmocka_unit_test(test_protocol_round_trip),
        cmocka_unit_test(test_protocol_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, 0);
}
