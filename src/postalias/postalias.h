/*
 * postalias.h - pieces of postalias(1) shared between its own files.
 */
#ifndef HK_POSTALIAS_POSTALIAS_H
#define HK_POSTALIAS_POSTALIAS_H

#include "util/sbuf.h"

/*
 * Split an aliases(5) line "name: value" and normalise both the way
 * Postfix stores them: RFC 822 tokens, white space reduced to single
 * spaces between words, ", " after commas, quotes kept in the value and
 * removed from the name. Returns 0, or -1 with *why set to a static
 * reason ("need name:value pair", "name must be local").
 */
int alias_parse_line(const char *line, sbuf *name, sbuf *value, const char **why);

#endif
