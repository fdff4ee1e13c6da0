/*
 * master_wakeup.c - wakeup timers: poke pickup, qmgr, ... every N seconds.
 *
 * A service with a wakeup time (master.cf column 6) gets one byte 'W'
 * every N seconds: master connects to its UNIX socket, or opens its FIFO,
 * writes the byte and closes. Nothing ever blocks master: a full socket
 * backlog or FIFO just skips this wakeup. The connection makes the
 * service's listener readable, so a service with no process gets one;
 * that is how qmgr and pickup run from the start: an unconditional
 * wakeup is also sent as soon as the service is set up, after a reload,
 * and when the last process of an older generation has exited (so qmgr
 * runs again at once after a reload, as with Postfix). "N?" (e.g.
 * tlsmgr 1000?) wakes the service only once it has been used (a process
 * was started for another reason). inet and unix-dgram services are
 * never woken (master_conf.c warns).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "master/master.h"
#include "util/msg.h"

static void wake(const struct svc *s)
{
    static const char byte = 'W';
    int fd;
    if (s->kind == SVC_UNIX) {
        struct sockaddr_un sun;
        size_t n = strlen(s->path);
        if (n >= sizeof(sun.sun_path))
            return;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, s->path, n + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return;
        if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
            if (msg_verbose)
                msg_info("wakeup %s: connect: %m", s->path);
            close(fd);
            return;
        }
        if (send(fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && msg_verbose)
            msg_info("wakeup %s: write: %m", s->path);
    } else if (s->kind == SVC_FIFO) {
        fd = open(s->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            return;
        if (write(fd, &byte, 1) < 0 && msg_verbose)
            msg_info("wakeup %s: write: %m", s->path);
    } else {
        return;
    }
    close(fd);
}

static void on_timer(event_loop *loop, void *ctx)
{
    struct svc *s = ctx;
    if (M.stopping || s->nfds == 0)
        return;
    if (s->wakeup_cond && !s->used)
        return;
    wake(s);
}

void wakeup_start(struct svc *s, bool first)
{
    if (s->wakeup <= 0 || s->wakeup_timer)
        return;
    int ms = s->wakeup > 86400 * 7 ? 86400 * 7 * 1000 : s->wakeup * 1000;
    s->wakeup_timer = event_timer_add(M.loop, ms, ms, on_timer, s);
    if (first && !s->wakeup_cond)
        wake(s);
}

void wakeup_now(struct svc *s)
{
    if (s->wakeup > 0 && !s->wakeup_cond && !M.stopping && s->nfds > 0)
        wake(s);
}

void wakeup_stop(struct svc *s)
{
    if (s->wakeup_timer) {
        event_timer_cancel(M.loop, s->wakeup_timer);
        s->wakeup_timer = 0;
    }
}
