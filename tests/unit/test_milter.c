/*
 * test_milter.c - the milter client (src/mail/milters.c, milter.c) against
 * a scripted fake filter in a child process on a UNIX socket.
 *
 * The fake answers SMFIC_OPTNEG as its script says, then every command
 * with the raw reply packets the script has for that command byte
 * ("continue" when there is none), or never (a hang). It writes a
 * transcript line per packet it received, which the test reads after
 * the child is gone. The client's log goes to a file so warnings can be
 * asserted. Covered: negotiation (versions, refused versions, protocol-6
 * macro lists), every event, macros, every verdict and modification
 * request, no-reply flags, SMFIR_SKIP, a dead and a hanging filter with
 * each milter_default_action, malformed replies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "conf_fixture.h"
#include "mail/milter.h"
#include "mail/milter_proto.h"
#include "util/msg.h"
#include "util/sock.h"

/* ---- the fake filter ---- */

struct pkt {
    const char *d;              /* reply code and data, unframed */
    size_t  n;
};

struct rule {
    char    cmd;                /* command byte it answers */
    bool    hang;               /* never answer it */
    struct pkt p[12];           /* the reply packets, in order */
};

struct script {
    uint32_t version, actions, protocol;
    const char *optneg_extra;   /* macro lists after the three numbers */
    size_t  optneg_extra_len;
    int     optneg_hang;        /* never answer SMFIC_OPTNEG */
    struct rule rules[12];
};

static char sock_path[300], transcript[300], logfile[300];
static pid_t child;

static int read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t got = read(fd, p, n);
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t) got;
    }
    return 0;
}

static void put_u32(char *p, uint32_t v)
{
    p[0] = (char) (v >> 24);
    p[1] = (char) (v >> 16);
    p[2] = (char) (v >> 8);
    p[3] = (char) v;
}

static void fake_serve(int fd, const struct script *sc)
{
    FILE *log = fopen(transcript, "w");
    for (;;) {
        unsigned char hdr[4];
        if (read_full(fd, hdr, 4) < 0)
            break;
        uint32_t len = (uint32_t) hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
        char *data = malloc(len + 1);
        if (len == 0 || read_full(fd, data, len) < 0)
            break;
        /* One transcript line: command byte, data with NUL as '|'. */
        fputc(data[0], log);
        for (uint32_t i = 1; i < len; i++) {
            unsigned char c = (unsigned char) data[i];
            if (c == 0)
                fputc('|', log);
            else if (c == '\r')
                fputs("\\r", log);
            else if (c == '\n')
                fputs("\\n", log);
            else if (c < 0x20 || c >= 0x7f)
                fprintf(log, "\\x%02x", c);
            else
                fputc(c, log);
        }
        fputc('\n', log);
        fflush(log);
        char cmd = data[0];
        free(data);
        if (cmd == SMFIC_OPTNEG) {
            if (sc->optneg_hang)
                pause();
            char out[4 + 13 + 256];
            size_t n = 13 + sc->optneg_extra_len;
            put_u32(out, (uint32_t) n);
            out[4] = SMFIC_OPTNEG;
            put_u32(out + 5, sc->version);
            put_u32(out + 9, sc->actions);
            put_u32(out + 13, sc->protocol);
            if (sc->optneg_extra_len)
                memcpy(out + 17, sc->optneg_extra, sc->optneg_extra_len);
            if (write(fd, out, 4 + n) < 0)
                break;
            continue;
        }
        if (cmd == SMFIC_QUIT)
            break;
        if (cmd == SMFIC_MACRO || cmd == SMFIC_ABORT)
            continue;
        if (cmd == SMFIC_HEADER && (sc->protocol & SMFIP_NR_HDR))
            continue;
        if (cmd == SMFIC_BODY && (sc->protocol & SMFIP_NR_BODY))
            continue;
        const struct rule *r = 0;
        for (size_t i = 0; i < sizeof(sc->rules) / sizeof(sc->rules[0]); i++)
            if (sc->rules[i].cmd == cmd)
                r = &sc->rules[i];
        if (r && r->hang)
            pause();
        if (!r) {
            if (write(fd, "\0\0\0\x01" "c", 5) < 0)
                break;
            continue;
        }
        for (size_t i = 0; i < 12 && r->p[i].d; i++) {
            char len4[4];
            put_u32(len4, (uint32_t) r->p[i].n);
            if (write(fd, len4, 4) < 0 || write(fd, r->p[i].d, r->p[i].n) < 0)
                break;
        }
    }
    fclose(log);
}

/* Start the fake on a fresh socket. */
static void fake_start(const struct script *sc)
{
    snprintf(sock_path, sizeof(sock_path), "%s/milter.sock", fixture_dir());
    snprintf(transcript, sizeof(transcript), "%s/transcript", fixture_dir());
    unlink(sock_path);
    unlink(transcript);
    int lfd = sock_listen_unix(sock_path, 5, 0600);
    assert_true(lfd >= 0);
    sock_set_nonblock(lfd, 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd = accept(lfd, 0, 0);
        if (fd >= 0)
            fake_serve(fd, sc);
        _exit(0);
    }
    close(lfd);
}

/* Wait for the fake (kill it if it hangs) and return its transcript. */
static char *fake_finish(void)
{
    static char buf[1 << 20];
    for (int i = 0; i < 50; i++) {
        if (waitpid(child, 0, WNOHANG) == child) {
            child = 0;
            break;
        }
        usleep(20000);
    }
    if (child) {
        kill(child, SIGKILL);
        waitpid(child, 0, 0);
        child = 0;
    }
    buf[0] = 0;
    FILE *fp = fopen(transcript, "r");
    if (fp) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = 0;
        fclose(fp);
    }
    return buf;
}

static char *read_log(void)
{
    static char buf[65536];
    buf[0] = 0;
    FILE *fp = fopen(logfile, "r");
    if (fp) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = 0;
        fclose(fp);
    }
    return buf;
}

static void conf(const char *action, const char *protocol, const char *extra)
{
    char a[100], p[100];
    snprintf(a, sizeof(a), "milter_default_action = %s", action);
    snprintf(p, sizeof(p), "milter_protocol = %s", protocol);
    fixture_main_cf("queue_directory = /tmp", "milter_command_timeout = 1s",
                    "milter_content_timeout = 1s", "milter_connect_timeout = 1s", a, p,
                    "myhostname = mx.example.jp",
                    extra ? extra : "milter_macro_defaults = {daemon_addr}=192.0.2.25", NULL);
    unlink(logfile);
}

static milters *make(void)
{
    char name[400];
    snprintf(name, sizeof(name), "unix:%s", sock_path);
    return milters_create(name);
}

static const char *lookup(void *ctx, const char *name)
{
    (void) ctx;
    if (strcmp(name, "j") == 0)
        return "mx.example.jp";
    if (strcmp(name, "client_addr") == 0)
        return "192.0.2.1";
    if (strcmp(name, "i") == 0)
        return "ABC123";
    if (strcmp(name, "mail_addr") == 0)
        return "sender@example.jp";
    return 0;
}

#define P(lit) {lit, sizeof(lit) - 1}
#define V6_ALL (SMFIF_ALL)

static const char *const mail_argv[] = {"<sender@example.jp>", "SIZE=100", 0};
static const char *const rcpt_argv[] = {"<rcpt@example.jp>", 0};

/* ---- message source and edit sink ---- */

struct msg {
    const char *const *headers;
    const char *body;
    size_t  hi;
    bool    body_done;
    sbuf    edits;              /* what the callbacks saw */
};

static int src_rewind(void *ctx)
{
    struct msg *m = ctx;
    m->hi = 0;
    m->body_done = false;
    return 0;
}

static int src_header(void *ctx, sbuf *h)
{
    struct msg *m = ctx;
    if (!m->headers[m->hi])
        return 0;
    sbuf_set(h, m->headers[m->hi++]);
    return 1;
}

static int src_body(void *ctx, sbuf *b)
{
    struct msg *m = ctx;
    if (m->body_done)
        return 0;
    m->body_done = true;
    sbuf_set(b, m->body);
    return 1;
}

static const struct milter_message_src src = {src_rewind, src_header, src_body};

static const char *ed_add(void *ctx, const char *name, const char *text, size_t len)
{
    struct msg *m = ctx;
    sbuf_printf(&m->edits, "add %s [%.*s]\n", name, (int) len, text);
    return 0;
}

static const char *ed_ins(void *ctx, uint32_t index, const char *name, const char *text,
                          size_t len)
{
    struct msg *m = ctx;
    sbuf_printf(&m->edits, "ins %u %s [%.*s]\n", index, name, (int) len, text);
    return 0;
}

static const char *ed_chg(void *ctx, uint32_t index, const char *name, const char *text,
                          size_t len)
{
    struct msg *m = ctx;
    if (text)
        sbuf_printf(&m->edits, "chg %u %s [%.*s]\n", index, name, (int) len, text);
    else
        sbuf_printf(&m->edits, "del %u %s\n", index, name);
    return 0;
}

static const char *ed_from(void *ctx, const char *addr, const char *args)
{
    struct msg *m = ctx;
    sbuf_printf(&m->edits, "from %s [%s]\n", addr, args);
    return 0;
}

static const char *ed_addrcpt(void *ctx, const char *addr, const char *args)
{
    struct msg *m = ctx;
    sbuf_printf(&m->edits, "addrcpt %s [%s]\n", addr, args);
    return 0;
}

static const char *ed_delrcpt(void *ctx, const char *addr)
{
    struct msg *m = ctx;
    sbuf_printf(&m->edits, "delrcpt %s\n", addr);
    return 0;
}

static const char *ed_body(void *ctx, int op, const char *data, size_t len)
{
    struct msg *m = ctx;
    if (op == MILTER_BODY_START)
        sbuf_adds(&m->edits, "body start\n");
    else if (op == MILTER_BODY_DATA)
        sbuf_printf(&m->edits, "body [%.*s]\n", (int) len, data);
    else
        sbuf_adds(&m->edits, "body end\n");
    return 0;
}

static const char *ed_done(void *ctx)
{
    struct msg *m = ctx;
    sbuf_adds(&m->edits, "done\n");
    return 0;
}

static const struct milter_edit_ops edits = {ed_add, ed_ins, ed_chg, ed_from, ed_addrcpt,
                                             ed_delrcpt, ed_body, ed_done};

static const char *const std_headers[] = {
    "Received: from client (client [192.0.2.1])\n\tby mx.example.jp; now\n",
    "Subject: Hello\n",
    "X-Folded: one\n\ttwo\n",
    0,
};

/* ---- tests ---- */

static void test_full_session(void **state)
{
    (void) state;
    static const struct script sc = {
        6, V6_ALL, 0, 0, 0, 0,
        {{SMFIC_BODYEOB, false,
          {P("hX-Added\0a\r\n b\0"), P("i\0\0\0\0DKIM-Signature\0v=1;\n\tb=x\0"),
           P("m\0\0\0\x01Subject\0Changed\0"), P("m\0\0\0\0X-Folded\0\0"),
           P("e<new@example.jp>\0A=B\0"), P("+<extra@example.jp>\0"),
           P("-<rcpt@example.jp>\0"), P("bnew\r\nbo\r"), P("b\ndy\r\n"), P("p"), P("c")}}},
    };
    conf("tempfail", "6", 0);
    fake_start(&sc);
    milters *ms = make();
    assert_non_null(ms);
    assert_int_equal(milters_count(ms), 1);
    milters_set_macros(ms, lookup, 0);
    assert_null(milters_connect(ms, "client.example.jp", "192.0.2.1", "54321", AF_INET));
    assert_null(milters_helo(ms, "client.example.jp"));
    assert_null(milters_mail(ms, mail_argv));
    assert_null(milters_rcpt(ms, rcpt_argv));
    assert_null(milters_data(ms));
    assert_true(milters_want_message(ms));

    struct msg m = {std_headers, "line 1\nline 2\n", 0, false, SBUF_INIT};
    assert_null(milters_message(ms, &src, &m, &edits, &m));
    assert_string_equal(sbuf_str(&m.edits),
                        "add X-Added [X-Added: a\n b\n]\n"
                        "ins 0 DKIM-Signature [DKIM-Signature: v=1;\n\tb=x\n]\n"
                        "chg 1 Subject [Subject: Changed\n]\n"
                        "del 1 X-Folded\n"
                        "from <new@example.jp> [A=B]\n"
                        "addrcpt <extra@example.jp> []\n"
                        "delrcpt <rcpt@example.jp>\n"
                        "body start\n"
                        "body [new\nbo]\n"
                        "body [\ndy\n]\n"
                        "body end\n"
                        "done\n");
    milters_abort(ms);
    milters_quit(ms);
    milters_free(ms);
    const char *t = fake_finish();
    /* OPTNEG offers version 6, every action and the v6 protocol flags. */
    assert_non_null(strstr(t, "O|||\\x06||\\x01\\xff|\\x1f\\xf7\\xff\n"));
    assert_non_null(strstr(t, "DCj|mx.example.jp|{daemon_addr}|192.0.2.25|\n"));
    assert_non_null(strstr(t, "Cclient.example.jp|4\\xd41192.0.2.1|\n"));
    assert_non_null(strstr(t, "Hclient.example.jp|\n"));
    assert_non_null(strstr(t, "DMi|ABC123|{mail_addr}|sender@example.jp|\n"));
    assert_non_null(strstr(t, "M<sender@example.jp>|SIZE=100|\n"));
    assert_non_null(strstr(t, "DRi|ABC123|\n"));
    assert_non_null(strstr(t, "R<rcpt@example.jp>|\n"));
    assert_non_null(strstr(t, "DTi|ABC123|\nT\n"));
    /* Headers: one space after the colon eaten, folds as LF. */
    assert_non_null(strstr(
        t, "LReceived|from client (client [192.0.2.1])\\n\\x09by mx.example.jp; now|\n"));
    assert_non_null(strstr(t, "LSubject|Hello|\n"));
    assert_non_null(strstr(t, "LX-Folded|one\\n\\x09two|\n"));
    assert_non_null(strstr(t, "DNi|ABC123|\nN\n"));
    assert_non_null(strstr(t, "Bline 1\\r\\nline 2\\r\\n\n"));
    assert_non_null(strstr(t, "DEi|ABC123|\nE\n"));
    assert_non_null(strstr(t, "A\nQ\n"));
    sbuf_free(&m.edits);
}

static void test_verdicts(void **state)
{
    (void) state;
    static const struct script sc = {
        6, V6_ALL, 0, 0, 0, 0,
        {{SMFIC_MAIL, false, {P("t")}},
         {SMFIC_RCPT, false, {P("r")}},
         {SMFIC_DATA, false, {P("y554 5.7.0 100%% sure\0")}},
         {SMFIC_UNKNOWN, false, {P("y550 no code\0")}}},
    };
    conf("tempfail", "6", 0);
    fake_start(&sc);
    milters *ms = make();
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    assert_string_equal(milters_mail(ms, mail_argv),
                        "451 4.7.1 Service unavailable - try again later");
    /* Not sticky: the filter still gets the next command. */
    assert_string_equal(milters_rcpt(ms, rcpt_argv), "550 5.7.1 Command rejected");
    /* "%%" is one '%' (Sendmail formats replies). */
    assert_string_equal(milters_data(ms), "554 5.7.0 100% sure");
    /* An enhanced status code is added when the filter gave none. */
    assert_string_equal(milters_unknown(ms, "XFOO bar"), "550 5.0.0 no code");
    /* Not sticky: another message goes on. */
    milters_abort(ms);
    assert_null(milters_helo(ms, "again"));
    milters_quit(ms);
    milters_free(ms);
    const char *t = fake_finish();
    assert_non_null(strstr(t, "UXFOO bar|\n"));
}

static void test_connect_reject_sticks(void **state)
{
    (void) state;
    static const struct script sc = {
        6, V6_ALL, 0, 0, 0, 0, {{SMFIC_CONNECT, false, {P("r")}}},
    };
    conf("tempfail", "6", 0);
    fake_start(&sc);
    milters *ms = make();
    assert_string_equal(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET),
                        "550 5.7.1 Command rejected");
    assert_string_equal(milters_helo(ms, "h"), "550 5.7.1 Command rejected");
    assert_string_equal(milters_mail(ms, mail_argv), "550 5.7.1 Command rejected");
    assert_string_equal(milters_other(ms), "550 5.7.1 Command rejected");
    assert_false(milters_want_message(ms));
    milters_quit(ms);
    milters_free(ms);
    const char *t = fake_finish();
    assert_null(strstr(t, "\nH"));
}

static void test_accept_and_discard(void **state)
{
    (void) state;
    static const struct script sc = {
        6, V6_ALL, 0, 0, 0, 0,
        {{SMFIC_RCPT, false, {P("d")}}, {SMFIC_HELO, false, {P("a")}}},
    };
    conf("tempfail", "6", 0);
    fake_start(&sc);
    milters *ms = make();
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    /* Accept at HELO: the filter leaves the session. */
    assert_null(milters_helo(ms, "h"));
    assert_null(milters_mail(ms, mail_argv));
    assert_null(milters_rcpt(ms, rcpt_argv));
    assert_false(milters_want_message(ms));
    milters_quit(ms);
    milters_free(ms);
    const char *t = fake_finish();
    assert_null(strstr(t, "\nM<"));

    static const struct script sc2 = {
        6, V6_ALL, 0, 0, 0, 0, {{SMFIC_RCPT, false, {P("d")}}},
    };
    fake_start(&sc2);
    ms = make();
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    assert_string_equal(milters_rcpt(ms, rcpt_argv), "D");
    /* Discarded: the rest of the message is not sent. */
    assert_null(milters_data(ms));
    assert_false(milters_want_message(ms));
    milters_quit(ms);
    milters_free(ms);
    t = fake_finish();
    assert_null(strstr(t, "\nT"));
}

static void test_shutdown_and_quarantine(void **state)
{
    (void) state;
    static const struct script sc = {
        6, V6_ALL, 0, 0, 0, 0,
        {{SMFIC_BODYEOB, false, {P("qvirus\0"), P("a")}},
         {SMFIC_UNKNOWN, false, {P("4")}}},
    };
    conf("tempfail", "6", 0);
    fake_start(&sc);
    milters *ms = make();
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    assert_null(milters_mail(ms, mail_argv));
    struct msg m = {std_headers, "x\n", 0, false, SBUF_INIT};
    /* Quarantine is not final; the accept that follows is read too. */
    assert_string_equal(milters_message(ms, &src, &m, &edits, &m), "H");
    milters_abort(ms);
    assert_null(milters_mail(ms, mail_argv));
    assert_string_equal(milters_unknown(ms, "BOGUS"), "S");
    assert_string_equal(milters_rcpt(ms, rcpt_argv), "S");
    milters_quit(ms);
    milters_free(ms);
    fake_finish();
    sbuf_free(&m.edits);
}

static void test_skip_and_noreply(void **state)
{
    (void) state;
    static const struct script sc = {
        6, V6_ALL, SMFIP_NR_HDR | SMFIP_SKIP | SMFIP_NOEOH, 0, 0, 0,
        {{SMFIC_BODY, false, {P("s")}}},
    };
    conf("tempfail", "6", 0);
    fake_start(&sc);
    milters *ms = make();
    milters_set_macros(ms, lookup, 0);
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    assert_null(milters_mail(ms, mail_argv));
    /* 100000 body bytes: the first chunk is answered with SKIP. */
    char *big = malloc(100001);
    memset(big, 'a', 100000);
    big[99999] = '\n';
    big[100000] = 0;
    struct msg m = {std_headers, big, 0, false, SBUF_INIT};
    assert_null(milters_message(ms, &src, &m, &edits, &m));
    milters_quit(ms);
    milters_free(ms);
    const char *t = fake_finish();
    /* One body chunk only; headers without replies; EOH macros sent,
     * the EOH event itself skipped. */
    const char *b = strstr(t, "\nB");
    assert_non_null(b);
    assert_null(strstr(b + 1, "\nB"));
    assert_non_null(strstr(t, "LSubject|Hello|\n"));
    assert_non_null(strstr(t, "DNi|ABC123|\n"));
    assert_null(strstr(t, "\nN\n"));
    assert_non_null(strstr(t, "\nE\n"));
    free(big);
    sbuf_free(&m.edits);
}

static void test_old_version_and_macro_lists(void **state)
{
    (void) state;
    /* A version 2 filter: no DATA or UNKNOWN events may reach it. */
    static const struct script v2 = {2, SMFIF_ADDHDRS, 0, 0, 0, 0, {{0, false, {{0, 0}}}}};
    conf("tempfail", "6", 0);
    fake_start(&v2);
    milters *ms = make();
    milters_set_macros(ms, lookup, 0);
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    assert_null(milters_mail(ms, mail_argv));
    assert_null(milters_data(ms));
    assert_null(milters_unknown(ms, "XYZ"));
    milters_quit(ms);
    milters_free(ms);
    const char *t = fake_finish();
    assert_null(strstr(t, "\nT"));
    assert_null(strstr(t, "\nU"));
    assert_null(strstr(t, "\nDT"));

    /* Protocol 6 macro lists replace ours: only {client_addr} at connect,
     * nothing at MAIL. */
    static const char lists[] = "\0\0\0\0{client_addr}\0";
    static const struct script v6 = {6, V6_ALL, 0, lists, sizeof(lists) - 1, 0,
                                     {{0, false, {{0, 0}}}}};
    fake_start(&v6);
    ms = make();
    milters_set_macros(ms, lookup, 0);
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    assert_null(milters_mail(ms, mail_argv));
    milters_quit(ms);
    milters_free(ms);
    t = fake_finish();
    assert_non_null(strstr(t, "DC{client_addr}|192.0.2.1|\n"));
    assert_null(strstr(t, "\nDM"));

    /* milter_protocol = 2: we offer version 2 and no DATA event. */
    conf("tempfail", "2", 0);
    fake_start(&v2);
    ms = make();
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET6));
    assert_null(milters_data(ms));
    milters_quit(ms);
    milters_free(ms);
    t = fake_finish();
    assert_non_null(strstr(t, "O|||\\x02||\\x01\\xff|||\\x7f\n"));
    assert_non_null(strstr(t, "Cc|6|\\x01192.0.2.1|\n"));
}

static void test_version_conflict(void **state)
{
    (void) state;
    static const struct script sc = {7, V6_ALL, 0, 0, 0, 0, {{0, false, {{0, 0}}}}};
    conf("reject", "6", 0);
    fake_start(&sc);
    milters *ms = make();
    assert_string_equal(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET),
                        "550 5.5.0 Service unavailable");
    milters_free(ms);
    fake_finish();
    assert_non_null(strstr(read_log(), "protocol version 7 conflict with MTA protocol version 6"));

    static const struct script acts = {6, 0x10000, 0, 0, 0, 0, {{0, false, {{0, 0}}}}};
    conf("tempfail", "6", 0);
    fake_start(&acts);
    ms = make();
    assert_string_equal(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET),
                        "451 4.7.1 Service unavailable - try again later");
    milters_free(ms);
    fake_finish();
    assert_non_null(strstr(read_log(), "request mask 0x10000 conflict"));
}

static void test_malformed_reply(void **state)
{
    (void) state;
    static const struct script sc = {
        6, V6_ALL, 0, 0, 0, 0,
        {{SMFIC_HELO, false, {P("y250 2.0.0 ok\0")}}, {SMFIC_MAIL, false, {P("cx")}}},
    };
    conf("tempfail", "6", 0);
    fake_start(&sc);
    milters *ms = make();
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    assert_string_equal(milters_helo(ms, "h"),
                        "451 4.3.5 Server configuration problem - try again later");
    milters_free(ms);
    fake_finish();
    assert_non_null(strstr(read_log(), "malformed reply: 250 2.0.0 ok"));

    conf("accept", "6", 0);
    fake_start(&sc);
    ms = make();
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    assert_null(milters_mail(ms, mail_argv));       /* default action: accept */
    assert_null(milters_rcpt(ms, rcpt_argv));
    milters_free(ms);
    fake_finish();
    assert_non_null(strstr(read_log(), "reply SMFIR_CONTINUE was followed by 1 data bytes"));

    /* A modification request outside the end of the message. */
    static const struct script early = {
        6, V6_ALL, 0, 0, 0, 0, {{SMFIC_RCPT, false, {P("hA\0b\0")}}},
    };
    conf("reject", "6", 0);
    fake_start(&early);
    ms = make();
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    assert_string_equal(milters_rcpt(ms, rcpt_argv), "550 5.5.0 Service unavailable");
    milters_free(ms);
    fake_finish();
    assert_non_null(strstr(read_log(),
                           "unexpected filter response SMFIR_ADDHEADER after event SMFIC_RCPT"));
}

/* Nothing listens: each default action. */
static void test_dead_milter(void **state)
{
    (void) state;
    static const struct {
        const char *action;
        const char *reply;
    } cases[] = {
        {"accept", 0},
        {"reject", "550 5.5.0 Service unavailable"},
        {"tempfail", "451 4.7.1 Service unavailable - try again later"},
        {"quarantine", "H"},
        {"bogus", "451 4.3.5 Server configuration problem - try again later"},
    };
    snprintf(sock_path, sizeof(sock_path), "%s/nothing-here.sock", fixture_dir());
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        conf(cases[i].action, "6", 0);
        milters *ms = make();
        const char *r = milters_connect(ms, "c", "192.0.2.1", "1", AF_INET);
        if (cases[i].reply) {
            assert_non_null(r);
            assert_string_equal(r, cases[i].reply);
            /* Sticky for the rest of the session. */
            assert_string_equal(milters_mail(ms, mail_argv), cases[i].reply);
        } else {
            assert_null(r);
            assert_null(milters_mail(ms, mail_argv));
        }
        assert_false(milters_want_message(ms));
        milters_free(ms);
        assert_non_null(strstr(read_log(), "warning: connect to Milter service unix:"));
    }
    /* A bad name is a configuration problem. */
    conf("accept", "6", 0);
    milters *ms = milters_create("bogus:foo");
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    milters_free(ms);
    assert_non_null(strstr(read_log(), "Milter service needs transport:endpoint"));
    /* Per-milter settings override main.cf. */
    conf("tempfail", "6", 0);
    char list[500];
    snprintf(list, sizeof(list), "{ unix:%s, default_action=reject, connect_timeout=2s }",
             sock_path);
    ms = milters_create(list);
    assert_string_equal(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET),
                        "550 5.5.0 Service unavailable");
    milters_free(ms);
    assert_null(milters_create(""));
    assert_null(milters_create("{ unix:/x, nonsense }"));
}

/* Accepts the connection, never answers: the timeouts end every wait. */
static void test_hanging_milter(void **state)
{
    (void) state;
    static const struct script hang_optneg = {6, V6_ALL, 0, 0, 0, 1, {{0, false, {{0, 0}}}}};
    conf("tempfail", "6", 0);
    fake_start(&hang_optneg);
    time_t t0 = time(0);
    milters *ms = make();
    assert_string_equal(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET),
                        "451 4.7.1 Service unavailable - try again later");
    assert_true(time(0) - t0 <= 3);
    milters_free(ms);
    fake_finish();
    const char *log = read_log();
    assert_non_null(
        strstr(log, "can't read SMFIC_OPTNEG reply packet header: Connection timed out"));

    static const struct script hang_eom = {
        6, V6_ALL, 0, 0, 0, 0, {{SMFIC_BODYEOB, true, {{0, 0}}}},
    };
    conf("quarantine", "6", 0);
    fake_start(&hang_eom);
    ms = make();
    assert_null(milters_connect(ms, "c", "192.0.2.1", "1", AF_INET));
    assert_null(milters_mail(ms, mail_argv));
    struct msg m = {std_headers, "x\n", 0, false, SBUF_INIT};
    t0 = time(0);
    assert_string_equal(milters_message(ms, &src, &m, &edits, &m), "H");
    assert_true(time(0) - t0 <= 3);
    milters_free(ms);
    fake_finish();
    assert_non_null(strstr(read_log(), "can't read SMFIC_BODYEOB reply packet header"));
    sbuf_free(&m.edits);
}

int main(void)
{
    fixture_dir();
    snprintf(logfile, sizeof(logfile), "%s/maillog", fixture_dir());
    msg_init("test", MSG_TO_FILE);
    msg_set_logfile(logfile);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_session),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_connect_reject_sticks),
        cmocka_unit_test(test_accept_and_discard),
        cmocka_unit_test(test_shutdown_and_quarantine),
        cmocka_unit_test(test_skip_and_noreply),
        cmocka_unit_test(test_old_version_and_macro_lists),
        cmocka_unit_test(test_version_conflict),
        cmocka_unit_test(test_malformed_reply),
        cmocka_unit_test(test_dead_milter),
        cmocka_unit_test(test_hanging_milter),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
