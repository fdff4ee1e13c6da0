/*
 * smtpd_space.h - is there room in the queue file system for a new message?
 *
 * Postfix's queue_minfree rule (postconf(5) queue_minfree), checked at
 * MAIL FROM: "452 4.3.1 Insufficient system storage" when the space free
 * to unprivileged users on the queue file system, minus queue_minfree,
 *   - is zero or less, or
 *   - is less than 1.5 x message_size_limit (when there is a limit), or
 *   - is less than 1.5 x the size the client declared with SIZE=.
 * The refusal is logged as a reject ("NOQUEUE: reject: MAIL from ...")
 * with a warning that names the free space.
 *
 * NOT HERE: a disk that fills while a message is written; cleanup's write
 * error answers that one (cleanup_client.h, CLEANUP_STAT_WRITE).
 */
#ifndef HK_SMTPD_SMTPD_SPACE_H
#define HK_SMTPD_SMTPD_SPACE_H

#include <stdbool.h>

#include "smtpd/smtpd.h"

#define SMTPD_SPACE_REPLY "452 4.3.1 Insufficient system storage"

/* The rule alone: true when a message fits. Sizes in bytes; 0 = no limit,
 * nothing declared. */
bool smtpd_space_enough(unsigned long long free_bytes, long long minfree, long long size_limit,
                        long long declared);

/* At MAIL FROM: 0 when there is room; else logs, replies 452 and returns -1.
 * A file system that cannot be examined is not a reason to refuse mail. */
int smtpd_space_check(SMTPD_STATE *st);

#endif
