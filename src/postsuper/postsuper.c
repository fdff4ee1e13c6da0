/*
 * postsuper - privileged queue maintenance (postsuper(1)), for root only.
 *
 *   postsuper [-psSv] [-c config_dir] [-d queue_id] [-h queue_id]
 *             [-H queue_id] [-r queue_id] [queue ...]
 *
 *   -d ID   delete (default queues: maildrop incoming active deferred hold)
 *   -h ID   put on hold (incoming active deferred)
 *   -H ID   release from hold (hold)
 *   -r ID   requeue (incoming active deferred hold)
 *   -s      structure check and repair; -S is the same here
 *   -p      purge temporary files left by crashed processes
 *   -v      verbose
 * Each of -d -h -H -r may be repeated; ID "ALL" (upper case) means every
 * message of the queues, "-" reads IDs from standard input, one a line.
 * Queue names after the options replace the default queues. Without any
 * option, -s and -p are done (as Postfix does). Order: -p and -s, then
 * the ALL forms, then deletions, requeues, holds and releases by ID.
 *
 * Reports, on standard error and in the mail log: "ID: removed",
 * "ID: placed on hold", "ID: released from hold", "ID: requeued" per
 * named message, then "Deleted: N message(s)", "Placed on hold: N
 * message(s)", "Released from hold: N message(s)", "Requeued: N
 * message(s)" when N > 0. Exit status 1 when an operation failed (not
 * when a message was simply not found), 0 otherwise.
 *
 * After reading main.cf it runs as mail_owner, like the daemons that
 * change the queue (so nothing it creates has the wrong owner, and a
 * compromised queue directory cannot lead it elsewhere as root).
 *
 * NOT HERE: -e/-f forced expiration (not implemented yet: refused).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "mail/mail_trigger.h"
#include "mail/queue_dirs.h"
#include "mail/queue_scan.h"
#include "postsuper/postsuper.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"
#include "util/vstream.h"

#define ID_LINE_MAX 1024

enum {
    ACT_STRUCT = 1 << 0,
    ACT_PURGE = 1 << 1,
    ACT_DELETE_ONE = 1 << 2,
    ACT_DELETE_ALL = 1 << 3,
    ACT_REQUEUE_ONE = 1 << 4,
    ACT_REQUEUE_ALL = 1 << 5,
    ACT_HOLD_ONE = 1 << 6,
    ACT_HOLD_ALL = 1 << 7,
    ACT_RELEASE_ONE = 1 << 8,
    ACT_RELEASE_ALL = 1 << 9,
};

/* Structure checks visit the log directories first, as Postfix does. */
static const char *const default_queues[] = {
    QUEUE_DEFER, QUEUE_BOUNCE, QUEUE_TRACE, QUEUE_MAILDROP, QUEUE_INCOMING, QUEUE_ACTIVE,
    QUEUE_DEFERRED, QUEUE_HOLD, 0,
};
static const char *const default_hold_queues[] = {
    QUEUE_INCOMING, QUEUE_ACTIVE, QUEUE_DEFERRED, 0,
};
static const char *const default_release_queues[] = {QUEUE_HOLD, 0};

static void usage(void)
{
    msg_fatal("usage: postsuper [-c config_dir] [-d queue_id (delete)] "
              "[-h queue_id (hold)] [-H queue_id (un-hold)] "
              "[-p (purge temporary files)] [-r queue_id (requeue)] "
              "[-s (structure fix)] [-v (verbose)] [queue...]");
}

typedef bool (*one_fn)(const char *const *queues, const char *id);

/* Apply fn to each named ID ("-": read IDs from stdin); returns the count. */
static long by_id(const strv *names, one_fn fn, const char *const *queues)
{
    long found = 0;
    for (size_t i = 0; i < names->n; i++) {
        const char *id = names->v[i];
        if (strcmp(id, "ALL") == 0)
            continue;
        if (strcmp(id, "-") != 0) {
            found += fn(queues, id);
            continue;
        }
        vstream *in = vstream_open(0);
        sbuf line = SBUF_INIT;
        int r;
        while ((r = vstream_get_line(in, &line, ID_LINE_MAX)) != VSTREAM_LINE_ERR) {
            if (r == VSTREAM_LINE_LONG) {
                msg_warn("invalid mail queue id: %.40s...", sbuf_str(&line));
                vstream_skip_line(in);
                continue;
            }
            if (line.len)
                found += fn(queues, sbuf_str(&line));
        }
        sbuf_free(&line);
        vstream_detach(in);
    }
    return found;
}

static void report(const char *what, long n)
{
    if (n > 0)
        msg_info("%s: %ld message%s", what, n, n > 1 ? "s" : "");
}

/* Keep fds 0, 1 and 2 open, so nothing opened later becomes one of them. */
static void sane_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int nfd = open("/dev/null", O_RDWR);
            if (nfd < 0)
                _exit(1);
            if (nfd != fd)
                close(nfd);
        }
    }
}

int main(int argc, char **argv)
{
    sane_fds();
    msg_init("postsuper", MSG_TO_STDERR | MSG_TO_SYSLOG);
    if (getuid() != 0)
        msg_fatal("use of this command is reserved for the superuser");
    if (geteuid() != getuid())
        msg_fatal("this postfix command must not run as a set-uid process");

    strv del = {0}, hold = {0}, rel = {0}, req = {0};
    strv_init(&del);
    strv_init(&hold);
    strv_init(&rel);
    strv_init(&req);
    char *config_dir = 0;
    int action = 0, ch;
    while ((ch = getopt(argc, argv, "c:d:e:f:h:H:pr:sSv")) != -1) {
        switch (ch) {
        case 'c':
            if (optarg[0] != '/')
                msg_fatal("-c requires absolute pathname");
            xfree(config_dir);
            config_dir = xstrdup(optarg);
            break;
        case 'd':
            strv_add(&del, optarg);
            action |= strcmp(optarg, "ALL") == 0 ? ACT_DELETE_ALL : ACT_DELETE_ONE;
            break;
        case 'e':
        case 'f':
            msg_fatal("-%c (forced expiration) is not supported by this version", ch);
        case 'h':
            strv_add(&hold, optarg);
            action |= strcmp(optarg, "ALL") == 0 ? ACT_HOLD_ALL : ACT_HOLD_ONE;
            break;
        case 'H':
            strv_add(&rel, optarg);
            action |= strcmp(optarg, "ALL") == 0 ? ACT_RELEASE_ALL : ACT_RELEASE_ONE;
            break;
        case 'p':
            action |= ACT_PURGE;
            break;
        case 'r':
            strv_add(&req, optarg);
            action |= strcmp(optarg, "ALL") == 0 ? ACT_REQUEUE_ALL : ACT_REQUEUE_ONE;
            break;
        case 's':
        case 'S':
            action |= ACT_STRUCT;
            break;
        case 'v':
            msg_verbose++;
            break;
        default:
            usage();
        }
    }
    for (int i = optind; i < argc; i++)
        if (!queue_scan_is_known_queue(argv[i]))
            msg_fatal("invalid directory name: %s", argv[i]);

    mail_conf_load(config_dir);
    mail_conf_setup_logging();
    msg_set_targets(msg_get_targets() | MSG_TO_STDERR);
    mail_server_drop_privileges();

    if ((action & ACT_DELETE_ALL) && (action & ACT_DELETE_ONE)) {
        msg_warn("option \"-d ALL\" will ignore other command line queue IDs");
        action &= ~ACT_DELETE_ONE;
    }
    if ((action & ACT_REQUEUE_ALL) && (action & ACT_REQUEUE_ONE)) {
        msg_warn("option \"-r ALL\" will ignore other command line queue IDs");
        action &= ~ACT_REQUEUE_ONE;
    }
    if ((action & ACT_HOLD_ALL) && (action & ACT_HOLD_ONE)) {
        msg_warn("option \"-h ALL\" will ignore other command line queue IDs");
        action &= ~ACT_HOLD_ONE;
    }
    if ((action & ACT_RELEASE_ALL) && (action & ACT_RELEASE_ONE)) {
        msg_warn("option \"-H ALL\" will ignore other command line queue IDs");
        action &= ~ACT_RELEASE_ONE;
    }
    if (action == 0)
        action = ACT_STRUCT | ACT_PURGE;

    const char *const *given = optind < argc ? (const char *const *) argv + optind : 0;
    const char *const *all = given ? given : default_queues;

    if (action & ACT_PURGE)
        ps_purge(all);
    if (action & ACT_STRUCT)
        ps_structure(all);
    if (action & ACT_DELETE_ALL)
        ps_delete_all(all);
    if (action & ACT_REQUEUE_ALL)
        ps_requeue_all(all);
    if (action & ACT_HOLD_ALL)
        ps_hold_all(given ? given : default_hold_queues);
    if (action & ACT_RELEASE_ALL)
        ps_release_all(given ? given : default_release_queues);

    if (action & ACT_DELETE_ONE)
        ps_counts.deleted += by_id(&del, ps_delete_one, all);
    if (action & ACT_REQUEUE_ONE)
        ps_counts.requeued += by_id(&req, ps_requeue_one, all);
    if (action & ACT_HOLD_ONE)
        ps_counts.held += by_id(&hold, ps_hold_one, given ? given : default_hold_queues);
    if (action & ACT_RELEASE_ONE)
        ps_counts.released += by_id(&rel, ps_release_one, given ? given : default_release_queues);

    /* Requeued mail waits in incoming/: tell qmgr (it also scans on a timer). */
    if (ps_counts.requeued > 0
        && mail_trigger("public", mail_conf_str("queue_service_name"), "A", 1) < 0
        && msg_verbose)
        msg_info("wake up %s: %m", mail_conf_str("queue_service_name"));

    report("Requeued", ps_counts.requeued);
    report("Deleted", ps_counts.deleted);
    report("Placed on hold", ps_counts.held);
    report("Released from hold", ps_counts.released);

    strv_free(&del);
    strv_free(&hold);
    strv_free(&rel);
    strv_free(&req);
    xfree(config_dir);
    return ps_counts.errors ? 1 : 0;
}
