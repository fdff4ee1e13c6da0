/*
 * smtpd_space.c - the queue_minfree check at MAIL FROM (see smtpd_space.h).
 *
 * statvfs(2) of queue_directory; f_bavail (what an unprivileged writer
 * such as cleanup may use), not f_bfree.
 */
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include "mail/mail_conf.h"
#include "util/msg.h"

#include "smtpd/smtpd_space.h"

/* 1.5 x n without overflow (n >= 0). */
static unsigned long long one_and_a_half(long long n)
{
    unsigned long long u = (unsigned long long) n;
    return u + u / 2;
}

bool smtpd_space_enough(unsigned long long free_bytes, long long minfree, long long size_limit,
                        long long declared)
{
    unsigned long long keep = minfree > 0 ? (unsigned long long) minfree : 0;
    if (free_bytes <= keep)
        return false;
    unsigned long long room = free_bytes - keep;
    if (size_limit > 0 && room < one_and_a_half(size_limit))
        return false;
    if (declared > 0 && room < one_and_a_half(declared))
        return false;
    return true;
}

int smtpd_space_check(SMTPD_STATE *st)
{
    struct statvfs fs;
    const char *qdir = mail_conf_str("queue_directory");
    if (statvfs(qdir, &fs) < 0) {
        msg_warn("statvfs %s: %s", qdir, strerror(errno));
        return 0;
    }
    unsigned long long free_bytes = (unsigned long long) fs.f_bavail * fs.f_frsize;
    long long minfree = mail_conf_long("queue_minfree");
    if (smtpd_space_enough(free_bytes, minfree, st->size_limit, st->decl_size))
        return 0;
    smtpd_log_whatsup(st, "reject", SMTPD_SPACE_REPLY);
    if (st->decl_size > 0 && smtpd_space_enough(free_bytes, minfree, st->size_limit, 0))
        msg_warn("not enough free space in mail queue: %llu bytes < 1.5*%lld bytes (SIZE) + "
                 "queue_minfree", free_bytes, st->decl_size);
    else
        msg_warn("not enough free space in mail queue: %llu bytes < 1.5*message_size_limit",
                 free_bytes);
    smtpd_reply(st, "%s", SMTPD_SPACE_REPLY);
    return -1;
}
