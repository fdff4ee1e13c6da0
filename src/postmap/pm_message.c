/*
 * pm_message.c - postmap -h / -b: lookup keys from an RFC 5322 message.
 *
 * -h: each logical header line (a header with its continuation lines,
 * joined with embedded newlines) is one key, up to the first line that is
 * empty or not a header. -b: each line after the headers is one key.
 * MIME parts are not parsed (-m is accepted and has no effect).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "postmap.h"
#include "util/sbuf.h"
#include "util/table_file.h"

static int get_line(FILE *in, sbuf *line)
{
    int c;
    sbuf_reset(line);
    while ((c = getc(in)) != EOF && c != '\n')
        if (line->len < TABLE_MAX_LINE)
            sbuf_addc(line, c);
    if (c == EOF && line->len == 0)
        return 0;
    if (line->len && line->s[line->len - 1] == '\r')
        sbuf_truncate(line, line->len - 1);
    return 1;
}

static int is_header_start(const char *s)
{
    const char *p = s;
    while (*p && *p != ':' && (unsigned char) *p > ' ' && (unsigned char) *p < 127)
        p++;
    return p > s && *p == ':';
}

void postmap_message_keys(FILE *in, int headers, int body, strv *keys)
{
    sbuf line = SBUF_INIT, hdr = SBUF_INIT;
    int in_headers = 1, have_hdr = 0;
    if (!keys->v)
        strv_init(keys);
    while (get_line(in, &line)) {
        const char *s = sbuf_str(&line);
        if (in_headers) {
            if (have_hdr && (s[0] == ' ' || s[0] == '\t')) {
                sbuf_addc(&hdr, '\n');
                sbuf_adds(&hdr, s);
                continue;
            }
            if (have_hdr && headers)
                strv_add(keys, sbuf_str(&hdr));
            have_hdr = 0;
            if (is_header_start(s)) {
                sbuf_set(&hdr, s);
                have_hdr = 1;
                continue;
            }
            in_headers = 0;
            if (line.len == 0)
                continue;               /* the empty line ending the headers */
        }
        if (body)
            strv_add(keys, s);
    }
    if (have_hdr && headers)
        strv_add(keys, sbuf_str(&hdr));
    sbuf_free(&line);
    sbuf_free(&hdr);
}
