/*
 * sink_opts.c - parse and check smtp-sink's command line. See sink_opts.h.
 *
 * Every value is checked here (reply texts start with a code of the
 * right class and contain no control characters; numbers are in range)
 * so the protocol code never meets a bad setting.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "smtp-sink/sink_opts.h"
#include "util/mem.h"

const char sink_usage[] =
    "usage: smtp-sink [options] [inet:][host]:port backlog\n"
    "       smtp-sink [options] unix:pathname backlog\n"
    "  -4 | -6            IPv4 | IPv6 only\n"
    "  -8, -e, -E, -N, -p do not announce 8BITMIME, ESMTP, ENHANCEDSTATUSCODES, DSN,\n"
    "                     PIPELINING\n"
    "  -a, -C, -F         accepted for compatibility (AUTH, XCLIENT, XFORWARD are\n"
    "                     never announced)\n"
    "  -b reply, -B reply soft (4xx) and hard (5xx) reject replies\n"
    "  -c                 running counters on stdout\n"
    "  -d template        dump each message to its own file (strftime template;\n"
    "                     a directory: one file per message in it)\n"
    "  -f cmd[:code],...  reject these commands with 5xx (implies -p)\n"
    "  -r cmd[:code],...  reject these commands with 4xx (implies -p)\n"
    "  -q cmd,...         disconnect without reply after these commands\n"
    "  -Q cmd,...         reply 421 and disconnect after these commands\n"
    "  -h hostname        name in the greeting and HELO/EHLO replies\n"
    "  -L                 speak LMTP\n"
    "  -m count           at most count connections at once (default 256)\n"
    "  -M count           exit after count messages\n"
    "  -n count           exit after count sessions\n"
    "  -R dir             chroot to dir (root only)\n"
    "  -S string          text before each dumped message (C escapes)\n"
    "  -t seconds         idle limit per connection (default 100)\n"
    "  -u user            run as user after opening the socket\n"
    "  -v                 show the conversations on stderr\n"
    "  -w seconds         wait before answering DATA\n"
    "  -W cmd:seconds     wait before answering cmd\n"
    "  --count-file path  keep \"messages=N recipients=R sessions=S ...\" in path\n"
    "  --summary          print the counters at exit\n"
    "  --max-time seconds exit after this long\n"
    "  --help             this text\n";

static const char *const cmd_names[SC_COUNT] = {
    [SC_CONNECT] = "CONNECT", [SC_HELO] = "HELO", [SC_EHLO] = "EHLO", [SC_LHLO] = "LHLO",
    [SC_MAIL] = "MAIL", [SC_RCPT] = "RCPT", [SC_VRFY] = "VRFY", [SC_DATA] = "DATA",
    [SC_DOT] = ".", [SC_RSET] = "RSET", [SC_NOOP] = "NOOP", [SC_QUIT] = "QUIT",
    [SC_ETRN] = "ETRN", [SC_XCLIENT] = "XCLIENT", [SC_XFORWARD] = "XFORWARD",
};

enum { OPT_COUNT_FILE = 1000, OPT_SUMMARY, OPT_MAX_TIME, OPT_HELP };

void sink_opts_init(sink_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->family = AF_UNSPEC;
    o->hostname = "smtp-sink";
    o->max_conns = 256;
    o->timeout_ms = 100 * 1000;
    o->soft_reply = "450 4.3.0 Error: command failed";
    o->hard_reply = "500 5.3.0 Error: command failed";
}

void sink_opts_free(sink_opts *o)
{
    xfree(o->start_buf);
    o->start_buf = 0;
}

int sink_cmd_lookup(const char *name, size_t len)
{
    for (int i = 0; i < SC_COUNT; i++)
        if (strlen(cmd_names[i]) == len && strncasecmp(cmd_names[i], name, len) == 0)
            return i;
    return -1;
}

const char *sink_cmd_name(int cmd)
{
    return cmd >= 0 && cmd < SC_COUNT ? cmd_names[cmd] : "?";
}

static int opt_fail(sbuf *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int opt_fail(sbuf *why, const char *fmt, ...)
{
    va_list ap;
    sbuf_reset(why);
    va_start(ap, fmt);
    sbuf_vprintf(why, fmt, ap);
    va_end(ap);
    return -1;
}

/* A whole number in [min, max]. */
static int number(const char *s, size_t len, long long min, long long max, long long *out)
{
    if (len == 0 || len > 18)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Seconds, possibly fractional, to milliseconds (at most a week). */
static int seconds(const char *s, size_t len, int *ms)
{
    char    buf[32];
    char   *end;
    if (len == 0 || len >= sizeof(buf) || s[0] == '-' || s[0] == '+')
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || *end || !(v >= 0) || v > 7 * 86400.0)
        return -1;
    *ms = (int) (v * 1000 + 0.5);
    return 0;
}

int sink_parse_cmd_list(sink_opts *o, int opt, const char *list, sbuf *why)
{
    const char *p = list;
    int     any = 0;
    for (;;) {
        p += strspn(p, ", \t");
        if (!*p)
            break;
        size_t  n = strcspn(p, ", \t");
        const char *colon = memchr(p, ':', n);
        size_t  nlen = colon ? (size_t) (colon - p) : n;
        int     cmd = sink_cmd_lookup(p, nlen);
        if (cmd < 0)
            return opt_fail(why, "-%c: unknown command: %.*s", opt, (int) nlen, p);
        sink_rule *r = &o->rules[cmd];
        long long code = 0;
        if (colon) {
            size_t  clen = n - nlen - 1;
            if (opt != 'f' && opt != 'r')
                return opt_fail(why, "-%c: a reply code is not allowed here: %.*s", opt, (int) n, p);
            if (number(colon + 1, clen, 400, 599, &code) < 0)
                return opt_fail(why, "-%c: bad reply code: %.*s", opt, (int) n, p);
            if ((opt == 'r') != (code < 500))
                return opt_fail(why, "-%c: reply code must be %s: %.*s", opt,
                            opt == 'r' ? "4xx" : "5xx", (int) n, p);
        }
        switch (opt) {
        case 'f':
        case 'r':
            if (cmd == SC_QUIT)
                return opt_fail(why, "-%c: QUIT cannot be rejected", opt);
            r->action = SINK_ACT_REJECT;
            r->code = (int) code;
            r->soft = opt == 'r';
            o->no_pipelining = 1;
            break;
        case 'q':
            r->action = SINK_ACT_DROP;
            break;
        case 'Q':
            r->action = SINK_ACT_421;
            break;
        }
        any = 1;
        p += n;
    }
    if (!any)
        return opt_fail(why, "-%c: empty command list", opt);
    return 0;
}

int sink_parse_delay(sink_opts *o, const char *spec, sbuf *why)
{
    const char *colon = strchr(spec, ':');
    if (!colon)
        return opt_fail(why, "-W: expected command:seconds: %s", spec);
    int     cmd = sink_cmd_lookup(spec, (size_t) (colon - spec));
    if (cmd < 0)
        return opt_fail(why, "-W: unknown command: %.*s", (int) (colon - spec), spec);
    if (strchr(colon + 1, ':'))
        return opt_fail(why, "-W: the odds field is not supported: %s", spec);
    if (seconds(colon + 1, strlen(colon + 1), &o->rules[cmd].delay_ms) < 0)
        return opt_fail(why, "-W: bad delay: %s", spec);
    return 0;
}

int sink_unescape(const char *in, sbuf *out)
{
    for (const char *p = in; *p; p++) {
        if (*p != '\\') {
            sbuf_addc(out, *p);
            continue;
        }
        p++;
        switch (*p) {
        case 'a': sbuf_addc(out, '\a'); break;
        case 'b': sbuf_addc(out, '\b'); break;
        case 'f': sbuf_addc(out, '\f'); break;
        case 'n': sbuf_addc(out, '\n'); break;
        case 'r': sbuf_addc(out, '\r'); break;
        case 't': sbuf_addc(out, '\t'); break;
        case 'v': sbuf_addc(out, '\v'); break;
        case '\\': sbuf_addc(out, '\\'); break;
        default:
            if (*p >= '0' && *p <= '7') {
                int     v = 0, k = 0;
                while (k < 3 && *p >= '0' && *p <= '7') {
                    v = v * 8 + (*p - '0');
                    p++, k++;
                }
                p--;
                if (v > 255 || v == 0)
                    return -1;
                sbuf_addc(out, v);
                break;
            }
            return -1;              /* also a trailing backslash */
        }
    }
    return 0;
}

/* A reply text: "DDD text" with DDD in the class, printable, not too long. */
static int check_reply(const char *text, int soft)
{
    size_t  n = strlen(text);
    if (n < 3 || n > 512 || text[0] != (soft ? '4' : '5') || text[1] < '0' || text[1] > '9'
        || text[2] < '0' || text[2] > '9' || (n > 3 && text[3] != ' '))
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) text[i] < 0x20 || text[i] == 0x7f)
            return -1;
    return 0;
}

void sink_reject_text(const sink_opts *o, const sink_rule *r, sbuf *out)
{
    if (r->code)
        sbuf_printf(out, "%d %d.3.0 Error: command failed", r->code, r->code / 100);
    else
        sbuf_adds(out, r->soft ? o->soft_reply : o->hard_reply);
}

int sink_opts_parse(sink_opts *o, int argc, char **argv, sbuf *why)
{
    static const struct option longopts[] = {
        { "count-file", required_argument, 0, OPT_COUNT_FILE },
        { "summary", no_argument, 0, OPT_SUMMARY },
        { "max-time", required_argument, 0, OPT_MAX_TIME },
        { "help", no_argument, 0, OPT_HELP },
        { 0, 0, 0, 0 },
    };
    int     ch;
    long long v;

    optind = 0;
    opterr = 0;
    static const char shortopts[] = "+:468aA:b:B:cCd:D:eEf:FH:h:LM:m:n:NpPq:Q:r:R:s:S:t:T:u:vw:W:";
    while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (ch) {
        case '4':
            o->family = AF_INET;
            break;
        case '6':
            o->family = AF_INET6;
            break;
        case '8':
            o->no_8bitmime = 1;
            break;
        case 'a':
        case 'C':
        case 'F':
            break;
        case 'b':
            if (check_reply(optarg, 1) < 0)
                return opt_fail(why, "-b: need a 4xx reply: %s", optarg);
            o->soft_reply = optarg;
            break;
        case 'B':
            if (check_reply(optarg, 0) < 0)
                return opt_fail(why, "-B: need a 5xx reply: %s", optarg);
            o->hard_reply = optarg;
            break;
        case 'c':
            o->counter = 1;
            break;
        case 'd':
            if (!*optarg)
                return opt_fail(why, "-d: empty template");
            o->dump = optarg;
            break;
        case 'e':
            o->no_esmtp = 1;
            break;
        case 'E':
            o->no_enhanced = 1;
            break;
        case 'f':
        case 'r':
        case 'q':
        case 'Q':
            if (sink_parse_cmd_list(o, ch, optarg, why) < 0)
                return -1;
            break;
        case 'h':
            if (!*optarg || strlen(optarg) > 255 || strpbrk(optarg, " \t\r\n"))
                return opt_fail(why, "-h: bad host name: %s", optarg);
            o->hostname = optarg;
            break;
        case 'L':
            o->lmtp = 1;
            break;
        case 'm':
            if (number(optarg, strlen(optarg), 1, 100000, &v) < 0)
                return opt_fail(why, "-m: bad number: %s", optarg);
            o->max_conns = (int) v;
            break;
        case 'M':
            if (number(optarg, strlen(optarg), 1, 1LL << 50, &v) < 0)
                return opt_fail(why, "-M: bad number: %s", optarg);
            o->max_messages = v;
            break;
        case 'n':
            if (number(optarg, strlen(optarg), 1, 1LL << 50, &v) < 0)
                return opt_fail(why, "-n: bad number: %s", optarg);
            o->max_sessions = v;
            break;
        case 'N':
            o->no_dsn = 1;
            break;
        case 'p':
            o->no_pipelining = 1;
            break;
        case 'R':
            o->chroot_dir = optarg;
            break;
        case 'S':
            {
                sbuf    s = SBUF_INIT;
                if (sink_unescape(optarg, &s) < 0) {
                    sbuf_free(&s);
                    return opt_fail(why, "-S: bad escape sequence: %s", optarg);
                }
                xfree(o->start_buf);
                o->start_buf = sbuf_steal(&s);
                o->start_string = o->start_buf;
            }
            break;
        case 't':
            if (seconds(optarg, strlen(optarg), &o->timeout_ms) < 0 || o->timeout_ms < 1)
                return opt_fail(why, "-t: bad timeout: %s", optarg);
            break;
        case 'u':
            if (!*optarg)
                return opt_fail(why, "-u: empty user name");
            o->user = optarg;
            break;
        case 'v':
            o->verbose++;
            break;
        case 'w':
            if (seconds(optarg, strlen(optarg), &o->rules[SC_DATA].delay_ms) < 0)
                return opt_fail(why, "-w: bad delay: %s", optarg);
            break;
        case 'W':
            if (sink_parse_delay(o, optarg, why) < 0)
                return -1;
            break;
        case OPT_COUNT_FILE:
            o->count_file = optarg;
            break;
        case OPT_SUMMARY:
            o->summary = 1;
            break;
        case OPT_HELP:
            o->help = 1;
            return 0;
        case OPT_MAX_TIME:
            if (seconds(optarg, strlen(optarg), &o->max_time_ms) < 0 || o->max_time_ms < 1)
                return opt_fail(why, "--max-time: bad time: %s", optarg);
            break;
        case 'A':
        case 'D':
        case 'H':
        case 'P':
        case 's':
        case 'T':
            return opt_fail(why, "-%c: not supported by this smtp-sink", ch);
        case ':':
            return opt_fail(why, "%s: missing argument", argv[optind - 1]);
        default:
            if (optopt > 0 && optopt < 128)
                return opt_fail(why, "unknown option: -%c", optopt);
            return opt_fail(why, "unknown option: %s", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return opt_fail(why, argc - optind < 2 ? "missing address or backlog" : "too many arguments");
    if (sock_parse_endpoint(argv[optind], NULL, &o->listen, why) < 0)
        return -1;
    if (number(argv[optind + 1], strlen(argv[optind + 1]), 1, 1 << 20, &v) < 0)
        return opt_fail(why, "bad backlog: %s", argv[optind + 1]);
    o->backlog = (int) v;
    return 0;
}
