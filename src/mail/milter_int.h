/*
 * milter_int.h - private to milter.c and milters.c: one filter's state
 * and the per-filter protocol engine. Nothing else includes this.
 */
#ifndef HK_MAIL_MILTER_INT_H
#define HK_MAIL_MILTER_INT_H

#include "mail/milter.h"
#include "mail/milter_proto.h"
#include "util/vstream.h"

/* Filter states (also handed to cleanup in struct milter_xfer). */
enum {
    MILTER_ST_CLOSED = 1,       /* not connected yet, or finished */
    MILTER_ST_READY,            /* negotiated, waiting for the connect event */
    MILTER_ST_ENVELOPE,         /* takes SMTP events */
    MILTER_ST_MESSAGE,          /* content being sent */
    MILTER_ST_ACCEPT_CON,       /* accepted the session: no more events */
    MILTER_ST_ACCEPT_MSG,       /* accepted this message: none until the next */
    MILTER_ST_REJECT_CON,       /* rejected the session: def_reply for everything */
    MILTER_ST_ERROR,            /* failed: def_reply (milter_default_action) */
};

struct milter {
    milters *parent;
    char   *name;               /* as configured: "inet:127.0.0.1:8891" */
    int     conn_timeout, cmd_timeout, msg_timeout;    /* seconds */
    char   *def_action;         /* accept, reject, tempfail, quarantine */
    char   *protocol;           /* "6", "4 no_header_reply" */
    uint32_t my_version, my_events;
    uint32_t version, actions, events;  /* what the filter negotiated */
    uint32_t np_mask;           /* SMFIP_NO* events outside the protocol version */
    vstream *fp;
    int     state;
    char   *def_reply;          /* sticky verdict, NULL when none */
    bool    in_tx;              /* a MAIL event went out: ABORT at the end */
    bool    skip_body;          /* SMFIR_SKIP arrived */
    strv    macros[MILTER_MAC_COUNT];
    sbuf    out;                /* packets being built */
    sbuf    in;                 /* the reply packet */
    sbuf    reply;              /* SMFIR_REPLYCODE text */
    sbuf    why;
};

struct milters {
    milter **v;
    size_t  n;
    strv    defaults;           /* milter_macro_defaults: "name=value", no braces */
    strv    received;           /* macro values that came with the filters (milter_send) */
    milter_macro_fn lookup;
    void   *lookup_ctx;
    const struct milter_edit_ops *ed;   /* during milters_message() */
    void   *ed_ctx;
};

/* milter.c */
milter *milter_alloc(milters *parent, const char *name, int conn_timeout, int cmd_timeout,
                     int msg_timeout, const char *def_action, const char *protocol);
void milter_free(milter *m);
/* Connect and negotiate (state READY), or ERROR with def_reply. */
void milter_open(milter *m);
/* Send one event with the macros of stage (-1: none) and read the
 * verdict; args is the packet data (may be NULL). */
const char *milter_event(milter *m, int code, uint32_t skip_flag, uint32_t noreply_flag,
                         int stage, const sbuf *args, int timeout);
/* Send a command that has no reply (ABORT, QUIT). */
void milter_send_noreply(milter *m, int code);
void milter_close(milter *m);
/* Send SMFIC_QUIT (errors ignored) and close. */
void milter_quit(milter *m);
/* Failure: log nothing more, shut the socket, def_reply from def_action. */
const char *milter_comm_error(milter *m);
const char *milter_conf_error(milter *m);
/* Turn a stored header into the SMFIC_HEADER arguments. */
void milter_header_args(const milter *m, const char *hdr, size_t len, sbuf *args);

#endif
