/*
 * source_content.c - build message payloads, headers and recipients.
 *
 * See source_content.h. The payload pattern is fixed text so that runs
 * are repeatable and compress the same way for every MTA under test.
 */
#include <string.h>
#include <time.h>

#include "mail/mail_date.h"
#include "smtp-source/source_content.h"

#define LINE_TEXT 78    /* characters per payload line before CRLF */

void source_payload(sbuf *out, long long length)
{
    static const char pattern[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    if (length < 0) {
        sbuf_adds(out, "This is a test message from smtp-source.\r\n");
        return;
    }
    sbuf_reserve(out, (size_t) length + 2);
    long long left = length;
    unsigned line = 0;
    while (left > 0) {
        long long n = left - 2;             /* text in this line */
        if (n > LINE_TEXT)
            n = LINE_TEXT;
        if (n > 0 && left - (n + 2) == 1)
            n--;                            /* never leave a single byte over */
        if (n < 0)
            n = 0;
        sbuf_add(out, pattern + line % 40, (size_t) n);   /* 40 + 78 < 124 */
        sbuf_add(out, "\r\n", 2);
        left -= n + 2;
        line++;
    }
}

void source_file_content(sbuf *out, const char *data, size_t len)
{
    size_t i = 0;
    sbuf_reserve(out, len + len / 40 + 2);
    while (i < len) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t end = nl ? (size_t) (nl - data) : len;
        size_t n = end - i;
        if (n > 0 && data[i + n - 1] == '\r')
            n--;
        if (n > 0 && data[i] == '.')
            sbuf_addc(out, '.');            /* RFC 5321 4.5.2 */
        sbuf_add(out, data + i, n);
        sbuf_add(out, "\r\n", 2);
        i = nl ? end + 1 : len;
    }
}

void source_headers(sbuf *out, const char *from, const char *to, const char *subject,
                    const char *myhostname, unsigned long long seq, time_t now, long pid)
{
    sbuf_printf(out, "From: <%s>\r\nTo: <%s>\r\nDate: ", from, to);
    static time_t cached_when = -1;
    static sbuf cached_date = SBUF_INIT;
    if (now != cached_when) {               /* one localtime() per second */
        sbuf_reset(&cached_date);
        mail_date(now, &cached_date);
        cached_when = now;
    }
    sbuf_add(out, cached_date.s, cached_date.len);
    sbuf_printf(out, "\r\nMessage-Id: <%llu.%ld.%lld@%s>\r\n", seq, pid, (long long) now,
                myhostname);
    if (subject)
        sbuf_printf(out, "Subject: %s\r\n", subject);
    sbuf_add(out, "\r\n", 2);
}

void source_recipient(sbuf *out, const char *to, unsigned long long number, int numbered)
{
    if (numbered)
        sbuf_printf(out, "%llu", number);
    sbuf_adds(out, to);
}
