/*
 * postfix.h - the postfix command's subcommands (one file each).
 */
#ifndef HK_POSTFIX_POSTFIX_H
#define HK_POSTFIX_POSTFIX_H

#include <stdbool.h>

/* Returns the process exit status. */
int postfix_check(bool quiet);

#endif
