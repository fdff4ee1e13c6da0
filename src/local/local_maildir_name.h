/*
 * local_maildir_name.h - unique file names for Maildir delivery.
 *
 * The Maildir convention (cr.yp.to/proto/maildir.html): "time.unique.host".
 * A file is created in tmp/ under a name made of the time, the delivering
 * process ID and a microsecond counter, then linked into new/ under a
 * name that adds the file's device and inode numbers, which no other file
 * on that file system can have while this one exists. In the host part
 * '/' becomes "\057" and ':' becomes "\072" (':' starts the info suffix in
 * cur/). Pure functions; the caller supplies time, IDs and host name.
 */
#ifndef HK_LOCAL_MAILDIR_NAME_H
#define HK_LOCAL_MAILDIR_NAME_H

#include <sys/types.h>
#include <time.h>

#include "util/sbuf.h"

/* Host name made safe for a Maildir file name; out is replaced. */
void local_maildir_host(const char *host, sbuf *out);
/* tmp/ name: "<sec>.P<pid>M<usec>.<host>" (out replaced). */
void local_maildir_tmp_name(sbuf *out, time_t sec, long usec, pid_t pid, const char *host);
/* new/ name: "<sec>.V<dev hex>I<inode hex>M<usec>.<host>" (out replaced). */
void local_maildir_new_name(sbuf *out, time_t sec, long usec, dev_t dev, ino_t ino,
                            const char *host);

#endif
