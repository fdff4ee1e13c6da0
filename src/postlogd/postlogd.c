/*
 * postlogd - the maillog_file writer (master.cf: postlog unix-dgram ... postlogd).
 *
 * Every Hikyaku process sends finished log lines as datagrams to
 * $queue_directory/public/postlog; master starts one postlogd when the
 * first arrives. postlogd opens maillog_file for appending while still
 * root (creating it mode 0600, owned by root, as Postfix does), then drops
 * to mail_owner and writes one line per datagram: control characters
 * become '?' (one datagram can never forge two lines), a line is cut at
 * POSTLOGD_LINE_MAX bytes and always ends in a newline.
 *
 * Rotation: when the file at maillog_file is no longer the one it has
 * open (renamed or removed; checked at most once a second), postlogd
 * writes the current line and exits; master starts a fresh one for the
 * next datagram, which opens the new file as root. "postfix reload" does
 * the same at once. postlogd's own messages go straight to the open
 * file, never through the socket it serves.
 *
 * maillog_file must start with one of maillog_file_prefixes ("/var,
 * /dev/stdout" by default): a configuration mistake cannot make a root
 * process append to an arbitrary file. Not here: compression and
 * renaming (postfix logrotate).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "util/msg.h"
#include "util/safe_file.h"
#include "util/strv.h"

#define POSTLOGD_LINE_MAX 8192

static int log_fd = -1;
static dev_t log_dev;
static ino_t log_ino;
static bool log_is_device;
static time_t last_check;
static const char *log_path;

static bool prefix_allowed(const char *path)
{
    strv prefixes;
    strv_init(&prefixes);
    mail_conf_list("maillog_file_prefixes", &prefixes);
    bool ok = false;
    for (size_t i = 0; i < prefixes.n && !ok; i++)
        ok = strncmp(path, prefixes.v[i], strlen(prefixes.v[i])) == 0;
    strv_free(&prefixes);
    return ok;
}

static void open_log(void)
{
    /* Until the file is open, problems go to syslog: a datagram to our
     * own socket would only wake another postlogd with the same problem. */
    msg_set_targets((msg_get_targets() & ~MSG_TO_POSTLOG) | MSG_TO_SYSLOG);
    log_path = mail_conf_str("maillog_file");
    if (!*log_path)
        msg_fatal("maillog_file is empty: there is nothing to log to (remove the postlog "
                  "service from master.cf, or set maillog_file)");
    if (!prefix_allowed(log_path))
        msg_fatal("refusing to log to \"%s\": it does not start with one of "
                  "maillog_file_prefixes (%s)", log_path, mail_conf_str("maillog_file_prefixes"));
    log_is_device = strncmp(log_path, "/dev/", 5) == 0;
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY;
    if (!log_is_device)
        flags |= O_CREAT | O_NOFOLLOW;
    log_fd = open(log_path, flags, 0600);
    if (log_fd < 0)
        msg_fatal("open logfile %s: %m", log_path);
    struct stat st;
    if (fstat(log_fd, &st) < 0)
        msg_fatal("fstat %s: %m", log_path);
    if (!log_is_device && !S_ISREG(st.st_mode))
        msg_fatal("logfile %s is not a regular file", log_path);
    log_dev = st.st_dev;
    log_ino = st.st_ino;
    last_check = time(0);
    /* Our own messages: into the same file, never through our socket. */
    msg_set_logfd(log_fd);
    msg_set_targets((msg_get_targets() & ~(MSG_TO_POSTLOG | MSG_TO_SYSLOG)) | MSG_TO_FILE);
}

/* True when maillog_file now names another file than the one we hold. */
static bool rotated(void)
{
    time_t now = time(0);
    if (log_is_device || now == last_check)
        return false;
    last_check = now;
    struct stat st;
    if (stat(log_path, &st) < 0)
        return errno == ENOENT;
    return st.st_dev != log_dev || st.st_ino != log_ino;
}

static void write_line(const char *buf, size_t len)
{
    char line[POSTLOGD_LINE_MAX + 1];
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == 0))
        len--;
    if (len == 0)
        return;
    if (len > POSTLOGD_LINE_MAX)
        len = POSTLOGD_LINE_MAX;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) buf[i];
        line[i] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char) c;
    }
    line[len] = '\n';
    if (write_full(log_fd, line, len + 1) < 0) {
        /* Nowhere to report it but the file that failed; try once. */
        static time_t warned;
        time_t now = time(0);
        if (now != warned) {
            warned = now;
            msg_warn("write logfile %s: %m", log_path);
        }
    }
}

static void on_datagram(const char *buf, size_t len, const char *service)
{
    bool moved = rotated();
    write_line(buf, len);
    if (moved) {
        /* A fresh process (started by master for the next datagram)
         * opens the new file as root; we no longer can. */
        msg_info("logfile %s was rotated: restarting", log_path);
        exit(0);
    }
}

/* Lines already queued when we were told to stop are not lost. */
static void drain(void)
{
    if (mail_server_standalone() || log_fd < 0)
        return;
    static char buf[65536];
    ssize_t got;
    int n = 0;
    while (n++ < 10000
           && (got = recv(MASTER_LISTEN_FD, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0)
        write_line(buf, (size_t) got);
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "postlogd",
        .kind = MAIL_SERVER_DGRAM,
        .pre_init = open_log,
        .trigger = on_datagram,
        .pre_exit = drain,
    };
    return mail_server_main(argc, argv, &srv);
}
