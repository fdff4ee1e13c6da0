/*
 * test_maildrop.c - the maildrop record format: stream framing
 * (qrec_write/qrec_read), qfile_create_mode permissions, and the postdrop
 * program itself (HK_BUILD_DIR/postdrop) fed good and bad record streams.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "conf_fixture.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "util/mem.h"

static char queue_dir[512];

static int setup(void **state)
{
    (void) state;
    snprintf(queue_dir, sizeof(queue_dir), "%s/queue", fixture_dir());
    mkdir(queue_dir, 0755);
    char sub[700];
    snprintf(sub, sizeof(sub), "%s/maildrop", queue_dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof(sub), "%s/public", queue_dir);
    mkdir(sub, 0755);
    char q[600];
    snprintf(q, sizeof(q), "queue_directory = %s", queue_dir);
    fixture_main_cf(q, "message_size_limit = 1000", (char *) 0);
    return 0;
}

/* ---- framing ---- */

static void test_qrec_roundtrip(void **state)
{
    (void) state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    vstream *w = vstream_open(sv[0]), *r = vstream_open(sv[1]);
    assert_int_equal(qrec_write(w, QREC_SENDER, "root", 4), 0);
    assert_int_equal(qrec_write(w, QREC_BODY, "a\0b", 3), 0);
    assert_int_equal(qrec_write(w, QREC_END, "", 0), 0);
    assert_int_equal(qrec_write(w, 0, "", 0), -1);          /* type 0 is not a record */
    vstream_close(w);
    sbuf d = SBUF_INIT;
    assert_int_equal(qrec_read(r, &d, 100), QREC_SENDER);
    assert_string_equal(sbuf_str(&d), "root");
    assert_int_equal(qrec_read(r, &d, 100), QREC_BODY);
    assert_int_equal(d.len, 3);
    assert_memory_equal(d.s, "a\0b", 3);
    assert_int_equal(qrec_read(r, &d, 100), QREC_END);
    assert_int_equal(qrec_read(r, &d, 100), 0);             /* clean end */
    vstream_close(r);
    sbuf_free(&d);
}

static int read_bytes(const void *bytes, size_t n, size_t max, sbuf *d)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], bytes, n);
    close(sv[0]);
    vstream *r = vstream_open(sv[1]);
    int t = qrec_read(r, d, max);
    vstream_close(r);
    return t;
}

static void test_qrec_bad_input(void **state)
{
    (void) state;
    sbuf d = SBUF_INIT;
    assert_int_equal(read_bytes("\0\0\0\0\0", 5, 100, &d), -1);           /* type 0 */
    assert_int_equal(read_bytes("R\0\0", 3, 100, &d), -1);                 /* short length */
    assert_int_equal(read_bytes("R\0\0\0\x05" "ab", 7, 100, &d), -1);      /* short data */
    assert_int_equal(read_bytes("R\0\0\x01\0", 5, 100, &d), -1);           /* over max */
    assert_int_equal(read_bytes("R\xff\xff\xff\xff", 5, (size_t) -1, &d), -1);
    assert_int_equal(read_bytes("R\0\0\0\x02" "ok", 7, 100, &d), QREC_RCPT);
    assert_string_equal(sbuf_str(&d), "ok");
    sbuf_free(&d);
}

static void test_create_mode(void **state)
{
    (void) state;
    mode_t old = umask(077);
    char id[32];
    qfile *q = qfile_create_mode(QUEUE_MAILDROP, id, sizeof(id), 0044);
    assert_non_null(q);
    struct stat st;
    fstat(qfile_fd(q), &st);
    assert_int_equal(st.st_mode & 07777, 0644);
    char sizes[QFILE_SIZE_LEN];
    struct qfile_sizes sz = {0};
    qfile_format_sizes(&sz, sizes);
    qfile_put(q, QREC_SIZE, sizes, sizeof(sizes));
    assert_int_equal(qfile_commit(q, true), 0);
    fstat(qfile_fd(q), &st);
    assert_int_equal(st.st_mode & 07777, 0744);
    char path[4200];
    snprintf(path, sizeof(path), "%s", qfile_file(q));
    qfile_close(q);
    sbuf why = SBUF_INIT;
    assert_int_equal(qfile_validate(path, &why), 0);
    unlink(path);
    umask(old);
    sbuf_free(&why);
}

/* ---- postdrop ---- */

static int maildrop_files(char names[][64], int max)
{
    char dir[700];
    snprintf(dir, sizeof(dir), "%s/maildrop", queue_dir);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != 0)
        if (e->d_name[0] != '.' && n < max)
            snprintf(names[n++], 64, "%.63s", e->d_name);
    closedir(d);
    return n;
}

static void clear_maildrop(void)
{
    char names[32][64];
    int n = maildrop_files(names, 32);
    for (int i = 0; i < n; i++) {
        char p[800];
        snprintf(p, sizeof(p), "%s/maildrop/%s", queue_dir, names[i]);
        unlink(p);
    }
}

/* Run postdrop with the given bytes on stdin; returns its exit status. */
static int postdrop(const sbuf *input)
{
    const char *build = getenv("HK_BUILD_DIR");
    char prog[600];
    snprintf(prog, sizeof(prog), "%s/postdrop", build ? build : ".");
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[0], 0);
        close(p[0]);
        close(p[1]);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        setenv("MAIL_CONFIG", fixture_dir(), 1);
        execl(prog, "postdrop", "-r", (char *) 0);
        _exit(127);
    }
    close(p[0]);
    write(p[1], input->s, input->len);
    close(p[1]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void rec(sbuf *b, int type, const char *data)
{
    size_t n = strlen(data);
    unsigned char h[5] = {(unsigned char) type, (unsigned char) (n >> 24),
                          (unsigned char) (n >> 16), (unsigned char) (n >> 8),
                          (unsigned char) n};
    sbuf_add(b, h, 5);
    sbuf_add(b, data, n);
}

static void test_postdrop_good(void **state)
{
    (void) state;
    clear_maildrop();
    sbuf in = SBUF_INIT;
    rec(&in, QREC_SENDER, "joe");
    rec(&in, QREC_ATTR, "full_name=Joe User");
    rec(&in, QREC_NOTIFY, "SUCCESS,DELAY");
    rec(&in, QREC_RCPT, "alice@example.jp");
    rec(&in, QREC_RCPT, "bob");
    rec(&in, QREC_CONTENT, "");
    rec(&in, QREC_BODY, "Subject: x\n\nhello\n");
    rec(&in, QREC_END, "");
    assert_int_equal(postdrop(&in), 0);
    char names[4][64];
    assert_int_equal(maildrop_files(names, 4), 1);
    char path[800];
    snprintf(path, sizeof(path), "%s/maildrop/%s", queue_dir, names[0]);
    struct stat st;
    stat(path, &st);
    assert_int_equal(st.st_mode & 07777, 0744);
    sbuf why = SBUF_INIT;
    assert_int_equal(qfile_validate(path, &why), 0);
    /* V S T F A A N R R M B E, with the size record filled in */
    qfile *q = qfile_open_path(path, false);
    sbuf d = SBUF_INIT, types = SBUF_INIT;
    int t;
    struct qfile_sizes sz = {0};
    off_t off, content = -1;
    while ((t = qfile_get(q, &d, &off)) > 0) {
        sbuf_addc(&types, t);
        if (t == QREC_SIZE)
            qfile_parse_sizes(d.s, d.len, &sz);
        if (t == QREC_CONTENT)
            content = off;
        if (t == QREC_ATTR && strncmp(d.s, "rewrite_context", 15) == 0)
            assert_string_equal(d.s, "rewrite_context=local");
    }
    assert_string_equal(sbuf_str(&types), "VSTFAANRRMBE");
    assert_int_equal(sz.nrcpt, 2);
    assert_int_equal(sz.content_offset, content);
    assert_int_equal(sz.content_size, strlen("Subject: x\n\nhello\n"));
    qfile_close(q);
    sbuf_free(&d);
    sbuf_free(&types);
    sbuf_free(&why);
    sbuf_free(&in);
    clear_maildrop();
}

static void bad(void (*build)(sbuf *), int want_status)
{
    clear_maildrop();
    sbuf in = SBUF_INIT;
    build(&in);
    assert_int_equal(postdrop(&in), want_status);
    char names[4][64];
    assert_int_equal(maildrop_files(names, 4), 0);      /* nothing left behind */
    sbuf_free(&in);
}

static void no_end(sbuf *b)
{
    rec(b, QREC_SENDER, "joe");
    rec(b, QREC_RCPT, "x");
    rec(b, QREC_CONTENT, "");
    rec(b, QREC_BODY, "partial");
}

static void forged_attr(sbuf *b)
{
    rec(b, QREC_SENDER, "joe");
    rec(b, QREC_ATTR, "client_address=192.0.2.1");
    rec(b, QREC_RCPT, "x");
    rec(b, QREC_CONTENT, "");
    rec(b, QREC_END, "");
}

static void header_record(sbuf *b)
{
    rec(b, QREC_SENDER, "joe");
    rec(b, QREC_RCPT, "x");
    rec(b, QREC_CONTENT, "");
    rec(b, QREC_HEADER, "X-Forged: yes\n");
    rec(b, QREC_END, "");
}

static void no_rcpt(sbuf *b)
{
    rec(b, QREC_SENDER, "joe");
    rec(b, QREC_CONTENT, "");
    rec(b, QREC_END, "");
}

static void too_big(sbuf *b)
{
    rec(b, QREC_SENDER, "joe");
    rec(b, QREC_RCPT, "x");
    rec(b, QREC_CONTENT, "");
    char big[1200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    rec(b, QREC_BODY, big);
    rec(b, QREC_END, "");
}

static void nul_in_rcpt(sbuf *b)
{
    rec(b, QREC_SENDER, "joe");
    sbuf_add(b, "R\0\0\0\x03" "a\0b", 8);
    rec(b, QREC_CONTENT, "");
    rec(b, QREC_END, "");
}

static void garbage(sbuf *b)
{
    sbuf_adds(b, "From: joe\nTo: x\n\nplain text is not records\n");
}

static void test_postdrop_bad(void **state)
{
    (void) state;
    bad(no_end, 65);
    bad(forged_attr, 65);
    bad(header_record, 65);
    bad(no_rcpt, 65);
    bad(too_big, 65);
    bad(nul_in_rcpt, 65);
    bad(garbage, 65);
}

static void extract_only(sbuf *b)
{
    rec(b, QREC_SENDER, "joe");
    rec(b, QREC_ATTR, "extract_recipients=yes");
    rec(b, QREC_ATTR, "rewrite_context=remote");
    rec(b, QREC_CONTENT, "");
    rec(b, QREC_BODY, "To: x\n\n");
    rec(b, QREC_END, "");
}

static void test_postdrop_extract(void **state)
{
    (void) state;
    clear_maildrop();
    sbuf in = SBUF_INIT;
    extract_only(&in);
    assert_int_equal(postdrop(&in), 0);
    char names[4][64];
    assert_int_equal(maildrop_files(names, 4), 1);
    char path[800];
    snprintf(path, sizeof(path), "%s/maildrop/%s", queue_dir, names[0]);
    qfile *q = qfile_open_path(path, false);
    sbuf d = SBUF_INIT, attrs = SBUF_INIT;
    int t;
    while ((t = qfile_get(q, &d, 0)) > 0)
        if (t == QREC_ATTR)
            sbuf_printf(&attrs, "%s;", sbuf_str(&d));
    assert_string_equal(sbuf_str(&attrs), "extract_recipients=yes;rewrite_context=remote;");
    qfile_close(q);
    sbuf_free(&d);
    sbuf_free(&attrs);
    sbuf_free(&in);
    clear_maildrop();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qrec_roundtrip),
        cmocka_unit_test(test_qrec_bad_input),
        cmocka_unit_test_setup(test_create_mode, setup),
        cmocka_unit_test_setup(test_postdrop_good, setup),
        cmocka_unit_test_setup(test_postdrop_bad, setup),
        cmocka_unit_test_setup(test_postdrop_extract, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
