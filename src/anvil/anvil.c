/*
 * anvil.c - the connection count and rate server (anvil(8)).
 *
 * smtpd (and later postscreen) tell anvil about each client connection,
 * message, recipient, new TLS session and AUTH command, keyed by an
 * ident "service:address"; anvil answers with the number of simultaneous
 * connections and the number of such events in the current
 * anvil_rate_time_unit window. The protocol is in anvil_client.h and
 * docs/anvil.md. State is in memory only; an entry goes away once it has
 * no connections and its window has passed.
 *
 * One process serves every client (master.cf: "anvil unix - - n - 1
 * anvil"; MAIL_SERVER_EVENT): the listener and each client stream are in
 * one event loop. When a client's stream closes, the connections it
 * registered and did not disconnect are taken off their counts, so a
 * crashed smtpd does not leave its client counted forever. A rate window
 * starts at the first event and restarts once anvil_rate_time_unit has
 * passed.
 *
 * Logging, as Postfix does it: every anvil_status_update_time and at exit,
 * the peaks since the last report:
 *   statistics: max connection rate 12/60s for (smtp:192.0.2.1) at Nov 22 18:01:02
 *   statistics: max connection count 3 for (smtp:192.0.2.1) at Nov 22 18:01:02
 *   statistics: max message rate 5/60s for (smtp:192.0.2.1) at ...
 *   statistics: max recipient rate ..., max new TLS sessions ..., max auth rate ...
 *   statistics: max cache size 42 at Nov 22 18:01:02
 *
 * The process leaves when master asks (reload, stop), or after max_idle
 * seconds without any client. With -S (no master) it serves the one
 * client on fd 0 and exits when that closes.
 *
 * Does not: decide limits (the clients do), persist anything.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/anvil_client.h"
#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "util/attr.h"
#include "util/event.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sock.h"
#include "util/strv.h"
#include "util/vstream.h"

#define ANVIL_BUCKETS 1024
#define ANVIL_IDENT_MAX 512         /* longer idents are refused */
#define ANVIL_MAX_ENTRIES 200000    /* memory bound: new idents beyond it get 0s */
#define ANVIL_READ_MS 5000          /* one request must arrive within this */

enum { EV_CONNECT, EV_MESSAGE, EV_RECIPIENT, EV_NEWTLS, EV_AUTH, EV_COUNT };

static const char *const ev_log_names[EV_COUNT] = {
    "connection rate", "message rate", "recipient rate", "new TLS sessions", "auth rate",
};

struct entry {
    char   *ident;
    int     count;                  /* simultaneous connections */
    int64_t start;                  /* ms: the rate window began */
    int     rate[EV_COUNT];
    struct entry *next;
};

struct peak {
    int     value;
    char   *ident;
    time_t  when;
};

struct client {
    int     fd;
    vstream *s;
    strv    idents;                 /* connected and not yet disconnected */
    struct client *next;
};

static struct {
    event_loop *loop;
    int     listen_fd;
    struct entry *buckets[ANVIL_BUCKETS];
    size_t  nentries;
    struct client *clients;
    size_t  nclients;
    int64_t unit_ms;
    long    status_interval;
    long    max_idle;
    int64_t idle_since;             /* ms; when the last client left */
    int64_t last_report;
    bool    standalone;
    struct peak peak_rate[EV_COUNT], peak_count;
    size_t  peak_cache;
    time_t  peak_cache_when;
} anvil;

/* ---- the table ---- */

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h % ANVIL_BUCKETS;
}

static struct entry *entry_find(const char *ident, bool create)
{
    unsigned h = hash(ident);
    for (struct entry *e = anvil.buckets[h]; e; e = e->next)
        if (strcmp(e->ident, ident) == 0)
            return e;
    if (!create || anvil.nentries >= ANVIL_MAX_ENTRIES)
        return 0;
    struct entry *e = xcalloc(1, sizeof(*e));
    e->ident = xstrdup(ident);
    e->start = event_time_ms();
    e->next = anvil.buckets[h];
    anvil.buckets[h] = e;
    anvil.nentries++;
    if (anvil.nentries > anvil.peak_cache) {
        anvil.peak_cache = anvil.nentries;
        anvil.peak_cache_when = time(0);
    }
    return e;
}

/* Restart the rate window when it has passed. */
static void window(struct entry *e)
{
    int64_t now = event_time_ms();
    if (now - e->start >= anvil.unit_ms) {
        e->start = now;
        memset(e->rate, 0, sizeof(e->rate));
    }
}

static void peak_note(struct peak *p, int value, const char *ident)
{
    if (value > p->value) {
        p->value = value;
        xfree(p->ident);
        p->ident = xstrdup(ident);
        p->when = time(0);
    }
}

/* Drop entries with no connections whose window has passed. */
static void purge(void)
{
    int64_t now = event_time_ms();
    for (int b = 0; b < ANVIL_BUCKETS; b++) {
        struct entry **pp = &anvil.buckets[b];
        while (*pp) {
            struct entry *e = *pp;
            if (e->count <= 0 && now - e->start >= anvil.unit_ms) {
                *pp = e->next;
                xfree(e->ident);
                xfree(e);
                anvil.nentries--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static void report(void)
{
    char when[64];
    long unit = (long) (anvil.unit_ms / 1000);

    for (int i = 0; i < EV_COUNT; i++) {
        struct peak *p = &anvil.peak_rate[i];
        if (p->value > 0) {
            strftime(when, sizeof(when), "%b %e %H:%M:%S", localtime(&p->when));
            msg_info("statistics: max %s %d/%lds for (%s) at %s", ev_log_names[i], p->value,
                     unit, p->ident, when);
            if (i == EV_CONNECT && anvil.peak_count.value > 0) {
                struct peak *c = &anvil.peak_count;
                strftime(when, sizeof(when), "%b %e %H:%M:%S", localtime(&c->when));
                msg_info("statistics: max connection count %d for (%s) at %s", c->value,
                         c->ident, when);
            }
        }
        p->value = 0;
    }
    anvil.peak_count.value = 0;
    if (anvil.peak_cache > 0) {
        strftime(when, sizeof(when), "%b %e %H:%M:%S", localtime(&anvil.peak_cache_when));
        msg_info("statistics: max cache size %zu at %s", anvil.peak_cache, when);
        anvil.peak_cache = 0;
    }
}

/* ---- requests ---- */

static void client_forget(struct client *cl, const char *ident)
{
    for (size_t i = 0; i < cl->idents.n; i++) {
        if (strcmp(cl->idents.v[i], ident) == 0) {
            xfree(cl->idents.v[i]);
            cl->idents.v[i] = cl->idents.v[--cl->idents.n];
            cl->idents.v[cl->idents.n] = 0;
            return;
        }
    }
}

static void disconnect(const char *ident)
{
    struct entry *e = entry_find(ident, false);
    if (e && e->count > 0)
        e->count--;
}

/* Handle one request; the reply goes out on the client's stream. */
static int handle(struct client *cl, const attr_list *req)
{
    const char *request = 0, *ident = 0;
    static const struct { const char *name; int ev; } events[] = {
        {ANVIL_REQ_MESSAGE, EV_MESSAGE}, {ANVIL_REQ_RECIPIENT, EV_RECIPIENT},
        {ANVIL_REQ_NEWTLS, EV_NEWTLS}, {ANVIL_REQ_AUTH, EV_AUTH},
    };

    if (attr_get_str(req, "request", &request) < 0 || attr_get_str(req, "ident", &ident) < 0
        || strlen(ident) > ANVIL_IDENT_MAX) {
        msg_warn("bad request from a client: missing or oversized request or ident");
        return attr_print(cl->s, ATTR_SEND_INT("status", 1),
                          ATTR_SEND_STR("reason", "bad request"), ATTR_END);
    }
    if (strcmp(request, ANVIL_REQ_CONNECT) == 0) {
        struct entry *e = entry_find(ident, true);
        if (!e)
            return attr_print(cl->s, ATTR_SEND_INT("status", 0), ATTR_SEND_INT("count", 0),
                              ATTR_SEND_INT("rate", 0), ATTR_END);
        window(e);
        e->count++;
        e->rate[EV_CONNECT]++;
        strv_add(&cl->idents, ident);
        peak_note(&anvil.peak_rate[EV_CONNECT], e->rate[EV_CONNECT], ident);
        peak_note(&anvil.peak_count, e->count, ident);
        return attr_print(cl->s, ATTR_SEND_INT("status", 0), ATTR_SEND_INT("count", e->count),
                          ATTR_SEND_INT("rate", e->rate[EV_CONNECT]), ATTR_END);
    }
    if (strcmp(request, ANVIL_REQ_DISCONNECT) == 0) {
        disconnect(ident);
        client_forget(cl, ident);
        return attr_print(cl->s, ATTR_SEND_INT("status", 0), ATTR_END);
    }
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        if (strcmp(request, events[i].name) != 0)
            continue;
        struct entry *e = entry_find(ident, true);
        int rate = 0;
        if (e) {
            window(e);
            rate = ++e->rate[events[i].ev];
            peak_note(&anvil.peak_rate[events[i].ev], rate, ident);
        }
        return attr_print(cl->s, ATTR_SEND_INT("status", 0), ATTR_SEND_INT("rate", rate),
                          ATTR_END);
    }
    if (strcmp(request, ANVIL_REQ_NEWTLS_REPORT) == 0 || strcmp(request, ANVIL_REQ_LOOKUP) == 0) {
        struct entry *e = entry_find(ident, false);
        int r[EV_COUNT] = {0}, count = 0;
        if (e) {
            window(e);
            memcpy(r, e->rate, sizeof(r));
            count = e->count;
        }
        if (strcmp(request, ANVIL_REQ_NEWTLS_REPORT) == 0)
            return attr_print(cl->s, ATTR_SEND_INT("status", 0),
                              ATTR_SEND_INT("rate", r[EV_NEWTLS]), ATTR_END);
        return attr_print(cl->s, ATTR_SEND_INT("status", 0), ATTR_SEND_INT("count", count),
                          ATTR_SEND_INT("rate", r[EV_CONNECT]),
                          ATTR_SEND_INT("message", r[EV_MESSAGE]),
                          ATTR_SEND_INT("recipient", r[EV_RECIPIENT]),
                          ATTR_SEND_INT("newtls", r[EV_NEWTLS]),
                          ATTR_SEND_INT("auth", r[EV_AUTH]), ATTR_END);
    }
    msg_warn("unknown request \"%.64s\"", request);
    return attr_print(cl->s, ATTR_SEND_INT("status", 1),
                      ATTR_SEND_STR("reason", "unknown request"), ATTR_END);
}

/* ---- clients ---- */

static void client_close(struct client *cl)
{
    /* Connections the client did not disconnect end with it. */
    for (size_t i = 0; i < cl->idents.n; i++)
        disconnect(cl->idents.v[i]);
    strv_free(&cl->idents);
    event_fd_remove(anvil.loop, cl->fd);
    vstream_close(cl->s);
    for (struct client **pp = &anvil.clients; *pp; pp = &(*pp)->next) {
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    }
    xfree(cl);
    if (--anvil.nclients == 0) {
        anvil.idle_since = event_time_ms();
        if (anvil.standalone)
            event_loop_stop(anvil.loop);
    }
}

static void on_client(event_loop *loop, int fd, int ready, void *ctx)
{
    struct client *cl = ctx;
    attr_list req = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    (void) loop; (void) fd; (void) ready;

    /* Every request that has arrived (a client may send several). */
    do {
        int rc = attr_read(cl->s, &req, 0, &why);
        if (rc == ATTR_CLOSED) {
            client_close(cl);
            break;
        }
        if (rc != ATTR_OK) {
            msg_warn("client request: %s", sbuf_str(&why));
            client_close(cl);
            break;
        }
        if (handle(cl, &req) < 0) {
            client_close(cl);
            break;
        }
    } while (vstream_peek_pending(cl->s) > 0);
    attr_list_free(&req);
    sbuf_free(&why);
}

static void client_add(int fd)
{
    struct client *cl = xcalloc(1, sizeof(*cl));
    cl->fd = fd;
    cl->s = vstream_open(fd);
    vstream_set_timeout(cl->s, ANVIL_READ_MS);
    vstream_set_deadline(cl->s, 1);
    strv_init(&cl->idents);
    if (event_fd_add(anvil.loop, fd, EVENT_READ, on_client, cl) < 0) {
        msg_warn("watch client connection: %m");
        vstream_close(cl->s);
        strv_free(&cl->idents);
        xfree(cl);
        return;
    }
    cl->next = anvil.clients;
    anvil.clients = cl;
    anvil.nclients++;
}

static void on_accept(event_loop *loop, int fd, int ready, void *ctx)
{
    (void) loop; (void) ready; (void) ctx;
    for (;;) {
        int cfd = sock_accept(fd, 0, 0);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                && errno != ECONNABORTED)
                msg_warn("accept: %m");
            return;
        }
        client_add(cfd);
    }
}

/* ---- timers ---- */

static void on_tick(event_loop *loop, void *ctx)
{
    (void) ctx;
    int64_t now = event_time_ms();

    if (mail_server_should_exit()) {        /* master said so, or SIGTERM */
        event_loop_stop(loop);
        return;
    }
    if (!anvil.standalone && anvil.nclients == 0 && anvil.max_idle > 0
        && now - anvil.idle_since >= anvil.max_idle * 1000) {
        if (msg_verbose)
            msg_info("idle exit");
        event_loop_stop(loop);
        return;
    }
    purge();
    if (now - anvil.last_report >= anvil.status_interval * 1000) {
        anvil.last_report = now;
        report();
    }
}

static void anvil_loop(int listen_fd, const char *service)
{
    (void) service;
    long unit = mail_conf_time("anvil_rate_time_unit");
    anvil.unit_ms = (unit > 0 ? unit : 60) * 1000LL;
    anvil.status_interval = mail_conf_time("anvil_status_update_time");
    if (anvil.status_interval < 1)
        anvil.status_interval = 600;
    anvil.max_idle = mail_conf_time("max_idle");
    anvil.loop = event_loop_new();
    anvil.listen_fd = listen_fd;
    anvil.idle_since = anvil.last_report = event_time_ms();
    if (listen_fd >= 0) {
        sock_set_nonblock(listen_fd, 1);
        if (event_fd_add(anvil.loop, listen_fd, EVENT_READ, on_accept, 0) < 0)
            msg_fatal("watch the anvil socket: %m");
        /* One process owns the listener for good (like qmgr). */
        mail_server_busy(true);
    } else {
        anvil.standalone = true;
        client_add(dup(0));
    }
    event_timer_add(anvil.loop, 1000, 1000, on_tick, 0);
    event_loop_run(anvil.loop);
    report();
    while (anvil.clients)
        client_close(anvil.clients);
    event_loop_free(anvil.loop);
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "anvil",
        .kind = MAIL_SERVER_EVENT,
        .loop = anvil_loop,
    };
    return mail_server_main(argc, argv, &srv);
}
