/*
 * postsuper.h - postsuper's internal interfaces (see postsuper.c).
 */
#ifndef HK_POSTSUPER_POSTSUPER_H
#define HK_POSTSUPER_POSTSUPER_H

#include <stdbool.h>

/* What was done, for the summary lines; errors make the exit status 1. */
struct ps_counts {
    long    deleted;
    long    held;
    long    released;
    long    requeued;
    long    errors;
};
extern struct ps_counts ps_counts;

/* ps_ops.c: operations on one named message. The queues list is
 * NULL-terminated; each returns true when the message was found and
 * acted upon. id "-" is not handled here (postsuper.c reads stdin). */
bool ps_delete_one(const char *const *queues, const char *id);
bool ps_hold_one(const char *const *queues, const char *id);
bool ps_release_one(const char *const *queues, const char *id);
bool ps_requeue_one(const char *const *queues, const char *id);

/* ps_ops.c: the ALL forms, over every message in the queues. */
void ps_delete_all(const char *const *queues);
void ps_hold_all(const char *const *queues);
void ps_release_all(const char *const *queues);
void ps_requeue_all(const char *const *queues);

/* ps_check.c: -s (structure check and repair) and -p (purge temporary files). */
void ps_structure(const char *const *queues);
void ps_purge(const char *const *queues);

/* Shared helpers (ps_ops.c). */
bool ps_is_log_queue(const char *queue);
/* Message file "ready" (complete): a regular file with the owner-execute bit. */
bool ps_ready(const char *path);
/* Remove defer/, bounce/ and trace/ logs of id (missing ones are fine). */
void ps_remove_logs(const char *id);

#endif
