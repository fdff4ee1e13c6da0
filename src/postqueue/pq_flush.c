/*
 * pq_flush.c - postqueue -f, -i ID and -s site: deliver deferred mail now.
 *
 * -f writes 'F' to qmgr's wake-up socket (public/$queue_service_name):
 * qmgr makes every deferred message due and gives throttled destinations
 * another chance (the same as "postfix flush" and "sendmail -q").
 *
 * -i and -s differ from Postfix, which asks its flush(8) service (not
 * part of Hikyaku): run by root, postqueue moves the selected messages
 * from deferred/ to incoming/ itself (dropping their defer logs, as qmgr
 * does when it retries a message) and writes 'A' so qmgr takes them at
 * once; nothing else in deferred/ is disturbed. -i selects one message,
 * -s every deferred message with a recipient in the domain site (or the
 * address literal "[192.0.2.1]"), compared without regard to case: the
 * recipient's domain, not the next hop it is routed to. Run by other
 * users, who cannot touch deferred/ (mode 0700 mail_owner), both fall
 * back to a full flush ('F'), which includes the selected mail.
 * A message that is not in deferred/ (being delivered, on hold, gone) is
 * left alone without complaint.
 *
 * NOT HERE: per-destination fast flush logs (fast_flush_domains).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/address.h"
#include "mail/dsn_log.h"
#include "mail/mail_conf.h"
#include "mail/mail_trigger.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "mail/queue_scan.h"
#include "mail/queue_summary.h"
#include "postqueue/postqueue.h"
#include "util/msg.h"

static void wake_qmgr(const char *request)
{
    if (mail_trigger("public", mail_conf_str("queue_service_name"), request, 1) < 0) {
        if (msg_verbose)
            msg_info("wake up %s: %m", mail_conf_str("queue_service_name"));
        pq_fatal(EX_UNAVAILABLE, "Cannot flush mail queue - mail system is down");
    }
}

int pq_flush_all(void)
{
    pq_check_acl("authorized_flush_users", "flush the mail queue");
    wake_qmgr("F");
    return 0;
}

/* Move deferred/id to incoming/ (root only). 1 moved, 0 not there. */
static int make_due(const char *id)
{
    char from[4200], to[4200];
    struct stat st;
    if (qfile_path(from, sizeof(from), QUEUE_DEFERRED, id) < 0
        || qfile_path(to, sizeof(to), QUEUE_INCOMING, id) < 0 || lstat(from, &st) < 0
        || !S_ISREG(st.st_mode))
        return 0;
    /* While the file is in deferred/ nobody writes its defer log; qmgr
     * drops the log when it retries a message, and so do we. */
    if (dsn_log_delete(DSN_LOG_DEFER, id) < 0)
        msg_warn("%s: remove %s log: %m", id, DSN_LOG_DEFER);
    if (rename(from, to) < 0) {
        if (errno != ENOENT)        /* ENOENT: qmgr took it first */
            msg_warn("%s: move from %s to %s: %m", id, QUEUE_DEFERRED, QUEUE_INCOMING);
        return 0;
    }
    if (msg_verbose)
        msg_info("%s: moved from %s to %s for immediate delivery", id, QUEUE_DEFERRED,
                 QUEUE_INCOMING);
    return 1;
}

int pq_flush_id(const char *id)
{
    pq_check_acl("authorized_flush_users", "flush the mail queue");
    if (!qfile_id_ok(id))
        pq_fatal(EX_USAGE, "Invalid request: \"%s\"", id);
    if (getuid() != 0) {
        wake_qmgr("F");
        return 0;
    }
    make_due(id);
    wake_qmgr("A");
    return 0;
}

static bool site_ok(const char *site)
{
    size_t n = strlen(site);
    if (n == 0 || n > 255)
        return false;
    if (site[0] == '[')
        return address_is_ip_literal(site);
    return address_valid_hostname(site);
}

struct site_walk {
    const char *site;
    queue_summary qs;
    long    moved;
};

static int site_one(const char *queue, const char *id, const char *path, void *ctx)
{
    (void) path;
    struct site_walk *w = ctx;
    sbuf why = SBUF_INIT;
    int r = queue_summary_read(queue, id, &w->qs, &why);
    if (r < 0)
        msg_warn("%s", sbuf_str(&why));
    sbuf_free(&why);
    for (size_t i = 0; r > 0 && i < w->qs.nrcpt; i++) {
        const char *domain = address_domain(w->qs.rcpt[i].address);
        if (domain && strcasecmp(domain, w->site) == 0) {
            w->moved += make_due(id);
            break;
        }
    }
    return 0;
}

int pq_flush_site(const char *site)
{
    pq_check_acl("authorized_flush_users", "flush the mail queue");
    if (!site_ok(site))
        pq_fatal(EX_USAGE, "Invalid request: \"%s\"", site);
    if (getuid() != 0) {
        wake_qmgr("F");
        return 0;
    }
    static const char *const deferred[] = {QUEUE_DEFERRED, 0};
    struct site_walk w;
    memset(&w, 0, sizeof(w));
    w.site = site;
    queue_summary_init(&w.qs);
    queue_walk(deferred, site_one, &w);
    queue_summary_free(&w.qs);
    if (msg_verbose)
        msg_info("%s: %ld message%s scheduled for immediate delivery", site, w.moved,
                 w.moved == 1 ? "" : "s");
    wake_qmgr("A");
    return 0;
}
