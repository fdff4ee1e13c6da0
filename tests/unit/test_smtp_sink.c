/*
 * test_smtp_sink.c - smtp-sink's command line (src/smtp-sink/sink_opts.c),
 * its conversation without sockets (sink_proto.c) and its dump files
 * (sink_dump.c). The event loop and sockets are tested end to end by
 * tests/system/test_smtp_tools.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtp-sink/sink_dump.c"
#include "smtp-sink/sink_opts.c"
#include "smtp-sink/sink_proto.c"

/* ---- helpers ---- */

static int vparse(sink_opts *o, sbuf *why, va_list ap)
{
    char   *argv[40];
    int     argc = 0;
    argv[argc++] = "smtp-sink";
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 39;)
        argv[argc++] = a;
    argv[argc] = NULL;
    sink_opts_free(o);
    sink_opts_init(o);
    sbuf_reset(why);
    return sink_opts_parse(o, argc, argv, why);
}

static int parse(sink_opts *o, sbuf *why, ...)
{
    va_list ap;
    va_start(ap, why);
    int     rc = vparse(o, why, ap);
    va_end(ap);
    if (rc < 0)
        print_message("parse: %s\n", sbuf_str(why));
    return rc;
}

#define PARSE(o, why, ...) parse(o, why, __VA_ARGS__, (char *) NULL)

static void expect_error(const char *want, ...)
{
    sink_opts o;
    sbuf    why = SBUF_INIT;
    va_list ap;
    sink_opts_init(&o);
    va_start(ap, want);
    assert_int_equal(vparse(&o, &why, ap), -1);
    va_end(ap);
    if (!strstr(sbuf_str(&why), want))
        fail_msg("error \"%s\" does not mention \"%s\"", sbuf_str(&why), want);
    sink_opts_free(&o);
    sbuf_free(&why);
}

#define EXPECT_ERROR(want, ...) expect_error(want, __VA_ARGS__, (char *) NULL)

/* A session fed line by line; replies collected in out. */
typedef struct chat {
    sink_opts o;
    sink_session s;
    sbuf    out;
    int     flags;
    int     delay;
} chat;

static void chat_start(chat *c)
{
    sink_session_init(&c->s, &c->o, "127.0.0.1");
    sbuf_init(&c->out);
    c->delay = 0;
    c->flags = sink_greet(&c->s, &c->out, &c->delay);
}

static void chat_end(chat *c)
{
    sink_session_free(&c->s);
    sbuf_free(&c->out);
    sink_opts_free(&c->o);
}

/* Send one line; return the replies it produced (and reset out). */
static const char *say(chat *c, const char *line)
{
    sbuf_reset(&c->out);
    c->delay = 0;
    c->flags = sink_input(&c->s, line, strlen(line), 1, &c->out, &c->delay);
    return sbuf_str(&c->out);
}

/* ---- options ---- */

static void test_opts_basic(void **state)
{
    sink_opts o;
    sbuf    why = SBUF_INIT;
    sink_opts_init(&o);
    assert_int_equal(PARSE(&o, &why, "127.0.0.1:2525", "100"), 0);
    assert_int_equal(o.listen.kind, SOCK_EP_INET);
    assert_string_equal(o.listen.host, "127.0.0.1");
    assert_string_equal(o.listen.port, "2525");
    assert_int_equal(o.backlog, 100);
    assert_string_equal(o.hostname, "smtp-sink");
    assert_int_equal(o.max_conns, 256);
    assert_int_equal(o.timeout_ms, 100000);
    assert_int_equal(o.no_pipelining, 0);
    assert_int_equal(PARSE(&o, &why, "--help"), 0);
    assert_true(o.help);

    assert_int_equal(PARSE(&o, &why, ":2525", "5"), 0);
    assert_string_equal(o.listen.host, "");
    assert_int_equal(PARSE(&o, &why, "inet:127.0.0.2:25", "5"), 0);
    assert_string_equal(o.listen.host, "127.0.0.2");
    assert_int_equal(PARSE(&o, &why, "unix:/tmp/sink.sock", "5"), 0);
    assert_int_equal(o.listen.kind, SOCK_EP_UNIX);

    assert_int_equal(PARSE(&o, &why, "-c", "-L", "-8", "-e", "-E", "-N", "-p", "-a", "-C", "-F",
                           "-h", "sink.example.jp", "-m", "1000", "-M", "200", "-n", "10",
                           "-t", "2.5", "-u", "nobody", "-v", "-d", "/tmp/dump/", "-w", "0.5",
                           "-W", "rcpt:1", "--count-file", "/tmp/c", "--summary",
                           "--max-time", "60", "127.0.0.1:2525", "100"), 0);
    assert_true(o.counter && o.lmtp && o.no_8bitmime && o.no_esmtp && o.no_enhanced);
    assert_true(o.no_dsn && o.no_pipelining && o.summary);
    assert_string_equal(o.hostname, "sink.example.jp");
    assert_int_equal(o.max_conns, 1000);
    assert_int_equal(o.max_messages, 200);
    assert_int_equal(o.max_sessions, 10);
    assert_int_equal(o.timeout_ms, 2500);
    assert_string_equal(o.user, "nobody");
    assert_string_equal(o.dump, "/tmp/dump/");
    assert_int_equal(o.rules[SC_DATA].delay_ms, 500);
    assert_int_equal(o.rules[SC_RCPT].delay_ms, 1000);
    assert_string_equal(o.count_file, "/tmp/c");
    assert_int_equal(o.max_time_ms, 60000);
    sink_opts_free(&o);
    sbuf_free(&why);
}

static void test_opts_rules(void **state)
{
    sink_opts o;
    sbuf    why = SBUF_INIT;
    sink_opts_init(&o);
    assert_int_equal(PARSE(&o, &why, "-r", "rcpt:452, data", "-f", "MAIL:554 .", "-q", "vrfy",
                           "-Q", "noop,connect", "127.0.0.1:25", "1"), 0);
    assert_int_equal(o.rules[SC_RCPT].action, SINK_ACT_REJECT);
    assert_int_equal(o.rules[SC_RCPT].code, 452);
    assert_true(o.rules[SC_RCPT].soft);
    assert_int_equal(o.rules[SC_DATA].action, SINK_ACT_REJECT);
    assert_int_equal(o.rules[SC_DATA].code, 0);
    assert_int_equal(o.rules[SC_MAIL].code, 554);
    assert_false(o.rules[SC_MAIL].soft);
    assert_int_equal(o.rules[SC_DOT].action, SINK_ACT_REJECT);
    assert_int_equal(o.rules[SC_VRFY].action, SINK_ACT_DROP);
    assert_int_equal(o.rules[SC_NOOP].action, SINK_ACT_421);
    assert_int_equal(o.rules[SC_CONNECT].action, SINK_ACT_421);
    assert_int_equal(o.rules[SC_HELO].action, SINK_ACT_NONE);
    assert_true(o.no_pipelining);           /* -f and -r imply -p */

    sbuf    t = SBUF_INIT;
    sink_reject_text(&o, &o.rules[SC_RCPT], &t);
    assert_string_equal(sbuf_str(&t), "452 4.3.0 Error: command failed");
    sbuf_reset(&t);
    sink_reject_text(&o, &o.rules[SC_DATA], &t);
    assert_string_equal(sbuf_str(&t), "450 4.3.0 Error: command failed");
    assert_int_equal(PARSE(&o, &why, "-b", "451 4.7.1 Try again later", "-B", "550", "-r",
                           "data", "-f", "rcpt", "127.0.0.1:25", "1"), 0);
    sbuf_reset(&t);
    sink_reject_text(&o, &o.rules[SC_DATA], &t);
    assert_string_equal(sbuf_str(&t), "451 4.7.1 Try again later");
    sbuf_reset(&t);
    sink_reject_text(&o, &o.rules[SC_RCPT], &t);
    assert_string_equal(sbuf_str(&t), "550");
    sbuf_free(&t);
    sink_opts_free(&o);
    sbuf_free(&why);
}

static void test_opts_errors(void **state)
{
    EXPECT_ERROR("missing address or backlog", "127.0.0.1:25");
    EXPECT_ERROR("too many arguments", "127.0.0.1:25", "1", "2");
    EXPECT_ERROR("bad backlog", "127.0.0.1:25", "0");
    EXPECT_ERROR("bad backlog", "127.0.0.1:25", "ten");
    EXPECT_ERROR("missing port", "127.0.0.1", "10");
    EXPECT_ERROR("unknown command: bdat", "-r", "bdat", "127.0.0.1:25", "1");
    EXPECT_ERROR("unknown command: rcpt550", "-r", "rcpt550", "127.0.0.1:25", "1");
    EXPECT_ERROR("reply code must be 4xx", "-r", "rcpt:550", "127.0.0.1:25", "1");
    EXPECT_ERROR("reply code must be 5xx", "-f", "rcpt:450", "127.0.0.1:25", "1");
    EXPECT_ERROR("bad reply code", "-f", "rcpt:5", "127.0.0.1:25", "1");
    EXPECT_ERROR("bad reply code", "-f", "rcpt:", "127.0.0.1:25", "1");
    EXPECT_ERROR("bad reply code", "-f", "rcpt:600", "127.0.0.1:25", "1");
    EXPECT_ERROR("not allowed here", "-q", "rcpt:550", "127.0.0.1:25", "1");
    EXPECT_ERROR("QUIT cannot be rejected", "-f", "quit", "127.0.0.1:25", "1");
    EXPECT_ERROR("empty command list", "-f", " , ", "127.0.0.1:25", "1");
    EXPECT_ERROR("-b: need a 4xx reply", "-b", "550 no", "127.0.0.1:25", "1");
    EXPECT_ERROR("-B: need a 5xx reply", "-B", "5xx", "127.0.0.1:25", "1");
    EXPECT_ERROR("-B: need a 5xx reply", "-B", "550 a\r\n250 b", "127.0.0.1:25", "1");
    EXPECT_ERROR("-W: expected command:seconds", "-W", "rcpt", "127.0.0.1:25", "1");
    EXPECT_ERROR("-W: bad delay", "-W", "rcpt:x", "127.0.0.1:25", "1");
    EXPECT_ERROR("odds field is not supported", "-W", "rcpt:1:50", "127.0.0.1:25", "1");
    EXPECT_ERROR("-W: unknown command", "-W", "foo:1", "127.0.0.1:25", "1");
    EXPECT_ERROR("-t: bad timeout", "-t", "0", "127.0.0.1:25", "1");
    EXPECT_ERROR("-m: bad number", "-m", "0", "127.0.0.1:25", "1");
    EXPECT_ERROR("-S: bad escape", "-S", "abc\\q", "127.0.0.1:25", "1");
    EXPECT_ERROR("-S: bad escape", "-S", "abc\\", "127.0.0.1:25", "1");
    EXPECT_ERROR("not supported", "-A", "1", "127.0.0.1:25", "1");
    EXPECT_ERROR("unknown option: -z", "-z", "127.0.0.1:25", "1");
    EXPECT_ERROR("missing argument", "-r");
}

static void test_unescape(void **state)
{
    sbuf    b = SBUF_INIT;
    assert_int_equal(sink_unescape("a\\tb\\n\\101\\\\\\r", &b), 0);
    assert_string_equal(sbuf_str(&b), "a\tb\nA\\\r");
    sbuf_reset(&b);
    assert_int_equal(sink_unescape("\\0", &b), -1);     /* no NUL */
    assert_int_equal(sink_unescape("\\777", &b), -1);
    sbuf_free(&b);
    assert_int_equal(sink_cmd_lookup(".", 1), SC_DOT);
    assert_int_equal(sink_cmd_lookup("ehlo", 4), SC_EHLO);
    assert_int_equal(sink_cmd_lookup("EHL", 3), -1);
    assert_string_equal(sink_cmd_name(SC_XFORWARD), "XFORWARD");
    assert_string_equal(sink_cmd_name(99), "?");
}

/* ---- the conversation ---- */

static void test_proto_session(void **state)
{
    chat    c;
    sink_opts_init(&c.o);
    chat_start(&c);
    assert_string_equal(sbuf_str(&c.out), "220 smtp-sink ESMTP\r\n");
    assert_string_equal(say(&c, "EHLO client.example.jp"),
                        "250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                        "250-ENHANCEDSTATUSCODES\r\n250 DSN\r\n");
    assert_string_equal(say(&c, "MAIL FROM:<a@example.jp> SIZE=10"), "250 2.1.0 Ok\r\n");
    assert_string_equal(say(&c, "MAIL FROM:<a@example.jp>"),
                        "503 5.5.1 Error: nested MAIL command\r\n");
    assert_string_equal(say(&c, "RCPT TO:<b@example.jp>"), "250 2.1.5 Ok\r\n");
    assert_string_equal(say(&c, "rcpt to:<c@example.jp>"), "250 2.1.5 Ok\r\n");
    assert_string_equal(say(&c, "DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    assert_string_equal(say(&c, "Subject: hi"), "");
    assert_string_equal(say(&c, ""), "");
    assert_string_equal(say(&c, "..leading dot"), "");
    assert_string_equal(say(&c, "QUIT"), "");           /* data, not a command */
    assert_int_equal(c.flags, 0);
    const char *r = say(&c, ".");
    assert_true(c.flags & SINK_R_MESSAGE);
    assert_non_null(strstr(r, "250 2.0.0 Ok: queued as "));
    assert_string_equal(sbuf_str(&c.s.mail), "FROM:<a@example.jp> SIZE=10");
    assert_int_equal(c.s.rcpts.n, 2);
    assert_string_equal(c.s.rcpts.v[1], "to:<c@example.jp>");
    assert_string_equal(sbuf_str(&c.s.helo), "client.example.jp");
    assert_int_equal(c.s.data_bytes, strlen("Subject: hi\n\n.leading dot\nQUIT\n"));
    assert_int_equal(c.s.data.len, 0);      /* nothing kept without -d */
    /* The transaction is over: a new one starts clean. */
    assert_string_equal(say(&c, "RCPT TO:<b@example.jp>"),
                        "503 5.5.1 Error: need MAIL command\r\n");
    assert_int_equal(c.s.rcpts.n, 0);
    assert_string_equal(say(&c, "MAIL FROM:<>"), "250 2.1.0 Ok\r\n");
    assert_string_equal(say(&c, "DATA"), "503 5.5.1 Error: need RCPT command\r\n");
    assert_string_equal(say(&c, "RSET"), "250 2.0.0 Ok\r\n");
    assert_string_equal(say(&c, "NOOP"), "250 2.0.0 Ok\r\n");
    assert_string_equal(say(&c, "VRFY x"), "252 2.0.0 Cannot verify; send some mail\r\n");
    assert_string_equal(say(&c, "STARTTLS"), "502 5.5.2 Error: command not recognized\r\n");
    assert_string_equal(say(&c, "."), "502 5.5.2 Error: command not recognized\r\n");
    assert_string_equal(say(&c, "HELO"), "501 5.5.4 Syntax: HELO hostname\r\n");
    assert_string_equal(say(&c, "HELO x"), "250 smtp-sink\r\n");
    assert_string_equal(say(&c, "QUIT"), "221 2.0.0 Bye\r\n");
    assert_true(c.flags & SINK_R_CLOSE);
    chat_end(&c);
}

static void test_proto_pieces(void **state)
{
    chat    c;
    sink_opts_init(&c.o);
    c.o.dump = "x";
    chat_start(&c);
    say(&c, "MAIL FROM:<a@x>");
    say(&c, "RCPT TO:<b@x>");
    say(&c, "DATA");
    /* A long line in pieces: a "." piece in the middle of a line is data. */
    sbuf_reset(&c.out);
    assert_int_equal(sink_input(&c.s, ".ab", 3, 0, &c.out, &c.delay), 0);
    assert_int_equal(sink_input(&c.s, ".", 1, 1, &c.out, &c.delay), 0);
    assert_int_equal(sink_input(&c.s, "..", 2, 1, &c.out, &c.delay), 0);
    assert_int_equal(c.out.len, 0);
    say(&c, ".");
    assert_true(c.flags & SINK_R_MESSAGE);
    assert_string_equal(sbuf_str(&c.s.data), "ab.\n.\n");
    /* Too long command lines. */
    sbuf_reset(&c.out);
    assert_int_equal(sink_input(&c.s, "MAIL FROM:<aaaa", 15, 0, &c.out, &c.delay), 0);
    assert_string_equal(say(&c, "aaa>"), "500 5.5.0 Error: line too long\r\n");
    assert_string_equal(say(&c, "NOOP"), "250 2.0.0 Ok\r\n");
    char    big[SINK_LINE_MAX + 10];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_string_equal(say(&c, big), "500 5.5.0 Error: line too long\r\n");
    chat_end(&c);
}

static void test_proto_rules(void **state)
{
    chat    c;
    sbuf    why = SBUF_INIT;
    sink_opts_init(&c.o);
    assert_int_equal(PARSE(&c.o, &why, "-r", "rcpt:452", "-f", ".", "-W", "mail:0.25",
                           "127.0.0.1:25", "1"), 0);
    chat_start(&c);
    assert_string_equal(say(&c, "EHLO x"), "250-smtp-sink\r\n250-8BITMIME\r\n"
                        "250-ENHANCEDSTATUSCODES\r\n250 DSN\r\n");   /* -r implies -p */
    assert_string_equal(say(&c, "MAIL FROM:<a@x>"), "250 2.1.0 Ok\r\n");
    assert_true(c.flags & SINK_R_DELAY);
    assert_int_equal(c.delay, 250);
    assert_string_equal(say(&c, "RCPT TO:<b@x>"), "452 4.3.0 Error: command failed\r\n");
    assert_int_equal(c.s.rcpts.n, 0);
    assert_string_equal(say(&c, "DATA"), "503 5.5.1 Error: need RCPT command\r\n");
    chat_end(&c);

    /* Rejection at the end of data: not counted, transaction over. */
    sink_opts_init(&c.o);
    assert_int_equal(PARSE(&c.o, &why, "-f", ".:554", "127.0.0.1:25", "1"), 0);
    chat_start(&c);
    say(&c, "MAIL FROM:<a@x>");
    say(&c, "RCPT TO:<b@x>");
    say(&c, "DATA");
    say(&c, "hello");
    assert_string_equal(say(&c, "."), "554 5.3.0 Error: command failed\r\n");
    assert_false(c.flags & SINK_R_MESSAGE);
    assert_string_equal(say(&c, "MAIL FROM:<a@x>"), "250 2.1.0 Ok\r\n");
    chat_end(&c);

    /* -q: close without a reply; -Q: 421 and close; CONNECT rules. */
    sink_opts_init(&c.o);
    assert_int_equal(PARSE(&c.o, &why, "-q", "mail", "-Q", "rcpt", "127.0.0.1:25", "1"), 0);
    chat_start(&c);
    assert_string_equal(say(&c, "MAIL FROM:<a@x>"), "");
    assert_true(c.flags & SINK_R_CLOSE);
    chat_end(&c);
    sink_opts_init(&c.o);
    assert_int_equal(PARSE(&c.o, &why, "-Q", "rcpt", "127.0.0.1:25", "1"), 0);
    chat_start(&c);
    say(&c, "MAIL FROM:<a@x>");
    assert_string_equal(say(&c, "RCPT TO:<b@x>"),
                        "421 4.3.0 smtp-sink Error: closing the connection\r\n");
    assert_true(c.flags & SINK_R_CLOSE);
    chat_end(&c);
    sink_opts_init(&c.o);
    assert_int_equal(PARSE(&c.o, &why, "-f", "connect:554", "127.0.0.1:25", "1"), 0);
    chat_start(&c);
    assert_string_equal(sbuf_str(&c.out), "554 5.3.0 Error: command failed\r\n");
    chat_end(&c);
    sbuf_free(&why);
}

static void test_proto_lmtp(void **state)
{
    chat    c;
    sink_opts_init(&c.o);
    c.o.lmtp = 1;
    chat_start(&c);
    assert_string_equal(sbuf_str(&c.out), "220 smtp-sink LMTP\r\n");
    assert_non_null(strstr(say(&c, "LHLO x"), "250 DSN\r\n"));
    assert_string_equal(c.s.proto, "LMTP");
    say(&c, "MAIL FROM:<a@x>");
    say(&c, "RCPT TO:<b@x>");
    say(&c, "RCPT TO:<c@x>");
    say(&c, "RCPT TO:<d@x>");
    say(&c, "DATA");
    const char *r = say(&c, ".");
    int     n = 0;
    for (const char *p = r; (p = strstr(p, "250 2.0.0 Ok: queued as ")) != NULL; p++)
        n++;
    assert_int_equal(n, 3);                 /* one reply per recipient */
    chat_end(&c);

    /* A rejected end of data: also one reply per recipient. */
    sbuf    why = SBUF_INIT;
    sink_opts_init(&c.o);
    assert_int_equal(PARSE(&c.o, &why, "-L", "-r", ".", "127.0.0.1:25", "1"), 0);
    chat_start(&c);
    say(&c, "LHLO x");
    say(&c, "MAIL FROM:<a@x>");
    say(&c, "RCPT TO:<b@x>");
    say(&c, "RCPT TO:<c@x>");
    say(&c, "DATA");
    assert_string_equal(say(&c, "."), "450 4.3.0 Error: command failed\r\n"
                        "450 4.3.0 Error: command failed\r\n");
    chat_end(&c);
    sbuf_free(&why);
}

static void test_proto_no_esmtp(void **state)
{
    chat    c;
    sink_opts_init(&c.o);
    c.o.no_esmtp = 1;
    c.o.no_pipelining = c.o.no_8bitmime = c.o.no_enhanced = c.o.no_dsn = 0;
    chat_start(&c);
    assert_string_equal(sbuf_str(&c.out), "220 smtp-sink Service ready\r\n");
    assert_string_equal(say(&c, "EHLO x"), "502 5.5.2 Error: command not recognized\r\n");
    assert_string_equal(say(&c, "HELO x"), "250 smtp-sink\r\n");
    assert_string_equal(c.s.proto, "SMTP");
    chat_end(&c);
    sink_opts_init(&c.o);
    c.o.no_pipelining = c.o.no_8bitmime = c.o.no_enhanced = c.o.no_dsn = 1;
    chat_start(&c);
    assert_string_equal(say(&c, "EHLO x"), "250 smtp-sink\r\n");
    chat_end(&c);
}

/* ---- dump files ---- */

static void test_dump(void **state)
{
    chat    c;
    char    dir[] = "/tmp/test_smtp_sink.XXXXXX";
    assert_non_null(mkdtemp(dir));
    sink_opts_init(&c.o);
    c.o.dump = dir;
    c.o.start_string = "From sink\n";
    chat_start(&c);
    say(&c, "EHLO client.example.jp");
    say(&c, "MAIL FROM:<a@example.jp>");
    say(&c, "RCPT TO:<b@example.jp> NOTIFY=NEVER");
    say(&c, "RCPT TO:<c@example.jp>");
    say(&c, "DATA");
    say(&c, "Subject: t");
    say(&c, "");
    say(&c, "..body");
    say(&c, ".");
    assert_true(c.flags & SINK_R_MESSAGE);

    sbuf    text = SBUF_INIT;
    sink_dump_format(&c.s, 1600000000, &text);
    const char *t = sbuf_str(&text);
    const char *head = "From sink\nX-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\n"
                        "X-Helo-Args: client.example.jp\nX-Mail-Args: FROM:<a@example.jp>\n"
                        "X-Rcpt-Args: TO:<b@example.jp> NOTIFY=NEVER\n"
                        "X-Rcpt-Args: TO:<c@example.jp>\n"
                        "Received: from client.example.jp ([127.0.0.1])\n\tby smtp-sink "
                        "(smtp-sink) with ESMTP id ";
    assert_true(strncmp(t, head, strlen(head)) == 0);
    assert_non_null(strstr(t, "2020"));
    assert_non_null(strstr(t, "\nSubject: t\n\n.body\n\n"));
    assert_true(text.len > 7 && strcmp(t + text.len - 7, ".body\n\n") == 0);

    /* A directory template: one file in it, with that content. */
    assert_int_equal(sink_dump_write(dir, &c.s, 1600000000), 0);
    sbuf    path = SBUF_INIT;
    sink_dump_path(dir, &c.s, 1600000000, &path);
    assert_non_null(strstr(sbuf_str(&path), "/1600000000."));
    size_t  len;
    char   *data = read_file(path.s, 1 << 20, &len);
    assert_non_null(data);
    assert_int_equal(len, text.len);
    assert_memory_equal(data, text.s, len);
    xfree(data);
    /* Not twice under the same name. */
    assert_int_equal(sink_dump_write(dir, &c.s, 1600000000), -1);
    unlink(path.s);

    /* A template with a missing subdirectory and strftime escapes. */
    sbuf    tmpl = SBUF_INIT;
    sbuf_printf(&tmpl, "%s/%%Y/msg", dir);
    assert_int_equal(sink_dump_write(tmpl.s, &c.s, 1600000000), 0);
    sbuf_reset(&path);
    sink_dump_path(tmpl.s, &c.s, 1600000000, &path);
    assert_non_null(strstr(sbuf_str(&path), "/2020/msg."));
    assert_int_equal(access(path.s, R_OK), 0);
    unlink(path.s);
    sbuf_reset(&tmpl);
    sbuf_printf(&tmpl, "%s/2020", dir);
    rmdir(tmpl.s);
    rmdir(dir);
    sbuf_free(&tmpl);
    sbuf_free(&path);
    sbuf_free(&text);
    c.o.start_string = NULL;
    chat_end(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_basic),
        cmocka_unit_test(test_opts_rules),
        cmocka_unit_test(test_opts_errors),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_proto_session),
        cmocka_unit_test(test_proto_pieces),
        cmocka_unit_test(test_proto_rules),
        cmocka_unit_test(test_proto_lmtp),
        cmocka_unit_test(test_proto_no_esmtp),
        cmocka_unit_test(test_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
