/*
 * mail_date.c - RFC 5322 date-time text (see mail_date.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/mail_date.h"

void mail_date(time_t when, sbuf *out)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!localtime_r(&when, &tm)) {
        gmtime_r(&when, &tm);
        tm.tm_gmtoff = 0;
    }
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    off = labs(off);
    sbuf_printf(out, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7],
                tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec, sign, off / 60, off % 60);
    /* The zone name as a comment, only when it is a plain word ("JST", "UTC"). */
    char zone[16];
    size_t n = strftime(zone, sizeof(zone), "%Z", &tm);
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (!((zone[i] >= 'A' && zone[i] <= 'Z') || (zone[i] >= 'a' && zone[i] <= 'z')))
            return;
    sbuf_printf(out, " (%s)", zone);
}
