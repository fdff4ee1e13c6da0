/*
 * queue_dirs.h - the queue directory tree: names, owners, modes; check and create.
 *
 * One table lists every directory under queue_directory (and
 * data_directory) with its owner and mode, as Postfix lays them out.
 * queue_dirs_check() reports problems (missing, wrong owner, wrong mode),
 * and with fix set creates what is missing and repairs ownership and
 * modes. It does not look inside the queue files.
 */
#ifndef HK_MAIL_QUEUE_DIRS_H
#define HK_MAIL_QUEUE_DIRS_H

#include <stdbool.h>
#include "util/strv.h"

/* Queue names used across programs. */
#define QUEUE_MAILDROP  "maildrop"
#define QUEUE_INCOMING  "incoming"
#define QUEUE_ACTIVE    "active"
#define QUEUE_DEFERRED  "deferred"
#define QUEUE_HOLD      "hold"
#define QUEUE_CORRUPT   "corrupt"
#define QUEUE_BOUNCE    "bounce"    /* per-message bounce logs */
#define QUEUE_DEFER     "defer"     /* per-message defer logs */
#define QUEUE_TRACE     "trace"
#define QUEUE_SAVED     "saved"
#define QUEUE_FLUSH     "flush"

/*
 * Check (and with fix, create/repair) the tree. Problems are appended to
 * problems as text; returns the number of problems left unfixed. Needs
 * root to change ownership; without root, ownership is only reported.
 */
int queue_dirs_check(bool fix, strv *problems);

#endif
