/*
 * fuzz_smtpd_policy.c - libFuzzer target for what a policy server sends
 * back to check_policy_service (SMTPD_POLICY_README; the client is
 * src/smtpd/smtpd_policy.c).
 *
 * Input: the bytes the server sends, on one connection after another:
 * any number of replies ("name=value" lines ending with an empty line),
 * or garbage, long lines, NUL bytes, a missing empty line, EOF anywhere.
 * The real path runs: smtpd_check.c, smtpd_access.c and smtpd_policy.c
 * are included here, and each request is a whole restriction stage
 * (smtpd_check_client/rcpt/data/eod/etrn) of a fixed main.cf whose list
 * starts with check_policy_service; the action then goes through the
 * access(5) result language in that stage's context. Up to MAX_REQUESTS
 * requests per input (one mail transaction: RCPT, CONNECT, RCPT, DATA,
 * END-OF-MESSAGE, ETRN, again) while input is left; the class fz_nested
 * is itself a policy request, so "action=fz_nested" asks again (on its
 * own connection, which is replaced after every two requests).
 *
 * No sockets: smtpd_policy.c's sock_connect_unix and vstream_open are
 * renamed to functions here that hand out a pipe that never becomes
 * readable (so a kept connection is not taken for a closed one), with a
 * vstream I/O hook reading the input one line per read and discarding
 * the requests. "unix:private/down" is refused (connect failure). No
 * waiting: sleep (the retry delay, the "sleep" restriction) returns at
 * once. No DNS: dns_resolver_conf names a file that does not exist.
 * smtpd_policy.c's msg_warn/msg_info also come here (and go on to the
 * logger), with its verbose action log on: that is how the target sees
 * each failed attempt and the action each request ended with.
 *
 * Checks, for every request:
 *   - a failed attempt gives one of the reasons the reply reader has (no
 *     timeout, no write error: neither can happen here);
 *   - a service gives up after exactly try_limit failures and then uses
 *     its default_action; otherwise its action is the value of an
 *     "action=" line of the input, whole (up to a NUL, CR or LF);
 *   - the stage answers an SMTPD_CHECK_* status; a rejection has a reply
 *     "DDD D.D.D text" (4xx/5xx, the enhanced code in the class of the
 *     reply, printable) of at most 510 bytes (512 with CR LF) with
 *     c->code = DDD;
 *   - when the stage's policy service gave up, the answer is Postfix's
 *     for a broken policy server: "451 4.3.5 <name>: Class rejected:
 *     Server configuration problem" (smtpd_policy_service_default_action
 *     as an access(5) "4NN text" result);
 *   - PREPEND headers have no line break, FILTER has a ':', REDIRECT an
 *     '@' and no blank;
 *   - every connection is closed once the connections are dropped.
 * Between inputs the kept connections and the tables opened by actions
 * are dropped (the statics of smtpd_policy.c and smtpd_access.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/sock.h"
#include "util/vstream.h"

/* Nothing waits: the retry delay and the "sleep" restriction. */
static unsigned fz_sleep(unsigned secs);
#define sleep fz_sleep
#include "smtpd/smtpd_check.c"
#include "smtpd/smtpd_access.c"

/* The policy client's connections, log lines and verbosity come here. */
static int fz_connect_unix(const char *path, int tmo);
static vstream *fz_stream_open(int fd);
static void fz_policy_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fz_policy_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fz_policy_verbose = 1;
#define sock_connect_unix fz_connect_unix
#define vstream_open fz_stream_open
#define msg_warn fz_policy_warn
#define msg_info fz_policy_info
#define msg_verbose fz_policy_verbose
#include "smtpd/smtpd_policy.c"
#undef sock_connect_unix
#undef vstream_open
#undef msg_warn
#undef msg_info
#undef msg_verbose
#undef sleep

#define MAX_INPUT (64 * 1024)
#define MAX_REQUESTS 12
#define MAX_FDS 256
#define REPLY_MAX 510                   /* without CR LF (RFC 5321 4.5.3.1.5) */

/* The services of main.cf; other endpoints (from actions) are not checked. */
struct fz_service {
    const char *endpoint;
    int     try_limit;
    const char *default_action;
    bool    refused;                    /* every connect fails */
};
static const struct fz_service fz_services[] = {
    {"unix:private/policy", 2, "451 4.3.5 Server configuration problem", false},
    {"unix:private/down", 1, "DUNNO", true},
};

/* The request contexts, in the order they are used. */
enum fz_kind { FZ_CONNECT, FZ_RCPT, FZ_DATA, FZ_EOD, FZ_ETRN };
static const enum fz_kind fz_order[] = {FZ_RCPT, FZ_CONNECT, FZ_RCPT, FZ_DATA, FZ_EOD, FZ_ETRN};

static struct {
    const uint8_t *data;                /* the whole input */
    size_t  size;
    struct fuzz_in unsent;              /* what the server has not sent yet */
} fz_in;

/* What smtpd_policy.c logged during the current request. */
static struct {
    int     fails;                      /* failed attempts since the last action */
    int     calls;                      /* policy requests that ended with an action */
    bool    first_gave_up;              /* the stage's own request used its default */
} fz_ev;

static int fz_pipe[2] = {-1, -1};
static int fz_fds[MAX_FDS];             /* connections handed out for this input */
static size_t fz_nfds;
static sbuf fz_text;

static unsigned fz_sleep(unsigned secs)
{
    if (secs > 3600)
        abort();                        /* both callers cap it */
    return 0;
}

static ssize_t fz_read(void *ctx, int fd, void *buf, size_t len, int tmo)
{
    (void) ctx;
    (void) fd;
    (void) tmo;
    return fuzz_take_line(&fz_in.unsent, buf, len);
}

static ssize_t fz_write(void *ctx, int fd, const void *buf, size_t len, int tmo)
{
    (void) ctx;
    (void) fd;
    (void) buf;
    (void) tmo;
    return (ssize_t) len;
}

static int fz_connect_unix(const char *path, int tmo)
{
    size_t n = strlen(path);
    (void) tmo;
    if (n >= 5 && strcmp(path + n - 5, "/down") == 0) {
        errno = ECONNREFUSED;
        return -1;
    }
    int fd = fcntl(fz_pipe[0], F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        perror("fuzz: dup");
        abort();
    }
    if (fz_nfds < MAX_FDS)
        fz_fds[fz_nfds++] = fd;
    return fd;
}

static vstream *fz_stream_open(int fd)
{
    vstream *s = vstream_open(fd);
    vstream_set_io(s, fz_read, fz_write, 0);
    return s;
}

static const struct fz_service *fz_service(const char *ep, size_t len)
{
    for (size_t i = 0; i < sizeof(fz_services) / sizeof(fz_services[0]); i++)
        if (strlen(fz_services[i].endpoint) == len && memcmp(fz_services[i].endpoint, ep, len) == 0)
            return &fz_services[i];
    return 0;
}

/* Is action the whole value of an "action=" line of the input? */
static bool fz_input_has_action(const char *action)
{
    size_t alen = strlen(action);
    const uint8_t *p = fz_in.data, *end = fz_in.data + fz_in.size;

    if (alen > POLICY_LINE_MAX - 7)
        return false;
    while (p < end) {
        size_t rest = (size_t) (end - p);
        if (rest > 7 + alen && memcmp(p, "action=", 7) == 0 && memcmp(p + 7, action, alen) == 0
            && (p[7 + alen] == 0 || p[7 + alen] == '\r' || p[7 + alen] == '\n'))
            return true;
        const uint8_t *lf = memchr(p, '\n', rest);
        if (!lf)
            break;
        p = lf + 1;
    }
    return false;
}

/* "problem talking to server EP: WHY" */
static void fz_note_warning(const char *text)
{
    static const char prefix[] = "problem talking to server ";
    static const char *const reasons[] = {
        "lost connection while reading the reply", "reply line too long",
        "reply without an action attribute", "malformed reply line", "reply too long", 0};

    if (strncmp(text, prefix, sizeof(prefix) - 1) != 0)
        return;                         /* a settings warning */
    const char *ep = text + sizeof(prefix) - 1;
    const char *sep = strstr(ep, ": ");
    if (!sep)
        abort();
    const char *why = sep + 2;
    const struct fz_service *svc = fz_service(ep, (size_t) (sep - ep));
    if (svc && svc->refused) {
        if (strncmp(why, "connect to ", 11) != 0)
            abort();
    } else if (svc) {
        bool known = false;
        for (int i = 0; reasons[i] && !known; i++)
            known = strcmp(why, reasons[i]) == 0;
        if (!known)
            abort();                    /* a timeout or write error that cannot be */
    }
    fz_ev.fails++;
}

/* "policy EP: action=ACTION" */
static void fz_note_action(const char *text)
{
    if (strncmp(text, "policy ", 7) != 0)
        return;
    const char *ep = text + 7;
    const char *sep = strstr(ep, ": action=");
    if (!sep)
        abort();
    const char *action = sep + 9;
    const struct fz_service *svc = fz_service(ep, (size_t) (sep - ep));
    if (svc) {
        if (fz_ev.fails > svc->try_limit)
            abort();                    /* tried too often */
        bool gave_up = fz_ev.fails == svc->try_limit;
        if (gave_up && strcmp(action, svc->default_action) != 0)
            abort();
        if (!gave_up && !fz_input_has_action(action))
            abort();                    /* an action the server did not send */
        if (fz_ev.calls == 0)
            fz_ev.first_gave_up = gave_up;
    }
    fz_ev.calls++;
    fz_ev.fails = 0;
}

static void fz_policy_warn(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    sbuf_reset(&fz_text);
    sbuf_vprintf(&fz_text, fmt, ap);
    msg_vlog(MSG_WARN, fmt, ap2);
    va_end(ap2);
    va_end(ap);
    fz_note_warning(sbuf_str(&fz_text));
}

static void fz_policy_info(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    sbuf_reset(&fz_text);
    sbuf_vprintf(&fz_text, fmt, ap);
    msg_vlog(MSG_INFO, fmt, ap2);
    va_end(ap2);
    va_end(ap);
    fz_note_action(sbuf_str(&fz_text));
}

static void fz_quiet_log(void *ctx, const char *whatsup, const char *reply)
{
    (void) ctx;
    (void) whatsup;
    (void) reply;
}

static const struct smtpd_check_ops fz_ops = {.log = fz_quiet_log};

static void fz_setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    fuzz_init();
    const char *dir = fuzz_dir();
    sbuf conf = SBUF_INIT;
    sbuf_printf(&conf, "queue_directory = %s\n"
                "dns_resolver_conf = %s/no-such-resolv.conf\n", dir, dir);
    sbuf_adds(&conf,
              "smtpd_delay_reject = no\n"
              "smtpd_restriction_classes = fz_nested\n"
              "fz_nested = check_policy_service { unix:private/policy, request_limit=2,\n"
              "    policy_context=nested }\n"
              "smtpd_client_restrictions = check_policy_service unix:private/policy\n"
              "smtpd_helo_restrictions =\n"
              "smtpd_sender_restrictions =\n"
              "smtpd_relay_restrictions = check_policy_service unix:private/policy,\n"
              "    reject_unauth_destination\n"
              "smtpd_recipient_restrictions =\n"
              "smtpd_data_restrictions = check_policy_service unix:private/policy\n"
              "smtpd_end_of_data_restrictions = check_policy_service unix:private/policy\n"
              "smtpd_etrn_restrictions = check_policy_service unix:private/policy,\n"
              "    check_policy_service { unix:private/down, try_limit=1, default_action=DUNNO }\n");
    fuzz_write_file("main.cf", sbuf_str(&conf), conf.len);
    sbuf_free(&conf);
    mail_conf_load(dir);
    smtpd_access_register();
    smtpd_policy_register();
    if (pipe2(fz_pipe, O_CLOEXEC) < 0) {
        perror("fuzz: pipe");
        abort();
    }
}

/* "DDD D.D.D text", 4xx/5xx, class of the enhanced code = class of DDD. */
static void fz_check_reply(const struct smtpd_check *c)
{
    const char *r = sbuf_str(&c->reply);
    size_t len = c->reply.len, i = 4, n;

    if (len < 10 || len > REPLY_MAX || (r[0] != '4' && r[0] != '5')
        || r[1] < '0' || r[1] > '9' || r[2] < '0' || r[2] > '9' || r[3] != ' ')
        abort();
    if (c->code != (r[0] - '0') * 100 + (r[1] - '0') * 10 + (r[2] - '0'))
        abort();
    if (r[i++] != r[0] || r[i++] != '.')
        abort();
    for (n = 0; i < len && r[i] >= '0' && r[i] <= '9'; i++)
        n++;
    if (n < 1 || n > 3 || i >= len || r[i++] != '.')
        abort();
    for (n = 0; i < len && r[i] >= '0' && r[i] <= '9'; i++)
        n++;
    if (n < 1 || n > 3 || i + 1 >= len || r[i] != ' ')
        abort();
    for (i = 0; i < len; i++)
        if ((unsigned char) r[i] < 0x20 || (unsigned char) r[i] > 0x7e)
            abort();
}

static void fz_check_actions(const struct smtpd_actions *a)
{
    for (size_t i = 0; i < a->prepend.n; i++)
        if (strpbrk(a->prepend.v[i], "\r\n") || strlen(a->prepend.v[i]) > 990
            || !strchr(a->prepend.v[i], ':'))
            abort();
    if (a->filter && !strchr(a->filter, ':'))
        abort();
    if (a->redirect && (!strchr(a->redirect, '@') || strpbrk(a->redirect, " \t")))
        abort();
    for (size_t i = 0; i < a->bcc.n; i++)
        if (!strchr(a->bcc.v[i], '@') || strpbrk(a->bcc.v[i], " \t"))
            abort();
}

/* One request in context kind; returns the stage's status. */
static int fz_request(enum fz_kind kind, struct smtpd_actions *acts, int *rcpts)
{
    struct smtpd_check c;
    const char *name = 0, *class = 0;
    int status = SMTPD_CHECK_DUNNO;

    smtpd_check_init(&c, &fz_ops, 0);
    c.namaddr = "unknown[192.0.2.1]";
    c.client_addr = "192.0.2.1";
    c.client_port = "54321";
    c.client_name = "unknown";
    c.reverse_name = "unknown";
    c.name_status = SMTPD_PEER_PERM;
    c.reverse_name_status = SMTPD_PEER_PERM;
    c.server_addr = "192.0.2.25";
    c.server_port = "25";
    c.protocol = "ESMTP";
    c.helo = "client.example";
    c.sender = "a@b.example";
    c.recipient = "c@d.example";
    c.queue_id = "";
    c.instance = "1a2b.5f3c4d21.7a1b0.0";
    c.rcpt_count = *rcpts;
    c.size = 1234;
    memset(&fz_ev, 0, sizeof(fz_ev));

    switch (kind) {
    case FZ_CONNECT:
        c.stage = "CONNECT";
        c.helo = c.sender = c.recipient = 0;
        status = smtpd_check_client(&c);
        name = c.namaddr, class = SMTPD_NAME_CLIENT;
        break;
    case FZ_RCPT:
        c.stage = "RCPT";
        c.actions = acts;
        status = smtpd_check_rcpt(&c);
        if (status != SMTPD_CHECK_REJECT)
            ++*rcpts;
        name = c.recipient, class = SMTPD_NAME_RECIPIENT;
        break;
    case FZ_DATA:
        c.stage = "DATA";
        c.actions = acts;
        status = smtpd_check_data(&c);
        name = "DATA", class = SMTPD_NAME_DATA;
        break;
    case FZ_EOD:
        c.stage = "END-OF-MESSAGE";
        c.queue_id = "4BxYz12abc";
        c.actions = acts;
        status = smtpd_check_eod(&c);
        name = "END-OF-MESSAGE", class = SMTPD_NAME_EOD;
        break;
    case FZ_ETRN:
        c.stage = "ETRN";
        c.etrn_domain = "d.example";
        c.helo = c.sender = c.recipient = 0;
        status = smtpd_check_etrn(&c);
        name = c.etrn_domain, class = SMTPD_NAME_ETRN;
        break;
    }

    if (status != SMTPD_CHECK_DUNNO && status != SMTPD_CHECK_OK && status != SMTPD_CHECK_REJECT)
        abort();
    if (fz_ev.fails)
        abort();                        /* a failed attempt without its action */
    if (fz_ev.calls == 0 && !(discarding(&c) && status == SMTPD_CHECK_DUNNO))
        abort();                        /* only a discarded message asks nobody */
    if (status == SMTPD_CHECK_REJECT)
        fz_check_reply(&c);
    if (fz_ev.calls && fz_ev.first_gave_up) {
        /* A broken policy server: Postfix's temporary failure. */
        char want[200];
        snprintf(want, sizeof(want), "451 4.3.5 <%s>: %s rejected: Server configuration problem",
                 name, class);
        if (status != SMTPD_CHECK_REJECT || c.code != 451 || strcmp(sbuf_str(&c.reply), want) != 0)
            abort();
    }
    smtpd_check_free(&c);
    return status;
}

/* Drop the kept connections and the tables that actions opened. */
static void fz_reset(void)
{
    for (size_t i = 0; i < nconns; i++) {
        conn_close(&conns[i]);
        xfree(conns[i].key);
    }
    xfree(conns);
    conns = 0;
    nconns = 0;
    for (size_t i = 0; i < ntables; i++) {
        maps_close(tables[i].m);
        xfree(tables[i].spec);
    }
    xfree(tables);
    tables = 0;
    ntables = 0;
    for (size_t i = 0; i < fz_nfds; i++)
        if (fcntl(fz_fds[i], F_GETFD) >= 0)
            abort();                    /* a connection left open */
    fz_nfds = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    fz_setup();
    fz_in.data = fz_in.unsent.p = data;
    fz_in.size = fz_in.unsent.left = size;

    struct smtpd_actions acts;
    int rcpts = 0;
    smtpd_actions_init(&acts);
    for (int k = 0; k < MAX_REQUESTS && (k == 0 || fz_in.unsent.left > 0); k++) {
        enum fz_kind kind = fz_order[k % (int) (sizeof(fz_order) / sizeof(fz_order[0]))];
        (void) fz_request(kind, &acts, &rcpts);
    }
    fz_check_actions(&acts);
    smtpd_actions_free(&acts);
    fz_reset();
    return 0;
}
