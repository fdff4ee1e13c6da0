/*
 * postqueue.h - postqueue's internal interfaces (see postqueue.c).
 */
#ifndef HK_POSTQUEUE_POSTQUEUE_H
#define HK_POSTQUEUE_POSTQUEUE_H

#include <stdbool.h>

#include "postqueue/pq_format.h"

/* Exit with status after logging a fatal error (sysexits.h codes). */
void pq_fatal(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Refuse unless the real user is root, mail_owner, or matches the list in
 * the parameter (authorized_mailq_users, authorized_flush_users). */
void pq_check_acl(const char *param, const char *what);

/* pq_list.c: -p and -j. */
int pq_list(enum pq_mode mode);

/* pq_flush.c: -f, -i ID, -s site. */
int pq_flush_all(void);
int pq_flush_id(const char *id);
int pq_flush_site(const char *site);

#endif
