/*
 * qmgr_scan.c - qmgr's view of the queue directories: recovery, incoming/ and
 * deferred/ scans, the corrupt/ quarantine.
 *
 * incoming/: only complete files are taken. A file is complete when
 * cleanup gave it mode 0700 (its commit point). During the first scan
 * after start-up a mode 0600 file is also taken when qfile_validate()
 * accepts it (its writer died between the end record and the chmod);
 * later such files are left alone, they are still being written.
 * deferred/: a file's modification time is its next attempt time; due
 * files are taken, others stay. A flush makes every file due.
 * Taking a file is rename(2) to active/ (the second commit point), then
 * validation: a file that fails goes to corrupt/ with a warning and is
 * never delivered nor deleted.
 *
 * Limits: no file is taken while qmgr_message_active_limit messages or
 * qmgr_message_recipient_limit recipients are in memory. A scan works
 * through one listing of its directory: stopped at a limit, it goes on
 * from where it stopped when room appears (not from a new listing: with
 * 100,000 files waiting, listing the directory again for each message
 * that leaves memory made draining quadratic). A scan asked for while a
 * listing is still being worked through is made with a new listing once
 * that one is done.
 *
 * Not here: reading a queue file (qmgr_message.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "mail/dsn_log.h"
#include "mail/qfile.h"
#include "mail/queue_dirs.h"
#include "qmgr/qmgr.h"
#include "util/msg.h"
#include "util/strv.h"

bool qmgr_has_room(void)
{
    return (long) qmgr.nmessages < qmgr.active_limit && (long) qmgr.nrcpts < qmgr.rcpt_limit;
}

/* Names of the queue files in a queue directory (no dot files, no subdirectories). */
static int list_queue(const char *queue, strv *names)
{
    char dir[4200];
    if (qfile_path(dir, sizeof(dir), queue, "") < 0)
        return -1;
    DIR *d = opendir(dir);
    if (!d) {
        msg_warn("open queue directory %s: %m", dir);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != 0)
        if (qfile_id_ok(e->d_name))
            strv_add(names, e->d_name);
    closedir(d);
    return 0;
}

static int move_file(const char *from_queue, const char *to_queue, const char *id)
{
    char from[4200], to[4200];
    if (qfile_path(from, sizeof(from), from_queue, id) < 0
        || qfile_path(to, sizeof(to), to_queue, id) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return rename(from, to);
}

void qmgr_save_corrupt(const char *queue, const char *id, const char *why)
{
    if (move_file(queue, QUEUE_CORRUPT, id) < 0) {
        msg_warn("%s: corrupt queue file %s/%s: %s; cannot move it to %s/: %m", id, queue, id,
                 why, QUEUE_CORRUPT);
        return;
    }
    msg_warn("%s: corrupt queue file %s/%s: %s; saved as %s/%s", id, queue, id, why,
             QUEUE_CORRUPT, id);
}

void qmgr_recover_active(void)
{
    strv names = {0};
    strv_init(&names);
    if (list_queue(QUEUE_ACTIVE, &names) < 0) {
        strv_free(&names);
        return;
    }
    size_t moved = 0;
    for (size_t i = 0; i < names.n; i++) {
        if (move_file(QUEUE_ACTIVE, QUEUE_INCOMING, names.v[i]) < 0) {
            if (errno != ENOENT)
                msg_warn("%s: move from %s to %s: %m", names.v[i], QUEUE_ACTIVE,
                         QUEUE_INCOMING);
            continue;
        }
        moved++;
    }
    if (moved)
        msg_info("moved %zu message%s from %s back to %s", moved, moved == 1 ? "" : "s",
                 QUEUE_ACTIVE, QUEUE_INCOMING);
    strv_free(&names);
}

/* Validate active/id and load it; corrupt files are quarantined. */
static void activate(const char *id)
{
    char path[4200];
    sbuf why = SBUF_INIT;
    if (qfile_path(path, sizeof(path), QUEUE_ACTIVE, id) < 0)
        return;
    if (qfile_validate(path, &why) < 0) {
        if (errno == ENOENT && !why.len)
            sbuf_set(&why, "file vanished");
        qmgr_save_corrupt(QUEUE_ACTIVE, id, sbuf_str(&why));
    } else {
        qmgr_message_load(id);
    }
    sbuf_free(&why);
}

static void take_incoming(const char *id)
{
    char path[4200];
    struct stat st;
    if (qfile_path(path, sizeof(path), QUEUE_INCOMING, id) < 0 || lstat(path, &st) < 0)
        return;
    if (!S_ISREG(st.st_mode))
        return;
    mode_t mode = st.st_mode & 07777;
    if (mode != QFILE_MODE_DONE) {
        if (!qmgr.startup_scan || mode != QFILE_MODE_BUSY)
            return;
        sbuf why = SBUF_INIT;
        int ok = qfile_validate(path, &why) == 0;
        sbuf_free(&why);
        if (!ok)
            return;
    }
    if (move_file(QUEUE_INCOMING, QUEUE_ACTIVE, id) < 0) {
        if (errno != ENOENT)
            msg_warn("%s: move from %s to %s: %m", id, QUEUE_INCOMING, QUEUE_ACTIVE);
        return;
    }
    activate(id);
}

/* One directory's scan in progress: the listing and how far it got. */
struct scan {
    const char *queue;
    strv    names;
    size_t  next;               /* first name not yet looked at */
    bool    open;               /* a listing is being worked through */
    bool    again;              /* asked for meanwhile: list again after it */
    bool    flush;              /* (deferred/) the listing of a flush */
};

static struct scan incoming_scan = {.queue = QUEUE_INCOMING};
static struct scan deferred_scan = {.queue = QUEUE_DEFERRED};

/* Make a new listing; false when the directory cannot be read. */
static bool scan_list(struct scan *sc)
{
    strv_free(&sc->names);
    strv_init(&sc->names);
    sc->next = 0;
    sc->again = false;
    sc->open = list_queue(sc->queue, &sc->names) == 0;
    return sc->open;
}

static void scan_close(struct scan *sc)
{
    strv_free(&sc->names);
    strv_init(&sc->names);
    sc->next = 0;
    sc->open = false;
}

/*
 * fresh: a new scan was asked for (a trigger, a timer, a flush), else room
 * appeared for a scan that stopped at a limit. Returns the scan to work
 * through now, or NULL.
 */
static struct scan *scan_start(struct scan *sc, bool fresh)
{
    if (sc->open) {
        if (fresh)
            sc->again = true;
        return sc;
    }
    if (!fresh)
        return 0;
    return scan_list(sc) ? sc : 0;
}

/* The listing is done: list again if a scan was asked for meanwhile. */
static bool scan_done(struct scan *sc)
{
    bool again = sc->again;
    scan_close(sc);
    return again && scan_list(sc);
}

void qmgr_scan_incoming(bool fresh)
{
    struct scan *sc = scan_start(&incoming_scan, fresh);
    qmgr.more_incoming = false;
    while (sc) {
        while (sc->next < sc->names.n) {
            if (!qmgr_has_room()) {
                qmgr.more_incoming = true;
                return;
            }
            take_incoming(sc->names.v[sc->next++]);
        }
        /* Complete 0600 files are taken only from the first listing. */
        qmgr.startup_scan = false;
        if (!scan_done(sc))
            break;
    }
}

/* A flush makes every listed file due now (its mtime is its retry time). */
static void make_due(const struct scan *sc, time_t now)
{
    for (size_t i = sc->next; i < sc->names.n; i++) {
        char path[4200];
        struct stat st;
        if (qfile_path(path, sizeof(path), QUEUE_DEFERRED, sc->names.v[i]) < 0
            || lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_mtime <= now)
            continue;
        struct timeval tv[2] = {{now, 0}, {now, 0}};
        if (utimes(path, tv) < 0)
            msg_warn("%s: set retry time: %m", path);
    }
}

static void take_deferred(const char *id, time_t now)
{
    char path[4200];
    struct stat st;
    if (qfile_path(path, sizeof(path), QUEUE_DEFERRED, id) < 0 || lstat(path, &st) < 0
        || !S_ISREG(st.st_mode) || st.st_mtime > now)
        return;
    if (move_file(QUEUE_DEFERRED, QUEUE_ACTIVE, id) < 0) {
        if (errno != ENOENT)
            msg_warn("%s: move from %s to %s: %m", id, QUEUE_DEFERRED, QUEUE_ACTIVE);
        return;
    }
    /* defer/ID holds the reasons of the last attempt only. */
    if (dsn_log_delete(DSN_LOG_DEFER, id) < 0)
        msg_warn("%s: remove %s log: %m", id, DSN_LOG_DEFER);
    activate(id);
}

void qmgr_scan_deferred(bool fresh, bool flush)
{
    struct scan *sc = &deferred_scan;
    /* A flush always lists anew: what is listed is made due at once. */
    if (flush && sc->open)
        scan_close(sc);
    sc = scan_start(sc, fresh || flush);
    qmgr.more_deferred = false;
    if (sc && flush && sc->next == 0) {
        sc->flush = true;
        make_due(sc, time(0));
    }
    while (sc) {
        qmgr.scan_flushed = sc->flush;
        time_t now = time(0);
        while (sc->next < sc->names.n) {
            if (!qmgr_has_room()) {
                qmgr.more_deferred = true;
                qmgr.scan_flushed = false;
                return;
            }
            take_deferred(sc->names.v[sc->next++], now);
        }
        sc->flush = false;
        if (!scan_done(sc))
            break;
    }
    qmgr.scan_flushed = false;
}
