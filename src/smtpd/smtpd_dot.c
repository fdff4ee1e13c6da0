/*
 * smtpd_dot.c - DATA end-of-data detection and dot-unstuffing (see smtpd_dot.h).
 *
 * Does not read the stream, count sizes or talk to cleanup: smtpd_data.c
 * does that and asks this module about each line.
 */
#include <strings.h>

#include "util/vstream.h"
#include "smtpd/smtpd_dot.h"

int smtpd_dot_mode_parse(const char *value)
{
    if (strcasecmp(value, "normalize") == 0 || strcasecmp(value, "yes") == 0)
        return SMTPD_DOT_NORMALIZE;
    if (strcasecmp(value, "reject") == 0)
        return SMTPD_DOT_REJECT;
    if (strcasecmp(value, "no") == 0)
        return SMTPD_DOT_LAX;
    return -1;
}

void smtpd_dot_init(struct smtpd_dot *d, int mode, int cmd_end)
{
    d->mode = mode;
    d->prev = cmd_end;
    d->bare_lf = 0;
}

bool smtpd_dot_bare_lf(const struct smtpd_dot *d)
{
    return d->bare_lf > 0;
}

int smtpd_dot_line(struct smtpd_dot *d, const char *line, size_t len, int how, size_t *skip)
{
    bool at_line_start = d->prev != VSTREAM_LINE_LONG;
    int prev = d->prev;

    *skip = 0;
    d->prev = how;
    if (how == VSTREAM_LINE_LF)
        d->bare_lf++;

    if (at_line_start && len >= 1 && line[0] == '.') {
        if (len == 1 && how != VSTREAM_LINE_LONG) {
            /* RFC 5321 4.1.1.4: the end of data is <CRLF>.<CRLF>. */
            if (d->mode == SMTPD_DOT_LAX)
                return SMTPD_DOT_END;
            if (how == VSTREAM_LINE_CRLF && prev == VSTREAM_LINE_CRLF)
                return SMTPD_DOT_END;
            /* A lone dot next to a bare LF: not the end, not content. */
            return SMTPD_DOT_DROP;
        }
        *skip = 1;          /* RFC 5321 4.5.2: remove the stuffed dot */
    }
    return how == VSTREAM_LINE_LONG ? SMTPD_DOT_PARTIAL : SMTPD_DOT_CONTENT;
}
