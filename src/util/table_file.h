/*
 * table_file.h - logical lines of lookup-table source files.
 *
 * The source files of postmap, postalias, texthash, regexp, pcre and cidr
 * tables share one line grammar: a logical line starts with non-blank text;
 * following lines that start with white space continue it (the newline is
 * dropped and the continuation is kept as written, as Postfix does); blank
 * lines and lines whose first non-blank character is '#' are skipped and do
 * not end a logical line. The callback gets each logical line without its
 * trailing white space, with the number of its first physical line.
 *
 * Bad lines are warned about here ("file, line N: ...") and skipped: a
 * logical line that starts with white space, one containing a NUL byte,
 * one longer than TABLE_MAX_LINE. This module knows nothing about what a
 * line means; table_split_kv() splits the "key whitespace value" form.
 */
#ifndef HK_UTIL_TABLE_FILE_H
#define HK_UTIL_TABLE_FILE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_MAX_LINE (16 * 1024 * 1024)

/* Callback: line is writable and NUL-terminated; return 0 to go on. */
typedef int (*table_line_fn)(char *line, int lineno, void *ctx);

/* origin names the input in warnings. Returns 0, the callback's nonzero
 * value, or -1 with errno set on a read error. */
int table_read_stream(FILE *fp, const char *origin, table_line_fn fn, void *ctx);
/* Same for a file by name; -1 with errno when it cannot be opened. */
int table_read_file(const char *path, table_line_fn fn, void *ctx);
/* Same for text in memory (inline tables). */
int table_parse_text(const char *text, size_t len, const char *origin,
                     table_line_fn fn, void *ctx);

/*
 * Split "key whitespace value" in place. The key ends at white space
 * outside double quotes ("a b" keys keep their quotes; backslash quotes
 * the next character inside them); the value has surrounding white space
 * removed. Returns 0, or -1 with *why set to a static reason:
 * "expected format: key whitespace value" or "unbalanced '\"'".
 */
int table_split_kv(char *line, char **key, char **value, const char **why);

#endif
