/*
 * sock.h - socket helpers: listen, accept, connect with a timeout, format, parse.
 *
 * Listeners: inet (IPv4/IPv6 literal or wildcard), UNIX stream and
 * datagram sockets, FIFOs. Every descriptor made here is close-on-exec
 * (master dup2()s the ones a child must inherit, which clears the flag).
 * Listening sockets and FIFOs are non-blocking, so a worker that loses
 * an accept race to a sibling gets EAGAIN instead of hanging. Accepted and
 * connected sockets are blocking; put them in a vstream with a timeout.
 *
 * Failures return -1 with errno set and never exit; a connect that does
 * not complete within the timeout fails with ETIMEDOUT. A host that is
 * not a numeric literal is EINVAL everywhere except sock_lookup(), the
 * one function here that may consult the resolver (DNS, /etc/hosts): the
 * caller chooses it explicitly. Port names ("smtp") are looked up in the
 * services database (/etc/services), never in DNS.
 *
 * UNIX sockets: an existing socket at the path is replaced only if no
 * server answers on it (EADDRINUSE otherwise); anything that is not a
 * socket is left alone (EEXIST). The file is created mode 0 and then
 * given the requested mode, so it is never briefly more open than asked.
 * Paths must fit sun_path (ENAMETOOLONG).
 *
 * Endpoint syntax (sock_parse_endpoint), as in Postfix: "host", "host:port",
 * "[host]", "[host]:port", "[::1]:25", "inet:host:port", "unix:/path" (or a
 * relative "unix:private/x"). Brackets mark a literal host (for SMTP: no
 * MX lookup) and are required around an IPv6 address that has a port.
 *
 * NOT HERE: no I/O beyond connect/accept (vstream.h), no DNS except
 * sock_lookup, no policy (which interfaces, which protocols).
 */
#ifndef HK_UTIL_SOCK_H
#define HK_UTIL_SOCK_H

#include <sys/socket.h>
#include <sys/types.h>

#include "util/sbuf.h"

#define SOCK_ADDR_STRLEN 80     /* IPv6 text with a scope id, or a short path */
#define SOCK_HOST_MAX 255
#define SOCK_PORT_MAX 63
#define SOCK_PATH_MAX 107       /* sun_path without its NUL */

int sock_set_cloexec(int fd, int on);
int sock_set_nonblock(int fd, int on);
/* TCP_NODELAY: a program that writes whole buffers and then waits for a
 * reply should not have its last partial segment held back (Nagle) until
 * the peer's delayed ACK, up to 40 ms per message. */
int sock_set_nodelay(int fd);

/* ---- addresses ---- */

/* Port number (1..65535) of "25" or a service name, or -1 (EINVAL). */
int sock_port_number(const char *port);
/* Numeric host + port to a socket address. host NULL, "", "all" or "*" is
 * the wildcard of family (AF_INET6: "::", else "0.0.0.0"); a literal's
 * own family must match family unless family is AF_UNSPEC. */
int sock_addr_numeric(const char *host, const char *port, int family,
                      struct sockaddr_storage *ss, socklen_t *len);
/* Resolve host (names allowed: uses the system resolver) into at most max
 * addresses of family (AF_UNSPEC: both). Returns the count (>= 1) or -1
 * (errno ENOENT: no such host, EAGAIN: temporary failure, EINVAL). */
int sock_lookup(const char *host, const char *port, int family,
                struct sockaddr_storage *out, int max);
socklen_t sock_addr_len(const struct sockaddr *sa);    /* by family; 0 if unknown */
int sock_addr_port(const struct sockaddr *sa);          /* inet port, 0 otherwise */
/* "192.0.2.1", "2001:db8::1", a UNIX path, or "unknown"; returns buf. */
const char *sock_addr_str(const struct sockaddr *sa, socklen_t len, char buf[SOCK_ADDR_STRLEN]);
/* Appends "host[addr]:port" (inet) or "host[path]" (UNIX); host NULL means
 * the address itself, as in "connect to 192.0.2.1[192.0.2.1]:25". */
void sock_endpoint_str(sbuf *out, const char *host, const struct sockaddr *sa, socklen_t len);

/* ---- listening ---- */

int sock_listen_addr(const struct sockaddr *sa, socklen_t len, int backlog);
/* host/family as sock_addr_numeric; port may be "0" (see getsockname). */
int sock_listen_inet(const char *host, const char *port, int family, int backlog);
int sock_listen_unix(const char *path, int backlog, mode_t mode);
int sock_listen_unix_dgram(const char *path, mode_t mode);
/* Create (or re-create) a FIFO and open it read-write, so it never reads EOF. */
int sock_listen_fifo(const char *path, mode_t mode);
/* Accept one connection (blocking socket, close-on-exec). peer/len may be
 * NULL. EAGAIN when nothing is pending on a non-blocking listener. */
int sock_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *len);

/* ---- connecting (timeout_ms < 0: no limit) ---- */

/* Connect to sa, first binding the local end to bind_sa if non-NULL
 * (smtp_bind_address). A UNIX server with a full backlog is retried
 * until the timeout. */
int sock_connect_addr(const struct sockaddr *sa, socklen_t len,
                      const struct sockaddr *bind_sa, socklen_t bind_len, int timeout_ms);
/* Numeric host (non-empty) and port; bind_host NULL or a numeric address. */
int sock_connect_inet(const char *host, const char *port, const char *bind_host, int timeout_ms);
int sock_connect_unix(const char *path, int timeout_ms);

/* ---- endpoint syntax ---- */

enum { SOCK_EP_INET = 1, SOCK_EP_UNIX = 2 };

typedef struct sock_endpoint {
    int     kind;                       /* SOCK_EP_INET or SOCK_EP_UNIX */
    int     bracketed;                  /* host was written as [host] */
    char    host[SOCK_HOST_MAX + 1];    /* without brackets; "" in ":port" */
    char    port[SOCK_PORT_MAX + 1];    /* as written, or default_port */
    char    path[SOCK_PATH_MAX + 1];    /* SOCK_EP_UNIX */
} sock_endpoint;

/* Parse text; default_port (may be NULL) is used when no port is given,
 * otherwise a missing port is an error. 0, or -1 with why (may be NULL)
 * saying what is wrong. The host is checked for syntax only. */
int sock_parse_endpoint(const char *text, const char *default_port, sock_endpoint *ep,
                        sbuf *why);

#endif
