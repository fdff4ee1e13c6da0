/*
 * cfg_file.h - reading Postfix-style configuration files as logical lines.
 *
 * A logical line starts with a non-blank character; following lines that
 * start with white space continue it. Blank lines and lines whose first
 * non-blank character is '#' are skipped (and do not end a logical line).
 * Each logical line is handed to the callback with its first physical line
 * number, joined with single spaces and without trailing white space.
 * cfg_split_assignment() splits "name = value" the way main.cf does.
 * This module knows nothing about parameter names or types.
 */
#ifndef HK_UTIL_CFG_FILE_H
#define HK_UTIL_CFG_FILE_H

#include <stddef.h>

/* Callback returns 0 to go on, nonzero to stop (that value is returned). */
typedef int (*cfg_line_fn)(const char *line, int lineno, void *ctx);

/* Returns 0, the callback's nonzero value, or -1 with errno (open/read). */
int cfg_read_lines(const char *path, cfg_line_fn fn, void *ctx);
int cfg_parse_lines(const char *text, size_t len, cfg_line_fn fn, void *ctx);

/*
 * Split "name = value" in place. Returns 0 and sets *name and *value, or
 * -1 with *why set to a static reason ("missing '=' after attribute name").
 */
int cfg_split_assignment(char *line, char **name, char **value, const char **why);

#endif
