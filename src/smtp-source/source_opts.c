/*
 * source_opts.c - parse and check smtp-source's command line.
 *
 * See source_opts.h. Every numeric option is range-checked so that the
 * engine never sees a zero session count, a negative length or a wait
 * that overflows an int of milliseconds. Nothing here exits.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "smtp-source/source_opts.h"

const char source_usage[] =
    "usage: smtp-source [options] [inet:]host[:port]\n"
    "       smtp-source [options] unix:pathname\n"
    "  -4 | -6          connect with IPv4 | IPv6 only\n"
    "  -A               count unexpected replies instead of aborting\n"
    "  -c               running counter of completed messages\n"
    "  -C count         connection attempts per connection (default 1)\n"
    "  -d               send the next message over the same connection\n"
    "  -f from          sender (default foo@myhostname)\n"
    "  -F file          send this pre-formatted message (dot-stuffed, CRLF added)\n"
    "  -l length        payload bytes, not counting the headers\n"
    "  -L               speak LMTP\n"
    "  -m count         messages to send (default 1)\n"
    "  -M myhostname    HELO name and domain of the default addresses\n"
    "  -N               unique number before each recipient, across the run\n"
    "  -o               old mode: no HELO, no message headers\n"
    "  -P, --pipelining send MAIL, RCPT and DATA together when PIPELINING is offered\n"
    "  -r count         recipients per message (default 1)\n"
    "  -R interval      random wait 0..interval seconds between messages\n"
    "  -s count         parallel sessions (default 1)\n"
    "  -S subject       Subject: header\n"
    "  -t to            recipient (default foo@myhostname)\n"
    "  -T windowsize    socket buffer size in bytes\n"
    "  -v               show the conversation on stderr\n"
    "  -w interval      fixed wait between messages (seconds)\n"
    "  --latency        print end-of-DATA to reply latency percentiles\n"
    "  --summary        print one line: messages= seconds= rate= p50_ms= p99_ms= errors=\n"
    "  --timeout secs   limit for each step of the conversation (default 300)\n"
    "  --bind address   local address for TCP connections\n"
    "  --help           this text\n";

enum { OPT_LATENCY = 1000, OPT_SUMMARY, OPT_TIMEOUT, OPT_BIND, OPT_PIPELINING, OPT_HELP };

void source_opts_init(source_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->family = AF_UNSPEC;
    o->connect_tries = 1;
    o->length = -1;
    o->messages = 1;
    o->rcpts = 1;
    o->sessions = 1;
    o->timeout_ms = 300 * 1000;
}

int source_parse_count(const char *text, long long max, int suffix_ok, long long *out)
{
    char *end;
    long long mult = 1;
    if (!text || !*text || *text == '-' || *text == '+')
        return -1;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text)
        return -1;
    if (*end && suffix_ok) {
        if ((*end == 'k' || *end == 'K') && end[1] == 0)
            mult = 1024;
        else if ((*end == 'm' || *end == 'M') && end[1] == 0)
            mult = 1024 * 1024;
        else
            return -1;
    } else if (*end) {
        return -1;
    }
    if (v > max / mult)
        return -1;
    v *= mult;
    if (v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

int source_parse_seconds(const char *text, int *ms)
{
    char *end;
    if (!text || !*text || *text == '-' || *text == '+')
        return -1;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= 0) || v > 86400.0 * 7)
        return -1;
    *ms = (int) (v * 1000.0 + 0.5);
    return 0;
}

static int bad(sbuf *why, const char *opt, const char *what, const char *arg)
{
    sbuf_reset(why);
    if (arg)
        sbuf_printf(why, "%s: %s: %s", opt, what, arg);
    else
        sbuf_printf(why, "%s: %s", opt, what);
    return -1;
}

/* A count option into an int field, within 1..max (0 allowed when min0). */
static int int_opt(const char *opt, const char *arg, long long min, long long max, int *out,
                   sbuf *why)
{
    long long v;
    if (source_parse_count(arg, max, 0, &v) < 0 || v < min)
        return bad(why, opt, "bad number", arg);
    *out = (int) v;
    return 0;
}

/* An address option: printable, no spaces or angle brackets, bounded. */
static int addr_opt(const char *opt, const char *arg, const char **out, sbuf *why)
{
    size_t n = strlen(arg);
    if (n > 254)
        return bad(why, opt, "address too long", arg);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) arg[i];
        if (c <= ' ' || c >= 0x7f || c == '<' || c == '>')
            return bad(why, opt, "bad address", arg);
    }
    *out = arg;
    return 0;
}

int source_opts_parse(source_opts *o, int argc, char **argv, sbuf *why)
{
    static const struct option longopts[] = {
        { "latency", no_argument, 0, OPT_LATENCY },
        { "summary", no_argument, 0, OPT_SUMMARY },
        { "timeout", required_argument, 0, OPT_TIMEOUT },
        { "bind", required_argument, 0, OPT_BIND },
        { "pipelining", no_argument, 0, OPT_PIPELINING },
        { "help", no_argument, 0, OPT_HELP },
        { 0, 0, 0, 0 },
    };
    int ch;
    long long v;

    optind = 0;                 /* GNU: full re-initialisation */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+:46AcC:df:F:l:Lm:M:NoPr:R:s:S:t:T:vw:", longopts,
                             NULL)) != -1) {
        switch (ch) {
        case '4':
            o->family = AF_INET;
            break;
        case '6':
            o->family = AF_INET6;
            break;
        case 'A':
            o->keep_going = 1;
            break;
        case 'c':
            o->counter = 1;
            break;
        case 'C':
            if (int_opt("-C", optarg, 1, 1000, &o->connect_tries, why) < 0)
                return -1;
            break;
        case 'd':
            o->reuse = 1;
            break;
        case 'f':
            if (addr_opt("-f", optarg, &o->from, why) < 0)
                return -1;
            break;
        case 'F':
            o->file = optarg;
            break;
        case 'l':
            if (source_parse_count(optarg, 1LL << 34, 1, &v) < 0)
                return bad(why, "-l", "bad length", optarg);
            o->length = v;
            break;
        case 'L':
            o->lmtp = 1;
            break;
        case 'm':
            if (source_parse_count(optarg, 1LL << 40, 1, &v) < 0 || v < 1)
                return bad(why, "-m", "bad number", optarg);
            o->messages = v;
            break;
        case 'M':
            if (strlen(optarg) > 255 || !*optarg || strpbrk(optarg, " \t\r\n<>"))
                return bad(why, "-M", "bad host name", optarg);
            o->myhostname = optarg;
            break;
        case 'N':
            o->numbered = 1;
            break;
        case 'o':
            o->old_mode = 1;
            break;
        case 'P':
        case OPT_PIPELINING:
            o->pipelining = 1;
            break;
        case 'r':
            if (int_opt("-r", optarg, 1, 100000, &o->rcpts, why) < 0)
                return -1;
            break;
        case 'R':
            if (source_parse_seconds(optarg, &o->random_wait_ms) < 0)
                return bad(why, "-R", "bad interval", optarg);
            break;
        case 's':
            if (int_opt("-s", optarg, 1, 100000, &o->sessions, why) < 0)
                return -1;
            break;
        case 'S':
            if (strlen(optarg) > 900 || strpbrk(optarg, "\r\n"))
                return bad(why, "-S", "bad subject", optarg);
            o->subject = optarg;
            break;
        case 't':
            if (addr_opt("-t", optarg, &o->to, why) < 0)
                return -1;
            break;
        case 'T':
            if (int_opt("-T", optarg, 1, 1 << 30, &o->window, why) < 0)
                return -1;
            break;
        case 'v':
            o->verbose++;
            break;
        case 'w':
            if (source_parse_seconds(optarg, &o->wait_ms) < 0)
                return bad(why, "-w", "bad interval", optarg);
            break;
        case OPT_LATENCY:
            o->latency = 1;
            break;
        case OPT_SUMMARY:
            o->summary = 1;
            break;
        case OPT_TIMEOUT:
            if (source_parse_seconds(optarg, &o->timeout_ms) < 0 || o->timeout_ms < 1)
                return bad(why, "--timeout", "bad time", optarg);
            break;
        case OPT_BIND:
            o->bind = optarg;
            break;
        case OPT_HELP:
            o->help = 1;
            return 0;
        case ':':
            return bad(why, argv[optind - 1], "missing argument", NULL);
        default:
            sbuf_reset(why);
            if (optopt > 0 && optopt < 128)
                sbuf_printf(why, "unknown option: -%c", optopt);
            else
                sbuf_printf(why, "unknown option: %s", argv[optind - 1]);
            return -1;
        }
    }
    if (optind != argc - 1) {
        sbuf_set(why, optind >= argc ? "missing server address" : "too many arguments");
        return -1;
    }
    if (o->file && o->length >= 0)
        return bad(why, "-F", "cannot be combined with -l", o->file);
    if (sock_parse_endpoint(argv[optind], "25", &o->target, why) < 0)
        return -1;
    if (o->target.kind == SOCK_EP_INET && !o->target.host[0])
        return bad(why, "server address", "no host", argv[optind]);
    return 0;
}
