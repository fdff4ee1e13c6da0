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
 * qmgr_message_recipient_limit recipients are in memory; the scan
 * remembers that it stopped early and runs again when room appears.
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

void qmgr_scan_incoming(void)
{
    strv names = {0};
    strv_init(&names);
    qmgr.more_incoming = false;
    if (list_queue(QUEUE_INCOMING, &names) == 0) {
        for (size_t i = 0; i < names.n; i++) {
            if (!qmgr_has_room()) {
                qmgr.more_incoming = true;
                break;
            }
            take_incoming(names.v[i]);
        }
        qmgr.startup_scan = false;
    }
    strv_free(&names);
}

void qmgr_scan_deferred(bool flush)
{
    strv names = {0};
    strv_init(&names);
    qmgr.more_deferred = false;
    qmgr.scan_flushed = flush;
    time_t now = time(0);
    if (list_queue(QUEUE_DEFERRED, &names) == 0) {
        for (size_t i = 0; i < names.n; i++) {
            char path[4200];
            struct stat st;
            const char *id = names.v[i];
            if (qfile_path(path, sizeof(path), QUEUE_DEFERRED, id) < 0 || lstat(path, &st) < 0
                || !S_ISREG(st.st_mode))
                continue;
            if (flush && st.st_mtime > now) {
                struct timeval tv[2] = {{now, 0}, {now, 0}};
                if (utimes(path, tv) < 0)
                    msg_warn("%s: set retry time: %m", path);
                st.st_mtime = now;
            }
            if (st.st_mtime > now)
                continue;
            if (!qmgr_has_room()) {
                qmgr.more_deferred = true;
                if (flush)
                    continue;
                break;
            }
            if (move_file(QUEUE_DEFERRED, QUEUE_ACTIVE, id) < 0) {
                if (errno != ENOENT)
                    msg_warn("%s: move from %s to %s: %m", id, QUEUE_DEFERRED, QUEUE_ACTIVE);
                continue;
            }
            /* defer/ID holds the reasons of the last attempt only. */
            if (dsn_log_delete(DSN_LOG_DEFER, id) < 0)
                msg_warn("%s: remove %s log: %m", id, DSN_LOG_DEFER);
            activate(id);
        }
    }
    qmgr.scan_flushed = false;
    strv_free(&names);
}
