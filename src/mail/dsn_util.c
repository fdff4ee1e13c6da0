/*
 * dsn_util.c - RFC 3463 status code helpers (see dsn_util.h).
 */
#include <stdio.h>
#include <string.h>

#include "mail/dsn_util.h"

static size_t digits(const char *p, size_t max)
{
    size_t n = 0;
    while (n < max && p[n] >= '0' && p[n] <= '9')
        n++;
    return n;
}

/* RFC 3463 section 2: class "." subject "." detail */
size_t dsn_valid(const char *text)
{
    const char *p = text;
    if (*p != '2' && *p != '4' && *p != '5')
        return 0;
    if (p[1] != '.')
        return 0;
    p += 2;
    size_t n = digits(p, 4);
    if (n == 0 || n > 3 || p[n] != '.')
        return 0;
    p += n + 1;
    n = digits(p, 4);
    if (n == 0 || n > 3)
        return 0;
    p += n;
    if (*p && *p != ' ' && *p != '\t')
        return 0;
    return (size_t) (p - text);
}

const char *dsn_split(const char *text, const char *def, char *code, size_t code_size)
{
    size_t n = dsn_valid(text);
    if (n == 0 || n >= code_size) {
        snprintf(code, code_size, "%s", def);
        return text;
    }
    memcpy(code, text, n);
    code[n] = 0;
    text += n;
    while (*text == ' ' || *text == '\t')
        text++;
    return text;
}

void dsn_set_class(char *code, char cls)
{
    if (code[0] && code[1] == '.')
        code[0] = cls;
}
