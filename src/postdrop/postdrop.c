/*
 * postdrop - write one locally submitted message into the maildrop queue.
 *
 * Installed set-group-ID setgid_group (mode 2755) so that any user can
 * create files in maildrop/ (mode 1730 mail_owner:setgid_group: files
 * can be created there but not listed or read back). sendmail(1) runs
 * "postdrop -r" and writes the message to its standard input as queue
 * file records (docs/queue-format.md): SENDER, ATTR*, ([NOTIFY] RCPT)*,
 * CONTENT, BODY*, END. postdrop accepts only those record types, only
 * the attributes a user may set, checks every length, and writes its
 * own VERSION, SIZE, TIME and "rewrite_context" records around them:
 * the user controls the message, never the queue file's structure.
 *
 * The file is created with mode 0644 (incomplete: pickup skips it),
 * written, fsynced and marked complete (mode 0744) by qfile_commit; then
 * pickup is woken through public/pickup. On bad input, end of input
 * before END, or SIGHUP/SIGINT/SIGQUIT/SIGTERM the file is removed.
 *
 * Configuration: -c dir or MAIL_CONFIG. Because postdrop is privileged,
 * a non-default directory is accepted from a non-root user only when the
 * default main.cf lists it in alternate_config_directories (as Postfix
 * does) or, a Hikyaku extension (docs/submission.md), when the directory
 * and its main.cf are owned by root and writable by nobody else.
 *
 * Exit status (sysexits.h): 0 queued; EX_USAGE; EX_DATAERR malformed or
 * oversized input; EX_CONFIG refused configuration directory;
 * EX_TEMPFAIL the queue could not be written.
 *
 * NOT HERE: authorized_submit_users and local_login_sender_maps (not yet
 * enforced); address parsing (sendmail does it, cleanup rewrites).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "mail/mail_conf.h"
#include "mail/mail_trigger.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"
#include "util/vstream.h"

#define SMALL_RECORD_MAX 4096           /* sender, recipient, attribute, notify */
#define BODY_RECORD_MAX  (1024 * 1024)  /* one BODY record from sendmail */

/* What a user may set (everything else is the mail system's). */
static const char *const user_attrs[] = {
    "full_name", "extract_recipients", "dsn_envid", "dsn_ret", "body_type", "rewrite_context",
};

#ifdef __SANITIZE_ADDRESS__
/* Sanitizer builds: LeakSanitizer cannot stop the world in a set-gid
 * (non-dumpable) process and would abort postdrop at exit. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}
#endif

static char drop_path[4200];            /* the file to remove on a signal */
static qfile *drop_file;

static void remove_drop_file(void)
{
    if (drop_file) {
        qfile_abort(drop_file);
        drop_file = 0;
    }
    drop_path[0] = 0;
}

static void on_signal(int sig)
{
    (void) sig;
    if (drop_path[0])
        unlink(drop_path);              /* async-signal-safe */
    _exit(EX_TEMPFAIL);
}

__attribute__((format(printf, 2, 3), noreturn))
static void fatal_status(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msg_vlog(MSG_FATAL, fmt, ap);
    va_end(ap);
    remove_drop_file();
    exit(status);
}

/* Keep fds 0, 1 and 2 open, so nothing we open later becomes one of them. */
static void sane_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int nfd = open("/dev/null", O_RDWR);
            if (nfd < 0)
                _exit(EX_OSERR);
            if (nfd != fd)
                close(nfd);
        }
    }
}

static bool safe_root_owned(const char *path, bool want_dir)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return false;
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return false;
    return st.st_uid == 0 && (st.st_mode & 022) == 0;
}

/* May a non-root user make this privileged program use dir? */
static bool config_dir_allowed(const char *dir)
{
    char *err = 0;
    bool ok = false;
    if (mail_conf_try_load(DEF_CONFIG_DIR, &err) == 0) {
        strv alt = {0};
        const char *raw = mail_conf_raw("alternate_config_directories");
        strv_split(&alt, raw ? raw : "", STRV_LIST_DELIMS);
        for (size_t i = 0; i < alt.n && !ok; i++)
            ok = strcmp(alt.v[i], dir) == 0;
        strv_free(&alt);
    }
    free(err);
    if (!ok) {
        char main_cf[4200];
        snprintf(main_cf, sizeof(main_cf), "%s/main.cf", dir);
        ok = safe_root_owned(dir, true) && safe_root_owned(main_cf, false);
    }
    return ok;
}

static bool attr_allowed(const char *data, size_t len)
{
    const char *eq = memchr(data, '=', len);
    if (!eq)
        return false;
    size_t n = (size_t) (eq - data);
    for (size_t i = 0; i < sizeof(user_attrs) / sizeof(user_attrs[0]); i++)
        if (strlen(user_attrs[i]) == n && memcmp(user_attrs[i], data, n) == 0)
            return true;
    return false;
}

static bool notify_ok(const char *s)
{
    if (strcmp(s, "NEVER") == 0)
        return true;
    strv v = {0};
    strv_split(&v, s, ",");
    bool ok = v.n > 0;
    for (size_t i = 0; i < v.n && ok; i++)
        ok = strcmp(v.v[i], "SUCCESS") == 0 || strcmp(v.v[i], "FAILURE") == 0
             || strcmp(v.v[i], "DELAY") == 0;
    strv_free(&v);
    return ok;
}

static void put(qfile *q, int type, const void *data, size_t len)
{
    if (qfile_put(q, type, data, len) < 0)
        fatal_status(EX_TEMPFAIL, "write maildrop file %s: %m", qfile_file(q));
}

/* The rewrite context ends the attributes: "local" unless sendmail -G. */
static void put_context(qfile *q, bool *written, bool remote)
{
    if (*written)
        return;
    const char *ctx = remote ? "rewrite_context=remote" : "rewrite_context=local";
    put(q, QREC_ATTR, ctx, strlen(ctx));
    *written = true;
}

/* Copy the records from sendmail into q; returns the recipient count. */
static uint32_t copy_records(vstream *in, qfile *q, struct qfile_sizes *sz)
{
    enum { WANT_SENDER, ENVELOPE, CONTENT } phase = WANT_SENDER;
    bool notify_pending = false, extract = false, remote = false, ctx_written = false;
    uint32_t nrcpt = 0;
    long long limit = mail_conf_long("message_size_limit");
    sbuf data = SBUF_INIT;
    for (;;) {
        int type = qrec_read(in, &data, phase == CONTENT ? BODY_RECORD_MAX : SMALL_RECORD_MAX);
        if (type == 0)
            fatal_status(EX_DATAERR, "premature end of input");
        if (type < 0)
            fatal_status(EX_DATAERR, "malformed input: %s",
                         errno == EINVAL ? "bad record" : strerror(errno));
        if (type != QREC_BODY && memchr(data.s ? data.s : "", 0, data.len))
            fatal_status(EX_DATAERR, "malformed input: NUL byte in a '%c' record", type);
        switch (phase) {
        case WANT_SENDER:
            if (type != QREC_SENDER)
                fatal_status(EX_DATAERR, "malformed input: no sender record");
            put(q, type, data.s, data.len);
            phase = ENVELOPE;
            break;
        case ENVELOPE:
            if (type == QREC_ATTR && !ctx_written) {
                if (!attr_allowed(data.s, data.len))
                    fatal_status(EX_DATAERR, "malformed input: attribute not allowed: %.64s",
                                 sbuf_str(&data));
                if (strncmp(data.s, "rewrite_context=", 16) == 0) {
                    if (strcmp(data.s + 16, "remote") != 0 && strcmp(data.s + 16, "local") != 0)
                        fatal_status(EX_DATAERR, "malformed input: bad rewrite_context");
                    remote = strcmp(data.s + 16, "remote") == 0;
                    break;                  /* written once, by put_context */
                }
                if (strcmp(sbuf_str(&data), "extract_recipients=yes") == 0)
                    extract = true;
                put(q, type, data.s, data.len);
            } else if (type == QREC_NOTIFY && !notify_pending) {
                if (!notify_ok(sbuf_str(&data)))
                    fatal_status(EX_DATAERR, "malformed input: bad NOTIFY record");
                put_context(q, &ctx_written, remote);
                put(q, type, data.s, data.len);
                notify_pending = true;
            } else if (type == QREC_RCPT) {
                if (data.len == 0)
                    fatal_status(EX_DATAERR, "malformed input: empty recipient");
                put_context(q, &ctx_written, remote);
                put(q, type, data.s, data.len);
                notify_pending = false;
                nrcpt++;
            } else if (type == QREC_CONTENT && !notify_pending) {
                if (nrcpt == 0 && !extract)
                    fatal_status(EX_DATAERR, "malformed input: no recipients");
                put_context(q, &ctx_written, remote);
                sz->content_offset = (uint64_t) qfile_tell(q);
                put(q, type, "", 0);
                phase = CONTENT;
            } else {
                fatal_status(EX_DATAERR, "malformed input: unexpected '%c' record", type);
            }
            break;
        case CONTENT:
            if (type == QREC_END) {
                sbuf_free(&data);
                return nrcpt;
            }
            if (type != QREC_BODY)
                fatal_status(EX_DATAERR, "malformed input: unexpected '%c' record", type);
            sz->content_size += data.len;
            if (limit > 0 && sz->content_size > (uint64_t) limit)
                fatal_status(EX_DATAERR, "message file too big");
            put(q, type, data.s, data.len);
            break;
        }
    }
}

int main(int argc, char **argv)
{
    sane_fds();
    msg_init("postdrop", MSG_TO_STDERR | MSG_TO_SYSLOG);
    const char *env_dir = getenv("MAIL_CONFIG");
    char *config_dir = env_dir && *env_dir ? xstrdup(env_dir) : 0;
    char *tz = getenv("TZ") ? xstrdup(getenv("TZ")) : 0;
    int ch;
    while ((ch = getopt(argc, argv, "+c:rv")) != -1) {
        switch (ch) {
        case 'c':
            xfree(config_dir);
            config_dir = xstrdup(optarg);
            break;
        case 'r':
            break;                      /* the record protocol: the only one */
        case 'v':
            if (getuid() == 0)
                msg_verbose++;
            break;
        default:
            fatal_status(EX_USAGE, "usage: postdrop [-rv] [-c config_dir]");
        }
    }
    /* Privileged: trust nothing from the environment but the time zone. */
    clearenv();
    if (tz)
        setenv("TZ", tz, 1);
    setenv("PATH", "/usr/bin:/bin", 1);
    bool privileged = getegid() != getgid() || geteuid() != getuid();
    if (config_dir && strcmp(config_dir, DEF_CONFIG_DIR) != 0 && getuid() != 0 && privileged
        && !config_dir_allowed(config_dir))
        fatal_status(EX_CONFIG, "%s: configuration directory not authorized for postdrop: "
                     "list it in alternate_config_directories of %s/main.cf",
                     config_dir, DEF_CONFIG_DIR);
    mail_conf_load(config_dir);
    mail_conf_setup_logging();
    msg_set_targets(msg_get_targets() | MSG_TO_STDERR);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGHUP, &sa, 0);
    sigaction(SIGINT, &sa, 0);
    sigaction(SIGQUIT, &sa, 0);
    sigaction(SIGTERM, &sa, 0);
    signal(SIGPIPE, SIG_IGN);

    /* The file: readable by mail_owner (pickup), complete only at commit. */
    char id[32];
    qfile *q = qfile_create_mode(QUEUE_MAILDROP, id, sizeof(id), 0044);
    if (!q)
        fatal_status(EX_TEMPFAIL, "create file %s/%s: %m", mail_conf_str("queue_directory"),
                     QUEUE_MAILDROP);
    snprintf(drop_path, sizeof(drop_path), "%s", qfile_file(q));
    drop_file = q;

    struct qfile_sizes sz = {0};
    char sizes[QFILE_SIZE_LEN];
    qfile_format_sizes(&sz, sizes);
    put(q, QREC_SIZE, sizes, QFILE_SIZE_LEN);
    struct timeval now;
    gettimeofday(&now, 0);
    if (qfile_putf(q, QREC_TIME, "%ld.%06ld", (long) now.tv_sec, (long) now.tv_usec) < 0)
        fatal_status(EX_TEMPFAIL, "write maildrop file %s: %m", qfile_file(q));

    vstream *in = vstream_open(0);
    sz.nrcpt = copy_records(in, q, &sz);
    vstream_detach(in);
    qfile_set_sizes(q, &sz);
    /* The commit point: END, size record, fsync, mode 0744. */
    if (qfile_commit(q, true) < 0) {
        drop_file = 0;                  /* qfile_commit removed it */
        fatal_status(EX_TEMPFAIL, "commit maildrop file: %m");
    }
    drop_file = 0;
    drop_path[0] = 0;
    qfile_close(q);
    if (msg_verbose)
        msg_info("%s: queued in maildrop", id);
    /* Wake pickup; if that fails it finds the file on its next timer run. */
    if (mail_trigger("public", mail_conf_str("pickup_service_name"), "W", 1) < 0 && msg_verbose)
        msg_info("wake up pickup: %m");
    xfree(config_dir);
    xfree(tz);
    return 0;
}
