/*
 * sendmail.h - helpers shared by the sendmail command's files.
 */
#ifndef HK_SENDMAIL_SENDMAIL_H
#define HK_SENDMAIL_SENDMAIL_H

#include <sys/types.h>

/* "sendmail: fatal: ..." on stderr (and the log), then exit with status
 * (sysexits.h). A postdrop child registered with sm_child() is killed
 * first, so its half-written maildrop file goes away. */
void sm_fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void sm_child(pid_t pid);

#endif
