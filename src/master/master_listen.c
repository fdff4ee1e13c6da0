/*
 * master_listen.c - create and close a service's listeners.
 *
 * inet: one TCP socket per address (master_inet.c worked them out).
 * unix: a stream socket, mode 0666 (who may connect is decided by the
 * directory: private/ is 0700 mail_owner, public/ 0710 group
 * setgid_group); unix-dgram: a datagram socket, mode 0666 (postlog);
 * fifo: a FIFO, mode 0622. UNIX sockets and FIFOs are owned by
 * mail_owner, as in Postfix. Every descriptor is close-on-exec and
 * non-blocking (util/sock.c); master stays root and hands them to workers
 * as fd 3 (and 6, 7, ... when there are several). Registering them with
 * the event loop is master_spawn.c's business.
 *
 * Leftovers of a master that crashed never block a start: a UNIX socket
 * somebody still answers on is replaced, and an inet address in use is
 * retried for patience_ms (its worker exits when it notices that master
 * has gone) before that is an error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "master/master.h"
#include "util/mem.h"
#include "util/sbuf.h"
#include "util/sock.h"

#define LISTEN_BACKLOG SOMAXCONN

static void fail(char **err, const char *what, const char *where)
{
    sbuf e = SBUF_INIT;
    sbuf_printf(&e, "%s %s: %s", what, where, strerror(errno));
    *err = sbuf_steal(&e);
}

/* An inet address in use, at start-up, may be held by a worker of a
 * master that crashed; it exits once it notices. Wait that long. */
static int listen_inet_patiently(const struct inet_addr *a, int patience_ms)
{
    for (int waited = 0;; waited += 100) {
        int fd = sock_listen_addr((struct sockaddr *) &a->ss, a->len, LISTEN_BACKLOG);
        if (fd >= 0 || errno != EADDRINUSE || waited >= patience_ms)
            return fd;
        usleep(100 * 1000);
    }
}

/* Who else could answer on a socket in our queue directory, while we
 * hold the pid file lock? Only a worker of a master that is gone: the
 * path is ours to take (that worker keeps its now nameless socket). */
static int listen_unix_path(struct svc *s)
{
    for (int attempt = 0;; attempt++) {
        int fd = s->kind == SVC_UNIX ? sock_listen_unix(s->path, LISTEN_BACKLOG, 0666)
               : s->kind == SVC_DGRAM ? sock_listen_unix_dgram(s->path, 0666)
               : sock_listen_fifo(s->path, 0622);
        if (fd >= 0 || errno != EADDRINUSE || attempt > 0)
            return fd;
        if (unlink(s->path) < 0)
            return -1;
    }
}

int listen_open(struct svc *s, int patience_ms, char **err)
{
    int fd;
    if (s->kind == SVC_INET) {
        s->fds = xcalloc(s->naddrs, sizeof(int));
        for (size_t i = 0; i < s->naddrs; i++) {
            fd = listen_inet_patiently(&s->addrs[i], patience_ms);
            if (fd < 0) {
                fail(err, "bind", s->addrs[i].text);
                listen_close(s);
                return -1;
            }
            s->fds[s->nfds++] = fd;
        }
        return 0;
    }
    fd = listen_unix_path(s);
    if (fd < 0) {
        fail(err, s->kind == SVC_FIFO ? "create fifo" : "bind", s->path);
        return -1;
    }
    if (geteuid() == 0 && lchown(s->path, M.par.owner_uid, M.par.owner_gid) < 0) {
        fail(err, "set owner of", s->path);
        close(fd);
        unlink(s->path);
        return -1;
    }
    s->fds = xcalloc(1, sizeof(int));
    s->fds[0] = fd;
    s->nfds = 1;
    return 0;
}

/* Stop listening: the socket file stays (as in Postfix); a later bind
 * replaces it because nobody answers there any more. */
void listen_close(struct svc *s)
{
    if (s->listening) {
        for (size_t i = 0; i < s->nfds; i++)
            event_fd_remove(M.loop, s->fds[i]);
        s->listening = false;
    }
    for (size_t i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    xfree(s->fds);
    s->fds = 0;
    s->nfds = 0;
}
