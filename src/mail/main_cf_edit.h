/*
 * main_cf_edit.h - change main.cf in place: set, remove or comment out.
 *
 * What "postconf -e", "postconf -X" and "postconf -#" do, for any program
 * that edits main.cf (postconf, install scripts, postfix upgrade steps):
 *
 *   MAIN_CF_SET      each entry for a named parameter (its first line and
 *                    all continuation lines) becomes one "name = value"
 *                    line in the same place; names not found are appended
 *                    at the end, sorted by name.
 *   MAIN_CF_REMOVE   the entries are deleted, continuation lines included.
 *   MAIN_CF_COMMENT  every line of the entries gets a leading "#".
 *
 * Everything else - comments, blank lines, other entries, their order and
 * their spacing - is copied byte for byte (a missing final newline is
 * added). Comment lines inside an entry are kept. The file is replaced
 * atomically (util/safe_file) with its previous mode; a missing main.cf
 * is created (0644). Nothing here knows whether a name is a valid
 * parameter: callers decide whether to warn.
 */
#ifndef HK_MAIL_MAIN_CF_EDIT_H
#define HK_MAIL_MAIN_CF_EDIT_H

#include <stddef.h>
#include "util/sbuf.h"
#include "util/strv.h"

enum main_cf_edit_mode { MAIN_CF_SET, MAIN_CF_REMOVE, MAIN_CF_COMMENT };

struct main_cf_edit {
    char   *name;
    char   *value;          /* MAIN_CF_SET only, else NULL */
};

/*
 * Parse one command-line argument: "name = value" or "name=value" for
 * MAIN_CF_SET (white space around name and value is trimmed), a bare name
 * otherwise. Returns 0, or -1 with a malloc'd message in *err.
 */
int  main_cf_edit_parse(enum main_cf_edit_mode mode, const char *arg,
                        struct main_cf_edit *req, char **err);
void main_cf_edit_release(struct main_cf_edit *req);

/*
 * Apply requests to text (path only names the file in warnings) and
 * append the new text to out. When two requests name the same parameter
 * the later one wins. Warnings ("ignoring earlier request: ...",
 * "PATH: multiple entries for \"NAME\"") are added to warnings.
 */
void main_cf_edit_text(enum main_cf_edit_mode mode, const struct main_cf_edit *reqs,
                       size_t n, const char *path, const char *text, size_t len, sbuf *out,
                       strv *warnings);

/* Read path (missing: empty), edit, replace. 0, or -1 with *err set. */
int  main_cf_edit_file(const char *path, enum main_cf_edit_mode mode,
                       const struct main_cf_edit *reqs, size_t n, strv *warnings, char **err);

#endif
