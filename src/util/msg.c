/*
 * msg.c - the one logger (see msg.h).
 *
 * Each line is built once, sanitised, and written with a single write(2)
 * per target so lines from concurrent processes do not interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "util/msg.h"

int msg_verbose;

static char program[64] = "hikyaku";
static char syslog_name[128] = "postfix";
static char tag[200] = "postfix/hikyaku";
static char logfile[4096];
static char postlog_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
static int targets = MSG_TO_STDERR;
static int facility = LOG_MAIL;
static int syslog_open;
static int postlog_fd = -1;
static int log_fd = -1;             /* msg_set_logfd: MSG_TO_FILE goes here */
static int postlog_wait_ms = 1000;  /* msg_set_postlog_wait */
static int stderr_long;
static void (*cleanup_fn)(void);
static int in_fatal;

static void update_tag(void)
{
    snprintf(tag, sizeof(tag), "%s/%s", syslog_name, program);
    if (syslog_open) {
        closelog();
        syslog_open = 0;
    }
}

void msg_init(const char *prog, int t)
{
    const char *slash = strrchr(prog, '/');
    snprintf(program, sizeof(program), "%s", slash ? slash + 1 : prog);
    targets = t;
    update_tag();
}

void msg_set_targets(int t) { targets = t; }
int msg_get_targets(void) { return targets; }
const char *msg_program(void) { return program; }
const char *msg_tag(void) { return tag; }
void msg_set_cleanup(void (*fn)(void)) { cleanup_fn = fn; }
void msg_set_stderr_long(int on) { stderr_long = on; }

void msg_set_syslog_name(const char *name)
{
    snprintf(syslog_name, sizeof(syslog_name), "%s", name && *name ? name : "postfix");
    update_tag();
}

void msg_set_facility(const char *name)
{
    static const struct { const char *name; int code; } map[] = {
        {"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
        {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
        {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
        {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(name, map[i].name) == 0) {
            facility = map[i].code;
            update_tag();
            return;
        }
    msg_warn("unknown syslog_facility \"%s\", using mail", name);
}

void msg_set_logfile(const char *path)
{
    snprintf(logfile, sizeof(logfile), "%s", path ? path : "");
}

void msg_set_postlog_wait(int ms)
{
    postlog_wait_ms = ms < 0 ? 0 : ms;
}

void msg_set_logfd(int fd)
{
    log_fd = fd;
}

void msg_set_postlog(const char *path)
{
    snprintf(postlog_path, sizeof(postlog_path), "%s", path ? path : "");
    if (postlog_fd >= 0) {
        close(postlog_fd);
        postlog_fd = -1;
    }
}

int msg_format_line(char *buf, int size, const char *text)
{
    char host[256] = "localhost";
    struct timespec ts;
    struct tm tm;
    char when[32];

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    char *dot = strchr(host, '.');
    if (dot)
        *dot = 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
    int n = snprintf(buf, (size_t) size, "%s %s %s[%ld]: %s\n", when, host, tag,
                     (long) getpid(), text);
    if (n >= size) {
        n = size - 1;
        buf[n - 1] = '\n';
    }
    return n;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t) w;
    }
}

static int send_postlog(const char *line, int len)
{
    if (postlog_fd < 0) {
        postlog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (postlog_fd < 0)
            return -1;
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, postlog_path, strlen(postlog_path));
        if (connect(postlog_fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
            close(postlog_fd);
            postlog_fd = -1;
            return -1;
        }
    }
    /* The socket queue is short (net.unix.max_dgram_qlen): wait a little
     * for postlogd to make room, never long (postlog_wait_ms; master,
     * which owns the socket and must start postlogd itself, waits 0). */
    ssize_t sent;
    int waited = 0;
    while ((sent = send(postlog_fd, line, (size_t) len, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0
           && (errno == EAGAIN || errno == EINTR) && waited < postlog_wait_ms) {
        struct pollfd p = {postlog_fd, POLLOUT, 0};
        int step = postlog_wait_ms - waited < 100 ? postlog_wait_ms - waited : 100;
        poll(&p, 1, step);
        waited += step;
    }
    if (sent != len) {
        close(postlog_fd);
        postlog_fd = -1;
        return -1;
    }
    return 0;
}

static void append_file(const char *line, int len)
{
    if (log_fd >= 0) {
        write_all(log_fd, line, (size_t) len);
        return;
    }
    /* /dev/stdout is a symbolic link by nature; elsewhere never follow one.
     * A new log file is private to its owner (root), as postlogd makes it. */
    int nofollow = strncmp(logfile, "/dev/", 5) == 0 ? 0 : O_NOFOLLOW;
    int fd = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | nofollow, 0600);
    if (fd < 0) {
        if (targets & MSG_TO_STDERR)
            return;
        write_all(2, line, (size_t) len);
        return;
    }
    write_all(fd, line, (size_t) len);
    close(fd);
}

void msg_vlog(int level, const char *fmt, va_list ap)
{
    static const char *prefix[] = {"", "warning: ", "error: ", "fatal: ", "panic: "};
    static const int prio[] = {LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT, LOG_CRIT};
    char text[4096];
    char line[4400];
    int saved_errno = errno;

    int n = snprintf(text, sizeof(text), "%s", prefix[level]);
    errno = saved_errno;
    vsnprintf(text + n, sizeof(text) - (size_t) n, fmt, ap);
    for (char *p = text; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            *p = '?';

    if (targets & MSG_TO_STDERR) {
        int len;
        if (stderr_long)
            len = msg_format_line(line, sizeof(line), text);
        else {
            len = snprintf(line, sizeof(line), "%s: %s\n", program, text);
            if (len >= (int) sizeof(line))
                len = (int) sizeof(line) - 1;
        }
        write_all(2, line, (size_t) len);
    }
    if (targets & MSG_TO_SYSLOG) {
        if (!syslog_open) {
            openlog(tag, LOG_PID | LOG_NDELAY, facility);
            syslog_open = 1;
        }
        syslog(prio[level], "%s", text);
    }
    if (targets & (MSG_TO_FILE | MSG_TO_POSTLOG)) {
        int len = msg_format_line(line, sizeof(line), text);
        if ((targets & MSG_TO_POSTLOG) && postlog_path[0]) {
            if (send_postlog(line, len) < 0 && logfile[0])
                append_file(line, len);
        } else if ((targets & MSG_TO_FILE) && (logfile[0] || log_fd >= 0)) {
            append_file(line, len);
        }
    }
    errno = saved_errno;
}

#define LOGGER(fn, level) \
    void fn(const char *fmt, ...) \
    { \
        va_list ap; \
        va_start(ap, fmt); \
        msg_vlog(level, fmt, ap); \
        va_end(ap); \
    }

LOGGER(msg_info, MSG_INFO)
LOGGER(msg_warn, MSG_WARN)
LOGGER(msg_error, MSG_ERROR)

void msg_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msg_vlog(MSG_FATAL, fmt, ap);
    va_end(ap);
    if (!in_fatal++ && cleanup_fn)
        cleanup_fn();
    exit(1);
}

void msg_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msg_vlog(MSG_PANIC, fmt, ap);
    va_end(ap);
    abort();
}
