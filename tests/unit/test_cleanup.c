/*
 * test_cleanup.c - the cleanup daemon's message pipeline, in process.
 *
 * The daemon's modules (src/cleanup/, except its main) are compiled into
 * this test: messages go through the same functions the protocol loop
 * calls, into a real queue file in a temporary queue directory, which is
 * then read back record by record. Covers the record layout and size
 * record, header parsing and folding at any chunk size, the end of the
 * header block, missing-header logic, header address rewriting,
 * message_drop_headers, sendmail -t extraction, virtual alias expansion
 * (fan-out, self-reference, loops, limits), canonical maps, masquerading,
 * duplicate elimination, size and hop limits, and the protocol loop over
 * a socketpair with the real client library.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
#include "../../src/cleanup/cleanup_service.c"

/* ---- fixture ---- */

static char queue_dir[512];

static void config(const char *extra1, const char *extra2, const char *extra3)
{
    char q[600];
    snprintf(queue_dir, sizeof(queue_dir), "%s/queue", fixture_dir());
    mkdir(queue_dir, 0755);
    char sub[700];
    snprintf(sub, sizeof(sub), "%s/incoming", queue_dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof(sub), "%s/hold", queue_dir);
    mkdir(sub, 0700);
    snprintf(q, sizeof(q), "queue_directory = %s", queue_dir);
    fixture_main_cf(q, "myhostname = mail.example.jp", "mydomain = example.jp",
                    "myorigin = $mydomain", "mydestination = $myhostname, localhost",
                    extra1 ? extra1 : "# -", extra2 ? extra2 : "# -",
                    extra3 ? extra3 : "# -", (char *) 0);
    cleanup_params_init();
    cleanup_map_init();
}

static int setup(void **state)
{
    (void) state;
    config(0, 0, 0);
    return 0;
}

struct rec {
    int     type;
    char   *data;
    size_t  len;
    off_t   off;
};

struct qf {
    struct rec r[512];
    size_t  n;
    struct qfile_sizes sz;
    mode_t  mode;
};

static void qf_free(struct qf *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->r[i].data);
    f->n = 0;
}

static int read_queue_file(const char *queue, const char *id, struct qf *f)
{
    memset(f, 0, sizeof(*f));
    qfile *q = qfile_open(queue, id, false);
    if (!q)
        return -1;
    struct stat st;
    fstat(qfile_fd(q), &st);
    f->mode = st.st_mode & 07777;
    sbuf d = SBUF_INIT;
    int type;
    off_t off;
    while ((type = qfile_get(q, &d, &off)) > 0 && f->n < 512) {
        f->r[f->n].type = type;
        f->r[f->n].data = xmemdup(d.s ? d.s : "", d.len + 1);
        f->r[f->n].len = d.len;
        f->r[f->n].off = off;
        if (type == QREC_SIZE)
            qfile_parse_sizes(d.s, d.len, &f->sz);
        f->n++;
    }
    sbuf_free(&d);
    qfile_close(q);
    return type;
}

/* All records of one type, joined: "a|b|c". */
static void joined(const struct qf *f, int type, sbuf *out)
{
    sbuf_reset(out);
    for (size_t i = 0; i < f->n; i++) {
        if (f->r[i].type != type)
            continue;
        if (out->len)
            sbuf_addc(out, '|');
        sbuf_add(out, f->r[i].data, f->r[i].len);
    }
}

static const struct rec *first_of(const struct qf *f, int type)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->r[i].type == type)
            return &f->r[i];
    return 0;
}

struct msg {
    int     flags;
    const char *sender;
    const char *rcpts[8];
    const char *attrs[8];       /* "name=value" */
    const char *content;
    size_t  chunk;              /* 0: all at once */
};

/* Run one message; returns the status; id receives the queue ID. */
static int run(const struct msg *m, char *id, sbuf *reason)
{
    struct cleanup_state *st = cleanup_state_open(m->flags);
    snprintf(id, 32, "%s", st->queue_id);
    cleanup_env_sender(st, m->sender);
    for (int i = 0; i < 8 && m->attrs[i]; i++) {
        char *nv = xstrdup(m->attrs[i]);
        char *eq = strchr(nv, '=');
        *eq = 0;
        cleanup_env_attr(st, nv, eq + 1);
        xfree(nv);
    }
    for (int i = 0; i < 8 && m->rcpts[i]; i++)
        cleanup_env_rcpt(st, m->rcpts[i], 0, 0, 0);
    const char *c = m->content ? m->content : "";
    size_t len = strlen(c), step = m->chunk ? m->chunk : (len ? len : 1);
    for (size_t off = 0; off < len; off += step)
        cleanup_content_data(st, c + off, len - off < step ? len - off : step);
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

/* The message as a reader rebuilds it: headers, empty line, body. */
static void rebuild(const struct qf *f, sbuf *out)
{
    sbuf_reset(out);
    for (size_t i = 0; i < f->n; i++)
        if (f->r[i].type == QREC_HEADER)
            sbuf_add(out, f->r[i].data, f->r[i].len);
    sbuf_addc(out, '\n');
    for (size_t i = 0; i < f->n; i++)
        if (f->r[i].type == QREC_BODY)
            sbuf_add(out, f->r[i].data, f->r[i].len);
}

/* ---- record layout ---- */

static void test_record_layout(void **state)
{
    (void) state;
    char id[32];
    struct msg m = {CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_LOCAL, "root",
                    {"alice", "bob@example.org"}, {"full_name=Charlie Root"},
                    "Subject: hi\n\nbody line\n", 0};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    assert_true(qfile_id_ok(id));
    struct qf f;
    assert_int_equal(read_queue_file(QUEUE_INCOMING, id, &f), 0);
    assert_int_equal(f.mode, QFILE_MODE_DONE);
    /* V S T F A... R R M H... B X E */
    const char *want = "VSTFAORORMHHHHBXE";
    assert_int_equal(f.n, strlen(want));
    for (size_t i = 0; i < f.n; i++)
        assert_int_equal(f.r[i].type, want[i]);
    assert_string_equal(f.r[0].data, QFILE_VERSION);
    assert_string_equal(f.r[3].data, "root@example.jp");
    sbuf s = SBUF_INIT;
    joined(&f, QREC_RCPT, &s);
    assert_string_equal(sbuf_str(&s), "alice@example.jp|bob@example.org");
    joined(&f, QREC_ORCPT, &s);
    assert_string_equal(sbuf_str(&s), "alice|bob@example.org");
    /* size record */
    assert_int_equal(f.sz.nrcpt, 2);
    assert_int_equal(f.sz.content_offset, first_of(&f, QREC_CONTENT)->off);
    assert_int_equal(f.sz.extracted_offset, first_of(&f, QREC_EXTRACTED)->off);
    rebuild(&f, &s);
    assert_int_equal(f.sz.content_size, s.len);
    /* headers: the original, then Message-Id, Date, From */
    assert_string_equal(f.r[10].data, "Subject: hi\n");
    char mid[128];
    snprintf(mid, sizeof(mid), ".%s@mail.example.jp>\n", id);
    assert_true(strncmp(f.r[11].data, "Message-Id: <", 13) == 0);
    assert_non_null(strstr(f.r[11].data, mid));
    assert_true(strncmp(f.r[12].data, "Date: ", 6) == 0);
    assert_string_equal(f.r[13].data, "From: Charlie Root <root@example.jp>\n");
    assert_string_equal(f.r[14].data, "body line\n");
    sbuf_free(&s);
    qf_free(&f);
}

/* The same message cut into chunks of every size gives the same file content. */
static void test_chunking_and_folding(void **state)
{
    (void) state;
    const char *content = "Received: from a\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\n"
                          "Subject: folded\n  over two lines\nX-Empty:\n"
                          "To: x@example.org\nFrom: a@example.org\nDate: today\n"
                          "Message-ID: <m1@example.org>\n\nline 1\r\nstray\rcr\nlast";
    sbuf first = SBUF_INIT, now = SBUF_INIT;
    size_t chunks[] = {0, 1, 2, 3, 7, 64};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        char id[32];
        struct msg m = {CLEANUP_FLAG_MASK_DEFAULT, "a@example.org", {"x@example.org"}, {0},
                        content, chunks[c]};
        assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
        struct qf f;
        read_queue_file(QUEUE_INCOMING, id, &f);
        rebuild(&f, &now);
        if (c == 0) {
            sbuf_set(&first, sbuf_str(&now));
            /* one record per logical header, folds kept */
            assert_string_equal(f.r[7].data,
                                "Received: from a\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\n");
            assert_string_equal(f.r[8].data, "Subject: folded\n  over two lines\n");
            assert_string_equal(f.r[9].data, "X-Empty:\n");
        } else {
            assert_string_equal(sbuf_str(&now), sbuf_str(&first));
        }
        qf_free(&f);
    }
    /* CR LF kept, stray CR -> space, a final line without LF gets one */
    assert_non_null(strstr(sbuf_str(&first), "\n\nline 1\r\nstray cr\nlast\n"));
    sbuf_free(&first);
    sbuf_free(&now);
}

static void test_header_block_end(void **state)
{
    (void) state;
    char id[32];
    struct qf f;
    sbuf s = SBUF_INIT;
    /* A line that is neither a header nor a continuation starts the body. */
    struct msg m = {CLEANUP_FLAG_MASK_DEFAULT, "a@example.org", {"x@example.org"}, {0},
                    "Subject: x\nthis is text: not a header\nmore\n", 0};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_HEADER, &s);
    assert_string_equal(sbuf_str(&s), "Subject: x\n");
    joined(&f, QREC_BODY, &s);
    assert_string_equal(sbuf_str(&s), "this is text: not a header\nmore\n");
    qf_free(&f);
    /* A message that starts with its body; remote: nothing added. */
    struct msg m2 = {CLEANUP_FLAG_MASK_DEFAULT, "a@example.org", {"x@example.org"}, {0},
                     " leading space\nSubject: no\n", 0};
    assert_int_equal(run(&m2, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    assert_null(first_of(&f, QREC_HEADER));
    joined(&f, QREC_BODY, &s);
    assert_string_equal(sbuf_str(&s), " leading space\nSubject: no\n");
    qf_free(&f);
    /* Headers only, no empty line, no body. */
    struct msg m3 = {CLEANUP_FLAG_MASK_DEFAULT, "a@example.org", {"x@example.org"}, {0},
                     "Subject: only", 0};
    assert_int_equal(run(&m3, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_HEADER, &s);
    assert_string_equal(sbuf_str(&s), "Subject: only\n");
    assert_null(first_of(&f, QREC_BODY));
    assert_int_equal(f.sz.content_size, strlen("Subject: only\n") + 1);
    qf_free(&f);
    sbuf_free(&s);
}

static void test_missing_headers(void **state)
{
    (void) state;
    char id[32];
    struct qf f;
    sbuf s = SBUF_INIT;
    /* Remote mail: nothing is added by default. */
    struct msg remote = {CLEANUP_FLAG_MASK_DEFAULT, "a@example.org", {"x@example.org"}, {0},
                         "Subject: x\n\nbody\n", 0};
    assert_int_equal(run(&remote, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_HEADER, &s);
    assert_string_equal(sbuf_str(&s), "Subject: x\n");
    qf_free(&f);
    /* rewrite_context=local from the client does it too; present headers stay. */
    struct msg local = {CLEANUP_FLAG_MASK_DEFAULT, "a@example.org", {"x@example.org"},
                        {"rewrite_context=local"},
                        "From: me@example.org\nDate: yesterday\n\nbody\n", 0};
    assert_int_equal(run(&local, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_HEADER, &s);
    const char *kept = "From: me@example.org\n|Date: yesterday\n|Message-Id: <";
    assert_true(strncmp(sbuf_str(&s), kept, strlen(kept)) == 0);
    assert_null(strstr(sbuf_str(&s), "To:"));          /* undisclosed_recipients_header = "" */
    qf_free(&f);
    /* always_add_missing_headers, undisclosed_recipients_header, null sender. */
    config("always_add_missing_headers = yes",
           "undisclosed_recipients_header = To: undisclosed-recipients:;", 0);
    struct msg bounce = {CLEANUP_FLAG_MASK_DEFAULT, "", {"x@example.org"}, {0}, "\nbody\n", 0};
    assert_int_equal(run(&bounce, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_HEADER, &s);
    assert_non_null(strstr(sbuf_str(&s), "|From: MAILER-DAEMON@mail.example.jp\n|"));
    assert_non_null(strstr(sbuf_str(&s), "|To: undisclosed-recipients:;\n"));
    assert_string_equal(first_of(&f, QREC_SENDER)->data, "");
    qf_free(&f);
    /* Resent- headers: the Resent- forms are added. */
    struct msg resent = {CLEANUP_FLAG_MASK_DEFAULT, "a@example.org", {"x@example.org"}, {0},
                         "Resent-To: x@example.org\nFrom: a@example.org\n\nbody\n", 0};
    assert_int_equal(run(&resent, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_HEADER, &s);
    assert_non_null(strstr(sbuf_str(&s), "|Resent-Message-Id: <"));
    assert_non_null(strstr(sbuf_str(&s), "|Resent-Date: "));
    assert_non_null(strstr(sbuf_str(&s), "|Resent-From: a@example.org\n"));
    assert_null(strstr(sbuf_str(&s), "|Message-Id:"));
    qf_free(&f);
    /* header_from_format = obsolete, and a name that needs quotes */
    config("header_from_format = obsolete", 0, 0);
    struct msg old = {CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_LOCAL, "joe", {"x"},
                      {"full_name=Joe (the) User"}, "\nbody\n", 0};
    assert_int_equal(run(&old, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_HEADER, &s);
    assert_non_null(strstr(sbuf_str(&s), "From: joe@example.jp (Joe \\(the\\) User)\n"));
    qf_free(&f);
    config(0, 0, 0);
    struct msg quoted = {CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_LOCAL, "joe", {"x"},
                         {"full_name=User, Joe \"J\""}, "\nbody\n", 0};
    assert_int_equal(run(&quoted, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_HEADER, &s);
    assert_non_null(strstr(sbuf_str(&s), "From: \"User, Joe \\\"J\\\"\" <joe@example.jp>\n"));
    qf_free(&f);
    sbuf_free(&s);
}

static void test_drop_and_extract(void **state)
{
    (void) state;
    char id[32];
    struct qf f;
    sbuf s = SBUF_INIT;
    struct msg m = {CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_LOCAL | CLEANUP_FLAG_EXTRACT_RCPT,
                    "root", {"extra@example.org"}, {0},
                    "To: Alice <alice>, \"Bob B.\" <bob@example.org> (comment)\n"
                    "Cc: team: carol@example.org, dave@example.org;, extra@example.org\n"
                    "Bcc: secret@example.org\nReturn-Path: <forged@example.org>\n"
                    "Content-Length: 99\nSubject: t\nReply-To: x <y@z>, \"open quote\n"
                    "\nbody\n", 0};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_HEADER, &s);
    assert_null(strstr(sbuf_str(&s), "Bcc:"));
    assert_null(strstr(sbuf_str(&s), "Return-Path:"));
    assert_null(strstr(sbuf_str(&s), "Content-Length:"));
    /* header addresses completed for local mail, the rest of the text kept */
    assert_non_null(strstr(sbuf_str(&s),
                           "To: Alice <alice@example.jp>, \"Bob B.\" <bob@example.org> (comment)\n"));
    joined(&f, QREC_RCPT, &s);
    assert_string_equal(sbuf_str(&s), "extra@example.org|alice@example.jp|bob@example.org|"
                                      "carol@example.org|dave@example.org|secret@example.org");
    assert_int_equal(f.sz.nrcpt, 6);
    for (size_t i = 0; i < f.n; i++)
        if (f.r[i].type == QREC_HEADER)
            assert_int_equal(f.r[i].data[f.r[i].len - 1], '\n');
    /* extracted recipients come after EXTRACTED */
    const struct rec *x = first_of(&f, QREC_EXTRACTED);
    assert_non_null(x);
    size_t after = 0;
    for (size_t i = 0; i < f.n; i++)
        if (f.r[i].type == QREC_RCPT && f.r[i].off > x->off)
            after++;
    assert_int_equal(after, 5);
    qf_free(&f);
    /* -t without any recipient header: refused */
    sbuf why = SBUF_INIT;
    struct msg none = {CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_EXTRACT_RCPT, "root", {0}, {0},
                       "To: undisclosed-recipients:;\n\nbody\n", 0};
    assert_int_equal(run(&none, id, &why), CLEANUP_STAT_RCPT);
    assert_non_null(strstr(sbuf_str(&why), "no recipient addresses found"));
    assert_false(file_exists(QUEUE_INCOMING, id));
    /* extract_recipient_limit */
    config("extract_recipient_limit = 2", 0, 0);
    struct msg many = {CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_EXTRACT_RCPT, "root", {0}, {0},
                       "To: a@example.org, b@example.org\nCc: c@example.org\n\nbody\n", 0};
    assert_int_equal(run(&many, id, &why), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_RCPT, &s);
    assert_string_equal(sbuf_str(&s), "a@example.org|b@example.org");
    qf_free(&f);
    config(0, 0, 0);
    sbuf_free(&why);
    sbuf_free(&s);
}

static void test_virtual_alias(void **state)
{
    (void) state;
    config("virtual_alias_maps = inline:{ {list@example.org = a@example.org, b@example.org, "
           "sub@example.org}, {sub@example.org = c@example.org, a@example.org}, "
           "{self@example.org = self@example.org, copy@example.org}, "
           "{loop1@example.org = loop2@example.org}, {loop2@example.org = loop1@example.org}, "
           "{bare@example.org = localuser} }", 0, 0);
    char id[32];
    struct qf f;
    sbuf s = SBUF_INIT;
    struct msg m = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org",
                    {"list@example.org", "self@example.org", "bare@example.org"}, {0},
                    "\nbody\n", 0};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_RCPT, &s);
    /* a@example.org twice from one original: once */
    assert_string_equal(sbuf_str(&s), "a@example.org|b@example.org|c@example.org|"
                                      "self@example.org|copy@example.org|localuser@example.jp");
    joined(&f, QREC_ORCPT, &s);
    assert_string_equal(sbuf_str(&s), "list@example.org|list@example.org|list@example.org|"
                                      "self@example.org|self@example.org|bare@example.org");
    qf_free(&f);
    /* a loop is not accepted (temporary, as Postfix) */
    sbuf why = SBUF_INIT;
    struct msg loop = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org", {"loop1@example.org"}, {0},
                       "\nbody\n", 0};
    assert_int_equal(run(&loop, id, &why), CLEANUP_STAT_DEFER);
    assert_true(strncmp(sbuf_str(&why), "4.", 2) == 0);
    assert_false(file_exists(QUEUE_INCOMING, id));
    /* without CLEANUP_FLAG_MAP_OK nothing is mapped */
    struct msg nomap = {CLEANUP_FLAG_FILTER, "s@example.org", {"loop1@example.org"}, {0},
                        "\nbody\n", 0};
    assert_int_equal(run(&nomap, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    assert_string_equal(first_of(&f, QREC_RCPT)->data, "loop1@example.org");
    qf_free(&f);
    /* the limits */
    config("virtual_alias_maps = inline:{ {l@example.org = a@example.org, b@example.org, "
           "c@example.org}, {d1@example.org = d2@example.org}, {d2@example.org = d3@example.org},"
           " {d3@example.org = d4@example.org} }", "virtual_alias_expansion_limit = 2",
           "virtual_alias_recursion_limit = 2");
    struct msg wide = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org", {"l@example.org"}, {0},
                       "\nbody\n", 0};
    assert_int_equal(run(&wide, id, &why), CLEANUP_STAT_DEFER);
    struct msg deep = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org", {"d1@example.org"}, {0},
                       "\nbody\n", 0};
    assert_int_equal(run(&deep, id, &why), CLEANUP_STAT_DEFER);
    struct msg ok = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org", {"d2@example.org"}, {0},
                     "\nbody\n", 0};
    assert_int_equal(run(&ok, id, &why), CLEANUP_STAT_OK);
    sbuf_free(&why);
    sbuf_free(&s);
    config(0, 0, 0);
}

static void test_virtual_direct(void **state)
{
    (void) state;
    config("virtual_alias_maps = inline:{ {a@x.example = b@x.example}, "
           "{b@x.example = a@x.example}, {m@x.example = n@x.example, o@x.example} }", 0, 0);
    strv out = {0};
    sbuf why = SBUF_INIT;
    assert_int_equal(cleanup_map_virtual("m@x.example", &out, &why), CLEANUP_MAP_OK);
    assert_int_equal(out.n, 2);
    assert_string_equal(out.v[0], "n@x.example");
    assert_string_equal(out.v[1], "o@x.example");
    assert_int_equal(cleanup_map_virtual("a@x.example", &out, &why), CLEANUP_MAP_LIMIT);
    assert_int_equal(out.n, 2);                     /* partial results dropped */
    assert_int_equal(cleanup_map_virtual("none@x.example", &out, &why), CLEANUP_MAP_OK);
    assert_string_equal(out.v[2], "none@x.example");
    strv_free(&out);
    /* a table that fails: try again later */
    config("virtual_alias_maps = fail:broken", 0, 0);
    strv_init(&out);
    assert_int_equal(cleanup_map_virtual("m@x.example", &out, &why), CLEANUP_MAP_RETRY);
    strv_free(&out);
    sbuf_free(&why);
    config(0, 0, 0);
}

static void test_canonical_and_masquerade(void **state)
{
    (void) state;
    config("sender_canonical_maps = inline:{ {root@example.jp = admin@host.sub.example.jp} }",
           "recipient_canonical_maps = inline:{ {old@example.org = new@example.org} }",
           "masquerade_domains = !keep.example.jp, example.jp");
    char id[32];
    struct qf f;
    sbuf s = SBUF_INIT;
    struct msg m = {CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_LOCAL, "root",
                    {"old@example.org", "u@a.keep.example.jp"}, {0},
                    "From: root\nTo: old@example.org\nCc: x@deep.sub.example.jp\n\nbody\n", 0};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    /* sender: canonical, then masquerade (envelope_sender is a default class) */
    assert_string_equal(first_of(&f, QREC_SENDER)->data, "admin@example.jp");
    joined(&f, QREC_RCPT, &s);
    /* envelope recipients are not masqueraded by default */
    assert_string_equal(sbuf_str(&s), "new@example.org|u@a.keep.example.jp");
    joined(&f, QREC_HEADER, &s);
    assert_non_null(strstr(sbuf_str(&s), "From: admin@example.jp\n"));
    assert_non_null(strstr(sbuf_str(&s), "To: new@example.org\n"));
    assert_non_null(strstr(sbuf_str(&s), "Cc: x@example.jp\n"));
    qf_free(&f);
    sbuf out = SBUF_INIT;
    cleanup_masquerade("u@a.keep.example.jp", &out);
    assert_string_equal(sbuf_str(&out), "u@a.keep.example.jp");
    cleanup_masquerade("u@example.jp", &out);
    assert_string_equal(sbuf_str(&out), "u@example.jp");
    cleanup_masquerade("u@notexample.jp", &out);
    assert_string_equal(sbuf_str(&out), "u@notexample.jp");
    config("masquerade_domains = example.jp", "masquerade_exceptions = root", 0);
    cleanup_masquerade("root@a.example.jp", &out);
    assert_string_equal(sbuf_str(&out), "root@a.example.jp");
    cleanup_masquerade("joe@a.example.jp", &out);
    assert_string_equal(sbuf_str(&out), "joe@example.jp");
    sbuf_free(&out);
    sbuf_free(&s);
    config(0, 0, 0);
}

static void test_duplicates(void **state)
{
    (void) state;
    char id[32];
    struct qf f;
    sbuf s = SBUF_INIT;
    struct msg m = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org",
                    {"a@example.org", "A@Example.org", "a@example.org", "b@example.org"}, {0},
                    "\nbody\n", 0};
    assert_int_equal(run(&m, id, 0), CLEANUP_STAT_OK);
    read_queue_file(QUEUE_INCOMING, id, &f);
    joined(&f, QREC_RCPT, &s);
    assert_string_equal(sbuf_str(&s), "a@example.org|b@example.org");
    qf_free(&f);
    sbuf_free(&s);
}

static void test_limits(void **state)
{
    (void) state;
    char id[32];
    sbuf why = SBUF_INIT;
    config("message_size_limit = 100", "hopcount_limit = 2", 0);
    char big[300];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    struct msg m = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org", {"a@example.org"}, {0}, big, 7};
    assert_int_equal(run(&m, id, &why), CLEANUP_STAT_SIZE);
    assert_string_equal(sbuf_str(&why), "5.3.4 Error: message file too big");
    assert_false(file_exists(QUEUE_INCOMING, id));
    struct msg hops = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org", {"a@example.org"}, {0},
                       "Received: 1\nReceived: 2\nReceived: 3\n\nx\n", 0};
    assert_int_equal(run(&hops, id, &why), CLEANUP_STAT_HOPS);
    assert_true(strncmp(sbuf_str(&why), "5.4.0", 5) == 0);
    assert_false(file_exists(QUEUE_INCOMING, id));
    struct msg two = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org", {"a@example.org"}, {0},
                      "Received: 1\nReceived: 2\n\nx\n", 0};
    assert_int_equal(run(&two, id, &why), CLEANUP_STAT_OK);
    struct msg norcpt = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org", {0}, {0}, "\nx\n", 0};
    assert_int_equal(run(&norcpt, id, &why), CLEANUP_STAT_RCPT);
    /* an over-long header is cut at header_size_limit, the message still goes */
    config("header_size_limit = 1024", 0, 0);
    sbuf longhdr = SBUF_INIT;
    sbuf_adds(&longhdr, "Subject: ");
    for (int i = 0; i < 3000; i++)
        sbuf_addc(&longhdr, 'a' + i % 26);
    sbuf_adds(&longhdr, "\nX-Next: ok\n\nbody\n");
    struct msg lh = {CLEANUP_FLAG_MASK_DEFAULT, "s@example.org", {"a@example.org"}, {0},
                     sbuf_str(&longhdr), 100};
    assert_int_equal(run(&lh, id, &why), CLEANUP_STAT_OK);
    struct qf f;
    read_queue_file(QUEUE_INCOMING, id, &f);
    const struct rec *h = first_of(&f, QREC_HEADER);
    assert_true(h->len <= 1024);
    assert_int_equal(h->data[h->len - 1], '\n');
    assert_string_equal(f.r[8].data, "X-Next: ok\n");
    qf_free(&f);
    sbuf_free(&longhdr);
    sbuf_free(&why);
    config(0, 0, 0);
}

static void test_flags(void **state)
{
    (void) state;
    char id[32];
    struct msg hold = {CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_HOLD, "s@example.org",
                       {"a@example.org"}, {0}, "\nx\n", 0};
    assert_int_equal(run(&hold, id, 0), CLEANUP_STAT_OK);
    assert_false(file_exists(QUEUE_INCOMING, id));
    assert_true(file_exists(QUEUE_HOLD, id));
    struct msg discard = {CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_DISCARD, "s@example.org",
                          {"a@example.org"}, {0}, "\nx\n", 0};
    assert_int_equal(run(&discard, id, 0), CLEANUP_STAT_DISCARD);
    assert_false(file_exists(QUEUE_INCOMING, id));
    struct msg notice = {CLEANUP_FLAG_MASK_DEFAULT | CLEANUP_FLAG_NOTIFICATION, "",
                         {"a@example.org"}, {"body_type=8BITMIME"}, "\nx\n", 0};
    assert_int_equal(run(&notice, id, 0), CLEANUP_STAT_OK);
    struct qf f;
    read_queue_file(QUEUE_INCOMING, id, &f);
    assert_int_equal(f.sz.flags, QFILE_FL_BOUNCE | QFILE_FL_8BITMIME);
    qf_free(&f);
}

static void test_bad_requests(void **state)
{
    (void) state;
    struct cleanup_state *st = cleanup_state_open(CLEANUP_FLAG_MASK_DEFAULT);
    char id[32];
    snprintf(id, sizeof(id), "%s", st->queue_id);
    cleanup_env_sender(st, "a@example.org");
    cleanup_env_attr(st, "bad name", "x");
    cleanup_env_rcpt(st, "b@example.org", 0, 0, 0);
    assert_int_equal(cleanup_commit_message(st), CLEANUP_STAT_BAD);
    cleanup_state_free(st);
    assert_false(file_exists(QUEUE_INCOMING, id));
    /* content before the sender */
    st = cleanup_state_open(CLEANUP_FLAG_MASK_DEFAULT);
    cleanup_content_data(st, "x\n", 2);
    cleanup_env_sender(st, "a@example.org");
    assert_int_equal(cleanup_commit_message(st), CLEANUP_STAT_BAD);
    cleanup_state_free(st);
    /* a dropped session removes its file */
    st = cleanup_state_open(CLEANUP_FLAG_MASK_DEFAULT);
    snprintf(id, sizeof(id), "%s", st->queue_id);
    assert_true(file_exists(QUEUE_INCOMING, id));
    cleanup_state_free(st);
    assert_false(file_exists(QUEUE_INCOMING, id));
}

/* ---- header addresses ---- */

static int collect_all(void *ctx, const char *addr, sbuf *repl)
{
    (void) repl;
    sbuf *out = ctx;
    if (out->len)
        sbuf_addc(out, '|');
    sbuf_adds(out, addr);
    return 0;
}

static int upper_domain(void *ctx, const char *addr, sbuf *repl)
{
    (void) ctx;
    sbuf_set(repl, addr);
    sbuf_adds(repl, ".X");
    return 1;
}

static void scan(const char *value, const char *want)
{
    sbuf got = SBUF_INIT;
    hdr_addr_scan(value, strlen(value), 100, collect_all, &got, 0);
    if (strcmp(sbuf_str(&got), want) != 0)
        fail_msg("scan \"%s\" = \"%s\", want \"%s\"", value, sbuf_str(&got), want);
    sbuf_free(&got);
}

static void test_hdr_addr_scan(void **state)
{
    (void) state;
    scan(" a@b", "a@b");
    scan(" Joe <joe@x>, \"Doe, Jane\" <jane@y>", "joe@x|jane@y");
    scan(" joe@x (Joe Smith), jane@y", "joe@x|jane@y");
    scan(" friends: a@x, b@y;, c@z", "a@x|b@y|c@z");
    scan(" undisclosed-recipients:;", "");
    scan(" <@relay.example,@r2:user@site>", "user@site");
    scan(" \"odd, name\"@x", "\"odd, name\"@x");
    scan(" <>", "");
    scan(" a@b,\n\tc@d", "a@b|c@d");
    scan(" (unterminated comment a@b", "");
    scan(" <unterminated@angle", "unterminated@angle");
    scan(" \"unterminated quote", "\"unterminated quote");
    scan(" a (nested (comment) here) @ b", "a@b");
    scan("", "");
    scan(" \"folded\n quote\"@x", "\"folded quote\"@x");  /* unfolded */
    /* replacement keeps everything else */
    const char *v = " Joe <joe@x> (c), jane@y";
    sbuf out = SBUF_INIT;
    hdr_addr_scan(v, strlen(v), 100, upper_domain, 0, &out);
    assert_string_equal(sbuf_str(&out), " Joe <joe@x.X> (c), jane@y.X");
    /* the limit: later addresses are copied unchanged */
    hdr_addr_scan(v, strlen(v), 1, upper_domain, 0, &out);
    assert_string_equal(sbuf_str(&out), " Joe <joe@x.X> (c), jane@y");
    sbuf_free(&out);
}

static void test_is_header(void **state)
{
    (void) state;
    size_t n;
    assert_true(cleanup_is_header("Subject: x\n", 11, &n));
    assert_int_equal(n, 7);
    assert_true(cleanup_is_header("Subject : x\n", 12, &n));
    assert_true(cleanup_is_header("X-Empty:\n", 9, &n));
    assert_false(cleanup_is_header(" Subject: x\n", 12, &n));
    assert_false(cleanup_is_header(":x\n", 3, &n));
    assert_false(cleanup_is_header("no colon here\n", 14, &n));
    assert_false(cleanup_is_header("From root Mon\n", 14, &n));
    assert_false(cleanup_is_header("Sub\x01ject: x\n", 12, &n));
    assert_int_equal(cleanup_hdr_lookup("message-ID", 10), HDR_MESSAGE_ID);
    assert_int_equal(cleanup_hdr_lookup("X-Foo", 5), HDR_OTHER);
}

/* ---- the protocol loop, with the real client, over a socketpair ---- */

static void test_service_roundtrip(void **state)
{
    (void) state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        vstream *s = vstream_open(sv[1]);
        cleanup_service(s, "cleanup");
        vstream_close(s);
        _exit(0);
    }
    close(sv[1]);
    char id[32];
    sbuf err = SBUF_INIT, reason = SBUF_INIT;
    cleanup_client *cc = cleanup_open_stream(vstream_open(sv[0]), CLEANUP_FLAG_MASK_DEFAULT,
                                             id, sizeof(id), &err);
    assert_non_null(cc);
    assert_true(qfile_id_ok(id));
    cleanup_sender(cc, "s@example.org");
    cleanup_attr(cc, "client_name", "localhost");
    cleanup_rcpt(cc, "r@example.org", "R@example.org", DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY,
                 "rfc822;R@example.org");
    /* more than one data request's worth */
    sbuf body = SBUF_INIT;
    sbuf_adds(&body, "Subject: big\n\n");
    while (body.len < 3 * CLEANUP_DATA_MAX)
        sbuf_adds(&body, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n");
    assert_int_equal(cleanup_data(cc, body.s, body.len), 0);
    assert_int_equal(cleanup_finish(cc, &reason), CLEANUP_STAT_OK);
    assert_string_equal(sbuf_str(&reason), "");
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    struct qf f;
    assert_int_equal(read_queue_file(QUEUE_INCOMING, id, &f), 0);
    assert_string_equal(first_of(&f, QREC_NOTIFY)->data, "SUCCESS,DELAY");
    assert_string_equal(first_of(&f, QREC_DSN_ORCPT)->data, "rfc822;R@example.org");
    assert_string_equal(first_of(&f, QREC_ORCPT)->data, "R@example.org");
    assert_string_equal(first_of(&f, QREC_ATTR)->data, "client_name=localhost");
    sbuf all = SBUF_INIT;
    rebuild(&f, &all);
    assert_int_equal(all.len, body.len);
    assert_memory_equal(all.s, body.s, body.len);
    qf_free(&f);
    sbuf_free(&all);

    /* A rejected message: the reply carries the reason, no file stays. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        vstream *s = vstream_open(sv[1]);
        cleanup_service(s, "cleanup");
        vstream_close(s);
        _exit(0);
    }
    close(sv[1]);
    cc = cleanup_open_stream(vstream_open(sv[0]), CLEANUP_FLAG_MASK_DEFAULT, id, sizeof(id),
                             &err);
    assert_non_null(cc);
    cleanup_sender(cc, "s@example.org");
    cleanup_data(cc, "\nno recipients\n", 15);
    assert_int_equal(cleanup_finish(cc, &reason), CLEANUP_STAT_RCPT);
    assert_true(strncmp(sbuf_str(&reason), "5.", 2) == 0);
    assert_int_equal(cleanup_stat_smtp_code(CLEANUP_STAT_RCPT), 554);
    waitpid(pid, &status, 0);
    assert_false(file_exists(QUEUE_INCOMING, id));
    sbuf_free(&body);
    sbuf_free(&err);
    sbuf_free(&reason);
}

/* ---- pass-through of the body (no line parsing) ---- */

/* Body records joined, the size record's content_size, and the status. */
struct stored {
    int     status;
    sbuf    body;
    uint64_t content_size;
    bool    passthrough;        /* the message went into pass-through */
};

static void store_one(const char *content, size_t len, size_t chunk, int flags,
                      struct stored *out)
{
    char id[32];
    struct cleanup_state *st = cleanup_state_open(flags);
    snprintf(id, sizeof(id), "%s", st->queue_id);
    cleanup_env_sender(st, "a@example.org");
    cleanup_env_rcpt(st, "x@example.org", 0, 0, 0);
    size_t step = chunk ? chunk : (len ? len : 1);
    for (size_t off = 0; off < len; off += step)
        cleanup_content_data(st, content + off, len - off < step ? len - off : step);
    out->passthrough = st->passthrough;
    out->status = cleanup_commit_message(st);
    cleanup_state_free(st);
    sbuf_reset(&out->body);
    out->content_size = 0;
    if (out->status != CLEANUP_STAT_OK)
        return;
    struct qf f;
    assert_int_equal(read_queue_file(QUEUE_INCOMING, id, &f), 0);
    for (size_t i = 0; i < f.n; i++) {
        if (f.r[i].type == QREC_BODY)
            sbuf_add(&out->body, f.r[i].data, f.r[i].len);
    }
    out->content_size = f.sz.content_size;
    qf_free(&f);
}

/* A table that never matches: body_checks look at every line, so the
 * line-by-line path runs all the way (the reference). */
static void config_reference(const char *extra)
{
    char b[700];
    snprintf(b, sizeof(b), "body_checks = regexp:%s",
             fixture_write("never", "/^NEVER-MATCHES-THIS-LINE$/ REJECT\n"));
    config(b, "body_checks_size_limit = 0", extra);
    cleanup_checks_init();
}

static void config_plain(const char *extra)
{
    config("body_checks =", extra, 0);
    cleanup_checks_init();
}

/* The content stored with and without pass-through is the same, for
 * every chunking. */
static void same_both_ways(const char *content, size_t len, const char *extra, bool expect_pass)
{
    static const size_t chunks[] = {0, 1, 2, 3, 7, 64, 1000, 4096, 65536};
    struct stored ref = {0, SBUF_INIT, 0, false}, got = {0, SBUF_INIT, 0, false};
    config_reference(extra);
    store_one(content, len, 0, CLEANUP_FLAG_MASK_DEFAULT, &ref);
    assert_false(ref.passthrough);
    config_plain(extra);
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        store_one(content, len, chunks[c], CLEANUP_FLAG_MASK_DEFAULT, &got);
        assert_int_equal(got.status, ref.status);
        if (got.passthrough != expect_pass)
            fail_msg("chunk %zu: pass-through %d, expected %d", chunks[c], got.passthrough,
                     expect_pass);
        assert_int_equal(got.body.len, ref.body.len);
        assert_memory_equal(got.body.s, ref.body.s, ref.body.len);
        assert_int_equal(got.content_size, ref.content_size);
    }
    sbuf_free(&ref.body);
    sbuf_free(&got.body);
}

static void test_passthrough_same_content(void **state)
{
    (void) state;
    const char *hdr = "From: a@example.org\nTo: x@example.org\nDate: today\n"
                      "Message-ID: <m@example.org>\nSubject: pass\n\n";
    sbuf c = SBUF_INIT;

    /* Many short lines, stray CRs, CR LF, a CR at every possible chunk
     * boundary, dots, empty lines, a boundary-like line, a last line
     * without LF. */
    sbuf_set(&c, hdr);
    for (int i = 0; i < 3000; i++) {
        sbuf_printf(&c, "line %d", i);
        if (i % 7 == 0)
            sbuf_adds(&c, "\rstray");
        if (i % 11 == 0)
            sbuf_adds(&c, "\r");            /* CR LF */
        if (i % 13 == 0)
            sbuf_adds(&c, "\n.\n--q\n\n\r\r");
        sbuf_addc(&c, '\n');
    }
    sbuf_adds(&c, "last line without LF");
    same_both_ways(c.s, c.len, 0, true);
    same_both_ways(c.s, c.len, "cleanup_replace_stray_cr_lf = no", true);

    /* Ends in a CR: it is kept and gets its LF. */
    sbuf_set(&c, hdr);
    sbuf_adds(&c, "body\nends in CR\r");
    same_both_ways(c.s, c.len, 0, true);

    /* A last line of exactly line_length_limit bytes without LF: stored
     * with an LF, like any last line. */
    sbuf_set(&c, hdr);
    for (int i = 0; i < 2048; i++)
        sbuf_addc(&c, 'L');
    same_both_ways(c.s, c.len, 0, true);
    struct stored got = {0, SBUF_INIT, 0, false};
    store_one(c.s, c.len, 0, CLEANUP_FLAG_MASK_DEFAULT, &got);
    assert_int_equal(got.body.len, 2049);
    assert_int_equal(got.body.s[2048], '\n');

    /* Very long lines, with CRs at piece boundaries (line_length_limit). */
    sbuf_set(&c, hdr);
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < 5000 + k; i++)
            sbuf_addc(&c, i % 2047 == 0 ? '\r' : 'x');
        sbuf_adds(&c, "\r\n");
    }
    same_both_ways(c.s, c.len, 0, true);

    /* No body at all (pass-through from the empty line on); an empty
     * body line only; headers only, without the empty line. */
    sbuf_set(&c, hdr);
    same_both_ways(c.s, c.len, 0, true);
    sbuf_adds(&c, "\n");
    same_both_ways(c.s, c.len, 0, true);
    sbuf_set(&c, hdr);
    sbuf_truncate(&c, c.len - 1);
    same_both_ways(c.s, c.len, 0, false);
    sbuf_free(&c);
    sbuf_free(&got.body);
}

/* Where MIME structure can still come, the parser keeps seeing every
 * line; pass-through starts only after the outermost multipart ended. */
static void test_passthrough_mime(void **state)
{
    (void) state;
    sbuf c = SBUF_INIT;
    sbuf_set(&c, "From: a@example.org\nTo: x@example.org\nDate: today\n"
                 "Message-ID: <m@example.org>\nMIME-Version: 1.0\n"
                 "Content-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n"
                 "--b1\nContent-Type: text/plain\n\npart one\r\nstray\rCR\n"
                 "--b1\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner body\n"
                 "--b1--\n");
    for (int i = 0; i < 500; i++)
        sbuf_printf(&c, "epilogue %d\r\n--b1\n\n", i);
    same_both_ways(c.s, c.len, 0, true);

    /* An attached message at the top: never pass-through (depth 1). */
    sbuf_set(&c, "From: a@example.org\nTo: x@example.org\nDate: today\n"
                 "Message-ID: <m@example.org>\nContent-Type: message/rfc822\n\n"
                 "Subject: inner\n\nbody\n");
    same_both_ways(c.s, c.len, 0, false);

    /* disable_mime_input_processing: the body is plain at once. */
    sbuf_set(&c, "From: a@example.org\nTo: x@example.org\nDate: today\n"
                 "Message-ID: <m@example.org>\n"
                 "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n\nx\n--b1--\n");
    same_both_ways(c.s, c.len, "disable_mime_input_processing = yes", true);
    sbuf_free(&c);
}

/* Checks that still have something to look at keep the line path. */
static void test_passthrough_checks(void **state)
{
    (void) state;
    char b[700];
    struct stored got = {0, SBUF_INIT, 0, false};
    sbuf c = SBUF_INIT;
    sbuf_set(&c, "Subject: x\n\n");
    for (int i = 0; i < 100; i++)
        sbuf_adds(&c, "0123456789\n");
    sbuf_adds(&c, "spam\nmore\n");

    /* body_checks within the size limit: no pass-through, the match counts. */
    snprintf(b, sizeof(b), "body_checks = regexp:%s", fixture_write("spam", "/spam/ REJECT\n"));
    config(b, "body_checks_size_limit = 0", 0);
    cleanup_checks_init();
    store_one(c.s, c.len, 100, CLEANUP_FLAG_MASK_DEFAULT, &got);
    assert_int_equal(got.status, CLEANUP_STAT_CONT);
    sbuf clean = SBUF_INIT;
    sbuf_set(&clean, c.s);
    clean.s[clean.len - 9] = '-';           /* "s-am": no match */
    store_one(clean.s, clean.len, 100, CLEANUP_FLAG_MASK_DEFAULT, &got);
    assert_int_equal(got.status, CLEANUP_STAT_OK);
    assert_false(got.passthrough);
    sbuf_free(&clean);
    /* Past body_checks_size_limit nothing is checked: pass-through. */
    config(b, "body_checks_size_limit = 500", 0);
    cleanup_checks_init();
    store_one(c.s, c.len, 100, CLEANUP_FLAG_MASK_DEFAULT, &got);
    assert_int_equal(got.status, CLEANUP_STAT_OK);
    assert_true(got.passthrough);
    /* Without CLEANUP_FLAG_FILTER nothing is checked at all. */
    config(b, "body_checks_size_limit = 0", 0);
    cleanup_checks_init();
    store_one(c.s, c.len, 100, CLEANUP_FLAG_MASK_DEFAULT & ~CLEANUP_FLAG_FILTER, &got);
    assert_int_equal(got.status, CLEANUP_STAT_OK);
    assert_true(got.passthrough);

    /* strict_8bitmime_body: 8-bit text late in a 7-bit body is still found. */
    config("body_checks =", "strict_8bitmime_body = yes", 0);
    cleanup_checks_init();
    sbuf_set(&c, "Subject: x\n\n");
    for (int i = 0; i < 1000; i++)
        sbuf_adds(&c, "plain ascii line\n");
    sbuf_adds(&c, "caf\xc3\xa9\n");
    store_one(c.s, c.len, 4096, CLEANUP_FLAG_MASK_DEFAULT, &got);
    assert_int_equal(got.status, CLEANUP_STAT_CONT);
    /* ... and once it was reported, the rest may pass through. */
    sbuf_set(&c, "Subject: x\n\ncaf\xc3\xa9\n");
    for (int i = 0; i < 100; i++)
        sbuf_adds(&c, "plain ascii line\n");
    store_one(c.s, c.len, 4096, CLEANUP_FLAG_MASK_DEFAULT, &got);
    assert_int_equal(got.status, CLEANUP_STAT_CONT);
    assert_true(got.passthrough);
    /* A body declared 8bit is not checked. */
    sbuf_set(&c, "Content-Transfer-Encoding: 8bit\nSubject: x\n\n");
    for (int i = 0; i < 100; i++)
        sbuf_adds(&c, "plain ascii line\n");
    sbuf_adds(&c, "caf\xc3\xa9\n");
    store_one(c.s, c.len, 4096, CLEANUP_FLAG_MASK_DEFAULT, &got);
    assert_int_equal(got.status, CLEANUP_STAT_OK);
    sbuf_free(&c);
    sbuf_free(&got.body);
}

/* Big messages: records of at most 64 KiB, written without a copy when
 * the data comes in big blocks, and the size record right. */
static void test_passthrough_big(void **state)
{
    (void) state;
    sbuf c = SBUF_INIT;
    sbuf_set(&c, "From: a@example.org\nTo: x@example.org\nDate: today\n"
                 "Message-ID: <m@example.org>\nSubject: big\n\n");
    while (c.len < 1024 * 1024 + 333)
        sbuf_printf(&c, "%078zu\n", c.len);
    same_both_ways(c.s, c.len, 0, true);
    sbuf_free(&c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_record_layout, setup),
        cmocka_unit_test_setup(test_chunking_and_folding, setup),
        cmocka_unit_test_setup(test_header_block_end, setup),
        cmocka_unit_test_setup(test_missing_headers, setup),
        cmocka_unit_test_setup(test_drop_and_extract, setup),
        cmocka_unit_test_setup(test_virtual_alias, setup),
        cmocka_unit_test_setup(test_virtual_direct, setup),
        cmocka_unit_test_setup(test_canonical_and_masquerade, setup),
        cmocka_unit_test_setup(test_duplicates, setup),
        cmocka_unit_test_setup(test_limits, setup),
        cmocka_unit_test_setup(test_flags, setup),
        cmocka_unit_test_setup(test_bad_requests, setup),
        cmocka_unit_test(test_hdr_addr_scan),
        cmocka_unit_test(test_is_header),
        cmocka_unit_test_setup(test_service_roundtrip, setup),
        cmocka_unit_test_setup(test_passthrough_same_content, setup),
        cmocka_unit_test_setup(test_passthrough_mime, setup),
        cmocka_unit_test_setup(test_passthrough_checks, setup),
        cmocka_unit_test_setup(test_passthrough_big, setup),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
