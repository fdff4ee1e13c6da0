/*
 * master.h - the master daemon's shared state and the functions its files export.
 *
 * master is one event loop (util/event.h) over: the listeners of every
 * master.cf service, one status pipe per service (workers report busy and
 * idle on it), wakeup and throttle timers, and the signals HUP (reload),
 * TERM (stop), INT (abort) and CHLD (reap). Its files:
 *   master.c          main: options, start-up, daemonising, the loop
 *   master_params.c   the main.cf values master uses, read once per load
 *   master_inet.c     inet service names, inet_interfaces, inet_protocols
 *   master_conf.c     master.cf -> service list (nothing opened yet)
 *   master_listen.c   create and close listeners
 *   master_spawn.c    process table, fork/exec, status pipe, reaping, throttling
 *   master_wakeup.c   wakeup timers
 *   master_reload.c   SIGHUP: re-read both files, keep unchanged listeners
 *   master_stop.c     SIGTERM/SIGINT: stop workers, exit
 * All state lives in the one struct master below.
 */
#ifndef HK_MASTER_MASTER_H
#define HK_MASTER_MASTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "util/event.h"
#include "util/strv.h"

enum svc_kind { SVC_INET, SVC_UNIX, SVC_FIFO, SVC_DGRAM };

/* One address an inet service listens on. */
struct inet_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char    text[96];           /* "127.0.0.1:25", "[::1]:25" */
};

struct svc {
    struct svc *next;
    /* From master.cf (rebuilt on reload). */
    char   *name;               /* "smtp", "127.0.0.1:2525" */
    char   *type;               /* "inet", "unix", ... */
    enum svc_kind kind;
    int     line;               /* master.cf line */
    char   *path;               /* UNIX socket or FIFO path; NULL for inet */
    struct inet_addr *addrs;    /* inet: where to listen */
    size_t  naddrs;
    char   *listen_key;         /* what identifies the listeners across reloads */
    char   *prog;               /* program path */
    strv    args;               /* master.cf words after the command */
    bool    unpriv;
    int     maxproc;            /* 0: no limit */
    int     wakeup;             /* seconds, 0: none */
    bool    wakeup_cond;        /* "1000?": only once the service was used */
    /* Run-time state (kept across reloads when the listener is kept). */
    int    *fds;                /* listening descriptors */
    size_t  nfds;
    int     status_rd, status_wr;   /* the service's status pipe */
    int     total;              /* processes, all generations */
    int     avail;              /* idle processes of the current generation */
    bool    listening;          /* fds registered with the loop */
    bool    throttled;
    bool    used;               /* a process was ever started */
    uint64_t throttle_timer;
    uint64_t wakeup_timer;
    int64_t limit_warned_ms;
};

struct proc {
    struct proc *next;
    pid_t   pid;
    struct svc *svc;            /* NULL once the service is gone */
    unsigned gen;               /* configuration generation it was started in */
    bool    avail;              /* idle (counted in svc->avail) */
    unsigned long use_count;    /* clients taken */
};

/* main.cf values, read once per (re)load so a later bad edit cannot hurt. */
struct master_params {
    char   *config_dir;
    char   *queue_dir;
    char   *daemon_dir;
    char   *mail_owner;
    uid_t   owner_uid;
    gid_t   owner_gid;
    long    throttle_time;      /* seconds */
    int     default_process_limit;
    strv    interfaces;         /* inet_interfaces */
    strv    protocols;          /* inet_protocols */
    strv    known_ports;        /* known_tcp_ports */
    strv    disable;            /* master_service_disable */
    strv    import_env;         /* import_environment */
    char   *maillog_file;
};

struct master {
    event_loop *loop;
    struct master_params par;
    struct svc *services;
    struct proc *procs;
    unsigned gen;
    int     watch_rd, watch_wr; /* EOF on watch_rd tells this generation to exit */
    int     pid_fd;
    bool    foreground;         /* -d */
    int     verbose;            /* -v count, passed on to workers */
    bool    stopping;
    int64_t stop_deadline_ms;
};

extern struct master M;

/* master_params.c: read main.cf values (after mail_conf_load). 0, or -1
 * with messages in errs (the old values stay). */
int  master_params_load(struct master_params *p, strv *errs);
void master_params_free(struct master_params *p);
void master_params_apply_env(const struct master_params *p);

/* master_inet.c */
int  inet_service_addrs(const struct master_params *p, const char *name,
                        struct inet_addr **out, size_t *n, char **err);
int  inet_port_of(const struct master_params *p, const char *port);

/* master_conf.c: build the service list; NULL + err on a fatal problem. */
struct svc *master_conf_load(const struct master_params *p, char **err);
void svc_free(struct svc *s);
void svc_free_list(struct svc *s);
const char *svc_label(const struct svc *s);    /* "smtp/inet" for logs */

/* master_listen.c */
int  listen_open(struct svc *s, int patience_ms, char **err);
void listen_close(struct svc *s);

/* master_spawn.c */
void spawn_init_service(struct svc *s);        /* status pipe + listening state */
void spawn_close_service(struct svc *s);       /* status pipe; orphan its processes */
void spawn_update_listen(struct svc *s);       /* watch the listener when needed */
void spawn_reap(event_loop *loop, int signo, void *ctx);
void spawn_signal_all(int sig, bool all_generations);
int  spawn_count(void);
void spawn_new_generation(void);               /* reload: old processes finish and exit */

/* master_wakeup.c */
void wakeup_start(struct svc *s, bool first);  /* first: also wake now */
void wakeup_stop(struct svc *s);
/* An unconditional wakeup service (qmgr, pickup) with no process left after a
 * reload: wake it now so that it runs again at once. */
void wakeup_now(struct svc *s);

/* master_reload.c */
void master_reload(event_loop *loop, int signo, void *ctx);

/* master_stop.c */
void master_stop(event_loop *loop, int signo, void *ctx);

/* master.c */
int  master_open_watch(void);
void master_log_reconnect(void);

#endif
