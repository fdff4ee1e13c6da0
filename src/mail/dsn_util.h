/*
 * dsn_util.h - RFC 3463 enhanced status codes: check, split off a text, classify.
 *
 * dsn_split("5.1.1 No such user", "5.0.0", code, sizeof code) puts
 * "5.1.1" in code and returns "No such user"; a text without a valid
 * leading code gets the default code and is returned whole. Used by the
 * error and discard agents (transport "error:5.7.1 go away") and by qmgr
 * and bounce. Pure string functions: no I/O, no configuration.
 */
#ifndef HK_MAIL_DSN_UTIL_H
#define HK_MAIL_DSN_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#define DSN_CODE_SIZE 16    /* "5.123.123" and a NUL, with room */

/* Length of a valid code at the start of text ("2|4|5 . 1-3 digits . 1-3
 * digits", then end or a blank), or 0. */
size_t dsn_valid(const char *text);
/* Split as above; code (>= DSN_CODE_SIZE bytes) always receives a code
 * (def when text has none). Leading blanks of the rest are skipped. */
const char *dsn_split(const char *text, const char *def, char *code, size_t code_size);
/* Force the class digit of code to cls ('4' or '5'). */
void dsn_set_class(char *code, char cls);

#endif
