/*
 * cleanup_checks.h - built-in content inspection: header_checks,
 * mime_header_checks, nested_header_checks and body_checks (header_checks(5)).
 *
 * Tables are opened once (cleanup_checks_init, before privileges are
 * dropped); any table type works, the key is one logical header (folds
 * kept as LFs, without the final LF) or one body line piece (without its
 * LF). A pattern table's result is "ACTION [text]" with $1.. already
 * substituted by the table. Which table sees a header:
 *   primary header, MIME-related (Content-*, MIME-Version) -> mime_header_checks
 *   primary header, other                                  -> header_checks
 *   header of a multipart part                             -> mime_header_checks
 *   header of an attached message, MIME-related            -> mime_header_checks
 *   header of an attached message, other                   -> nested_header_checks
 *   everything else after the primary headers              -> body_checks
 * With disable_mime_input_processing every primary header goes to
 * header_checks and everything after them is body. Body lines are checked
 * only in the first body_checks_size_limit bytes of each body segment,
 * and empty lines never (header_checks(5), BUGS).
 *
 * Verdicts (enum cleanup_act), as header_checks(5) describes them:
 *   IGNORE    the line is not written (not logged)
 *   STRIP     the same, logged as "strip:"
 *   REPLACE   the line is written as text instead ("replace:")
 *   PREPEND   text is written as a line before this one ("prepend:")
 *   WARN      "warning:" logged, nothing else;  INFO: "info:"
 *   REJECT    CLEANUP_STAT_CONT with "5.7.1 ..." (a 4.x.x text makes it
 *             CLEANUP_STAT_DEFER); no more inspection ("reject:")
 *   DISCARD   accepted and thrown away; no more inspection ("discard:")
 *   HOLD      committed into hold/ ("hold:", once)
 *   REDIRECT  every recipient replaced by the address; overrides FILTER;
 *             no more inspection ("redirect:")
 *   FILTER    transport:nexthop for qmgr, last one wins ("filter:")
 *   BCC       one more recipient, NOTIFY=NEVER ("bcc:")
 *   PASS      no more inspection ("pass:")
 *   DUNNO, OK: nothing. Unknown or malformed actions are warned about
 *   ("unknown command in header_checks map: X") and do nothing.
 * The "no more inspection" verdicts clear CLEANUP_FLAG_FILTER (and
 * CLEANUP_FLAG_MILTER) in st->flags. Each logged verdict is one line:
 *   ID: reject: header Subject: x from host[addr]; from=<s> to=<r> proto=P helo=<h>: text
 * ("from local;" for local submissions). A table that cannot be read
 * makes the message fail with a temporary error (CLEANUP_STAT_WRITE).
 */
#ifndef HK_CLEANUP_CLEANUP_CHECKS_H
#define HK_CLEANUP_CLEANUP_CHECKS_H

#include <stddef.h>
#include <stdint.h>
#include "cleanup/cleanup.h"

enum cleanup_act {
    CLEANUP_ACT_NONE = 0,       /* no match, DUNNO, OK, or a bad action */
    CLEANUP_ACT_IGNORE,
    CLEANUP_ACT_REPLACE,
    CLEANUP_ACT_PREPEND,
    CLEANUP_ACT_WARN,
    CLEANUP_ACT_REJECT,
    CLEANUP_ACT_DEFER,          /* REJECT with a 4.x.x text */
    CLEANUP_ACT_DISCARD,
    CLEANUP_ACT_HOLD,
    CLEANUP_ACT_REDIRECT,
    CLEANUP_ACT_FILTER,
    CLEANUP_ACT_INFO,
    CLEANUP_ACT_BCC,
    CLEANUP_ACT_STRIP,
    CLEANUP_ACT_PASS,
};

struct cleanup_verdict {
    enum cleanup_act act;
    sbuf    text;           /* reply text, line text, address or filter, per act */
};

/* Open the tables named by main.cf (pre_init), and whether any changed. */
void cleanup_checks_init(void);
bool cleanup_checks_changed(void);
/* True when any header table is in use (MIME nesting errors are then reported). */
bool cleanup_checks_header_tables(void);
/* True when body_checks will look at no body piece of the current
 * segment from offset on: no table, inspection off for this message
 * (CLEANUP_FLAG_FILTER cleared), or past body_checks_size_limit. */
bool cleanup_checks_body_done(const struct cleanup_state *st, uint64_t offset);
/* "host[addr]" of an SMTP client, "local" otherwise (log lines). */
void cleanup_log_origin(const struct cleanup_state *st, sbuf *out);

/*
 * "ACTION [text]" -> verdict (pure, apart from warnings). where is
 * "header" or "body" (PREPEND/REPLACE text must be a header for headers),
 * map_class the parameter name for warnings. REJECT text gets "5.7.1"
 * unless it starts with an enhanced status code. Returns v->act.
 */
enum cleanup_act cleanup_parse_action(const char *value, const char *where,
                                      const char *map_class, struct cleanup_verdict *v);

/*
 * Look the header (class MIME_HDR_*, text ending in LF) or body piece up
 * in its table and parse the result into v (v->act = NONE, text empty on
 * entry). Nothing happens unless CLEANUP_FLAG_FILTER is set. Returns v->act.
 */
enum cleanup_act cleanup_check_header(struct cleanup_state *st, int hdr_class,
                                      const char *hdr, size_t len,
                                      struct cleanup_verdict *v);
enum cleanup_act cleanup_check_body(struct cleanup_state *st, const char *line, size_t len,
                                    uint64_t offset, struct cleanup_verdict *v);

/*
 * Apply the effect of v on the whole message and log it; where is
 * "header" or "body", what the header or line it was about. What a
 * verdict does to the line itself (IGNORE, STRIP, REPLACE, PREPEND) is
 * the caller's.
 */
void cleanup_apply_verdict(struct cleanup_state *st, const char *where, const char *what,
                           size_t what_len, const struct cleanup_verdict *v);

#endif
