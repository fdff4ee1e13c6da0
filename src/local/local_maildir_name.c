/*
 * local_maildir_name.c - Maildir file names (see local_maildir_name.h).
 *
 * NOT HERE: creating files or directories.
 */
#include "local/local_maildir_name.h"

void local_maildir_host(const char *host, sbuf *out)
{
    sbuf_reset(out);
    for (const char *p = host; *p; p++) {
        if (*p == '/')
            sbuf_adds(out, "\\057");
        else if (*p == ':')
            sbuf_adds(out, "\\072");
        else
            sbuf_addc(out, *p);
    }
    if (out->len == 0)
        sbuf_adds(out, "localhost");
}

void local_maildir_tmp_name(sbuf *out, time_t sec, long usec, pid_t pid, const char *host)
{
    sbuf h = SBUF_INIT;
    local_maildir_host(host, &h);
    sbuf_reset(out);
    sbuf_printf(out, "%lld.P%ldM%ld.%s", (long long) sec, (long) pid, usec, sbuf_str(&h));
    sbuf_free(&h);
}

void local_maildir_new_name(sbuf *out, time_t sec, long usec, dev_t dev, ino_t ino,
                            const char *host)
{
    sbuf h = SBUF_INIT;
    local_maildir_host(host, &h);
    sbuf_reset(out);
    sbuf_printf(out, "%lld.V%llxI%llxM%ld.%s", (long long) sec, (unsigned long long) dev,
                (unsigned long long) ino, usec, sbuf_str(&h));
    sbuf_free(&h);
}
