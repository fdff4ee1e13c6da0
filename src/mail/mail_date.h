/*
 * mail_date.h - RFC 5322 date-time text for Date: headers and notices.
 *
 * mail_date() appends "Sun, 22 Nov 2026 17:03:04 +0900 (JST)": English
 * day and month names whatever the locale, the local time zone as a
 * numeric offset, and its abbreviation as a comment when there is one
 * (RFC 5322 3.3). It does not parse dates.
 */
#ifndef HK_MAIL_MAIL_DATE_H
#define HK_MAIL_MAIL_DATE_H

#include <time.h>
#include "util/sbuf.h"

void mail_date(time_t when, sbuf *out);

#endif
