/*
 * sock.c - socket helpers (see sock.h).
 *
 * Only sock_lookup() may reach the resolver; everything else passes
 * AI_NUMERICHOST to getaddrinfo(). Errors are reported through errno.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "util/sock.h"
#include "util/msg.h"

/* ---- descriptor flags ---- */

int sock_set_cloexec(int fd, int on)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0)
        return -1;
    fl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
    return fcntl(fd, F_SETFD, fl);
}

int sock_set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, fl);
}

int sock_set_nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_keep_errno(int fd)
{
    int saved = errno;
    close(fd);
    errno = saved;
}

/* ---- addresses ---- */

static int gai_errno(int rc)
{
    switch (rc) {
    case EAI_SYSTEM: return errno ? errno : EIO;
    case EAI_FAMILY: case EAI_ADDRFAMILY: return EAFNOSUPPORT;
    case EAI_AGAIN: return EAGAIN;
    case EAI_MEMORY: return ENOMEM;
    case EAI_NODATA: return ENOENT;
    default: return EINVAL;
    }
}

static int valid_port_syntax(const char *port)
{
    size_t n = port ? strlen(port) : 0;
    if (n == 0 || n > SOCK_PORT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char) port[i]) && port[i] != '-' && port[i] != '_')
            return 0;
    return 1;
}

int sock_port_number(const char *port)
{
    if (!valid_port_syntax(port)) {
        errno = EINVAL;
        return -1;
    }
    if (isdigit((unsigned char) port[0])) {
        char *end;
        errno = 0;
        long v = strtol(port, &end, 10);
        if (*end || errno || v < 1 || v > 65535) {
            errno = EINVAL;
            return -1;
        }
        return (int) v;
    }
    struct servent *se = getservbyname(port, "tcp");
    if (!se) {
        errno = EINVAL;
        return -1;
    }
    return ntohs((uint16_t) se->s_port);
}

static int is_wildcard(const char *host)
{
    return !host || !*host || strcmp(host, "all") == 0 || strcmp(host, "*") == 0;
}

/* Port "0" is allowed here (ephemeral); sock_port_number refuses it. */
static int port_or_zero(const char *port)
{
    if (port && strcmp(port, "0") == 0)
        return 0;
    return sock_port_number(port);
}

int sock_addr_numeric(const char *host, const char *port, int family,
                      struct sockaddr_storage *ss, socklen_t *len)
{
    int pnum = port_or_zero(port);
    if (pnum < 0)
        return -1;
    memset(ss, 0, sizeof(*ss));
    if (is_wildcard(host)) {
        if (family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;
            s6->sin6_family = AF_INET6;
            s6->sin6_addr = in6addr_any;
            s6->sin6_port = htons((uint16_t) pnum);
            *len = sizeof(*s6);
        } else if (family == AF_INET || family == AF_UNSPEC) {
            struct sockaddr_in *s4 = (struct sockaddr_in *) ss;
            s4->sin_family = AF_INET;
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
            s4->sin_port = htons((uint16_t) pnum);
            *len = sizeof(*s4);
        } else {
            errno = EAFNOSUPPORT;
            return -1;
        }
        return 0;
    }
    struct addrinfo hints, *res = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    char pbuf[16];
    snprintf(pbuf, sizeof(pbuf), "%d", pnum);
    int rc = getaddrinfo(host, pbuf, &hints, &res);
    if (rc != 0) {
        errno = gai_errno(rc);
        return -1;
    }
    if (res->ai_addrlen > sizeof(*ss)) {
        freeaddrinfo(res);
        errno = EINVAL;
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int sock_lookup(const char *host, const char *port, int family,
                struct sockaddr_storage *out, int max)
{
    if (!host || !*host || max < 1) {
        errno = EINVAL;
        return -1;
    }
    int pnum = port_or_zero(port);
    if (pnum < 0)
        return -1;
    struct addrinfo hints, *res = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char pbuf[16];
    snprintf(pbuf, sizeof(pbuf), "%d", pnum);
    int rc = getaddrinfo(host, pbuf, &hints, &res);
    if (rc != 0) {
        errno = (rc == EAI_NONAME) ? ENOENT : gai_errno(rc);
        return -1;
    }
    int n = 0;
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(out[n]))
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
        n++;
    }
    freeaddrinfo(res);
    if (n == 0) {
        errno = ENOENT;
        return -1;
    }
    return n;
}

socklen_t sock_addr_len(const struct sockaddr *sa)
{
    switch (sa->sa_family) {
    case AF_INET: return sizeof(struct sockaddr_in);
    case AF_INET6: return sizeof(struct sockaddr_in6);
    case AF_UNIX: return sizeof(struct sockaddr_un);
    default: return 0;
    }
}

int sock_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *) sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *) sa)->sin6_port);
    return 0;
}

const char *sock_addr_str(const struct sockaddr *sa, socklen_t len, char buf[SOCK_ADDR_STRLEN])
{
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        if (getnameinfo(sa, len, buf, SOCK_ADDR_STRLEN, 0, 0, NI_NUMERICHOST) == 0)
            return buf;
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *) sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = len > off ? len - off : 0;
        if (n > sizeof(sun->sun_path))
            n = sizeof(sun->sun_path);
        if (n > 0 && sun->sun_path[0]) {
            size_t k = strnlen(sun->sun_path, n);
            snprintf(buf, SOCK_ADDR_STRLEN, "%.*s", (int) k, sun->sun_path);
            return buf;
        }
    }
    snprintf(buf, SOCK_ADDR_STRLEN, "unknown");
    return buf;
}

void sock_endpoint_str(sbuf *out, const char *host, const struct sockaddr *sa, socklen_t len)
{
    char addr[SOCK_ADDR_STRLEN];
    sock_addr_str(sa, len, addr);
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
        sbuf_printf(out, "%s[%s]:%d", host ? host : addr, addr, sock_addr_port(sa));
    else if (host)
        sbuf_printf(out, "%s[%s]", host, addr);
    else
        sbuf_adds(out, addr);
}

/* ---- listening ---- */

int sock_listen_addr(const struct sockaddr *sa, socklen_t len, int backlog)
{
    int one = 1;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto bad;
    /* One socket per family: "::" must not also take the IPv4 port. */
    if (sa->sa_family == AF_INET6
        && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto bad;
    if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0)
        goto bad;
    return fd;
bad:
    close_keep_errno(fd);
    return -1;
}

int sock_listen_inet(const char *host, const char *port, int family, int backlog)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (sock_addr_numeric(host, port, family, &ss, &len) < 0)
        return -1;
    return sock_listen_addr((struct sockaddr *) &ss, len, backlog);
}

static int unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
    size_t n = path ? strlen(path) : 0;
    if (n == 0) {
        errno = EINVAL;
        return -1;
    }
    if (n >= sizeof(sun->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

/* Remove a stale socket at path: 0 when the path is free, -1 otherwise. */
static int unlink_stale_socket(const char *path, const struct sockaddr_un *sun, socklen_t len,
                               int type)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(st.st_mode)) {
        errno = EEXIST;
        return -1;
    }
    int probe = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0)
        return -1;
    int r = connect(probe, (const struct sockaddr *) sun, len);
    int err = errno;
    close(probe);
    if (r == 0 || err == EAGAIN || err == EINPROGRESS) {
        errno = EADDRINUSE;     /* somebody answers there */
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

static int bind_unix(int fd, const char *path, const struct sockaddr_un *sun, socklen_t len,
                     mode_t mode)
{
    mode_t old = umask(0777);
    int r = bind(fd, (const struct sockaddr *) sun, len);
    int err = errno;
    umask(old);
    if (r < 0) {
        errno = err;
        return -1;
    }
    if (chmod(path, mode) < 0) {
        err = errno;
        unlink(path);
        errno = err;
        return -1;
    }
    return 0;
}

static int listen_unix_type(const char *path, int type, int backlog, mode_t mode)
{
    struct sockaddr_un sun;
    socklen_t len;
    if (unix_addr(path, &sun, &len) < 0)
        return -1;
    if (unlink_stale_socket(path, &sun, len, type) < 0)
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (bind_unix(fd, path, &sun, len, mode) < 0) {
        close_keep_errno(fd);
        return -1;
    }
    if (type == SOCK_STREAM && listen(fd, backlog) < 0) {
        int err = errno;
        unlink(path);
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int sock_listen_unix(const char *path, int backlog, mode_t mode)
{
    return listen_unix_type(path, SOCK_STREAM, backlog, mode);
}

int sock_listen_unix_dgram(const char *path, mode_t mode)
{
    return listen_unix_type(path, SOCK_DGRAM, 0, mode);
}

int sock_listen_fifo(const char *path, mode_t mode)
{
    struct stat st;
    if (!path || !*path) {
        errno = EINVAL;
        return -1;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISFIFO(st.st_mode)) {
            errno = EEXIST;
            return -1;
        }
        if (unlink(path) < 0)
            return -1;
    } else if (errno != ENOENT) {
        return -1;
    }
    mode_t old = umask(0777);
    int r = mkfifo(path, 0600);
    int err = errno;
    umask(old);
    if (r < 0) {
        errno = err;
        return -1;
    }
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fchmod(fd, mode) < 0) {
        err = errno;
        if (fd >= 0)
            close(fd);
        unlink(path);
        errno = err;
        return -1;
    }
    return fd;
}

int sock_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *len)
{
    struct sockaddr_storage dummy;
    socklen_t dlen = sizeof(dummy);
    if (!peer) {
        peer = &dummy;
        len = &dlen;
    } else {
        *len = sizeof(*peer);
    }
    for (;;) {
        int fd = accept4(listen_fd, (struct sockaddr *) peer, len, SOCK_CLOEXEC);
        if (fd >= 0 || errno != EINTR)
            return fd;
    }
}

/* ---- connecting ---- */

/* Wait for a non-blocking connect to finish. 0, or -1 with errno. */
static int connect_wait(int fd, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT, .revents = 0 };
        int left = -1;
        if (deadline >= 0) {
            int64_t l = deadline - now_ms();
            left = l < 0 ? 0 : (l > 1 << 30 ? 1 << 30 : (int) l);
        }
        int n = poll(&pfd, 1, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        int err = 0;
        socklen_t elen = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            return -1;
        if (err) {
            errno = err;
            return -1;
        }
        return 0;
    }
}

static int connect_once(const struct sockaddr *sa, socklen_t len, const struct sockaddr *bind_sa,
                        socklen_t bind_len, int64_t deadline, int *again)
{
    *again = 0;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (bind_sa && bind(fd, bind_sa, bind_len) < 0)
        goto bad;
    if (connect(fd, sa, len) < 0) {
        if (errno == EAGAIN && sa->sa_family == AF_UNIX) {
            *again = 1;         /* listener backlog full: try again shortly */
            goto bad;
        }
        if (errno != EINPROGRESS && errno != EINTR)
            goto bad;
        if (connect_wait(fd, deadline) < 0)
            goto bad;
    }
    if (sock_set_nonblock(fd, 0) < 0)
        goto bad;
    return fd;
bad:
    close_keep_errno(fd);
    return -1;
}

int sock_connect_addr(const struct sockaddr *sa, socklen_t len,
                      const struct sockaddr *bind_sa, socklen_t bind_len, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        int again;
        int fd = connect_once(sa, len, bind_sa, bind_len, deadline, &again);
        if (fd >= 0 || !again)
            return fd;
        int64_t left = deadline < 0 ? 20 : deadline - now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        poll(0, 0, left < 20 ? (int) left : 20);
    }
}

int sock_connect_inet(const char *host, const char *port, const char *bind_host, int timeout_ms)
{
    struct sockaddr_storage ss, bs;
    socklen_t len, blen = 0;
    if (is_wildcard(host)) {
        errno = EINVAL;
        return -1;
    }
    if (sock_addr_numeric(host, port, AF_UNSPEC, &ss, &len) < 0)
        return -1;
    if (bind_host && sock_addr_numeric(bind_host, "0", ss.ss_family, &bs, &blen) < 0)
        return -1;
    return sock_connect_addr((struct sockaddr *) &ss, len, bind_host ? (struct sockaddr *) &bs : 0,
                             blen, timeout_ms);
}

int sock_connect_unix(const char *path, int timeout_ms)
{
    struct sockaddr_un sun;
    socklen_t len;
    if (unix_addr(path, &sun, &len) < 0)
        return -1;
    return sock_connect_addr((struct sockaddr *) &sun, len, 0, 0, timeout_ms);
}

/* ---- endpoint syntax ---- */

static int why_fail(sbuf *why, const char *text, const char *problem)
{
    if (why) {
        sbuf_reset(why);
        sbuf_printf(why, "bad endpoint \"%.300s\": %s", text, problem);
    }
    return -1;
}

static int host_chars_ok(const char *h, size_t n, int bracketed)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) h[i];
        if (isalnum(c) || c == '.' || c == '-' || c == '_')
            continue;
        if (bracketed && (c == ':' || c == '%'))
            continue;
        return 0;
    }
    return 1;
}

int sock_parse_endpoint(const char *text, const char *default_port, sock_endpoint *ep, sbuf *why)
{
    const char *orig = text;
    memset(ep, 0, sizeof(*ep));
    if (!text || !*text)
        return why_fail(why, "", "empty");
    for (const char *p = text; *p; p++)
        if ((unsigned char) *p <= 0x20 || (unsigned char) *p == 0x7f)
            return why_fail(why, orig, "contains white space or a control character");

    if (strncmp(text, "unix:", 5) == 0) {
        size_t n = strlen(text + 5);
        if (n == 0)
            return why_fail(why, orig, "empty path");
        if (n > SOCK_PATH_MAX)
            return why_fail(why, orig, "path too long");
        ep->kind = SOCK_EP_UNIX;
        memcpy(ep->path, text + 5, n + 1);
        return 0;
    }
    if (strncmp(text, "inet:", 5) == 0)
        text += 5;
    ep->kind = SOCK_EP_INET;

    const char *host, *port = 0;
    size_t hlen;
    int v6bare = 0;
    if (*text == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return why_fail(why, orig, "missing ']'");
        host = text + 1;
        hlen = (size_t) (close - host);
        ep->bracketed = 1;
        if (hlen == 0)
            return why_fail(why, orig, "empty host in brackets");
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != 0)
            return why_fail(why, orig, "unexpected text after ']'");
    } else {
        const char *colon = strchr(text, ':');
        host = text;
        if (colon && strchr(colon + 1, ':')) {
            /* Several colons: only a bare IPv6 address without a port. */
            struct in6_addr a6;
            if (inet_pton(AF_INET6, text, &a6) != 1 || !default_port)
                return why_fail(why, orig, "an IPv6 address with a port must be in brackets");
            hlen = strlen(text);
            v6bare = 1;
        } else if (colon) {
            hlen = (size_t) (colon - text);
            port = colon + 1;
        } else {
            hlen = strlen(text);
        }
    }
    if (hlen > SOCK_HOST_MAX)
        return why_fail(why, orig, "host name too long");
    if (hlen == 0 && !port)
        return why_fail(why, orig, "empty host");
    if (!host_chars_ok(host, hlen, ep->bracketed || v6bare))
        return why_fail(why, orig, "bad character in host");
    memcpy(ep->host, host, hlen);
    ep->host[hlen] = 0;

    if (port) {
        if (!valid_port_syntax(port))
            return why_fail(why, orig, "bad port");
        if (isdigit((unsigned char) *port) && sock_port_number(port) < 0)
            return why_fail(why, orig, "bad port number");
    } else if (default_port) {
        port = default_port;
    } else {
        return why_fail(why, orig, "missing port");
    }
    if (strlen(port) > SOCK_PORT_MAX)
        return why_fail(why, orig, "bad port");
    snprintf(ep->port, sizeof(ep->port), "%s", port);
    return 0;
}
