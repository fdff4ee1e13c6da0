/*
 * sink_dump.c - one file per accepted message, for tests. See sink_dump.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/mail_date.h"
#include "smtp-sink/sink_dump.h"
#include "util/safe_file.h"

void sink_dump_format(const sink_session *s, time_t now, sbuf *out)
{
    const sink_opts *o = s->o;
    if (o->start_string)
        sbuf_adds(out, o->start_string);
    sbuf_printf(out, "X-Client-Addr: %s\n", s->client);
    sbuf_printf(out, "X-Client-Proto: %s\n", s->proto);
    if (s->helo.len)
        sbuf_printf(out, "X-Helo-Args: %s\n", sbuf_str(&s->helo));
    sbuf_printf(out, "X-Mail-Args: %s\n", sbuf_str(&s->mail));
    for (size_t i = 0; i < s->rcpts.n; i++)
        sbuf_printf(out, "X-Rcpt-Args: %s\n", s->rcpts.v[i]);
    sbuf_printf(out, "Received: from %s ([%s])\n\tby %s (smtp-sink) with %s id %s;\n\t",
                s->helo.len ? sbuf_str(&s->helo) : s->client, s->client, o->hostname,
                s->proto, s->queue_id);
    mail_date(now, out);
    sbuf_addc(out, '\n');
    sbuf_add(out, s->data.s, s->data.len);
    sbuf_addc(out, '\n');
}

void sink_dump_path(const char *template, const sink_session *s, time_t now, sbuf *path)
{
    char    buf[4096];
    struct tm tm;
    struct stat st;
    localtime_r(&now, &tm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t  n = strftime(buf, sizeof(buf), template, &tm);     /* the -d template */
#pragma GCC diagnostic pop
    if (n == 0)
        snprintf(buf, sizeof(buf), "%s", template);
    sbuf_set(path, buf);
    if ((path->len && path->s[path->len - 1] == '/')
        || (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))) {
        if (path->s[path->len - 1] != '/')
            sbuf_addc(path, '/');
        sbuf_printf(path, "%lld.%s", (long long) now, s->queue_id);
    } else {
        sbuf_printf(path, ".%s", s->queue_id);
    }
}

/* mkdir -p of the directories in path (not its last component). */
static void make_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        (void) mkdir(path, 0755);
        *p = '/';
    }
}

int sink_dump_write(const char *template, const sink_session *s, time_t now)
{
    sbuf    path = SBUF_INIT, text = SBUF_INIT;
    int     rc = -1, err;
    sink_dump_path(template, s, now, &path);
    int     fd = open(path.s, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
        make_parents(path.s);
        fd = open(path.s, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    }
    if (fd >= 0) {
        sink_dump_format(s, now, &text);
        rc = write_full(fd, text.s, text.len);
        err = errno;
        if (close(fd) < 0 && rc == 0)
            rc = -1, err = errno;
        if (rc < 0)
            unlink(path.s);
        errno = err;
    }
    err = errno;
    sbuf_free(&path);
    sbuf_free(&text);
    errno = err;
    return rc;
}
