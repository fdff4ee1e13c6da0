/*
 * local_child.h - run one delivery step in a child process with a user's rights.
 *
 * The local daemon stays root; anything that touches a user's files or
 * runs a user's command happens in a child forked for that step. The
 * child drops to the given uid/gid for good (setgroups to the one group,
 * setgid, setuid, then checks that root cannot be regained), sets
 * umask 077 and the file size limit (mailbox_size_limit, which also binds
 * files written by commands), runs the step and reports back over a pipe:
 * a fixed result record and optionally some bytes of data (a .forward
 * file's text, say). uid 0 keeps root (root's own mailbox, or a spool
 * directory only root may write).
 *
 * If the child cannot be started or dies without reporting, the result
 * is a deferral (4.3.0) with the reason, so the message is retried.
 * Warnings go back in the result and the parent logs them: once it is
 * another user, the child may not be able to write to the log.
 *
 * A step that needs no child (a mailbox write, the ~/.forward search) can
 * run in the local process instead, with the user's effective ids
 * (local_eugid_run below): same step function, same result record.
 *
 * NOT HERE: choosing the rights, or what a step does.
 */
#ifndef HK_LOCAL_CHILD_H
#define HK_LOCAL_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#include "mail/deliver_request.h"
#include "util/sbuf.h"

struct local_child_result {
    int     outcome;            /* enum deliver_outcome */
    char    dsn[16];
    char    text[1536];         /* reason (truncated if longer) */
    int     err;                /* errno for callers that want it */
    long    aux;                /* a step-specific number (an index, a uid) */
    char    warning[512];       /* logged by the parent: the child may not reach the log */
    size_t  data_len;           /* bytes of data that follow on the pipe */
};

struct local_privs {
    uid_t   uid;
    gid_t   gid;
};

/* The step: fill res (and data, if the caller asked for data). */
typedef void (*local_child_fn)(void *ctx, struct local_child_result *res, sbuf *data);

/* Run fn in a child with privs. Returns 0 when the child reported (res
 * and data hold its report; data is cut at data_max bytes), -1 when it
 * could not run or died (res holds a deferral). data may be NULL. */
int  local_child_run(const struct local_privs *privs, local_child_fn fn, void *ctx,
                     struct local_child_result *res, sbuf *data, size_t data_max);

/*
 * The same step in this process (local_eugid.c), for the mailbox
 * deliveries and the ~/.forward search: the effective uid, gid and groups
 * become privs for the duration of fn (umask 077, mailbox_size_limit as
 * the soft file size limit), then root again. Same results as
 * local_child_run(): 0 when fn ran, -1 (res holds a deferral) when the
 * ids could not be switched. Never for a user's program, nor for a file
 * named by an alias or .forward: those keep local_child_run().
 */
int  local_eugid_run(const struct local_privs *privs, local_child_fn fn, void *ctx,
                     struct local_child_result *res, sbuf *data, size_t data_max);

/* Helpers for steps. */
void local_child_set(struct local_child_result *res, int outcome, const char *dsn,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A warning for the parent to log (the last one wins). */
void local_child_warn(struct local_child_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* DSN for a failed mailbox/file write by errno (mbox conventions): ENOSPC
 * 4.3.0, EFBIG/EDQUOT 5.2.2 (mailbox full), EAGAIN/ESTALE 4.2.0, else def. */
const char *local_errno_dsn(int err, const char *def);

#endif
