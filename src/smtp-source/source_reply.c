/*
 * source_reply.c - incremental SMTP reply parser. See source_reply.h.
 */
#include <strings.h>

#include "smtp-source/source_reply.h"

void source_reply_reset(source_reply *r)
{
    r->code = 0;
    r->lines = 0;
    r->pipelining = 0;
}

static int is_keyword(const char *p, size_t n, const char *kw, size_t kwlen)
{
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n < kwlen || strncasecmp(p, kw, kwlen) != 0)
        return 0;
    return n == kwlen || p[kwlen] == ' ';
}

int source_reply_line(source_reply *r, const char *line, size_t len)
{
    if (len < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9'
        || line[2] < '0' || line[2] > '9')
        return -1;
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return -1;
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (r->lines > 0 && code != r->code)
        return -1;
    r->code = code;
    r->lines++;
    if (len > 4 && is_keyword(line + 4, len - 4, "PIPELINING", 10))
        r->pipelining = 1;
    return len == 3 || line[3] == ' ';
}
