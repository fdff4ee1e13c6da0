/*
 * mail_server.h - the one server skeleton every daemon runs in.
 *
 * A daemon's main is one call:
 *     int main(int argc, char **argv) {
 *         static const struct mail_server srv = {
 *             .program = "smtpd", .kind = MAIL_SERVER_STREAM,
 *             .pre_init = open_tables_as_root, .serve = smtpd_session };
 *         return mail_server_main(argc, argv, &srv);
 *     }
 *
 * How master runs a worker (docs/architecture.md, "master and workers"):
 *   argv:  program -n service_name -t type [-u] [-v] [-s count] [-o name=value]...
 *          -u: drop to mail_owner after pre_init (master.cf unpriv = y)
 *          -s: number of listening descriptors when more than one (an
 *              inet service on several addresses, e.g. 0.0.0.0 and ::)
 *   env:   MAIL_CONFIG = the configuration directory
 *   fd 3:  the listening socket (inet/unix stream), FIFO or datagram socket;
 *          further listeners (-s) are fd 6, 7, ... (MASTER_EXTRA_LISTEN_FD)
 *   fd 4:  status pipe to master: the worker writes a struct
 *          master_status {pid, status} when it becomes busy or idle
 *   fd 5:  master's watch pipe: EOF means "finish your client and exit"
 *          (master reloaded or is stopping)
 * For tests and inetd-style use, -S (stand-alone) serves one connection
 * on fd 0 (a socket or a pipe pair 0/1) and exits; -S also works without
 * master for every kind (a trigger reads fd 0 to EOF).
 *
 * The skeleton loads main.cf, applies the service's -o overrides, sets up
 * logging (msg_* to syslog or the postlog socket), calls pre_init as
 * root, drops privileges when told, calls post_init, then loops:
 * STREAM waits for a connection (at most max_idle seconds when idle),
 * serves it, and exits after max_use connections; TRIGGER reads wake-up
 * bytes from a FIFO or stream socket (one read per connection, at most
 * 10 seconds) and calls trigger; DGRAM passes each datagram to trigger,
 * draining all that are queued before it reports idle again; EVENT hands
 * the (first) listening fd to the program's own loop (qmgr). A daemon
 * never writes accept/poll loops of its own. SIGTERM makes the loop end
 * after the current client; pre_exit runs on every normal way out.
 */
#ifndef HK_MAIL_MAIL_SERVER_H
#define HK_MAIL_MAIL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/vstream.h"

#define MASTER_LISTEN_FD 3
#define MASTER_STATUS_FD 4
#define MASTER_WATCH_FD  5
#define MASTER_EXTRA_LISTEN_FD 6    /* second listener; the n-th is 6 + n - 2 */
#define MASTER_MAX_LISTEN 64

enum master_status_code { MASTER_STAT_TAKEN = 0, MASTER_STAT_AVAIL = 1 };
struct master_status {
    pid_t pid;
    int   status;           /* enum master_status_code */
};

enum mail_server_kind {
    MAIL_SERVER_STREAM,     /* one client connection at a time */
    MAIL_SERVER_TRIGGER,    /* wake-up bytes on a FIFO or stream socket */
    MAIL_SERVER_DGRAM,      /* datagrams (postlogd) */
    MAIL_SERVER_EVENT,      /* the program runs its own event loop */
};

struct mail_server {
    const char *program;                /* name in log lines: "smtpd" */
    enum mail_server_kind kind;
    bool stay_root;                     /* never drop privileges (local) */
    void (*pre_init)(void);             /* as root, after main.cf is loaded */
    void (*post_init)(void);            /* after privileges are dropped */
    /* STREAM: serve one client; the skeleton closes the stream afterwards. */
    void (*serve)(vstream *client, const char *service);
    /* TRIGGER and DGRAM: one wake-up or datagram. */
    void (*trigger)(const char *buf, size_t len, const char *service);
    /* EVENT: run until done; listen_fd is fd 3 (or -1 in stand-alone). */
    void (*loop)(int listen_fd, const char *service);
    /* TRIGGER: called every wakeup interval as well (may be NULL). */
    void (*pre_exit)(void);
};

int mail_server_main(int argc, char **argv, const struct mail_server *srv);

/* For the running daemon. */
const char *mail_server_service(void);      /* -n value, e.g. "smtp", "submission" */
bool mail_server_standalone(void);
/* Tell master whether this process is busy (STREAM servers do it for you). */
void mail_server_busy(bool busy);
/* True once master asked us to go away (reload/stop). */
bool mail_server_should_exit(void);
/* Drop to mail_owner now (EVENT servers that need root briefly). */
void mail_server_drop_privileges(void);

#endif
