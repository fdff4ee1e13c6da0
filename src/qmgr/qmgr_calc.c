/*
 * qmgr_calc.c - pure arithmetic and parsing for the queue manager (qmgr_calc.h).
 *
 * No clock, no configuration, no I/O: everything comes in as arguments.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/cleanup_client.h"
#include "qmgr/qmgr_calc.h"

long qmgr_backoff(time_t now, time_t arrival, long min_backoff, long max_backoff)
{
    if (min_backoff < 1)
        min_backoff = 1;
    if (max_backoff < min_backoff)
        max_backoff = min_backoff;
    long age = now > arrival ? (long) (now - arrival) : 0;
    if (age < min_backoff)
        return min_backoff;
    if (age > max_backoff)
        return max_backoff;
    return age;
}

bool qmgr_expired(time_t now, time_t arrival, long lifetime)
{
    if (lifetime <= 0)
        return true;
    return now >= arrival && (long long) (now - arrival) >= (long long) lifetime;
}

bool qmgr_can_start(int dest_busy, int window, int transport_busy, int transport_cap,
                    int total_busy, int total_cap)
{
    return dest_busy < window && transport_busy < transport_cap && total_busy < total_cap;
}

size_t qmgr_batch_size(size_t pending, long limit)
{
    if (limit <= 0 || (size_t) limit >= pending)
        return pending;
    return (size_t) limit;
}

int qmgr_parse_time(const char *s, size_t len, struct timeval *tv)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    if (!isdigit((unsigned char) buf[0]))
        return -1;
    long long sec = strtoll(buf, &end, 10);
    long usec = 0;
    if (*end == '.') {
        const char *u = end + 1;
        if (!isdigit((unsigned char) *u))
            return -1;
        usec = strtol(u, &end, 10);
        if (usec < 0 || usec > 999999)
            return -1;
    }
    if (*end || sec < 0)
        return -1;
    tv->tv_sec = (time_t) sec;
    tv->tv_usec = (suseconds_t) usec;
    return 0;
}

int qmgr_parse_notify(const char *s)
{
    int bits = 0;
    while (*s) {
        size_t n = strcspn(s, ", \t");
        if (n == 5 && strncasecmp(s, "NEVER", 5) == 0)
            bits |= DSN_NOTIFY_NEVER;
        else if (n == 7 && strncasecmp(s, "SUCCESS", 7) == 0)
            bits |= DSN_NOTIFY_SUCCESS;
        else if (n == 7 && strncasecmp(s, "FAILURE", 7) == 0)
            bits |= DSN_NOTIFY_FAILURE;
        else if (n == 5 && strncasecmp(s, "DELAY", 5) == 0)
            bits |= DSN_NOTIFY_DELAY;
        s += n;
        s += strspn(s, ", \t");
    }
    return bits;
}

int qmgr_parse_ret(const char *s)
{
    if (strcasecmp(s, "FULL") == 0)
        return 1;
    if (strcasecmp(s, "HDRS") == 0)
        return 2;
    return 0;
}

bool qmgr_sender_is_null(const char *sender, const char *double_bounce)
{
    if (!*sender)
        return true;
    if (!double_bounce || !*double_bounce)
        return false;
    if (strcasecmp(sender, double_bounce) == 0)
        return true;
    const char *at = strrchr(sender, '@');
    size_t n = strlen(double_bounce);
    return at && (size_t) (at - sender) == n && strncasecmp(sender, double_bounce, n) == 0;
}
