/*
 * cf_lines.h - physical lines of main.cf / master.cf, for editors.
 *
 * Editors must keep every byte they do not change, so they work on
 * physical lines rather than the joined logical lines of util/cfg_file.
 * cf_lines_split() cuts text into lines and classifies each one the way
 * Postfix's configuration readers do:
 *   CF_LINE_OTHER  empty, all white space, or a comment (first non-blank
 *                  character is '#'); never part of an entry's value
 *   CF_LINE_START  starts with a non-blank character: a new entry
 *   CF_LINE_CONT   starts with white space and has text: continues the
 *                  entry above (or stands alone at the top of the file)
 * Line text includes its '\n' when the file has one. Nothing is copied:
 * the lines point into the caller's text. This module does not parse
 * names or values.
 */
#ifndef HK_MAIL_CF_LINES_H
#define HK_MAIL_CF_LINES_H

#include <stddef.h>

enum cf_line_kind { CF_LINE_OTHER, CF_LINE_START, CF_LINE_CONT };

struct cf_line {
    const char *text;       /* into the caller's buffer */
    size_t  len;            /* bytes, including the '\n' if any */
    enum cf_line_kind kind;
    int     lineno;         /* 1-based */
};

/* Returns the number of lines; *lines is malloc'd (xfree it), NULL if 0. */
size_t cf_lines_split(const char *text, size_t len, struct cf_line **lines);

/* Index of the last line of the entry starting at start: the last
 * CF_LINE_CONT before the next CF_LINE_START (comment lines inside are part
 * of the extent, trailing ones are not). */
size_t cf_lines_entry_end(const struct cf_line *lines, size_t n, size_t start);

#endif
