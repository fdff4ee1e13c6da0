/*
 * cleanup_checks.h - the hook points for header_checks and body_checks.
 *
 * cleanup_check_header() and cleanup_check_body() are where content
 * inspection plugs in: given one logical header (name, folds and final
 * LF included) or one body line, they fill a verdict. Today they always
 * answer CLEANUP_ACT_NONE; the content-inspection work fills them in
 * (header_checks(5) actions map one to one onto enum cleanup_act).
 *
 * Everything that a verdict does to the message is already implemented
 * here and in cleanup_header.c, so the checks only have to decide:
 *   IGNORE    the header is not written (body: the line is kept; Postfix
 *             body IGNORE deletes the line, which callers may add later)
 *   REPLACE   the header is written as text instead
 *   PREPEND   text is written as a header before this one
 *   WARN      logged, nothing else
 *   REJECT    CLEANUP_STAT_CONT with text ("5.7.1 ..." by default)
 *   DEFER     CLEANUP_STAT_DEFER with text ("4.7.1 ..." by default)
 *   DISCARD   accepted and thrown away (CLEANUP_STAT_DISCARD)
 *   HOLD      committed into hold/ instead of incoming/
 *   REDIRECT  every recipient replaced by the address in text
 *   FILTER    not supported yet (logged)
 * Each non-trivial verdict is logged as Postfix does:
 *   ID: reject: header Subject: x from host[addr]; from=<s> to=<r> proto=P helo=<h>: text
 */
#ifndef HK_CLEANUP_CLEANUP_CHECKS_H
#define HK_CLEANUP_CLEANUP_CHECKS_H

#include <stddef.h>
#include "cleanup/cleanup.h"

enum cleanup_act {
    CLEANUP_ACT_NONE = 0,
    CLEANUP_ACT_IGNORE,
    CLEANUP_ACT_REPLACE,
    CLEANUP_ACT_PREPEND,
    CLEANUP_ACT_WARN,
    CLEANUP_ACT_REJECT,
    CLEANUP_ACT_DEFER,
    CLEANUP_ACT_DISCARD,
    CLEANUP_ACT_HOLD,
    CLEANUP_ACT_REDIRECT,
    CLEANUP_ACT_FILTER,
};

struct cleanup_verdict {
    enum cleanup_act act;
    sbuf    text;           /* reply text, header text or address, per act */
};

/* The hooks: fill v (v->act = NONE, text empty on entry); return v->act. */
enum cleanup_act cleanup_check_header(struct cleanup_state *st, const char *hdr, size_t len,
                                      struct cleanup_verdict *v);
enum cleanup_act cleanup_check_body(struct cleanup_state *st, const char *line, size_t len,
                                    struct cleanup_verdict *v);

/*
 * Apply the effect of v on the whole message (reject, defer, discard,
 * hold, redirect, warn) and log it; where is "header" or "body", what
 * the header or line it was about. IGNORE/REPLACE/PREPEND are the
 * caller's (they change the output); this only logs them at verbose.
 */
void cleanup_apply_verdict(struct cleanup_state *st, const char *where, const char *what,
                           size_t what_len, const struct cleanup_verdict *v);

/* Run the body hook over one line and apply its verdict (cleanup_content.c). */
void cleanup_check_body_line(struct cleanup_state *st, const char *line, size_t len);

#endif
