/*
 * mail_conf.h - main.cf: loading, $-expansion, typed access, validation.
 *
 * mail_conf_load() reads $config_directory/main.cf (the directory comes
 * from the argument, else $MAIL_CONFIG, else the compiled-in default).
 * Values are kept raw and expanded lazily on each typed read:
 *   $name ${name} $(name)   the value of name ("" when undefined)
 *   ${name?text} ${name?{text}}   text when name is non-empty
 *   ${name:text} ${name:{text}}   text when name is empty or undefined
 *   ${name?{a}:{b}}        a when name is non-empty, else b
 *   ${{x} OP {y} ? {a} : {b}}   a when the relation holds, else b; OP is
 *                          == != < <= > >= (numeric for digit strings),
 *                          or <level ... >=level (compatibility levels)
 *   $$                     a literal $
 * mail_conf_list() splits on commas and blanks but keeps "{...}" groups
 * whole (an item that is one group loses its outer braces).
 * A loop ($a -> $b -> $a) is a fatal error naming both parameters.
 * A typed read of a bad value is a fatal error naming main.cf, the line
 * and the parameter; mail_conf_validate() finds all of them without
 * exiting (postfix check, postconf). Unknown names in main.cf are only
 * warned about by mail_conf_warn_unknown().
 *
 * Overrides (master.cf -o name=value, command-line -o) replace main.cf
 * values for this process only.
 */
#ifndef HK_MAIL_MAIL_CONF_H
#define HK_MAIL_MAIL_CONF_H

#include <stdbool.h>
#include "util/sbuf.h"
#include "util/strv.h"

/* Fatal if main.cf exists but cannot be parsed; a missing main.cf is an
 * empty configuration (Postfix behaves the same). */
void mail_conf_load(const char *config_dir);
/* Non-fatal variant: returns -1 and the message in err (caller frees). */
int  mail_conf_try_load(const char *config_dir, char **err);
const char *mail_conf_dir(void);
const char *mail_conf_file(void);           /* ".../main.cf" */

void mail_conf_override(const char *name, const char *value);
/* "name=value" form used by -o; returns -1 when there is no '='. */
int  mail_conf_override_assignment(const char *assignment);

bool mail_conf_is_set(const char *name);    /* in main.cf or overridden */
int  mail_conf_line(const char *name);      /* main.cf line number, 0 if none */
/* Raw value: override, else main.cf, else the table default (computed
 * defaults worked out), else NULL for unknown names. */
const char *mail_conf_raw(const char *name);
const char *mail_conf_default(const char *name);   /* table/computed default */

/* Expanded typed reads. Strings stay valid until the next load/override. */
const char *mail_conf_str(const char *name);
int       mail_conf_bool(const char *name);
long      mail_conf_int(const char *name);
long long mail_conf_long(const char *name);
long      mail_conf_time(const char *name);        /* seconds */
void      mail_conf_list(const char *name, strv *out);

/* Expand arbitrary text; returns 0, or -1 with a message in err. */
int  mail_conf_expand(const char *text, sbuf *out, sbuf *err);

/* Parse helpers shared with postconf and master.cf checks. */
int  mail_conf_parse_bool(const char *s, int *out);
int  mail_conf_parse_time(const char *s, char default_unit, long *seconds);
int  mail_conf_parse_long(const char *s, long long *out);

/* Check every set parameter's value against its type; one message per
 * problem appended to errs ("main.cf, line 3: ..."). Returns the count. */
int  mail_conf_validate(strv *errs);
/* Warn "NAME: unknown parameter" for main.cf names not in the table and
 * not per-service names (<service>_xxx of known transports). */
void mail_conf_warn_unknown(const strv *service_names);
/* A table parameter, or a per-service one (<service>_recipient_limit, ...). */
bool mail_conf_name_known(const char *name, const strv *service_names);

/* Iterate main.cf assignments in file order (last one wins for duplicates
 * but every assignment is visited). Return nonzero from fn to stop. */
typedef int (*mail_conf_iter_fn)(const char *name, const char *value, int line, void *ctx);
int  mail_conf_foreach(mail_conf_iter_fn fn, void *ctx);

/* Configure msg_* from syslog_name, syslog_facility and maillog_file. */
void mail_conf_setup_logging(void);

#endif
