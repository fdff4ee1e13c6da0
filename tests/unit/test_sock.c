/* test_sock.c - unit tests for util/sock: listen/connect on loopback and UNIX sockets, parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "util/sock.h"
#include "util/sbuf.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void) state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hk_test_sock.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    char cmd[128];
    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &ss, &len), 0);
    return sock_addr_port((struct sockaddr *) &ss);
}

static void assert_cloexec(int fd)
{
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static void exchange(int a, int b)
{
    char buf[8];
    assert_int_equal(write(a, "ping", 4), 4);
    assert_int_equal(read(b, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
}

static void test_inet_loopback(void **state)
{
    (void) state;
    int lfd = sock_listen_inet("127.0.0.1", "0", AF_UNSPEC, 10);
    assert_true(lfd >= 0);
    assert_cloexec(lfd);
    assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
    int port = local_port(lfd);
    assert_true(port > 0);

    /* Nothing pending: a non-blocking accept says so. */
    assert_int_equal(sock_accept(lfd, 0, 0), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);

    char pbuf[16];
    snprintf(pbuf, sizeof(pbuf), "%d", port);
    int c = sock_connect_inet("127.0.0.1", pbuf, 0, 1000);
    assert_true(c >= 0);
    assert_cloexec(c);
    assert_false(fcntl(c, F_GETFL) & O_NONBLOCK);
    struct sockaddr_storage peer;
    socklen_t plen;
    int s = sock_accept(lfd, &peer, &plen);
    assert_true(s >= 0);
    assert_cloexec(s);
    exchange(c, s);
    exchange(s, c);

    char addr[SOCK_ADDR_STRLEN];
    assert_string_equal(sock_addr_str((struct sockaddr *) &peer, plen, addr), "127.0.0.1");
    sbuf e = SBUF_INIT;
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(sock_addr_numeric("127.0.0.1", pbuf, AF_INET, &ss, &len), 0);
    sock_endpoint_str(&e, 0, (struct sockaddr *) &ss, len);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1[127.0.0.1]:%d", port);
    assert_string_equal(sbuf_str(&e), want);
    sbuf_reset(&e);
    sock_endpoint_str(&e, "localhost", (struct sockaddr *) &ss, len);
    snprintf(want, sizeof(want), "localhost[127.0.0.1]:%d", port);
    assert_string_equal(sbuf_str(&e), want);
    sbuf_free(&e);
    close(c);
    close(s);
    close(lfd);
}

static void test_bind_address(void **state)
{
    (void) state;
    /* smtp_bind_address: the whole of 127.0.0.0/8 is on lo. */
    int lfd = sock_listen_inet("127.0.0.1", "0", AF_INET, 10);
    assert_true(lfd >= 0);
    char pbuf[16];
    snprintf(pbuf, sizeof(pbuf), "%d", local_port(lfd));
    int c = sock_connect_inet("127.0.0.1", pbuf, "127.0.0.2", 1000);
    if (c < 0 && errno == EADDRNOTAVAIL) {
        close(lfd);
        skip();
    }
    assert_true(c >= 0);
    struct sockaddr_storage peer;
    socklen_t plen;
    int s = sock_accept(lfd, &peer, &plen);
    assert_true(s >= 0);
    char addr[SOCK_ADDR_STRLEN];
    assert_string_equal(sock_addr_str((struct sockaddr *) &peer, plen, addr), "127.0.0.2");
    close(c);
    close(s);
    close(lfd);
}

static void test_ipv6_loopback(void **state)
{
    (void) state;
    int lfd = sock_listen_inet("::1", "0", AF_UNSPEC, 10);
    if (lfd < 0) {
        skip();                 /* no IPv6 on this host */
    }
    char pbuf[16];
    snprintf(pbuf, sizeof(pbuf), "%d", local_port(lfd));
    int c = sock_connect_inet("::1", pbuf, 0, 1000);
    assert_true(c >= 0);
    struct sockaddr_storage peer;
    socklen_t plen;
    int s = sock_accept(lfd, &peer, &plen);
    assert_true(s >= 0);
    char addr[SOCK_ADDR_STRLEN];
    assert_string_equal(sock_addr_str((struct sockaddr *) &peer, plen, addr), "::1");
    sbuf e = SBUF_INIT;
    sock_endpoint_str(&e, "h", (struct sockaddr *) &peer, plen);
    assert_true(strncmp(sbuf_str(&e), "h[::1]:", 7) == 0);
    sbuf_free(&e);
    close(c);
    close(s);
    close(lfd);
}

static void test_wildcards_and_literals(void **state)
{
    (void) state;
    struct sockaddr_storage ss;
    socklen_t len;
    char addr[SOCK_ADDR_STRLEN];
    assert_int_equal(sock_addr_numeric("all", "25", AF_UNSPEC, &ss, &len), 0);
    assert_string_equal(sock_addr_str((struct sockaddr *) &ss, len, addr), "0.0.0.0");
    assert_int_equal(sock_addr_port((struct sockaddr *) &ss), 25);
    assert_int_equal(sock_addr_numeric(0, "25", AF_INET6, &ss, &len), 0);
    assert_string_equal(sock_addr_str((struct sockaddr *) &ss, len, addr), "::");
    assert_int_equal(sock_addr_numeric("2001:db8::1", "587", AF_UNSPEC, &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    /* No DNS: a name is not a literal. */
    assert_int_equal(sock_addr_numeric("localhost", "25", AF_UNSPEC, &ss, &len), -1);
    assert_int_equal(sock_addr_numeric("example.com", "25", AF_UNSPEC, &ss, &len), -1);
    /* Family mismatch. */
    assert_int_equal(sock_addr_numeric("127.0.0.1", "25", AF_INET6, &ss, &len), -1);
    /* Ports. */
    assert_int_equal(sock_addr_numeric("127.0.0.1", "65536", AF_INET, &ss, &len), -1);
    assert_int_equal(sock_addr_numeric("127.0.0.1", "x y", AF_INET, &ss, &len), -1);
    assert_int_equal(sock_port_number("25"), 25);
    assert_int_equal(sock_port_number("0"), -1);
    assert_int_equal(sock_port_number("65535"), 65535);
    assert_int_equal(sock_port_number("65536"), -1);
    assert_int_equal(sock_port_number("25x"), -1);
    assert_int_equal(sock_port_number(""), -1);
    assert_int_equal(sock_port_number("no-such-service-name"), -1);
    int smtp = sock_port_number("smtp");
    assert_true(smtp == 25 || smtp == -1);      /* -1 only without /etc/services */
    /* Connecting to a wildcard is refused. */
    assert_int_equal(sock_connect_inet("all", "25", 0, 100), -1);
    assert_int_equal(errno, EINVAL);
}

static void test_connection_refused(void **state)
{
    (void) state;
    /* Take an ephemeral port, then close it: nothing listens there now. */
    int lfd = sock_listen_inet("127.0.0.1", "0", AF_INET, 1);
    assert_true(lfd >= 0);
    char pbuf[16];
    snprintf(pbuf, sizeof(pbuf), "%d", local_port(lfd));
    close(lfd);
    int64_t t0 = mono_ms();
    assert_int_equal(sock_connect_inet("127.0.0.1", pbuf, 0, 2000), -1);
    assert_int_equal(errno, ECONNREFUSED);
    assert_true(mono_ms() - t0 < 1500);
}

static void test_connect_timeout(void **state)
{
    (void) state;
    /* A listener that never accepts: once its queue is full, further SYNs
     * go unanswered on loopback and a connect must give up on time. */
    int lfd = sock_listen_inet("127.0.0.1", "0", AF_INET, 0);
    assert_true(lfd >= 0);
    char pbuf[16];
    snprintf(pbuf, sizeof(pbuf), "%d", local_port(lfd));
    int fds[16];
    int n = 0, timed_out = 0;
    for (; n < 16; n++) {
        int64_t t0 = mono_ms();
        fds[n] = sock_connect_inet("127.0.0.1", pbuf, 0, 150);
        if (fds[n] < 0) {
            assert_int_equal(errno, ETIMEDOUT);
            int64_t dt = mono_ms() - t0;
            assert_true(dt >= 140 && dt < 2000);
            timed_out = 1;
            break;
        }
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(lfd);
    if (!timed_out)
        skip();                 /* this kernel accepted them all (syncookies etc.) */
}

static void test_unix_stream(void **state)
{
    (void) state;
    char path[128];
    snprintf(path, sizeof(path), "%s/cleanup", tmpdir);
    int lfd = sock_listen_unix(path, 10, 0622);
    assert_true(lfd >= 0);
    assert_cloexec(lfd);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0622);

    int c = sock_connect_unix(path, 1000);
    assert_true(c >= 0);
    assert_cloexec(c);
    int s = sock_accept(lfd, 0, 0);
    assert_true(s >= 0);
    exchange(c, s);

    /* A live server is not unlinked from under its feet. */
    assert_int_equal(sock_listen_unix(path, 10, 0666), -1);
    assert_int_equal(errno, EADDRINUSE);
    close(c);
    close(s);
    close(lfd);

    /* The server died leaving its socket: the next listen replaces it. */
    lfd = sock_listen_unix(path, 10, 0666);
    assert_true(lfd >= 0);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0666);
    close(lfd);

    /* Connecting to a dead socket is refused; to nothing, ENOENT. */
    assert_int_equal(sock_connect_unix(path, 100), -1);
    assert_int_equal(errno, ECONNREFUSED);
    unlink(path);
    assert_int_equal(sock_connect_unix(path, 100), -1);
    assert_int_equal(errno, ENOENT);

    /* A regular file is never unlinked. */
    char file[128];
    snprintf(file, sizeof(file), "%s/regular", tmpdir);
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sock_listen_unix(file, 10, 0666), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(access(file, F_OK), 0);

    /* Too long a path. */
    char longp[300];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = 0;
    assert_int_equal(sock_listen_unix(longp, 10, 0666), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(sock_connect_unix(longp, 100), -1);
    assert_int_equal(errno, ENAMETOOLONG);
}

static void test_unix_backlog_timeout(void **state)
{
    (void) state;
    /* A UNIX listener that never accepts: connect retries, then times out. */
    char path[128];
    snprintf(path, sizeof(path), "%s/busy", tmpdir);
    int lfd = sock_listen_unix(path, 0, 0666);
    assert_true(lfd >= 0);
    int fds[64], n = 0, timed_out = 0;
    for (; n < 64; n++) {
        int64_t t0 = mono_ms();
        fds[n] = sock_connect_unix(path, 100);
        if (fds[n] < 0) {
            assert_int_equal(errno, ETIMEDOUT);
            assert_true(mono_ms() - t0 >= 90);
            timed_out = 1;
            break;
        }
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(lfd);
    unlink(path);
    assert_true(timed_out);
}

static void test_unix_dgram_and_fifo(void **state)
{
    (void) state;
    char path[128];
    char buf[32];
    snprintf(path, sizeof(path), "%s/postlog", tmpdir);
    int d = sock_listen_unix_dgram(path, 0666);
    assert_true(d >= 0);
    int c = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", path);
    assert_int_equal(sendto(c, "log line", 8, 0, (struct sockaddr *) &sun, sizeof(sun)), 8);
    assert_int_equal(recv(d, buf, sizeof(buf), 0), 8);
    assert_memory_equal(buf, "log line", 8);
    close(c);
    close(d);
    /* Stale datagram socket replaced. */
    d = sock_listen_unix_dgram(path, 0600);
    assert_true(d >= 0);
    close(d);

    snprintf(path, sizeof(path), "%s/pickup", tmpdir);
    int f = sock_listen_fifo(path, 0622);
    assert_true(f >= 0);
    assert_cloexec(f);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0622);
    int w = open(path, O_WRONLY | O_NONBLOCK);
    assert_true(w >= 0);
    assert_int_equal(write(w, "W", 1), 1);
    close(w);
    assert_int_equal(read(f, buf, sizeof(buf)), 1);
    /* Opened read-write: no EOF when the writers are gone, just nothing. */
    assert_int_equal(read(f, buf, sizeof(buf)), -1);
    assert_int_equal(errno, EAGAIN);
    close(f);
    /* Re-created over the old FIFO. */
    f = sock_listen_fifo(path, 0600);
    assert_true(f >= 0);
    close(f);
}

struct ep_case {
    const char *text;
    const char *dflt;
    int ok;
    int kind;
    int bracketed;
    const char *host;
    const char *port;
    const char *path;
};

static void test_parse_endpoint(void **state)
{
    (void) state;
    static const struct ep_case cases[] = {
        { "mail.example.com:25", 0, 1, SOCK_EP_INET, 0, "mail.example.com", "25", 0 },
        { "[mail.example.com]:587", 0, 1, SOCK_EP_INET, 1, "mail.example.com", "587", 0 },
        { "[::1]:25", 0, 1, SOCK_EP_INET, 1, "::1", "25", 0 },
        { "[fe80::1%lo]:25", 0, 1, SOCK_EP_INET, 1, "fe80::1%lo", "25", 0 },
        { "[192.0.2.1]", "smtp", 1, SOCK_EP_INET, 1, "192.0.2.1", "smtp", 0 },
        { "relay.example", "25", 1, SOCK_EP_INET, 0, "relay.example", "25", 0 },
        { "inet:localhost:10025", 0, 1, SOCK_EP_INET, 0, "localhost", "10025", 0 },
        { "inet:[127.0.0.1]:smtp", 0, 1, SOCK_EP_INET, 1, "127.0.0.1", "smtp", 0 },
        { "127.0.0.1:smtp", 0, 1, SOCK_EP_INET, 0, "127.0.0.1", "smtp", 0 },
        { ":2525", 0, 1, SOCK_EP_INET, 0, "", "2525", 0 },
        { "::1", "25", 1, SOCK_EP_INET, 0, "::1", "25", 0 },
        { "unix:/var/run/lmtp", 0, 1, SOCK_EP_UNIX, 0, "", "", "/var/run/lmtp" },
        { "unix:private/dovecot-lmtp", 0, 1, SOCK_EP_UNIX, 0, "", "", "private/dovecot-lmtp" },
        { "", "25", 0, 0, 0, 0, 0, 0 },
        { "host", 0, 0, 0, 0, 0, 0, 0 },                  /* no port, no default */
        { "host:", 0, 0, 0, 0, 0, 0, 0 },
        { "host:99999", 0, 0, 0, 0, 0, 0, 0 },
        { "host:0", 0, 0, 0, 0, 0, 0, 0 },
        { "host:2 5", 0, 0, 0, 0, 0, 0, 0 },
        { "::1:25", 0, 0, 0, 0, 0, 0, 0 },                /* IPv6 with port needs brackets */
        { "[::1", "25", 0, 0, 0, 0, 0, 0 },
        { "[]:25", 0, 0, 0, 0, 0, 0, 0 },
        { "[::1]x", 0, 0, 0, 0, 0, 0, 0 },
        { "[::1]:", 0, 0, 0, 0, 0, 0, 0 },
        { "ho st:25", 0, 0, 0, 0, 0, 0, 0 },
        { "host\n:25", 0, 0, 0, 0, 0, 0, 0 },
        { "ho%st:25", 0, 0, 0, 0, 0, 0, 0 },
        { "inet:", "25", 0, 0, 0, 0, 0, 0 },
        { "unix:", 0, 0, 0, 0, 0, 0, 0 },
        { "a:b:c", 0, 0, 0, 0, 0, 0, 0 },
    };
    sbuf why = SBUF_INIT;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct ep_case *c = &cases[i];
        sock_endpoint ep;
        sbuf_reset(&why);
        int r = sock_parse_endpoint(c->text, c->dflt, &ep, &why);
        if (!c->ok) {
            if (r != -1)
                fail_msg("\"%s\" was accepted", c->text);
            assert_true(why.len > 0);
            continue;
        }
        if (r != 0)
            fail_msg("\"%s\" refused: %s", c->text, sbuf_str(&why));
        assert_int_equal(ep.kind, c->kind);
        assert_int_equal(ep.bracketed, c->bracketed);
        assert_string_equal(ep.host, c->host);
        assert_string_equal(ep.port, c->port);
        assert_string_equal(ep.path, c->path ? c->path : "");
    }
    /* Over-long host and path. */
    char big[400];
    memset(big, 'h', 300);
    strcpy(big + 300, ":25");
    sock_endpoint ep;
    assert_int_equal(sock_parse_endpoint(big, 0, &ep, &why), -1);
    memcpy(big, "unix:/", 6);
    big[300] = 0;
    assert_int_equal(sock_parse_endpoint(big, 0, &ep, &why), -1);
    assert_non_null(strstr(sbuf_str(&why), "path too long"));
    sbuf_free(&why);
}

static void test_flags(void **state)
{
    (void) state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(sock_set_cloexec(p[0], 1), 0);
    assert_cloexec(p[0]);
    assert_int_equal(sock_set_cloexec(p[0], 0), 0);
    assert_false(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(sock_set_nonblock(p[0], 1), 0);
    assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    assert_int_equal(sock_set_nonblock(p[0], 0), 0);
    assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    close(p[0]);
    close(p[1]);
    assert_int_equal(sock_set_nonblock(p[0], 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inet_loopback),
        cmocka_unit_test(test_bind_address),
        cmocka_unit_test(test_ipv6_loopback),
        cmocka_unit_test(test_wildcards_and_literals),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_unix_stream),
        cmocka_unit_test(test_unix_backlog_timeout),
        cmocka_unit_test(test_unix_dgram_and_fifo),
        cmocka_unit_test(test_parse_endpoint),
        cmocka_unit_test(test_flags),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
