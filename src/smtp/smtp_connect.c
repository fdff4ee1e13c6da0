/*
 * smtp_connect.c - which hosts a request is tried on, in what order; the
 * per-process connection cache.
 *
 * Destinations: the request's nexthop (one destination, or a list such as
 * relayhost = [a]:587, [b]:587), then smtp_fallback_relay (lmtp:
 * lmtp_fallback_relay), in order. Each destination gives addresses
 * (smtp_addr.c); each address is connected to in turn, within
 * smtp_connect_timeout, until every recipient has a final status:
 *   - a connection, greeting or EHLO failure, a lost connection or a 4xx
 *     reply moves on to the next address, then the next destination;
 *     what failed is remembered for each recipient still pending;
 *   - a 5xx reply to a recipient bounces that recipient; a 5xx greeting
 *     (with smtp_skip_5xx_greeting = no), a 5xx HELO reply, a null MX or a
 *     "loops back to myself" at the best MX bounce all that is pending;
 *   - after smtp_mx_session_limit sessions that got past EHLO, the
 *     remaining addresses of the nexthop are skipped (fallback relays are
 *     still tried);
 *   - fallback relays are used for mail the nexthop could not take (not
 *     found, unreachable, or a temporary error), except when we are an MX
 *     host of the destination ourselves (mail loops are worse than delays).
 * When nothing is left to try, every pending recipient is deferred or
 * bounced with its last reason (smtp_finish_pending).
 *
 * Each failed connection is logged as "connect to host[addr]:port: reason".
 *
 * THE CONNECTION CACHE. After a request, a session that is still in step
 * is kept open in this process (one session: the process serves one
 * request at a time) when smtp_connection_cache_on_demand = yes or the
 * nexthop is listed in smtp_connection_cache_destinations. The next request
 * with the same nexthop reuses it, after an RSET shows it is alive, while
 * it is younger than smtp_connection_reuse_time_limit and has been reused
 * fewer than smtp_connection_reuse_count_limit times (0: no limit). An
 * idle cached session is closed after smtp_connection_cache_time_limit (a
 * SIGALRM timer shuts the socket down; the next request then discards
 * it), and at exit (with QUIT). There is no shared scache daemon: reuse is
 * between consecutive requests served by the same smtp process.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/tls.h"
#include "smtp/smtp.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

/* ---- the cache ---- */

static struct smtp_session *cached;
static volatile sig_atomic_t cache_fd = -1;
static volatile sig_atomic_t cache_dead;

static void on_alarm(int sig)
{
    (void) sig;
    if (cache_fd >= 0) {
        shutdown(cache_fd, SHUT_RDWR);
        cache_dead = 1;
    }
}

void smtp_cache_expire(bool all)
{
    alarm(0);
    if (!cached)
        return;
    if (cache_dead || all) {
        struct smtp_session *s = cached;
        cached = 0;
        cache_fd = -1;
        if (cache_dead) {
            s->broken = true;
            if (msg_verbose)
                msg_info("closing idle cached connection to %s", sbuf_str(&s->namaddr));
        }
        cache_dead = 0;
        smtp_quit(s);
    }
}

void smtp_cache_idle(void)
{
    if (!cached)
        return;
    long t = mail_conf_time(smtp_pname("connection_cache_time_limit"));
    if (t < 1)
        t = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, 0);
    alarm((unsigned) t);
}

static bool cache_wanted(const char *nexthop)
{
    if (smtp_param_bool("connection_cache_on_demand"))
        return true;
    strv dests = {0}, mine = {0};
    mail_conf_list(smtp_pname("connection_cache_destinations"), &dests);
    smtp_dest_split(nexthop, &mine);
    bool found = false;
    for (size_t i = 0; i < mine.n && !found; i++) {
        struct smtp_dest d;
        if (smtp_dest_parse(mine.v[i], smtp_lmtp, "0", &d, 0) < 0)
            continue;
        const char *name = d.kind == SOCK_EP_UNIX ? d.path : d.host;
        for (size_t k = 0; k < dests.n && !found; k++)
            found = strcasecmp(dests.v[k], name) == 0;
    }
    strv_free(&dests);
    strv_free(&mine);
    return found;
}

static bool reuse_allowed(const struct smtp_session *s)
{
    long age_limit = mail_conf_time(smtp_pname("connection_reuse_time_limit"));
    long count_limit = smtp_param_int("connection_reuse_count_limit");
    if (age_limit > 0 && time(0) - s->created >= age_limit)
        return false;
    if (count_limit > 0 && s->reuse_count >= count_limit)
        return false;
    return true;
}

/* Keep s for the next request, or say goodbye. A TLS session is kept
 * only with smtp_tls_connection_reuse (Postfix reuses TLS connections
 * only then); with sender-dependent credentials nothing is kept. */
static void cache_put(struct smtp_session *s, const char *nexthop)
{
    if (s->broken || !cache_wanted(nexthop) || !reuse_allowed(s) || (s->tls && !s->tls_reuse)
        || smtp_sasl_no_cache()) {
        smtp_quit(s);
        return;
    }
    if (cached)
        smtp_quit(cached);
    cached = s;
    cache_fd = vstream_fd(s->stream);
    cache_dead = 0;
}

/* A live cached session for nexthop, or NULL. */
static struct smtp_session *cache_take(const char *nexthop)
{
    smtp_cache_expire(false);
    if (!cached || strcmp(cached->dest, nexthop) != 0)
        return 0;
    struct smtp_session *s = cached;
    cached = 0;
    cache_fd = -1;
    if (!reuse_allowed(s)) {
        smtp_quit(s);
        return 0;
    }
    vstream_clearerr(s->stream);
    if (smtp_rset(s) < 0) {
        if (msg_verbose)
            msg_info("cached connection to %s is gone", sbuf_str(&s->namaddr));
        smtp_session_free(s);
        return 0;
    }
    s->reuse_count++;
    return s;
}

/* ---- sessions ---- */

/* Recipient limit of this transport (<service>_destination_recipient_limit). */
static size_t rcpt_limit(const struct deliver_request *req)
{
    char name[300];
    const char *t = req->transport && *req->transport ? req->transport
                                                      : (smtp_lmtp ? "lmtp" : "smtp");
    int n = snprintf(name, sizeof(name), "%s_destination_recipient_limit", t);
    long v;
    if (n > 0 && (size_t) n < sizeof(name) && mail_conf_raw(name))
        v = mail_conf_int(name);
    else
        v = mail_conf_int("default_destination_recipient_limit");
    return v > 0 ? (size_t) v : 0;
}

/* Deliver what is pending over s until done or s fails. */
static void run_session(struct smtp_state *st, struct smtp_session *s)
{
    size_t limit = rcpt_limit(st->req);
    for (size_t i = 0; i < st->req->nrcpt; i++)
        st->rcpt[i].tried = false;
    gettimeofday(&st->ready, 0);
    while (st->pending > 0 && !s->broken) {
        bool untried = false;
        for (size_t i = 0; i < st->req->nrcpt && !untried; i++)
            untried = !st->rcpt[i].done && !st->rcpt[i].tried;
        if (!untried || smtp_transaction(st, s, limit) < 0)
            break;
    }
}

/* Bounce (or defer) everything pending now: no other host may be tried. */
static void fail_all(struct smtp_state *st, const struct smtp_why *why)
{
    smtp_why_pending(st, why);
    smtp_finish_pending(st);
}

static int bind_address(int family, struct sockaddr_storage *ss, socklen_t *len)
{
    const char *b = smtp_param_str(family == AF_INET6 ? "bind_address6" : "bind_address");
    if (!*b)
        return 0;
    if (sock_addr_numeric(b, "0", family, ss, len) < 0) {
        msg_warn("%s: bad address \"%s\": not used",
                 smtp_pname(family == AF_INET6 ? "bind_address6" : "bind_address"), b);
        return 0;
    }
    return 1;
}

/* The session's TLS settings from its destination's policy. */
static void session_tls(struct smtp_session *s, const struct smtp_dest *d,
                        const struct smtp_tls_dest *td, bool plain)
{
    xfree(s->dest_text);
    s->dest_text = xstrdup(d->text);
    s->tlsd = td;
    s->tls_level = plain ? TLS_LEV_NONE : td->level;
    s->tls_reuse = td->reuse;
}

/* Connect to one address; NULL with why (4.4.1) on failure. */
static struct smtp_session *connect_inet(struct smtp_state *st, const struct smtp_addr *a,
                                         struct smtp_why *why)
{
    char addr[SOCK_ADDR_STRLEN];
    sock_addr_str((const struct sockaddr *) &a->sa, a->len, addr);
    int port = sock_addr_port((const struct sockaddr *) &a->sa);
    struct sockaddr_storage bss;
    socklen_t blen = 0;
    int have_bind = bind_address(a->sa.ss_family, &bss, &blen);
    int fd = sock_connect_addr((const struct sockaddr *) &a->sa, a->len,
                               have_bind ? (struct sockaddr *) &bss : 0, blen,
                               smtp_param_ms("connect_timeout"));
    if (fd < 0) {
        const char *err = strerror(errno);
        msg_info("connect to %s[%s]:%d: %s", a->host, addr, port, err);
        smtp_why_set(why, "4.4.1", 0, "connect to %s[%s]:%d: %s", a->host, addr, port, err);
        return 0;
    }
    (void) sock_set_nodelay(fd);    /* content goes out in big writes */
    struct smtp_session *s = smtp_session_new(vstream_open(fd), st->req->nexthop, a->host,
                                              addr, port);
    s->best = a->best;
    /* As Postfix: loop detection only for the SMTP port, so that a content
     * filter or second instance on the same host (another port, maybe the
     * same name) can be reached. */
    s->loop_detect = !smtp_lmtp && port == 25;
    return s;
}

static struct smtp_session *connect_unix(struct smtp_state *st, const struct smtp_dest *d,
                                         struct smtp_why *why)
{
    char path[4096];
    if (d->path[0] == '/')
        snprintf(path, sizeof(path), "%s", d->path);
    else
        snprintf(path, sizeof(path), "%s/%s", mail_conf_str("queue_directory"), d->path);
    const char *me = mail_conf_str("myhostname");
    int fd = sock_connect_unix(path, smtp_param_ms("connect_timeout"));
    if (fd < 0) {
        const char *err = strerror(errno);
        msg_info("connect to %s[%s]: %s", me, d->path, err);
        smtp_why_set(why, "4.4.1", 0, "connect to %s[%s]: %s", me, d->path, err);
        return 0;
    }
    struct smtp_session *s = smtp_session_new(vstream_open(fd), st->req->nexthop, me, d->path, 0);
    s->best = true;
    return s;
}

/*
 * Greet and deliver over a fresh session. Returns 1 when the session
 * completed its handshake, 0 when it did not, -1 when a hard site failure
 * ended the request, 2 when an opportunistic TLS handshake failed and the
 * same server should be tried again in plaintext.
 */
static int use_session(struct smtp_state *st, struct smtp_session *s)
{
    struct smtp_why why;
    smtp_why_init(&why);
    if (smtp_param_bool("per_record_deadline"))
        vstream_set_deadline(s->stream, 1);
    int rc;
    int helo = smtp_helo(st, s, &why);
    s->tlsd = 0;                        /* the policy does not outlive the request */
    if (helo < 0) {
        bool hard = !smtp_why_soft(&why);
        bool retry = s->tls_retry_plain;
        if (hard)
            fail_all(st, &why);
        else
            smtp_why_pending(st, &why);
        smtp_quit(s);
        rc = hard ? -1 : retry ? 2 : 0;
    } else {
        run_session(st, s);
        cache_put(s, st->req->nexthop);
        rc = 1;
    }
    smtp_why_free(&why);
    return rc;
}

/* ---- the request ---- */

static bool in_list(const strv *l, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(l->v[i], s) == 0)
            return true;
    return false;
}

void smtp_deliver(struct smtp_state *st)
{
    const struct deliver_request *req = st->req;
    sbuf nexthop = SBUF_INIT;
    sbuf_set(&nexthop, req->nexthop ? req->nexthop : "");
    if (nexthop.len == 0 && req->nrcpt > 0) {
        const char *dom = address_domain(req->rcpt[0].address);
        sbuf_set(&nexthop, dom ? dom : "");
    }

    /* A cached session to the same nexthop goes first. */
    struct smtp_session *s = cache_take(req->nexthop ? req->nexthop : "");
    if (s) {
        run_session(st, s);
        cache_put(s, req->nexthop ? req->nexthop : "");
    }

    strv dests = {0}, fallback = {0};
    smtp_dest_split(sbuf_str(&nexthop), &dests);
    size_t primary = dests.n;
    mail_conf_list(smtp_pname("fallback_relay"), &fallback);
    for (size_t i = 0; i < fallback.n; i++)
        if (!in_list(&dests, primary, fallback.v[i]))
            strv_add(&dests, fallback.v[i]);
    bool fallback_ok = dests.n > primary;

    const char *def_port = smtp_param_str("tcp_port");
    long session_limit = smtp_param_int("mx_session_limit");
    long sessions = 0;
    struct smtp_why why;
    smtp_why_init(&why);
    struct smtp_addr_list addrs = {0};
    struct smtp_tls_dest td;
    memset(&td, 0, sizeof(td));
    sbuf err = SBUF_INIT;

    if (dests.n == 0) {
        smtp_why_set(&why, "4.3.5", 0, "no destination for mail to %s",
                     req->nrcpt ? req->rcpt[0].address : "");
        smtp_why_pending(st, &why);
    }
    for (size_t d = 0; d < dests.n && st->pending > 0; d++) {
        bool is_fallback = d >= primary;
        if (is_fallback && !fallback_ok)
            break;
        struct smtp_dest dest;
        if (smtp_dest_parse(dests.v[d], smtp_lmtp, def_port, &dest, &err) < 0) {
            msg_warn("%s: %s", is_fallback ? smtp_pname("fallback_relay") : "nexthop",
                     sbuf_str(&err));
            smtp_why_set(&why, "4.3.5", 0, "mail transport configuration error: %s",
                         sbuf_str(&err));
            smtp_why_pending(st, &why);
            continue;
        }
        smtp_tls_dest_free(&td);
        if (smtp_tls_dest_init(&dest, &td, &why) < 0) {
            smtp_why_pending(st, &why);
            continue;
        }
        if (dest.kind == SOCK_EP_UNIX) {
            int urc = 0;
            for (bool plain = false;; plain = true) {
                struct smtp_session *us = connect_unix(st, &dest, &why);
                if (!us) {
                    smtp_why_pending(st, &why);
                    break;
                }
                session_tls(us, &dest, &td, plain);
                if ((urc = use_session(st, us)) != 2 || plain)
                    break;
            }
            if (urc < 0)
                break;
            continue;
        }
        if (smtp_addr_find(&dest, &addrs, &why) < 0) {
            smtp_why_pending(st, &why);
            if (addrs.self_mx)
                fallback_ok = false;
            /* RFC 7505 null MX and mail loops are final; anything else may
             * still go to a fallback relay. */
            if (strcmp(why.dsn, "5.1.0") == 0 || strcmp(why.dsn, "5.4.6") == 0) {
                smtp_finish_pending(st);
                break;
            }
            continue;
        }
        if (addrs.self_mx)
            fallback_ok = false;
        for (size_t a = 0; a < addrs.n && st->pending > 0; a++) {
            if (!is_fallback && session_limit > 0 && sessions >= session_limit)
                break;
            int rc = 0;
            /* At level may a failed handshake is followed by one plaintext try. */
            for (bool plain = false; st->pending > 0; plain = true) {
                struct smtp_session *ns = connect_inet(st, &addrs.a[a], &why);
                if (!ns) {
                    smtp_why_pending(st, &why);
                    rc = 0;
                    break;
                }
                session_tls(ns, &dest, &td, plain);
                if ((rc = use_session(st, ns)) != 2 || plain)
                    break;
            }
            if (rc < 0)
                goto done;
            if (rc == 1)
                sessions++;
        }
    }
done:
    smtp_tls_dest_free(&td);
    smtp_addr_list_free(&addrs);
    smtp_why_free(&why);
    sbuf_free(&err);
    sbuf_free(&nexthop);
    strv_free(&dests);
    strv_free(&fallback);
}
