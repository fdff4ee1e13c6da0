/*
 * param_usage.h - which main.cf / master.cf parameter names are in use.
 *
 * Postfix knows three kinds of parameter names, and so do we:
 *   built-in      every name in the parameter table (params.def)
 *   service       <service><suffix> for master.cf services run by a
 *                 delivery agent (local, error, virtual, smtp, lmtp, pipe:
 *                 _destination_concurrency_limit, _recipient_limit, ...;
 *                 pipe and spawn also _time_limit), default "$default_..."
 *   user-defined  a name with a value in main.cf (or in one service's -o
 *                 options) that is referenced as $name in a value, or
 *                 listed in smtpd_restriction_classes
 * Anything else set in main.cf or with -o is "unused": a typo, or a
 * parameter this version does not have. param_usage_problems() words the
 * findings as postconf does ("/etc/postfix/main.cf: unused parameter:
 * foo=bar", "... undefined parameter: name" for a $name nobody defines,
 * "... read-only parameter assignment: mail_version=x").
 *
 * It reads main.cf through mail_conf (which must be loaded first when
 * with_user is set) and master.cf through a parsed struct master_cf.
 * It only reports; it changes no configuration.
 */
#ifndef HK_MAIL_PARAM_USAGE_H
#define HK_MAIL_PARAM_USAGE_H

#include <stdbool.h>
#include "mail/master_cf.h"
#include "util/strv.h"

enum { PARAM_BUILTIN = 1, PARAM_SERVICE = 2, PARAM_USER = 4, PARAM_ALL = 7 };

struct param_usage;

/* cf may be NULL (no master.cf). with_user=false gives built-in and
 * service names only (postconf -d). */
struct param_usage *param_usage_new(const struct master_cf *cf, bool with_user);
void param_usage_free(struct param_usage *u);

/* PARAM_BUILTIN, PARAM_SERVICE, PARAM_USER, or 0 if the name is unknown. */
int  param_usage_class(const struct param_usage *u, const char *name);
/* Default of a built-in or service-defined name, else NULL. */
const char *param_usage_default(const struct param_usage *u, const char *name);
/* All known names of the given classes, sorted, appended to out. */
void param_usage_names(const struct param_usage *u, int classes, strv *out);
/* A read-only parameter was assigned in main.cf (the assignment is ignored). */
bool param_usage_readonly_set(const struct param_usage *u, const char *name);
/* Names a service may use in its own -o values (user-defined there). */
bool param_usage_local_valid(const struct param_usage *u, size_t service, const char *name);

/* Messages without "warning: " prefix: read-only assignments and undefined
 * $names found while scanning, then unused main.cf (main) and/or master.cf
 * -o (master) parameters. */
void param_usage_problems(const struct param_usage *u, bool main, bool master, strv *out);

/* Append every $name, ${name...} and $(name) referenced in text (also
 * inside ${x?...} texts) to names, once each. */
void param_refs(const char *text, strv *names);

#endif
