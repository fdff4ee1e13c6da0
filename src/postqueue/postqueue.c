/*
 * postqueue - Postfix-compatible queue control for every user (postqueue(1)).
 *
 *   postqueue [-v] [-c config_dir] -p        sendmail-style listing (mailq)
 *   postqueue [-v] [-c config_dir] -j        JSON lines listing
 *   postqueue [-v] [-c config_dir] -f        flush: deliver deferred mail now
 *   postqueue [-v] [-c config_dir] -i ID     deliver one deferred message now
 *   postqueue [-v] [-c config_dir] -s site   deliver deferred mail for site now
 *
 * Installed set-group-ID setgid_group (mode 2755, like postdrop) so that
 * any user can reach $queue_directory/public/ (mode 0710, group
 * setgid_group): the listing comes from the showq service and flushing
 * goes to qmgr's wake-up socket. That group is the only privilege; the
 * environment is cleared (TZ kept), and -c / MAIL_CONFIG other than the
 * default is accepted from other users only as conf_trust.h allows.
 * authorized_mailq_users and authorized_flush_users decide who may list
 * and flush (root and mail_owner always may). -v works for root only.
 *
 * Exit status (sysexits.h): 0 done; EX_USAGE bad arguments or request;
 * EX_NOPERM not authorized; EX_UNAVAILABLE the mail system is down;
 * EX_SOFTWARE malformed showq reply; EX_CONFIG refused configuration
 * directory; EX_IOERR output error.
 *
 * NOT HERE: formats (pq_format.c), listing (pq_list.c), flushing
 * (pq_flush.c); privileged changes to the queue (postsuper).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail/conf_trust.h"
#include "mail/mail_conf.h"
#include "mail/match_list.h"
#include "postqueue/postqueue.h"
#include "util/mem.h"
#include "util/msg.h"

void pq_fatal(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    msg_vlog(MSG_FATAL, fmt, ap);
    va_end(ap);
    fflush(stdout);
    exit(status);
}

/* Keep fds 0, 1 and 2 open, so nothing opened later becomes one of them. */
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

void pq_check_acl(const char *param, const char *what)
{
    uid_t uid = getuid();
    if (uid == 0)
        return;
    struct passwd *owner = getpwnam(mail_conf_str("mail_owner"));
    if (owner && owner->pw_uid == uid)
        return;
    struct passwd *pw = getpwuid(uid);
    char name[64];
    if (pw)
        snprintf(name, sizeof(name), "%s", pw->pw_name);
    else
        snprintf(name, sizeof(name), "%ld", (long) uid);
    match_list *acl = match_list_open(param, mail_conf_str(param));
    int r = match_domain(acl, name);
    match_list_free(acl);
    if (r < 0)
        pq_fatal(EX_TEMPFAIL, "%s: table lookup problem", param);
    if (r == 0)
        pq_fatal(EX_NOPERM, "User %s(%ld) is not allowed to %s", name, (long) uid, what);
}

static void usage(void)
{
    pq_fatal(EX_USAGE, "usage: postqueue -f | postqueue -i queueid | postqueue -j | "
             "postqueue -p | postqueue -s site");
}

int main(int argc, char **argv)
{
    sane_fds();
    msg_init("postqueue", MSG_TO_STDERR | MSG_TO_SYSLOG);
    const char *env_dir = getenv("MAIL_CONFIG");
    char *config_dir = env_dir && *env_dir ? xstrdup(env_dir) : 0;
    char *tz = getenv("TZ") ? xstrdup(getenv("TZ")) : 0;
    int mode = 0, verbose = 0;
    char *arg = 0;
    int ch;
    while ((ch = getopt(argc, argv, "+c:fi:jps:v")) != -1) {
        switch (ch) {
        case 'c':
            xfree(config_dir);
            config_dir = xstrdup(optarg);
            break;
        case 'f':
        case 'j':
        case 'p':
        case 'i':
        case 's':
            if (mode)
                usage();
            mode = ch;
            if (ch == 'i' || ch == 's')
                arg = xstrdup(optarg);
            break;
        case 'v':
            verbose++;
            break;
        default:
            usage();
        }
    }
    if (optind < argc || !mode)
        usage();

    /* Set-group-ID: trust nothing from the environment but the time zone. */
    clearenv();
    if (tz)
        setenv("TZ", tz, 1);
    setenv("PATH", "/usr/bin:/bin", 1);
    bool privileged = getegid() != getgid() || geteuid() != getuid();
    if (getuid() == 0)
        msg_verbose = verbose;
    if (config_dir && getuid() != 0 && privileged && !conf_dir_trusted(config_dir))
        pq_fatal(EX_CONFIG, "%s: configuration directory not authorized: list it in "
                 "alternate_config_directories of %s/main.cf", config_dir, DEF_CONFIG_DIR);
    mail_conf_load(config_dir);
    mail_conf_setup_logging();
    msg_set_targets(msg_get_targets() | MSG_TO_STDERR);

    int rc = 0;
    switch (mode) {
    case 'p':
        rc = pq_list(PQ_MODE_COMPAT);
        break;
    case 'j':
        rc = pq_list(PQ_MODE_JSON);
        break;
    case 'f':
        rc = pq_flush_all();
        break;
    case 'i':
        rc = pq_flush_id(arg);
        break;
    case 's':
        rc = pq_flush_site(arg);
        break;
    }
    xfree(arg);
    xfree(config_dir);
    xfree(tz);
    return rc;
}
