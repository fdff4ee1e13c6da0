/*
 * local.h - the local delivery agent: shared types and the modules' entry points.
 *
 * local(8) takes delivery requests from qmgr for recipients in local
 * domains and delivers each one, in this order of precedence (local(8)):
 * aliases (alias_maps), ~/.forward (forward_path), mailbox_transport_maps,
 * mailbox_transport, mailbox_command_maps, mailbox_command, home_mailbox
 * (mbox file or Maildir/), mail_spool_directory, fallback_transport_maps,
 * fallback_transport, luser_relay, else `unknown user: "x"`.
 *
 * One request recipient may expand (aliases, .forward, :include:) into
 * many deliveries. Each one is logged on its own (to=<leaf>,
 * orig_to=<original>); the recipient's status for qmgr is the worst of
 * them: any deferral defers the whole recipient (and cancels pending
 * forwarding, which would otherwise be sent twice), else any bounce
 * bounces it, else it is sent.
 *
 * Privileges: the process is root. Every step that touches a user's
 * files runs with that user's rights: the mailbox deliveries (mbox,
 * Maildir) and the ~/.forward search in this process with the user's
 * effective ids (local_eugid.c, as Postfix's local does: no fork per
 * message); commands, /file and /dir/ destinations and :include: reads
 * in a child that gives up root for good (local_child.c).
 *
 * The modules (one file each):
 *   local.c            daemon, request loop, status bookkeeping and logging
 *   local_recipient.c  one recipient: loop checks, alias, .forward, mailbox, unknown
 *   local_alias.c      alias_maps lookup, owner- aliases, table owner rights
 *   local_token.c      alias/.forward/:include: value syntax (pure)
 *   local_deliver_token.c  deliver one parsed destination (address, /file, |cmd, :include:)
 *   local_dotforward.c ~/.forward search and expansion
 *   local_include.c    :include: files
 *   local_mailbox.c    mailbox method choice (transport, command, maildir, mbox)
 *   local_mbox.c       UNIX mbox and /file appends (locking, limits, truncation)
 *   local_lock.c       dot-lock and fcntl lock
 *   local_maildir.c    Maildir delivery and its unique names
 *   local_command.c    |command delivery
 *   local_copy.c       the message as written out (From_, headers, >From quoting)
 *   local_expand.c     $name expansion for luser_relay, forward_path (pure)
 *   local_forward.c    resubmission of forwarded mail through cleanup
 *   local_pass.c       handing a recipient to another transport (fallback_transport)
 *   local_child.c      run a delivery step in a child with the user's rights
 *   local_eugid.c      run a delivery step in this process with the user's effective ids
 *   local_dup.c        duplicate filter
 *   local_user.c       passwd lookups, default_privs
 */
#ifndef HK_LOCAL_LOCAL_H
#define HK_LOCAL_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "mail/deliver_request.h"
#include "mail/maps.h"
#include "mail/qfile.h"
#include "util/sbuf.h"
#include "util/strv.h"

/* Expansion types: where a destination came from (allow_mail_to_* policy). */
#define EXP_TYPE_NONE    0
#define EXP_TYPE_ALIAS   (1 << 0)
#define EXP_TYPE_FORWARD (1 << 1)
#define EXP_TYPE_INCLUDE (1 << 2)

/* prepend_delivered_header contexts */
#define DELIVER_HDR_COMMAND (1 << 0)
#define DELIVER_HDR_FILE    (1 << 1)
#define DELIVER_HDR_FORWARD (1 << 2)

/* propagate_unmatched_extensions classes that local(8) honours */
#define EXT_PROP_ALIAS   (1 << 0)
#define EXT_PROP_FORWARD (1 << 1)
#define EXT_PROP_INCLUDE (1 << 2)

/* Recursion limit for aliases, :include: and nested recipients (local(8)). */
#define LOCAL_MAX_LEVEL 100

/* Largest .forward or :include: file read, in bytes. */
#define LOCAL_LIST_FILE_MAX (1024 * 1024)

/* ---- configuration, read once per process (local.c) ---- */

struct alias_table {
    char   *spec;               /* "hash:/etc/aliases" */
    maps   *m;                  /* this one table */
};

struct local_cf {
    const char *service;        /* master.cf service name: relay=, transport match */
    struct alias_table *aliases;
    size_t  nalias;
    int     cmd_mask;           /* allow_mail_to_commands, EXP_TYPE_* bits */
    int     file_mask;          /* allow_mail_to_files */
    int     hdr_mask;           /* prepend_delivered_header, DELIVER_HDR_* bits */
    int     ext_prop_mask;      /* propagate_unmatched_extensions, EXT_PROP_* bits */
    long    mailbox_limit;      /* mailbox_size_limit, 0 = none */
    long    command_time_limit;
    bool    frozen_delivered;
    bool    owner_request_special;
    bool    expand_owner_alias;
    bool    reset_owner_alias;
    bool    strict_mailbox_ownership;
    bool    require_home;
    bool    enable_orig_rcpt;
    int     lock_attempts;
    long    lock_delay;
    long    stale_lock_time;
    bool    lock_fcntl;         /* mailbox_delivery_lock */
    bool    lock_dotlock;
    long    dup_limit;
    long    line_limit;
    maps   *mbox_transport_maps;    /* NULL when the parameter is empty */
    maps   *mbox_command_maps;
    maps   *fallback_transport_maps;
};

extern struct local_cf local_cf;

/* ---- per request and per recipient state ---- */

struct local_dup;   /* local_dup.c */
struct forward_item;

/* One request recipient: accumulates leaf results and pending forwards. */
struct local_rcpt_state {
    const struct deliver_request *req;
    size_t  index;              /* into req->rcpt */
    qfile  *qf;                 /* the queue file, read-only */
    const strv *delivered_hdrs; /* Delivered-To values of the message, lower case */
    struct local_dup *dup;
    struct forward_item *fwd;   /* forwarding list (local_forward.c) */
    /* worst outcome so far */
    bool    have_result;
    enum deliver_outcome outcome;
    char    dsn[16];
    sbuf    reason;
};

/*
 * Message/recipient attributes, passed BY VALUE down the recursion so
 * each level changes only its own copy (Postfix's local does the same).
 * String members point at storage owned by a caller's frame.
 */
struct msg_attr {
    struct local_rcpt_state *st;
    int     level;
    const char *address;        /* current recipient, internal form */
    const char *orig;           /* original recipient ("" once reset by an owner- alias) */
    const char *delivered;      /* Delivered-To: address (NULL until set) */
    const char *sender;         /* envelope sender ("" null sender) */
    const char *owner;          /* owner attribute, NULL when none */
    const char *exp_from;       /* name this recipient was expanded from */
    int     exp_type;           /* EXP_TYPE_* */
    const char *unmatched;      /* extension to propagate (without its delimiter) */
    int     notify;             /* DSN NOTIFY */
    const char *dsn_orcpt;
    bool    no_expand;          /* "\user": straight to the mailbox */
    /* filled in by local_deliver_recipient() */
    const char *local;          /* lower-case local part, extension included */
    const char *domain;         /* lower-case domain, NULL when none */
    const char *user;           /* local part without extension */
    const char *extension;      /* extension without delimiter, NULL when none */
    const char *delim;          /* the delimiter found ("+"), NULL when none */
};

/* The rights used for file and command deliveries. */
struct usr_attr {
    bool    set;                /* false: no user context (root-owned alias) */
    uid_t   uid;
    gid_t   gid;
    const char *logname;
    const char *home;
    const char *shell;
};

/* ---- results (local.c) ---- */

/*
 * Record one delivery result: log it (to=<a->address>) and fold it into
 * the recipient's status. Returns 0 for sent/bounced, 1 for deferred,
 * so callers can OR statuses together the way local(8) does.
 */
int  local_status(const struct msg_attr *a, enum deliver_outcome o, const char *dsn,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define local_sent(a, ...)          local_status((a), DELIVER_SENT, "2.0.0", __VA_ARGS__)
#define local_defer(a, dsn, ...)    local_status((a), DELIVER_DEFER, (dsn), __VA_ARGS__)
#define local_bounce(a, dsn, ...)   local_status((a), DELIVER_BOUNCE, (dsn), __VA_ARGS__)
/* Result by DSN class: 4.x.x defers, 5.x.x bounces, 2.x.x is sent. */
int  local_status_dsn(const struct msg_attr *a, const char *dsn, const char *text);
/* Fold a result that another agent already logged (deliver_pass). */
int  local_status_quiet(struct local_rcpt_state *st, enum deliver_outcome o, const char *dsn,
                        const char *reason);
bool local_verify_only(const struct msg_attr *a);

/* ---- recipient and destinations ---- */

int  local_deliver_recipient(struct msg_attr a, struct usr_attr u);
/* Address from an alias, .forward, :include: or luser_relay: resolve it,
 * deliver locally (recursion) or forward. */
int  local_deliver_resolve_addr(struct msg_attr a, struct usr_attr u, const char *addr);
/* Returns true when an alias handled the recipient (*status set). */
bool local_deliver_alias(struct msg_attr a, struct usr_attr u, const char *name, int *status);
bool local_deliver_dotforward(struct msg_attr a, struct usr_attr u, int *status);
bool local_deliver_mailbox(struct msg_attr a, struct usr_attr u, int *status);
int  local_deliver_unknown(struct msg_attr a, struct usr_attr u);
int  local_deliver_include(struct msg_attr a, struct usr_attr u, const char *path);
int  local_deliver_file(struct msg_attr a, struct usr_attr u, const char *path);
int  local_deliver_command(struct msg_attr a, struct usr_attr u, const char *command);
/* mailbox: the user's own Maildir (written from this process with the
 * user's effective ids); false: a "/dir/" destination (written by a child). */
int  local_deliver_maildir(struct msg_attr a, struct usr_attr u, const char *dir,
                           bool mailbox);
int  local_deliver_mbox(struct msg_attr a, struct usr_attr u);
/* Parse a list (alias value, one .forward line) and deliver to each
 * destination. *count (may be NULL) is increased by the number found. */
int  local_deliver_token_string(struct msg_attr a, struct usr_attr u, const char *text,
                                int *count);
/* The same for a whole file's text: '#' comment lines skipped, long lines split. */
int  local_deliver_token_text(struct msg_attr a, struct usr_attr u, const char *text,
                              size_t len, int *count);

/* local_expand() values from a recipient's attributes ($user, $home,
 * $shell, $recipient, $extension, $domain, $local, $recipient_delimiter). */
struct local_exp_ctx {
    const struct msg_attr *a;
    const struct usr_attr *u;
    bool    extension_used;     /* set when $extension was looked up */
};
const char *local_attr_value(const char *name, size_t len, void *ctx);

/* ---- forwarding (local_forward.c) ---- */

/* Queue a forward of the message to a->address (sent at finish). */
int  local_forward_append(const struct msg_attr *a);
/* Submit the queued forwards through cleanup (or drop them when cancel). */
void local_forward_finish(struct local_rcpt_state *st, bool cancel);

/* ---- another transport (local_pass.c) ---- */

/* "transport[:nexthop]": hand this recipient to that master.cf service. */
int  local_deliver_pass(const struct msg_attr *a, const char *transport);

/* ---- users (local_user.c) ---- */

struct local_pw {
    sbuf    name, home, shell;
    uid_t   uid;
    gid_t   gid;
};
void local_pw_init(struct local_pw *pw);
void local_pw_free(struct local_pw *pw);
/* 1 found, 0 no such user, -1 lookup error (errno). By name, answers
 * are remembered until local_pw_forget() (called between requests). */
int  local_pw_byname(const char *name, struct local_pw *pw);
void local_pw_forget(void);
int  local_pw_byuid(uid_t uid, struct local_pw *pw);
/* Point u at pw (pw must outlive u). */
void local_usr_set(struct usr_attr *u, const struct local_pw *pw);
/* The rights for a file or command delivery: u, or default_privs when u is
 * unset or root. -1 with a reason when default_privs is unusable. */
int  local_delivery_rights(const struct usr_attr *u, struct usr_attr *out,
                           struct local_pw *storage, sbuf *why);

/* ---- duplicate filter (local_dup.c) ---- */

struct local_dup *local_dup_create(long limit);
void local_dup_free(struct local_dup *d);
/* true if key was seen before; remembers it otherwise. */
bool local_been_here(struct local_dup *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* true if key was seen before; never remembers. */
bool local_been_here_check(struct local_dup *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
