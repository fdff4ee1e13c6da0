/*
 * pc_print.c - postconf output lines: white space normalised, optionally folded.
 *
 * Every run of blanks (space, tab, CR, LF) becomes one space, as Postfix's
 * postconf prints values; with -f a line is broken before a word that
 * would reach column 80 and continues after four spaces. Warnings flush
 * stdout first so the two streams interleave in order on a terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "postconf/postconf.h"
#include "util/msg.h"

#define BLANKS " \t\r\n"

void pc_print_line(int mode, const char *text)
{
    size_t line_len = 0;
    const char *p = text;
    for (;;) {
        p += strspn(p, BLANKS);
        if (!*p)
            break;
        size_t word = strcspn(p, BLANKS);
        if (line_len > 0) {
            if (!(mode & PC_FOLD_LINE) || line_len + word < PC_LINE_LIMIT) {
                fputc(' ', stdout);
                line_len++;
            } else {
                fputs("\n" PC_INDENT, stdout);
                line_len = PC_INDENT_LEN;
            }
        }
        fwrite(p, 1, word, stdout);
        line_len += word;
        p += word;
    }
    fputc('\n', stdout);
    if (msg_verbose)
        fflush(stdout);
}

void pc_flush(void)
{
    fflush(stdout);
}

void pc_warn(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    va_start(ap, fmt);
    msg_vlog(MSG_WARN, fmt, ap);
    va_end(ap);
}
