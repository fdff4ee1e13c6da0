/*
 * local_expand.h - $name expansion of luser_relay, forward_path and
 * command_execution_directory with the recipient's attributes.
 *
 * These parameters are not expanded with main.cf values; instead
 * (postconf(5), local(8)) $user, $home, $shell, $recipient, $extension,
 * $domain, $local and $recipient_delimiter are replaced. Syntax:
 *   $name ${name} $(name)      the value ("" and LOCAL_EXP_UNDEF when undefined)
 *   ${name?text} ${name?{text}}    text when name is defined and non-empty
 *   ${name:text} ${name:{text}}    text when name is undefined or empty
 *   ${name?{text1}:{text2}}        text1 when non-empty, else text2
 *   $$                         a literal $
 * The text parts are expanded in turn. Substituted values pass through
 * filter when it is not NULL: characters outside it become '_' (the
 * *_expansion_filter parameters). A name made of anything but letters,
 * digits and '_', an unclosed brace or a lone '$' at the end is a syntax
 * error (LOCAL_EXP_ERROR); the output then holds what could be expanded.
 *
 * Pure: values come from the caller's lookup function.
 */
#ifndef HK_LOCAL_EXPAND_H
#define HK_LOCAL_EXPAND_H

#include <stddef.h>
#include "util/sbuf.h"

#define LOCAL_EXP_ERROR (1 << 0)    /* bad syntax */
#define LOCAL_EXP_UNDEF (1 << 1)    /* a plain reference to an undefined name */

/* Value of name (len bytes, not NUL-terminated), or NULL when undefined. */
typedef const char *(*local_expand_fn)(const char *name, size_t len, void *ctx);

/* Expand pattern into out (replaced). Returns LOCAL_EXP_* bits, 0 if all went well. */
int local_expand(sbuf *out, const char *pattern, local_expand_fn lookup, void *ctx,
                 const char *filter);

#endif
