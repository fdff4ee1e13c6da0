/*
 * master_cf_edit.h - change master.cf in place, and name its fields.
 *
 * What "postconf -Me/-MX/-M#", "postconf -Fe" and "postconf -Pe/-PX" do:
 *
 *   entries  (MASTER_EDIT_ENTRY, "name/type")
 *     SET      "name/type=whole entry": every entry matching name/type, or
 *              the name and type of the new text, is replaced by the new
 *              entry (once, at the first match); appended when none matched.
 *     REMOVE   matching entries are deleted, continuation lines included.
 *     COMMENT  every line of matching entries gets a leading "#".
 *   fields   (MASTER_EDIT_FIELD, "name/type/field=value", SET only)
 *     one column (service, type, private, unprivileged, chroot, wakeup,
 *     process_limit) or the command with its arguments (command).
 *   -o parameters (MASTER_EDIT_PARAM, "name/type/parameter[=value]")
 *     SET      replaces the value of "-o parameter=..." or adds
 *              "-o parameter=value" after the other daemon options.
 *     REMOVE   drops "-o parameter=...".
 *
 * A name or type of "*" matches any. Rewritten entries are laid out as
 * "postconf -Mf" prints them (master_service_format_ex with
 * MASTER_FMT_FOLD); everything else is copied byte for byte, comments and
 * blank lines included. A new entry text or an edited entry that does not
 * parse is an error and nothing is written. The file is replaced
 * atomically with its previous mode. This module does not check that
 * parameter names are valid.
 */
#ifndef HK_MAIL_MASTER_CF_EDIT_H
#define HK_MAIL_MASTER_CF_EDIT_H

#include <stddef.h>
#include "mail/master_cf.h"
#include "util/sbuf.h"
#include "util/strv.h"

enum master_edit_kind { MASTER_EDIT_ENTRY, MASTER_EDIT_FIELD, MASTER_EDIT_PARAM };
enum master_edit_op { MASTER_EDIT_SET, MASTER_EDIT_REMOVE, MASTER_EDIT_COMMENT };

struct master_edit {
    char   *raw;            /* the argument as given, for messages */
    char   *name;           /* service name pattern */
    char   *type;           /* service type pattern */
    char   *attr;           /* field or parameter name; NULL for entries */
    char   *value;          /* SET only */
    int     field;          /* MASTER_EDIT_FIELD: master_field_index(attr) */
    int     matches;        /* set by the edit: entries it applied to */
};

/* Parse one command-line argument. 0, or -1 with a malloc'd *err. */
int  master_edit_parse(enum master_edit_kind kind, enum master_edit_op op, const char *arg,
                       struct master_edit *req, char **err);
void master_edit_release(struct master_edit *req);

/* Edit text (path names it in messages); the result is appended to out.
 * Returns 0, or -1 with a malloc'd *err and out unspecified. */
int  master_edit_text(enum master_edit_kind kind, enum master_edit_op op,
                      struct master_edit *reqs, size_t n, const char *path, const char *text,
                      size_t len, sbuf *out, strv *warnings, char **err);
/* Read, edit and atomically replace path (which must exist). */
int  master_edit_file(const char *path, enum master_edit_kind kind, enum master_edit_op op,
                      struct master_edit *reqs, size_t n, strv *warnings, char **err);

/* Field names as postconf -F uses them. */
#define MASTER_FIELD_COUNT 8
int  master_field_index(const char *name);         /* -1 if unknown */
const char *master_field_name(int index);
/* Value of one field; the command field includes its arguments. Caller frees. */
char *master_field_value(const struct master_service *s, int index);

/*
 * Split "a/b/c" into at most max parts (at least min), each non-empty;
 * a missing trailing part is "*". Returns the count or -1.
 */
int  master_pattern_split(const char *pattern, int min, int max, strv *parts);

#endif
