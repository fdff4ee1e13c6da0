/*
 * fuzz_smtpd_commands.c - libFuzzer target for smtpd's command layer as a
 * whole: the input is what an SMTP client sends in one session.
 *
 * The real session code runs: smtpd.c (its command loop, verb splitting,
 * line limits, error counting, forbidden commands) is included here with
 * its main() renamed away, and every other .c file of src/smtpd/ is linked
 * (HK_FUZZ_PROGRAM_fuzz_smtpd_commands in CMakeLists.txt). So HELO/EHLO,
 * MAIL FROM and its parameters (SIZE, BODY, RET, ENVID, AUTH, SMTPUTF8),
 * RCPT TO with NOTIFY and ORCPT, VRFY, ETRN, RSET, NOOP, QUIT, AUTH,
 * STARTTLS, DATA and unknown verbs all go through their handlers and the
 * restrictions of a fixed main.cf (written once to the private directory).
 *
 * The client is a vstream over /dev/null whose I/O hook hands out the
 * input one line (up to and including LF) per read, like a client that
 * waits for each reply, and keeps every reply. So there is no network, no
 * DNS (a UNIX-style peer is "localhost[127.0.0.1]", and dns_resolver_conf
 * names a file that does not exist), no sleeping (smtpd_error_sleep_time
 * = 0), no anvil (no connection limits) and no clock that matters. There
 * is no cleanup service: the first accepted RCPT fails to open a queue
 * file (451), so DATA never gets past "need RCPT" -- the DATA reader has
 * its own target (fuzz_smtpd_dot). SASL is the real Cyrus library with
 * PLAIN over a sasldb that does not exist (every login fails). LOGIN is
 * left out: Cyrus 2.1.28's LOGIN plug-in leaks the password buffer when
 * the user name is empty (AUTH LOGIN, an empty line, any password), a
 * leak in the library that this target cannot do anything about.
 *
 * Checks, for every input: the session ends; everything smtpd wrote is
 * CRLF-terminated reply lines, the first a 220 greeting, each "DDD text"
 * or "DDD-text" (first digit 2-5) of printable ASCII, at most 512 bytes
 * with its CRLF (RFC 5321 4.5.3.1.5), a "DDD-" line followed by the same
 * code, and an enhanced status code (RFC 3463) in the class of its reply.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "support.h"
#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "util/dict.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/strv.h"
#include "util/vstream.h"

#include "smtpd/smtpd.h"
#include "smtpd/smtpd_dot.h"
#include "smtpd/smtpd_milter.h"

/* The program's main file: serve(), do_command() and pre_init() are
 * static there. libFuzzer brings its own main(). */
#define main smtpd_program_main
#include "smtpd/smtpd.c"
#undef main

#define MAX_INPUT (16 * 1024)
#define REPLY_MAX 512                   /* RFC 5321 4.5.3.1.5, with CRLF */

/* What the client sends (the input) and what smtpd answered. */
static struct fuzz_in fz_in;
static sbuf fz_out;
static int fz_null = -1;
static int fz_verbose;

/* One line per read: the client waits for the reply to each command. */
static ssize_t fz_read(void *ctx, int fd, void *buf, size_t len, int timeout_ms)
{
    (void) ctx;
    (void) fd;
    (void) timeout_ms;
    return fuzz_take_line(&fz_in, buf, len);
}

static ssize_t fz_write(void *ctx, int fd, const void *buf, size_t len, int timeout_ms)
{
    (void) ctx;
    (void) fd;
    (void) timeout_ms;
    sbuf_add(&fz_out, buf, len);
    return (ssize_t) len;
}

static void fz_put(const char *name, const char *text)
{
    fuzz_write_file(name, text, strlen(text));
}

static void fz_setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    fuzz_init();
    const char *dir = fuzz_dir();
    sbuf conf = SBUF_INIT;

    /* Cyrus: PLAIN only (no mechanism that wants randomness; LOGIN: see
     * the top of the file), checked against a sasldb never created. */
    sbuf_printf(&conf, "pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                "sasldb_path: %s/no-such-sasldb\nmech_list: PLAIN\n", dir);
    fz_put("smtpd.conf", sbuf_str(&conf));

    sbuf_reset(&conf);
    sbuf_printf(&conf,
                "queue_directory = %s\n"
                "data_directory = %s\n"
                "dns_resolver_conf = %s/no-such-resolv.conf\n"
                "cyrus_sasl_config_path = %s\n",
                dir, dir, dir, dir);
    sbuf_adds(&conf,
              "myhostname = mx.fuzz.example\n"
              "mydomain = fuzz.example\n"
              "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain\n"
              "relay_domains = relay.fuzz.example\n"
              "mynetworks = 127.0.0.0/8\n"
              "local_recipient_maps =\n"
              "alias_maps =\n"
              "smtpd_peername_lookup = no\n"
              "smtpd_error_sleep_time = 0\n"
              "smtpd_client_connection_count_limit = 0\n"
              "message_size_limit = 10240000\n"
              "smtpd_sasl_auth_enable = yes\n"
              "smtpd_sasl_path = smtpd\n"
              "smtpd_helo_restrictions = reject_invalid_helo_hostname,\n"
              "    check_helo_access inline:{{bad.fuzz.example = REJECT go away}}\n"
              "smtpd_sender_restrictions = reject_non_fqdn_sender,\n"
              "    check_sender_access inline:{{spam@fuzz.example = REJECT no spam},\n"
              "    {hold@fuzz.example = HOLD}, {bye@fuzz.example = 421 closing}}\n"
              "smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination\n"
              "smtpd_recipient_restrictions = reject_non_fqdn_recipient,\n"
              "    check_recipient_access inline:{{nobody@fuzz.example = 550 5.1.1 unknown},\n"
              "    {discard@fuzz.example = DISCARD}, {ok@relay.fuzz.example = OK}},\n"
              "    reject_unauth_pipelining\n"
              "smtpd_etrn_restrictions = reject_invalid_helo_hostname\n");
    fz_put("main.cf", sbuf_str(&conf));
    sbuf_free(&conf);

    mail_conf_load(dir);
    pre_init();                         /* smtpd.c: tables, TLS, Cyrus */
    const char *verbose = getenv("FUZZ_VERBOSE");
    fz_verbose = verbose && *verbose == '1';
    fz_null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fz_null < 0) {
        perror("/dev/null");
        abort();
    }
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* RFC 3463 "c.sss.ddd" at p (end at e): its class digit, or 0. */
static int enhanced_class(const char *p, const char *e)
{
    if (e - p < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
        return 0;
    const char *q = p + 2;
    int n = 0;
    while (q < e && is_digit(*q) && n < 4)
        q++, n++;
    if (n < 1 || n > 3 || q >= e || *q != '.')
        return 0;
    q++;
    n = 0;
    while (q < e && is_digit(*q) && n < 4)
        q++, n++;
    if (n < 1 || n > 3 || (q < e && *q != ' '))
        return 0;
    return p[0];
}

/* Everything smtpd wrote: reply lines only (see the top of the file). */
static void check_replies(const sbuf *out)
{
    const char *p = out->s, *end = out->s + out->len;
    char cont[3] = {0, 0, 0};           /* code of a "DDD-" line, to be continued */
    int first = 1;

    if (out->len == 0)
        abort();                        /* not even a greeting */
    while (p < end) {
        const char *crlf = 0;
        for (const char *q = p; q + 1 < end; q++)
            if (q[0] == '\r' && q[1] == '\n') {
                crlf = q;
                break;
            }
        if (!crlf)
            abort();                    /* a reply without its CRLF */
        size_t len = (size_t) (crlf - p);
        if (len < 4 || len + 2 > REPLY_MAX)
            abort();
        if (p[0] < '2' || p[0] > '5' || !is_digit(p[1]) || !is_digit(p[2])
            || (p[3] != ' ' && p[3] != '-'))
            abort();
        for (size_t i = 0; i < len; i++)
            if ((unsigned char) p[i] < 0x20 || (unsigned char) p[i] > 0x7e)
                abort();                /* client bytes echoed raw */
        if (first && memcmp(p, "220", 3) != 0)
            abort();
        if (cont[0] && memcmp(cont, p, 3) != 0)
            abort();                    /* a multi-line reply changed its code */
        if (p[3] == '-')
            memcpy(cont, p, 3);
        else
            cont[0] = 0;
        int cls = enhanced_class(p + 4, crlf);
        if (cls && cls != p[0])
            abort();
        first = 0;
        p = crlf + 2;
    }
    if (cont[0])
        abort();                        /* the last reply was left unfinished */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    fz_setup();
    fz_in.p = data;
    fz_in.left = size;
    sbuf_reset(&fz_out);

    vstream *client = vstream_open(fz_null);
    vstream_set_io(client, fz_read, fz_write, 0);
    serve(client, "smtp");
    vstream_flush(client);
    if (vstream_detach(client) != fz_null)
        abort();
    if (fz_verbose)                     /* FUZZ_VERBOSE=1: show the replies too */
        fprintf(stderr, "%.*s", (int) fz_out.len, fz_out.s ? fz_out.s : "");
    check_replies(&fz_out);
    return 0;
}
