/*
 * smtp-source - parallel SMTP/LMTP test message generator (smtp-source(1)).
 *
 *   smtp-source [options] [inet:]host[:port]
 *   smtp-source [options] unix:pathname
 *
 * Sends -m messages over up to -s parallel sessions, from one process
 * with one event loop (source_engine.c), so hundreds of sessions cost
 * one process. The options are Postfix's (source_opts.h), plus:
 *
 *   --latency   print "latency: samples=N min_ms=... p50_ms=... p90_ms=...
 *               p99_ms=... max_ms=..." for the time from the end of DATA
 *               (the last byte of ".") to the reply;
 *   --summary   print one machine-readable line at the end:
 *               "messages=N seconds=X rate=Y p50_ms=A p99_ms=B errors=E"
 *               (messages: accepted for every recipient; errors: messages
 *               that were not; rate: messages per second; the latencies are
 *               "-" when no message reached the end of DATA);
 *   -P          pipeline MAIL, RCPT and DATA when the server offers it;
 *   --timeout   limit for each step (default 300 s), so a run always ends;
 *   --bind      local address of TCP connections.
 *
 * Exit status 0 when every message was accepted, 1 otherwise (with -A,
 * errors are counted; without it the first one ends the program).
 * The server's host must be an address or a name the system resolver
 * knows; nothing else is looked up.
 *
 * NOT HERE: the protocol engine (source_engine.c), content
 * (source_content.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "smtp-source/source_content.h"
#include "smtp-source/source_engine.h"
#include "smtp-source/source_opts.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/safe_file.h"
#include "util/sock.h"

#define MAX_FILE (1024LL * 1024 * 1024)

static void resolve_target(const source_opts *o, source_target *t)
{
    memset(t, 0, sizeof(*t));
    if (o->target.kind == SOCK_EP_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *) &t->addr;
        sun->sun_family = AF_UNIX;
        snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", o->target.path);
        t->addrlen = sizeof(*sun);
    } else {
        if (sock_addr_numeric(o->target.host, o->target.port, o->family, &t->addr,
                              &t->addrlen) < 0) {
            if (sock_lookup(o->target.host, o->target.port, o->family, &t->addr, 1) < 1)
                msg_fatal("%s: host not found", o->target.host);
            t->addrlen = sock_addr_len((struct sockaddr *) &t->addr);
        }
    }
    if (o->bind) {
        if (o->target.kind == SOCK_EP_UNIX)
            msg_fatal("--bind: not for UNIX-domain connections");
        if (sock_addr_numeric(o->bind, "0", t->addr.ss_family, &t->bind, &t->bindlen) < 0)
            msg_fatal("--bind: bad address for this server: %s", o->bind);
    }
}

static double ms(uint32_t us)
{
    return us / 1000.0;
}

int main(int argc, char **argv)
{
    source_opts o;
    sbuf    why = SBUF_INIT;

    msg_init("smtp-source", MSG_TO_STDERR);
    source_opts_init(&o);
    if (source_opts_parse(&o, argc, argv, &why) < 0) {
        fprintf(stderr, "smtp-source: %s\n%s", sbuf_str(&why), source_usage);
        sbuf_free(&why);
        return 1;
    }
    sbuf_free(&why);
    if (o.help) {
        fputs(source_usage, stdout);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);

    char    host[256];
    if (o.myhostname) {
        snprintf(host, sizeof(host), "%s", o.myhostname);
    } else if (gethostname(host, sizeof(host)) < 0 || !host[0]) {
        snprintf(host, sizeof(host), "localhost");
    }
    host[sizeof(host) - 1] = 0;
    sbuf    def = SBUF_INIT;
    sbuf_printf(&def, "foo@%s", host);
    const char *from = o.from ? o.from : sbuf_str(&def);
    const char *to = o.to ? o.to : sbuf_str(&def);

    source_target t;
    resolve_target(&o, &t);

    sbuf    content = SBUF_INIT;
    if (o.file) {
        size_t  len;
        char   *data = read_file(o.file, (size_t) MAX_FILE, &len);
        if (!data)
            msg_fatal("read %s: %m", o.file);
        source_file_content(&content, data, len);
        xfree(data);
    } else {
        source_payload(&content, o.length);
    }

    source_result res;
    source_engine_run(&o, &t, &content, host, from, to, &res);

    double  secs = res.elapsed_us / 1e6;
    double  rate = secs > 0 ? res.done / secs : 0;
    if (o.latency) {
        if (res.latency.n)
            printf("latency: samples=%zu min_ms=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
                   "max_ms=%.3f\n", res.latency.n, ms(source_stats_percentile(&res.latency, 0)),
                   ms(source_stats_percentile(&res.latency, 50)),
                   ms(source_stats_percentile(&res.latency, 90)),
                   ms(source_stats_percentile(&res.latency, 99)),
                   ms(source_stats_percentile(&res.latency, 100)));
        else
            printf("latency: samples=0\n");
    }
    if (o.summary) {
        printf("messages=%lld seconds=%.3f rate=%.1f ", res.done, secs, rate);
        if (res.latency.n)
            printf("p50_ms=%.3f p99_ms=%.3f", ms(source_stats_percentile(&res.latency, 50)),
                   ms(source_stats_percentile(&res.latency, 99)));
        else
            printf("p50_ms=- p99_ms=-");
        printf(" errors=%lld\n", res.errors);
    }
    fflush(stdout);
    source_stats_free(&res.latency);
    sbuf_free(&content);
    sbuf_free(&def);
    return res.errors ? 1 : 0;
}
