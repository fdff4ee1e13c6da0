/*
 * sendmail.c - the Sendmail-compatible command line (sendmail(1)).
 *
 * Modes: -bm (default: read a message from standard input and queue it
 * through postdrop, submit.c), -bp / "mailq" (postqueue -p), -bi / -I /
 * "newaliases" (postalias on alias_database, newaliases.c), -bs (smtpd
 * in stand-alone mode on stdin/stdout), -bd / -bl (postfix start),
 * -q (postqueue -f), -qR site (postqueue -s site), -qI id (postqueue -i
 * id), -bv (not supported yet). Options as Postfix documents them: -t,
 * -i / -oi, -f / -r sender, -F name, -N dsn, -R ret, -V envid, -B type,
 * -C file-or-dir, -G, -v, -oA alias_db; -Am -Ac -h -L -m -n -O -o7 -o8
 * -om -U -x -e -c -p are accepted and ignored; "-o x value" skips value.
 * Option processing stops at the first non-option or at "--"; what
 * follows are recipients (each argument may hold a list: "a@x, B <b@y>").
 *
 * Configuration: -C DIR (or a main.cf path) wins, else MAIL_CONFIG,
 * else the default; the chosen directory is passed on to every helper
 * through MAIL_CONFIG. Errors: "sendmail: fatal: ..." on stderr and in
 * the log, exit status from sysexits.h (EX_USAGE 64, EX_TEMPFAIL 75,
 * EX_UNAVAILABLE 69, ...).
 *
 * NOT HERE: the message itself (submit.c), alias building (postalias).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "mail/address.h"
#include "mail/cleanup_client.h"
#include "mail/mail_conf.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/safe_file.h"
#include "util/strv.h"

#include "newaliases.h"
#include "sendmail.h"
#include "submit.h"

static pid_t child_pid;

void sm_child(pid_t pid)
{
    child_pid = pid;
}

void sm_fatal(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msg_vlog(MSG_FATAL, fmt, ap);
    va_end(ap);
    if (child_pid > 0)
        kill(child_pid, SIGTERM);       /* postdrop removes its file */
    exit(status);
}

enum sm_mode { MODE_MAIL, MODE_MAILQ, MODE_NEWALIASES, MODE_SMTP, MODE_DAEMON, MODE_FLUSH,
               MODE_FLUSH_SITE, MODE_FLUSH_ID, MODE_VERIFY, MODE_IGNORE };

__attribute__((noreturn))
static void run(const char *dir_param, const char *prog, strv *args)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", mail_conf_str(dir_param), prog);
    if (access(path, X_OK) < 0)
        sm_fatal(EX_UNAVAILABLE, "%s is not available (%s: %s)", prog, path, strerror(errno));
    fflush(stdout);
    execv(path, args->v);
    sm_fatal(EX_UNAVAILABLE, "execute %s: %m", path);
}

/*
 * sendmail -bs: smtpd -S speaks SMTP on one socket (its fd 0). When our
 * standard input already is a socket (inetd), hand it over; otherwise
 * relay between stdin/stdout and a socketpair, so pipes and terminals
 * work too. Returns smtpd's exit status.
 */
static int smtp_session(strv *args)
{
    struct stat st;
    if (fstat(0, &st) == 0 && S_ISSOCK(st.st_mode))
        run("daemon_directory", "smtpd", args);
    char path[4200];
    snprintf(path, sizeof(path), "%s/smtpd", mail_conf_str("daemon_directory"));
    if (access(path, X_OK) < 0)
        sm_fatal(EX_UNAVAILABLE, "smtpd is not available (%s: %s)", path, strerror(errno));
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        sm_fatal(EX_OSERR, "socketpair: %m");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        sm_fatal(EX_OSERR, "fork: %m");
    if (pid == 0) {
        if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
            _exit(EX_OSERR);
        execv(path, args->v);
        _exit(EX_UNAVAILABLE);
    }
    close(sv[1]);
    char buf[8192];
    bool in_open = true;
    for (;;) {
        struct pollfd p[2] = {{sv[0], POLLIN, 0}, {0, POLLIN, 0}};
        if (poll(p, in_open ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents) {
            ssize_t n = read(sv[0], buf, sizeof(buf));
            if (n <= 0 || write_full(1, buf, (size_t) n) < 0)
                break;                          /* smtpd finished (or stdout is gone) */
        }
        if (in_open && p[1].revents) {
            ssize_t n = read(0, buf, sizeof(buf));
            if (n <= 0) {
                shutdown(sv[0], SHUT_WR);
                in_open = false;
            } else if (write_full(sv[0], buf, (size_t) n) < 0) {
                in_open = false;
            }
        }
    }
    close(sv[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;
}

static int parse_notify(const char *arg)
{
    strv v = {0};
    int bits = 0;
    strv_split(&v, arg, ", \t");
    for (size_t i = 0; i < v.n; i++) {
        if (strcasecmp(v.v[i], "never") == 0)
            bits |= DSN_NOTIFY_NEVER;
        else if (strcasecmp(v.v[i], "success") == 0)
            bits |= DSN_NOTIFY_SUCCESS;
        else if (strcasecmp(v.v[i], "failure") == 0)
            bits |= DSN_NOTIFY_FAILURE;
        else if (strcasecmp(v.v[i], "delay") == 0)
            bits |= DSN_NOTIFY_DELAY;
        else
            bits = -1;
    }
    strv_free(&v);
    if (bits <= 0 || ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER))
        sm_fatal(EX_USAGE, "Invalid -N option argument: %s", arg);
    return bits;
}

/* "-C file" names main.cf itself; "-C dir" its directory. */
static char *config_dir_of(const char *arg)
{
    struct stat st;
    if (stat(arg, &st) == 0 && !S_ISDIR(st.st_mode)) {
        const char *slash = strrchr(arg, '/');
        return slash ? xstrndup(arg, (size_t) (slash - arg)) : xstrdup(".");
    }
    return xstrdup(arg);
}

/* A sender argument: "<a@b>" or "a@b" to the internal form. */
static char *sender_arg(const char *arg)
{
    sbuf s = SBUF_INIT, unq = SBUF_INIT;
    sbuf_adds(&s, arg);
    if (s.len >= 2 && s.s[0] == '<' && s.s[s.len - 1] == '>') {
        sbuf_set(&unq, arg + 1);
        sbuf_truncate(&unq, unq.len - 1);
        sbuf_set(&s, sbuf_str(&unq));
    }
    address_unquote(sbuf_str(&s), &unq);
    sbuf_free(&s);
    return sbuf_steal(&unq);
}

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    enum sm_mode mode = MODE_MAIL;
    if (strcmp(prog, "mailq") == 0)
        mode = MODE_MAILQ;
    else if (strcmp(prog, "newaliases") == 0)
        mode = MODE_NEWALIASES;
    msg_init(mode == MODE_NEWALIASES ? "newaliases" : mode == MODE_MAILQ ? "mailq" : "sendmail",
             MSG_TO_STDERR | MSG_TO_SYSLOG);
    signal(SIGPIPE, SIG_IGN);

    struct submit_opts o;
    memset(&o, 0, sizeof(o));
    char *config_dir = 0, *sender = 0, *alias_db = 0;
    const char *queue_arg = 0;
    int verbose = 0, ch;

    opterr = 0;
    while ((ch = getopt(argc, argv, "+A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q::r:tvx")) != -1) {
        switch (ch) {
        case 'A': case 'L': case 'O': case 'h': case 'e': case 'p':
        case 'c': case 'm': case 'n': case 'U': case 'x':
            break;                                  /* accepted, ignored */
        case 'B':
            if (strcasecmp(optarg, "8BITMIME") != 0 && strcasecmp(optarg, "7BIT") != 0)
                sm_fatal(EX_USAGE, "-B option needs 8BITMIME or 7BIT");
            o.body_type = strcasecmp(optarg, "8BITMIME") == 0 ? "8BITMIME" : "7BIT";
            break;
        case 'C':
            xfree(config_dir);
            config_dir = config_dir_of(optarg);
            break;
        case 'F':
            o.full_name = optarg;
            break;
        case 'G':
            o.gateway = true;
            break;
        case 'I':
            mode = MODE_NEWALIASES;
            break;
        case 'N':
            o.notify = parse_notify(optarg);
            break;
        case 'R':
            if (strcasecmp(optarg, "full") != 0 && strcasecmp(optarg, "hdrs") != 0)
                sm_fatal(EX_USAGE, "-R option needs FULL or HDRS");
            o.dsn_ret = strcasecmp(optarg, "full") == 0 ? "FULL" : "HDRS";
            break;
        case 'V':
            if (strlen(optarg) > 100)
                sm_fatal(EX_USAGE, "-V option argument is too long");
            for (const char *p = optarg; *p; p++)
                if (*p <= ' ' || *p > '~' || *p == '+' || *p == '=')
                    sm_fatal(EX_USAGE, "bad -V option argument: %s", optarg);
            o.dsn_envid = optarg;
            break;
        case 'X':
            if (optarg[0] == 'V')
                msg_warn("-XV (VERP) is not supported yet -- ignored");
            break;
        case 'b':
            switch (optarg[0]) {
            case 'd': case 'l': mode = MODE_DAEMON; break;
            case 'h': case 'H': mode = MODE_IGNORE; break;
            case 'i': mode = MODE_NEWALIASES; break;
            case 'm': mode = MODE_MAIL; break;
            case 'p': mode = MODE_MAILQ; break;
            case 's': mode = MODE_SMTP; break;
            case 'v': mode = MODE_VERIFY; break;
            default: sm_fatal(EX_USAGE, "-b%s: unsupported mode", optarg);
            }
            break;
        case 'f':
        case 'r':
            xfree(sender);
            sender = sender_arg(optarg);
            break;
        case 'i':
            o.ignore_dots = true;
            break;
        case 'o':
            if (optarg[0] == 'i' && optarg[1] == 0) {
                o.ignore_dots = true;
            } else if (optarg[0] == 'A') {
                if (!optarg[1])
                    sm_fatal(EX_USAGE, "-oA requires a database name");
                alias_db = optarg + 1;
            } else if (optarg[1] == 0 && !strchr("78m", optarg[0]) && optind < argc) {
                optind++;                           /* "-o x value" */
            }
            break;
        case 'q':
            if (!optarg || !*optarg) {
                mode = MODE_FLUSH;
            } else if (optarg[0] == 'R' || optarg[0] == 'I') {
                if (!optarg[1])
                    sm_fatal(EX_USAGE, "-q%c requires an argument", optarg[0]);
                mode = optarg[0] == 'R' ? MODE_FLUSH_SITE : MODE_FLUSH_ID;
                queue_arg = optarg + 1;
            } else if (optarg[0] == 'S') {
                sm_fatal(EX_UNAVAILABLE, "-qS is not implemented; use \"sendmail -q\"");
            } else if (mode == MODE_MAIL) {
                mode = MODE_IGNORE;                 /* -q30m: queue_run_delay does it */
            }
            break;
        case 't':
            o.extract = true;
            break;
        case 'v':
            verbose++;
            break;
        default:
            sm_fatal(EX_USAGE, "usage: sendmail [options] [recipient ...] (bad option -%c)",
                     optopt ? optopt : '?');
        }
    }

    mail_conf_load(config_dir);
    /* Helpers (postdrop, postqueue, postalias, smtpd) use the same directory. */
    setenv("MAIL_CONFIG", mail_conf_dir(), 1);
    mail_conf_setup_logging();
    msg_set_targets(msg_get_targets() | MSG_TO_STDERR);
    if (verbose > 1)
        msg_verbose = verbose - 1;

    strv args = {0};
    strv_init(&args);
    switch (mode) {
    case MODE_NEWALIASES:
        if (alias_db)
            mail_conf_override("alias_database", alias_db);
        strv_free(&args);
        return newaliases_run(verbose);
    case MODE_MAILQ:
        strv_add(&args, "postqueue");
        strv_add(&args, "-p");
        run("command_directory", "postqueue", &args);
    case MODE_FLUSH:
    case MODE_FLUSH_SITE:
    case MODE_FLUSH_ID:
        strv_add(&args, "postqueue");
        strv_add(&args, mode == MODE_FLUSH ? "-f" : mode == MODE_FLUSH_SITE ? "-s" : "-i");
        if (queue_arg)
            strv_add(&args, queue_arg);
        run("command_directory", "postqueue", &args);
    case MODE_SMTP: {
        strv_add(&args, "smtpd");
        strv_add(&args, "-S");
        for (int i = 0; i < verbose; i++)
            strv_add(&args, "-v");
        int status = smtp_session(&args);
        strv_free(&args);
        return status;
    }
    case MODE_DAEMON:
        strv_add(&args, "postfix");
        strv_add(&args, "start");
        run("command_directory", "postfix", &args);
    case MODE_VERIFY:
        sm_fatal(EX_UNAVAILABLE, "-bv (address verification) is not supported yet");
    case MODE_IGNORE:
        strv_free(&args);
        return 0;
    case MODE_MAIL:
        break;
    }

    strv_init(&o.rcpts);        /* here: the modes above return without freeing it */
    for (int i = optind; i < argc; i++) {
        strv found = {0};
        if (address_parse_header_list(argv[i], &found) == 0 && *argv[i])
            sm_fatal(EX_USAGE, "bad recipient address: %s", argv[i]);
        for (size_t j = 0; j < found.n; j++)
            strv_add(&o.rcpts, found.v[j]);
        strv_free(&found);
    }
    o.sender = sender;
    int status = submit_message(&o);
    strv_free(&args);
    strv_free(&o.rcpts);
    xfree(sender);
    xfree(config_dir);
    return status;
}
