/*
 * local_token.h - the syntax of an alias value, a .forward line or an :include: line.
 *
 * aliases(5): a value is a list of destinations separated by commas:
 *   address            user, user@domain, "a b"@domain, Name <user@domain>
 *   /file/name         append to a file (a name ending in '/' is a Maildir)
 *   ~/file/name        the same, relative to the user's home directory
 *   |command           pipe into a command ("|cmd args" or |"cmd args")
 *   :include:/path     the destinations listed in that file
 *   \user              the user's own mailbox, no further aliasing
 *
 * Rules (docs/local.md): commas outside "quotes", <angle brackets> and
 * (comments) separate items. An item whose first character (after an
 * opening quote) is '|', '/', '~' or ":include:" is taken whole: its
 * quotes are removed (backslash escapes inside them resolved) and its
 * blanks kept, so both "|/bin/cmd arg" and |"/bin/cmd arg" give the
 * command /bin/cmd arg. Any other item is one or more addresses: comments
 * are dropped, "Name <addr>" gives addr, otherwise unquoted blanks separate
 * addresses; each address is unquoted into the internal form.
 *
 * This module is pure (no configuration, no I/O) and never fails: text it
 * cannot make sense of becomes an address that later bounces.
 */
#ifndef HK_LOCAL_TOKEN_H
#define HK_LOCAL_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

enum local_token_type {
    LOCAL_TOK_ADDRESS,
    LOCAL_TOK_FILE,         /* text starts with '/' or '~' */
    LOCAL_TOK_COMMAND,      /* text is the command, without the '|' */
    LOCAL_TOK_INCLUDE,      /* text is the path after ":include:" */
};

struct local_token {
    enum local_token_type type;
    char   *text;
    bool    backslash;      /* address was written \user */
};

struct local_token_list {
    struct local_token *t;
    size_t  n;
    size_t  cap;
};

#define LOCAL_TOKEN_LIST_INIT { 0, 0, 0 }

/* Parse text (NUL-terminated) and append its destinations to list. Returns how many. */
size_t local_token_parse(const char *text, struct local_token_list *list);
void   local_token_list_free(struct local_token_list *list);

#endif
