/*
 * test_cleanup_checks.c - cleanup's content inspection, in process:
 * header_checks / mime_header_checks / nested_header_checks / body_checks
 * dispatch, every action of header_checks(5) with its log line and queue
 * outcome, folded headers, body_checks_size_limit, MIME errors, the
 * bounce of a rejected local submission (bounce/ID and DONE recipients),
 * soft_bounce, content_filter and FILTER records, REDIRECT overriding
 * FILTER, table failures, disable_mime_input_processing, and
 * receive_override_options.
 *
 * As test_cleanup.c, the daemon's modules are compiled in and messages go
 * through the functions the protocol loop calls, into real queue files;
 * log lines are captured through msg_set_logfd().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_fixture.h"

#include "../../src/cleanup/cleanup_bounce.c"
#include "../../src/cleanup/cleanup_checks.c"
#include "../../src/cleanup/cleanup_commit.c"
#include "../../src/cleanup/cleanup_content.c"
#include "../../src/cleanup/cleanup_envelope.c"
#include "../../src/cleanup/cleanup_hdr_addr.c"
#include "../../src/cleanup/cleanup_header.c"
#include "../../src/cleanup/cleanup_map.c"
#include "../../src/cleanup/cleanup_milter.c"
#include "mail/receive_override.h"

/* ---- fixture ---- */

static char queue_dir[512];
static int log_fd = -1;

/* main.cf with the standard lines plus extra (NULL-terminated list). */
static void config_v(const char *const *extra)
{
    char q[600], sub[700];
    snprintf(queue_dir, sizeof(queue_dir), "%s/queue", fixture_dir());
    mkdir(queue_dir, 0755);
    static const char *const dirs[] = {"incoming", "hold", "bounce"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", queue_dir, dirs[i]);
        mkdir(sub, 0700);
    }
    snprintf(q, sizeof(q), "queue_directory = %s", queue_dir);
    const char *l[16] = {q, "myhostname = mail.example.jp", "mydomain = example.jp",
                         "myorigin = $mydomain", "mydestination = $myhostname, localhost"};
    size_t n = 5;
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        l[n++] = extra[i];
    l[n] = 0;
    fixture_main_cf(l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10], l[11],
                    l[12], l[13], l[14], (char *) 0);
    cleanup_params_init();
    cleanup_map_init();
    cleanup_checks_init();
}

#define CONFIG(...) do { const char *const x_[] = {__VA_ARGS__, 0}; config_v(x_); } while (0)

static const char header_table[] =
    "/^Subject: reject me/ REJECT\n"
    "/^Subject: (custom)/ REJECT 5.7.0 go away: $1\n"
    "/^Subject: later/ REJECT 4.3.2 try later\n"
    "/^Subject: (dis)card/ DISCARD ${1}carded\n"
    "/^Subject: hold/ HOLD held for review\n"
    "/^Subject: warn/ WARN just a warning\n"
    "/^Subject: info/ INFO for the record\n"
    "/^Subject: redirect/ REDIRECT other@example.org\n"
    "/^Subject: filter/ FILTER smtp:[127.0.0.1]:10024\n"
    "/^Subject: badfilter/ FILTER nocolon\n"
    "/^Subject: bcc/ BCC copy@example.org\n"
    "/^Subject: pass/ PASS trusted\n"
    "/^X-Drop:/ IGNORE\n"
    "/^X-Strip:/ STRIP stripped\n"
    "/^X-Old: (.*)/ REPLACE X-New: $1\n"
    "/^X-Mark:/ PREPEND X-Marked: yes\n"
    "/^X-Prepend-Bad:/ PREPEND not a header\n"
    "/^X-Dunno:/ DUNNO\n"
    "/^X-Unknown:/ REJEC\n"
    "/^Subject:.*secret/ REJECT folded secret\n"
    "/^Content-Type:.*name=.*\\.scr/ REJECT attachment\n"
    "/^X-Nested-Only:/ WARN primary table saw a nested header\n";

static const char body_table[] =
    "/spam/ REJECT\n"
    "/^replace me$/ REPLACE replaced body line\n"
    "/^drop me$/ IGNORE\n"
    "/^prepend me$/ PREPEND prepended body line\n"
    "/^X-Part-Header:/ WARN body saw a part header\n";

static void default_config(void)
{
    char h[600], b[600];
    snprintf(h, sizeof(h), "header_checks = regexp:%s", fixture_write("header_checks",
                                                                     header_table));
    snprintf(b, sizeof(b), "body_checks = regexp:%s", fixture_write("body_checks", body_table));
    CONFIG(h, b);
}

static int setup(void **state)
{
    (void) state;
    if (log_fd < 0) {
        char path[600];
        snprintf(path, sizeof(path), "%s/log", fixture_dir());
        log_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
        msg_init("cleanup", MSG_TO_FILE);
        msg_set_logfd(log_fd);
    }
    if (ftruncate(log_fd, 0) < 0)
        return -1;
    default_config();
    return 0;
}

static void log_text(sbuf *out)
{
    sbuf_reset(out);
    char buf[4096];
    ssize_t n;
    off_t off = 0;
    while ((n = pread(log_fd, buf, sizeof(buf), off)) > 0) {
        sbuf_add(out, buf, (size_t) n);
        off += n;
    }
}

static bool logged(const char *what)
{
    sbuf l = SBUF_INIT;
    log_text(&l);
    bool found = strstr(sbuf_str(&l), what) != 0;
    if (!found)
        print_message("not in the log: %s\n--- log:\n%s---\n", what, sbuf_str(&l));
    sbuf_free(&l);
    return found;
}

/* ---- running messages ---- */

struct msg {
    int     flags;
    const char *rcpts[4];
    const char *attrs[8];       /* "name=value" */
    const char *content;
};

static int run(const struct msg *m, char *id, sbuf *reason)
{
    struct cleanup_state *st = cleanup_state_open(m->flags ? m->flags
                                                           : CLEANUP_FLAG_MASK_DEFAULT);
    snprintf(id, 32, "%s", st->queue_id);
    cleanup_env_sender(st, "s@example.org");
    for (int i = 0; i < 8 && m->attrs[i]; i++) {
        char *nv = xstrdup(m->attrs[i]);
        char *eq = strchr(nv, '=');
        *eq = 0;
        cleanup_env_attr(st, nv, eq + 1);
        xfree(nv);
    }
    for (int i = 0; i < 4 && m->rcpts[i]; i++)
        cleanup_env_rcpt(st, m->rcpts[i], 0, 0, 0);
    if (!m->rcpts[0])
        cleanup_env_rcpt(st, "a@example.org", 0, 0, 0);
    cleanup_content_data(st, m->content, strlen(m->content));
    int status = cleanup_commit_message(st);
    if (reason)
        sbuf_set(reason, sbuf_str(&st->reason));
    cleanup_state_free(st);
    return status;
}

static bool file_exists(const char *queue, const char *id)
{
    char path[4200];
    qfile_path(path, sizeof(path), queue, id);
    return access(path, F_OK) == 0;
}

/* Records of a queue file as "T:data|T:data|..." (content records only
 * when with_content). */
static void records(const char *queue, const char *id, bool with_content, sbuf *out)
{
    sbuf_reset(out);
    qfile *q = qfile_open(queue, id, false);
    assert_non_null(q);
    sbuf d = SBUF_INIT;
    int type;
    while ((type = qfile_get(q, &d, 0)) > 0) {
        if (type == QREC_SIZE || type == QREC_TIME || type == QREC_VERSION)
            continue;
        if (!with_content && (type == QREC_HEADER || type == QREC_BODY))
            continue;
        sbuf_printf(out, "%c:", type);
        sbuf_add(out, d.s ? d.s : "", d.len);
        sbuf_addc(out, '|');
    }
    sbuf_free(&d);
    qfile_close(q);
}

static bool has_record(const char *queue, const char *id, const char *rec)
{
    sbuf r = SBUF_INIT;
    records(queue, id, true, &r);
    bool found = strstr(sbuf_str(&r), rec) != 0;
    if (!found)
        print_message("no %s in %s\n", rec, sbuf_str(&r));
    sbuf_free(&r);
    return found;
}

static const char *smtp_attrs[] = {"client_name=mail.example.com",
                                   "client_address=192.0.2.1", "protocol=ESMTP",
                                   "helo_name=helo.example.com", 0};

/* ---- tests ---- */

static void test_parse_action(void **state)
{
    (void) state;
    struct cleanup_verdict v = {CLEANUP_ACT_NONE, SBUF_INIT};
    static const struct {
        const char *value, *where;
        enum cleanup_act act;
        const char *text;
    } cases[] = {
        {"REJECT", "header", CLEANUP_ACT_REJECT, "5.7.1 Message content rejected"},
        {"reject  go away ", "header", CLEANUP_ACT_REJECT, "5.7.1 go away"},
        {"REJECT 5.7.0 policy", "body", CLEANUP_ACT_REJECT, "5.7.0 policy"},
        {"REJECT 4.7.1 later", "body", CLEANUP_ACT_DEFER, "4.7.1 later"},
        {"REJECT 2.0.0 odd", "body", CLEANUP_ACT_DEFER, "4.0.0 odd"},
        {"Discard", "header", CLEANUP_ACT_DISCARD, ""},
        {"DISCARD some text", "header", CLEANUP_ACT_DISCARD, "some text"},
        {"HOLD", "header", CLEANUP_ACT_HOLD, ""},
        {"WARN x", "body", CLEANUP_ACT_WARN, "x"},
        {"INFO", "body", CLEANUP_ACT_INFO, ""},
        {"IGNORE whatever", "header", CLEANUP_ACT_IGNORE, ""},
        {"STRIP why", "header", CLEANUP_ACT_STRIP, "why"},
        {"REPLACE X-A: b", "header", CLEANUP_ACT_REPLACE, "X-A: b"},
        {"REPLACE not a header", "header", CLEANUP_ACT_NONE, ""},
        {"REPLACE any body text", "body", CLEANUP_ACT_REPLACE, "any body text"},
        {"REPLACE", "body", CLEANUP_ACT_NONE, ""},
        {"PREPEND X-P: 1", "header", CLEANUP_ACT_PREPEND, "X-P: 1"},
        {"PREPEND :bad", "header", CLEANUP_ACT_NONE, ""},
        {"REDIRECT a@example.org", "header", CLEANUP_ACT_REDIRECT, "a@example.org"},
        {"REDIRECT nobody", "header", CLEANUP_ACT_NONE, ""},
        {"BCC b@example.org", "body", CLEANUP_ACT_BCC, "b@example.org"},
        {"BCC", "body", CLEANUP_ACT_NONE, ""},
        {"FILTER smtp:[127.0.0.1]:10024", "header", CLEANUP_ACT_FILTER,
         "smtp:[127.0.0.1]:10024"},
        {"FILTER scan", "header", CLEANUP_ACT_NONE, ""},
        {"PASS", "header", CLEANUP_ACT_PASS, ""},
        {"DUNNO", "header", CLEANUP_ACT_NONE, ""},
        {"OK", "header", CLEANUP_ACT_NONE, ""},
        {"REJEC", "header", CLEANUP_ACT_NONE, ""},
        {"", "header", CLEANUP_ACT_NONE, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum cleanup_act act = cleanup_parse_action(cases[i].value, cases[i].where,
                                                    "header_checks", &v);
        if (act != cases[i].act || v.act != act
            || (act != CLEANUP_ACT_NONE && strcmp(sbuf_str(&v.text), cases[i].text) != 0))
            fail_msg("\"%s\": act %d text \"%s\", want %d \"%s\"", cases[i].value, (int) act,
                     sbuf_str(&v.text), (int) cases[i].act, cases[i].text);
    }
    sbuf_free(&v.text);
    assert_true(logged("warning: unknown command in header_checks map: REJEC"));
    assert_true(logged("warning: bad FILTER command scan in header_checks -- need "
                       "transport:destination"));
    assert_true(logged("warning: bad DSN action in 2.0.0 odd -- need 4.x.x or 5.x.x"));
}

static void test_reject_logs(void **state)
{
    (void) state;
    char id[32];
    sbuf why = SBUF_INIT, line = SBUF_INIT;
    /* Over SMTP: the Postfix log line with the client, proto and helo. */
    struct msg m = {0, {"c@example.org"}, {0}, "Subject: reject me please\n\nbody\n"};
    for (int i = 0; smtp_attrs[i]; i++)
        m.attrs[i] = smtp_attrs[i];
    assert_int_equal(run(&m, id, &why), CLEANUP_STAT_CONT);
    assert_string_equal(sbuf_str(&why), "5.7.1 Message content rejected");
    assert_false(file_exists(QUEUE_INCOMING, id));
    sbuf_printf(&line, "%s: reject: header Subject: reject me please from "
                "mail.example.com[192.0.2.1]; from=<s@example.org> to=<c@example.org> "
                "proto=ESMTP helo=<helo.example.com>: 5.7.1 Message content rejected", id);
    assert_true(logged(sbuf_str(&line)));
    /* Local submission: "from local;". $0 substitution by the table. */
    struct msg c = {0, {"c@example.org"}, {0}, "Subject: custom\n\nbody\n"};
    assert_int_equal(run(&c, id, &why), CLEANUP_STAT_CONT);
    assert_string_equal(sbuf_str(&why), "5.7.0 go away: custom");
    sbuf_reset(&line);
    sbuf_printf(&line, "%s: reject: header Subject: custom from local; from=<s@example.org> "
                "to=<c@example.org>: 5.7.0 go away: custom", id);
    assert_true(logged(sbuf_str(&line)));
    /* A 4.x.x text defers. */
    struct msg d = {0, {0}, {0}, "Subject: later\n\nbody\n"};
    assert_int_equal(run(&d, id, &why), CLEANUP_STAT_DEFER);
    assert_string_equal(sbuf_str(&why), "4.3.2 try later");
    /* The body: seed 001's "spam" rule. */
    struct msg b = {0, {0}, {0}, "Subject: hi\n\nthis is spam\n"};
    assert_int_equal(run(&b, id, &why), CLEANUP_STAT_CONT);
    sbuf_reset(&line);
    sbuf_printf(&line, "%s: reject: body this is spam from local; from=<s@example.org> "
                "to=<a@example.org>: 5.7.1 Message content rejected", id);
    assert_true(logged(sbuf_str(&line)));
    sbuf_free(&why);
    sbuf_free(&line);
}

static void test_folded_header(void **state)
{
    (void) state;
    char id[32];
    sbuf why = SBUF_INIT;
    /* One logical header, folds kept: POSIX "." matches the newline. */
    struct msg m = {0, {0}, {0}, "Subject: nothing\n\there\n\tsecret\n\nbody\n"};
    assert_int_equal(run(&m, id, &why), CLEANUP_STAT_CONT);
    assert_string_equal(sbuf_str(&why), "5.7.1 folded secret");
    /* The log shows the header with its folds as one line. */
    assert_true(logged(": reject: header Subject: nothing?\there?\tsecret from local;")
                || logged(": reject: header Subject: nothing??here??secret from local;"));
    sbuf_free(&why);
}

static void test_discard_hold_warn(void **state)
{
    (void) state;
    char id[32];
    sbuf line = SBUF_INIT;
    struct msg d = {0, {0}, {0}, "Subject: discard\nSubject: reject me\n\nspam\n"};
    assert_int_equal(run(&d, id, 0), CLEANUP_STAT_DISCARD);
    assert_false(file_exists(QUEUE_INCOMING, id));
    sbuf_printf(&line, "%s: discard: header Subject: discard from local; from=<s@example.org> "
                "to=<a@example.org>: discarded", id);
    assert_true(logged(sbuf_str(&line)));
    /* No inspection after DISCARD: no reject line. */
    sbuf_reset(&line);
    sbuf_printf(&line, "%s: reject:", id);
    sbuf all = SBUF_INIT;
    log_text(&all);
    assert_null(strstr(sbuf_str(&all), sbuf_str(&line)));
    sbuf_free(&all);

    struct msg h = {0, {0}, {0}, "Subject: hold\nSubject: hold again\n\nbody\n"};
    assert_int_equal(run(&h, id, 0), CLEANUP_STAT_OK);
    assert_false(file_exists(QUEUE_INCOMING, id));
    assert_true(file_exists(QUEUE_HOLD, id));
    sbuf_reset(&line);
    sbuf_printf(&line, "%s: hold: header Subject: hold from local; from=<s@example.org> "
                "to=<a@example.org>: held for review", id);
    assert_true(logged(sbuf_str(&line)));
    sbuf_reset(&line);
    sbuf_printf(&line, "%s: hold: header Subject: hold again", id);
    sbuf log = SBUF_INIT;
    log_text(&log);
    assert_null(strstr(sbuf_str(&log), sbuf_str(&line)));      /* logged once */

    struct msg w = {0, {0}, {0}, "Subject: warn\nSubject: info\n\nbody\n"};
    assert_int_equal(run(&w, id, 0), CLEANUP_STAT_OK);
    assert_true(file_exists(QUEUE_INCOMING, id));
    sbuf_reset(&line);
    sbuf_printf(&line, "%s: warning: header Subject: warn from local; from=<s@example.org> "
                "to=<a@example.org>: just a warning", id);
    assert_true(logged(sbuf_str(&line)));
    sbuf_reset(&line);
    sbuf_printf(&line, "%s: info: header Subject: info from local; from=<s@example.org> "
                "to=<a@example.org>: for the record", id);
    assert_true(logged(sbuf_str(&line)));
    sbuf_free(&line);
    sbuf_free(&log);
}

static void test_line_edits(void **state)
{
    (void) state;
    char id[32];
    struct msg m = {0, {0}, {0},
                    "X-Drop: gone\nX-Strip: gone too\nX-Old: value\nX-Mark: m\n"
                    "X-Prepend-Bad: kept\nX-Dunno: kept\nX-Unknown: kept\n\n"
                    "replace me\ndrop me\nprepend me\nend\n"};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    sbuf r = SBUF_INIT;
    records(QUEUE_INCOMING, id, true, &r);
    const char *s = sbuf_str(&r);
    assert_null(strstr(s, "X-Drop"));
    assert_null(strstr(s, "X-Strip"));
    assert_null(strstr(s, "X-Old"));
    assert_non_null(strstr(s, "H:X-New: value\n|"));
    assert_non_null(strstr(s, "H:X-Marked: yes\n|H:X-Mark: m\n|"));
    assert_non_null(strstr(s, "H:X-Prepend-Bad: kept\n|H:X-Dunno: kept\n|H:X-Unknown: kept\n|"));
    assert_non_null(strstr(s, "B:replaced body line\nprepended body line\nprepend me\nend\n|"));
    assert_true(logged(": replace: header X-Old: value from local; from=<s@example.org> "
                       "to=<a@example.org>: X-New: value"));
    assert_true(logged(": prepend: header X-Mark: m from local;"));
    assert_true(logged(": strip: header X-Strip: gone too from local;"));
    assert_true(logged(": replace: body replace me from local;"));
    assert_true(logged("warning: bad PREPEND header text \"not a header\" in header_checks map"));
    sbuf_free(&r);
}

static void test_redirect_filter_bcc(void **state)
{
    (void) state;
    char id[32];
    sbuf r = SBUF_INIT;
    struct msg red = {0, {"a@example.org", "b@example.org"}, {0},
                      "Subject: redirect\nSubject: reject me\n\nbody\n"};
    assert_int_equal(run(&red, id, 0), CLEANUP_STAT_OK);    /* no inspection after it */
    records(QUEUE_INCOMING, id, false, &r);
    assert_non_null(strstr(sbuf_str(&r), "D:a@example.org|"));
    assert_non_null(strstr(sbuf_str(&r), "D:b@example.org|"));
    assert_non_null(strstr(sbuf_str(&r), "X:|O:other@example.org|R:other@example.org|E:|"));
    assert_true(logged(": redirect: header Subject: redirect from local; from=<s@example.org> "
                       "to=<a@example.org>: other@example.org"));

    struct msg f = {0, {0}, {0}, "Subject: filter\n\nbody\n"};
    assert_int_equal(run(&f, id, 0), CLEANUP_STAT_OK);
    assert_true(has_record(QUEUE_INCOMING, id, "X:|L:smtp:[127.0.0.1]:10024|E:|"));
    assert_true(logged(": filter: header Subject: filter from local;"));
    /* content_filter from the client; a FILTER verdict overrides it. */
    struct msg cf = {0, {0}, {"content_filter=scan:[127.0.0.1]:10025"}, "Subject: x\n\nb\n"};
    assert_int_equal(run(&cf, id, 0), CLEANUP_STAT_OK);
    assert_true(has_record(QUEUE_INCOMING, id, "X:|L:scan:[127.0.0.1]:10025|E:|"));
    assert_false(has_record(QUEUE_INCOMING, id, "A:content_filter"));
    struct msg cf2 = {0, {0}, {"content_filter=scan:[127.0.0.1]:10025"},
                      "Subject: filter\n\nb\n"};
    assert_int_equal(run(&cf2, id, 0), CLEANUP_STAT_OK);
    assert_true(has_record(QUEUE_INCOMING, id, "X:|L:smtp:[127.0.0.1]:10024|E:|"));
    /* REDIRECT overrides FILTER; a bad FILTER does nothing. */
    struct msg both = {0, {0}, {0}, "Subject: filter\nSubject: redirect\n\nb\n"};
    assert_int_equal(run(&both, id, 0), CLEANUP_STAT_OK);
    assert_false(has_record(QUEUE_INCOMING, id, "L:"));
    struct msg bad = {0, {0}, {0}, "Subject: badfilter\n\nb\n"};
    assert_int_equal(run(&bad, id, 0), CLEANUP_STAT_OK);
    assert_false(has_record(QUEUE_INCOMING, id, "L:"));
    /* smtpd's access REDIRECT and HOLD as attributes. */
    struct msg acc = {0, {0}, {"redirect=x@example.org", "hold=held by access"},
                      "Subject: x\n\nb\n"};
    assert_int_equal(run(&acc, id, 0), CLEANUP_STAT_OK);
    assert_true(file_exists(QUEUE_HOLD, id));
    assert_true(has_record(QUEUE_HOLD, id, "R:x@example.org|"));
    assert_false(has_record(QUEUE_HOLD, id, "A:hold"));

    struct msg bcc = {0, {0}, {0}, "Subject: bcc\n\nbody\n"};
    assert_int_equal(run(&bcc, id, 0), CLEANUP_STAT_OK);
    assert_true(has_record(QUEUE_INCOMING, id, "X:|O:copy@example.org|N:NEVER|R:copy@example.org|"));
    assert_true(logged(": bcc: header Subject: bcc from local;"));
    sbuf_free(&r);
}

static void test_pass(void **state)
{
    (void) state;
    char id[32];
    struct msg m = {0, {0}, {0}, "Subject: pass\nSubject: reject me\n\nspam\n"};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    assert_true(logged(": pass: header Subject: pass from local; from=<s@example.org> "
                       "to=<a@example.org>: trusted"));
}

static const char mime_msg[] =
    "From: a@example.org\n"
    "Subject: mime\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
    "\n"
    "--b1\n"
    "Content-Type: text/plain\n"
    "X-Part-Header: in a part\n"
    "\n"
    "text\n"
    "--b1\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: inner\n"
    "X-Nested-Only: yes\n"
    "Content-Type: text/plain\n"
    "\n"
    "inner body\n"
    "--b1--\n";

static void test_mime_dispatch(void **state)
{
    (void) state;
    char id[32], h[600], mh[600], nh[600], b[600];
    snprintf(h, sizeof(h), "header_checks = regexp:%s",
             fixture_write("h", "/^(.*)/ WARN primary $1\n"));
    snprintf(mh, sizeof(mh), "mime_header_checks = regexp:%s",
             fixture_write("m", "/^(.*)/ WARN mime $1\n"));
    snprintf(nh, sizeof(nh), "nested_header_checks = regexp:%s",
             fixture_write("n", "/^(.*)/ WARN nested $1\n"));
    snprintf(b, sizeof(b), "body_checks = regexp:%s",
             fixture_write("b", "/^(.*)/ WARN body $1\n"));
    CONFIG(h, mh, nh, b);
    struct msg m = {0, {0}, {0}, mime_msg};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    static const char *const seen[] = {
        "warning: header From: a@example.org from local;",
        ": primary From: a@example.org",
        ": primary Subject: mime",
        ": mime MIME-Version: 1.0",
        ": mime Content-Type: multipart/mixed; boundary=\"b1\"",
        ": body --b1",
        ": mime Content-Type: text/plain",
        ": mime X-Part-Header: in a part",
        ": body text",
        ": mime Content-Type: message/rfc822",
        ": nested Subject: inner",
        ": nested X-Nested-Only: yes",
        ": body inner body",
        ": body --b1--",
    };
    for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++)
        assert_true(logged(seen[i]));
    assert_false(logged(": nested Content-Type: text/plain"));     /* MIME header: mime */
    assert_false(logged(": body X-Part-Header"));
    /* The message is stored whole. */
    sbuf r = SBUF_INIT;
    records(QUEUE_INCOMING, id, true, &r);
    assert_non_null(strstr(sbuf_str(&r), "B:--b1\nContent-Type: text/plain\nX-Part-Header: "
                                         "in a part\n\ntext\n--b1\n"));
    sbuf_free(&r);

    /* disable_mime_input_processing: all primary headers to header_checks,
     * the rest (part headers too) is body. */
    CONFIG(h, mh, nh, b, "disable_mime_input_processing = yes");
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    assert_true(logged(": primary Content-Type: multipart/mixed; boundary=\"b1\""));
    assert_true(logged(": body X-Part-Header: in a part"));
    assert_true(logged(": body Subject: inner"));
}

static void test_attachment_name(void **state)
{
    (void) state;
    char id[32];
    sbuf why = SBUF_INIT;
    /* mime_header_checks defaults to $header_checks: the part's folded
     * Content-Type is found. */
    struct msg m = {0, {0}, {0},
                    "Subject: x\nContent-Type: multipart/mixed; boundary=z\n\n--z\n"
                    "Content-Type: application/octet-stream;\n\tname=\"virus.scr\"\n\n"
                    "QUJD\n--z--\n"};
    assert_int_equal(run(&m, id, &why), CLEANUP_STAT_CONT);
    assert_string_equal(sbuf_str(&why), "5.7.1 attachment");
    assert_true(logged(": reject: header Content-Type: application/octet-stream;"));
    sbuf_free(&why);
}

static void test_body_size_limit(void **state)
{
    (void) state;
    char id[32], b[600];
    snprintf(b, sizeof(b), "body_checks = regexp:%s", fixture_write("bb", "/spam/ REJECT\n"));
    CONFIG(b, "body_checks_size_limit = 20");
    struct msg late = {0, {0}, {0}, "Subject: x\n\n0123456789\n0123456789\nspam\n"};
    assert_int_equal(run(&late, id, 0), CLEANUP_STAT_OK);
    struct msg early = {0, {0}, {0}, "Subject: x\n\n0123456789\nspam\n"};
    assert_int_equal(run(&early, id, 0), CLEANUP_STAT_CONT);
    /* The limit is per body segment: a new MIME part starts over. */
    struct msg part = {0, {0}, {0},
                       "Content-Type: multipart/mixed; boundary=q\n\n--q\n\n0123456789\n"
                       "0123456789\nspam\n--q\n\nspam\n--q--\n"};
    assert_int_equal(run(&part, id, 0), CLEANUP_STAT_CONT);
    CONFIG(b, "body_checks_size_limit = 0");        /* 0: no limit */
    assert_int_equal(run(&late, id, 0), CLEANUP_STAT_CONT);
}

static void test_long_lines(void **state)
{
    (void) state;
    char id[32], b[600];
    snprintf(b, sizeof(b), "body_checks = regexp:%s", fixture_write("bl", "/^x+y$/ REJECT\n"));
    CONFIG(b, "line_length_limit = 1024");
    /* A 3000-byte line is checked in pieces of 1024: "x...y" at the end of
     * the last piece is a match of that piece alone. */
    sbuf c = SBUF_INIT;
    sbuf_adds(&c, "Subject: x\n\n");
    for (int i = 0; i < 2999; i++)
        sbuf_addc(&c, 'x');
    sbuf_adds(&c, "y\n");
    struct msg m = {0, {0}, {0}, sbuf_str(&c)};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_CONT);
    sbuf_free(&c);
}

static void test_mime_errors(void **state)
{
    (void) state;
    char id[32], h[600];
    sbuf why = SBUF_INIT;
    const char *deep = "Content-Type: multipart/mixed; boundary=a\n\n"
                       "--a\nContent-Type: multipart/mixed; boundary=b\n\n"
                       "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n\nx\n--c--\n"
                       "--b--\n--a--\n";
    snprintf(h, sizeof(h), "header_checks = regexp:%s", fixture_write("hx", "/^X-None:/ WARN\n"));
    CONFIG(h, "mime_nesting_limit = 2");
    struct msg m = {0, {0}, {0}, deep};
    assert_int_equal(run(&m, id, &why), CLEANUP_STAT_CONT);
    assert_string_equal(sbuf_str(&why), "5.6.0 MIME nesting exceeds safety limit");
    assert_true(logged(": reject: mime-error MIME nesting exceeds safety limit: "
                       "Content-Type: multipart/mixed; boundary=c"));
    /* Without header checks or strict_* the limit is not an error. */
    CONFIG("mime_nesting_limit = 2");
    assert_int_equal(run(&m, id, &why), CLEANUP_STAT_OK);
    /* strict_8bitmime. */
    CONFIG("strict_8bitmime = yes");
    struct msg e = {0, {0}, {0}, "Subject: x\n\ncaf\xc3\xa9\n"};
    assert_int_equal(run(&e, id, &why), CLEANUP_STAT_CONT);
    assert_string_equal(sbuf_str(&why), "5.6.0 improper use of 8-bit data in message body");
    /* ... but not for mail that is not inspected. */
    struct msg ni = {CLEANUP_FLAG_MAP_OK, {0}, {0}, "Subject: x\n\ncaf\xc3\xa9\n"};
    assert_int_equal(run(&ni, id, &why), CLEANUP_STAT_OK);
    sbuf_free(&why);
}

static void test_no_filter_flag(void **state)
{
    (void) state;
    char id[32];
    struct msg m = {CLEANUP_FLAG_MAP_OK, {0}, {0}, "Subject: reject me\n\nspam\n"};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    int flags = receive_override_cleanup_flags(CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_MILTER,
                                               receive_override_parse(
                                                   "no_header_body_checks, NO_MILTERS bogus"));
    assert_int_equal(flags, CLEANUP_FLAG_BCC_OK | CLEANUP_FLAG_MAP_OK);
    assert_true(logged("warning: unknown receive_override_options value \"bogus\""));
    assert_int_equal(receive_override_parse("no_unknown_recipient_checks no_address_mappings"),
                     RECV_NO_UNKNOWN_RCPT | RECV_NO_ADDR_MAPPINGS);
    assert_int_equal(receive_override_cleanup_flags(CLEANUP_FLAG_MASK_DEFAULT,
                                                    RECV_NO_ADDR_MAPPINGS),
                     CLEANUP_FLAG_FILTER);
    assert_int_equal(receive_override_parse(""), 0);
    assert_int_equal(receive_override_parse(0), 0);
}

static void test_table_failure(void **state)
{
    (void) state;
    char id[32];
    sbuf why = SBUF_INIT;
    CONFIG("header_checks = fail:broken");
    struct msg m = {0, {0}, {0}, "Subject: x\n\nbody\n"};
    assert_int_equal(run(&m, id, &why), CLEANUP_STAT_WRITE);
    assert_false(file_exists(QUEUE_INCOMING, id));
    assert_true(logged(": header_checks map lookup problem -- message not accepted, try "
                       "again later"));
    sbuf_free(&why);
}

static void test_bounce(void **state)
{
    (void) state;
    char id[32];
    sbuf why = SBUF_INIT, r = SBUF_INIT;
    int flags = CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_BOUNCE | CLEANUP_FLAG_LOCAL;
    struct msg m = {flags, {"x@example.org", "y@example.org"}, {0},
                    "Subject: reject me\nX-After: kept\n\nbody line\nspam\nlast\n"};
    assert_int_equal(run(&m, id, &why), CLEANUP_STAT_OK);
    /* Committed with every recipient done, the content whole. */
    assert_true(file_exists(QUEUE_INCOMING, id));
    char path[4200];
    qfile_path(path, sizeof(path), QUEUE_INCOMING, id);
    sbuf v = SBUF_INIT;
    assert_int_equal(qfile_validate(path, &v), 0);
    sbuf_free(&v);
    records(QUEUE_INCOMING, id, true, &r);
    const char *s = sbuf_str(&r);
    assert_null(strstr(s, "R:"));
    assert_non_null(strstr(s, "D:x@example.org|"));
    assert_non_null(strstr(s, "D:y@example.org|"));
    assert_non_null(strstr(s, "H:X-After: kept\n"));
    assert_non_null(strstr(s, "B:body line\nspam\nlast\n|"));
    /* bounce/ID holds one failed record per recipient. */
    dsn_log log = DSN_LOG_INIT;
    assert_int_equal(dsn_log_read(DSN_LOG_BOUNCE, id, &log, 0), 2);
    assert_string_equal(log.rec[0].recipient, "x@example.org");
    assert_string_equal(log.rec[1].recipient, "y@example.org");
    assert_string_equal(log.rec[0].status, "5.7.1");
    assert_string_equal(log.rec[0].action, "failed");
    assert_string_equal(log.rec[0].reason, "Message content rejected");
    assert_string_equal(log.rec[0].relay, "none");
    dsn_log_free(&log);
    sbuf line = SBUF_INIT;
    sbuf_printf(&line, "%s: reject: header Subject: reject me from local;", id);
    assert_true(logged(sbuf_str(&line)));
    sbuf_reset(&line);
    sbuf_printf(&line, "%s: to=<x@example.org>, relay=none, delay=", id);
    assert_true(logged(sbuf_str(&line)));
    assert_true(logged("dsn=5.7.1, status=bounced (Message content rejected)"));
    dsn_log_delete(DSN_LOG_BOUNCE, id);

    /* A temporary error is not bounced; nor is a message without recipients. */
    struct msg later = {flags, {0}, {0}, "Subject: later\n\nb\n"};
    assert_int_equal(run(&later, id, &why), CLEANUP_STAT_DEFER);
    assert_false(file_exists(QUEUE_INCOMING, id));
    assert_int_equal(dsn_log_exists(DSN_LOG_BOUNCE, id), 0);

    /* soft_bounce: the rejection becomes temporary, nothing is queued. */
    char h[600];
    snprintf(h, sizeof(h), "header_checks = regexp:%s", fixture_write("header_checks",
                                                                     header_table));
    CONFIG(h, "soft_bounce = yes");
    assert_int_equal(run(&m, id, &why), CLEANUP_STAT_CONT | CLEANUP_STAT_DEFER);
    assert_string_equal(sbuf_str(&why), "4.7.1 Message content rejected");
    assert_false(file_exists(QUEUE_INCOMING, id));
    sbuf_free(&why);
    sbuf_free(&r);
    sbuf_free(&line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_parse_action, setup),
        cmocka_unit_test_setup(test_reject_logs, setup),
        cmocka_unit_test_setup(test_folded_header, setup),
        cmocka_unit_test_setup(test_discard_hold_warn, setup),
        cmocka_unit_test_setup(test_line_edits, setup),
        cmocka_unit_test_setup(test_redirect_filter_bcc, setup),
        cmocka_unit_test_setup(test_pass, setup),
        cmocka_unit_test_setup(test_mime_dispatch, setup),
        cmocka_unit_test_setup(test_attachment_name, setup),
        cmocka_unit_test_setup(test_body_size_limit, setup),
        cmocka_unit_test_setup(test_long_lines, setup),
        cmocka_unit_test_setup(test_mime_errors, setup),
        cmocka_unit_test_setup(test_no_filter_flag, setup),
        cmocka_unit_test_setup(test_table_failure, setup),
        cmocka_unit_test_setup(test_bounce, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
