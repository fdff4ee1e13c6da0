/*
 * submit.c - read a message from standard input and give it to postdrop.
 *
 * sendmail is not privileged: it runs "$command_directory/postdrop -r"
 * (set-group-ID) and writes queue file records to it over a pipe
 * (docs/queue-format.md, "maildrop files"): SENDER, ATTR (full_name,
 * extract_recipients, dsn_*, body_type, rewrite_context for -G),
 * ([NOTIFY] RCPT)*, CONTENT, BODY chunks of up to 64 KiB holding the
 * message with LF line ends, END. postdrop's exit status is ours.
 *
 * Input rules (sendmail(1)): without -i/-oi a line holding only "."
 * ends the message; CR LF line ends become LF per
 * sendmail_fix_line_endings (always, strict: only if the first line
 * ends in CR LF, never). With -t and no recipient on the command line,
 * a message without To:, Cc: or Bcc: (or their Resent- forms) is
 * refused here, before anything is queued. message_size_limit is
 * checked while reading.
 *
 * NOT HERE: option parsing (sendmail.c), recipient extraction from the
 * headers (cleanup does it, CLEANUP_FLAG_EXTRACT_RCPT).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/wait.h>

#include "mail/cleanup_client.h"
#include "mail/mail_conf.h"
#include "mail/qfile.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/vstream.h"

#include "sendmail.h"
#include "submit.h"

#define BODY_CHUNK   65536
#define LINE_PIECE   65536

/* The full name from the password file: the first GECOS field, '&' = Login. */
static void gecos_name(const struct passwd *pw, sbuf *out)
{
    sbuf_reset(out);
    for (const char *p = pw->pw_gecos ? pw->pw_gecos : ""; *p && *p != ','; p++) {
        if (*p == '&') {
            const char *login = pw->pw_name;
            if (*login) {
                char c = *login;
                sbuf_addc(out, c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
                sbuf_adds(out, login + 1);
            }
        } else {
            sbuf_addc(out, *p);
        }
    }
}

static pid_t start_postdrop(int *fd)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/postdrop", mail_conf_str("command_directory"));
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        sm_fatal(EX_OSERR, "pipe: %m");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        sm_fatal(EX_OSERR, "fork: %m");
    if (pid == 0) {
        if (dup2(p[0], 0) < 0)
            _exit(EX_OSERR);
        execl(path, "postdrop", "-r", (char *) 0);
        fprintf(stderr, "sendmail: fatal: execute %s: %s\n", path, strerror(errno));
        _exit(errno == ENOENT ? EX_UNAVAILABLE : EX_OSERR);
    }
    close(p[0]);
    sm_child(pid);
    *fd = p[1];
    return pid;
}

static pid_t postdrop_pid;

/* Wait for postdrop; its exit status, or a sysexits code if it died. */
static int wait_postdrop(void)
{
    int status;
    while (waitpid(postdrop_pid, &status, 0) < 0) {
        if (errno != EINTR)
            sm_fatal(EX_OSERR, "wait for postdrop: %m");
    }
    sm_child(0);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);         /* postdrop said why on stderr */
    sm_fatal(EX_TEMPFAIL, "postdrop terminated by signal %d", WTERMSIG(status));
}

static void put(vstream *out, int type, const void *data, size_t len)
{
    if (qrec_write(out, type, data, len) < 0) {
        /* postdrop went away: it has explained itself on stderr. */
        int status = wait_postdrop();
        if (status != 0)
            exit(status);
        sm_fatal(EX_TEMPFAIL, "write to postdrop: %s", strerror(vstream_errno(out)));
    }
}

static void put_attr(vstream *out, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    sbuf a = SBUF_INIT;
    sbuf_printf(&a, "%s=%s", name, value);
    for (size_t i = 0; i < a.len; i++)       /* one line of text, no NULs */
        if ((unsigned char) a.s[i] < ' ')
            a.s[i] = ' ';
    put(out, QREC_ATTR, a.s, a.len);
    sbuf_free(&a);
}

static bool is_rcpt_header(const char *line, size_t len)
{
    static const char *const names[] = {"to", "cc", "bcc", "resent-to", "resent-cc",
                                        "resent-bcc"};
    size_t n = 0;
    while (n < len && line[n] != ':' && line[n] != ' ' && line[n] != '\t')
        n++;
    size_t c = n;
    while (c < len && (line[c] == ' ' || line[c] == '\t'))
        c++;
    if (c >= len || line[c] != ':')
        return false;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], line, n) == 0)
            return true;
    return false;
}

static bool looks_like_header(const char *line, size_t len)
{
    size_t n = 0;
    while (n < len && line[n] > ' ' && line[n] < 0x7f && line[n] != ':')
        n++;
    while (n > 0 && n < len && (line[n] == ' ' || line[n] == '\t'))
        n++;
    return n > 0 && n < len && line[n] == ':';
}

struct body_out {
    vstream *out;
    sbuf    buf;
    unsigned long long size, limit;
};

static void body_add(struct body_out *b, const char *p, size_t n)
{
    b->size += n;
    if (b->limit && b->size > b->limit)
        sm_fatal(EX_DATAERR, "message file too big");
    sbuf_add(&b->buf, p, n);
    if (b->buf.len >= BODY_CHUNK) {
        put(b->out, QREC_BODY, b->buf.s, b->buf.len);
        sbuf_reset(&b->buf);
    }
}

int submit_message(const struct submit_opts *o)
{
    struct passwd *pw = getpwuid(getuid());
    if (!pw)
        sm_fatal(EX_NOUSER, "no login name found for user ID %ld", (long) getuid());
    const char *sender = o->sender ? o->sender : pw->pw_name;
    sbuf full = SBUF_INIT;
    if (o->full_name)
        sbuf_set(&full, o->full_name);
    else if (getenv("NAME"))
        sbuf_set(&full, getenv("NAME"));
    else
        gecos_name(pw, &full);
    if (!o->extract && o->rcpts.n == 0)
        sm_fatal(EX_USAGE, "Recipient addresses must be specified on the command line "
                 "or via the -t option");

    const char *fix = mail_conf_str("sendmail_fix_line_endings");
    int fix_mode = strcasecmp(fix, "never") == 0 ? 0 : strcasecmp(fix, "strict") == 0 ? 2 : 1;

    int fd;
    postdrop_pid = start_postdrop(&fd);
    vstream *out = vstream_open(fd);

    /* The envelope. */
    put(out, QREC_SENDER, sender, strlen(sender));
    put_attr(out, "full_name", sbuf_str(&full));
    if (o->extract)
        put_attr(out, "extract_recipients", "yes");
    put_attr(out, "dsn_envid", o->dsn_envid);
    put_attr(out, "dsn_ret", o->dsn_ret);
    put_attr(out, "body_type", o->body_type);
    if (o->gateway)
        put_attr(out, "rewrite_context", "remote");
    sbuf notify = SBUF_INIT;
    if (o->notify & DSN_NOTIFY_NEVER) {
        sbuf_adds(&notify, "NEVER");
    } else {
        if (o->notify & DSN_NOTIFY_SUCCESS)
            sbuf_adds(&notify, "SUCCESS");
        if (o->notify & DSN_NOTIFY_FAILURE)
            sbuf_printf(&notify, "%sFAILURE", notify.len ? "," : "");
        if (o->notify & DSN_NOTIFY_DELAY)
            sbuf_printf(&notify, "%sDELAY", notify.len ? "," : "");
    }
    for (size_t i = 0; i < o->rcpts.n; i++) {
        if (notify.len)
            put(out, QREC_NOTIFY, notify.s, notify.len);
        put(out, QREC_RCPT, o->rcpts.v[i], strlen(o->rcpts.v[i]));
    }
    put(out, QREC_CONTENT, "", 0);

    /* The content. */
    vstream *in = vstream_open(0);
    sbuf line = SBUF_INIT;
    struct body_out b = {out, SBUF_INIT, 0, 0};
    long long limit = mail_conf_long("message_size_limit");
    b.limit = limit > 0 ? (unsigned long long) limit : 0;
    bool at_start = true, first = true, in_header = true, saw_rcpt_header = false;
    for (;;) {
        int how = vstream_get_line(in, &line, LINE_PIECE);
        if (how == VSTREAM_LINE_ERR) {
            if (vstream_error(in))
                sm_fatal(EX_IOERR, "read message: %s", strerror(vstream_errno(in)));
            break;
        }
        bool complete = how == VSTREAM_LINE_CRLF || how == VSTREAM_LINE_LF;
        if (at_start && complete && !o->ignore_dots && line.len == 1 && line.s[0] == '.')
            break;
        if (first) {
            if (fix_mode == 2)
                fix_mode = how == VSTREAM_LINE_CRLF ? 1 : 0;
            first = false;
        }
        if (at_start && in_header) {
            if (line.len == 0 && complete)
                in_header = false;
            else if (line.s[0] == ' ' || line.s[0] == '\t')
                ;                               /* continuation */
            else if (!looks_like_header(line.s, line.len))
                in_header = false;
            else if (is_rcpt_header(line.s, line.len))
                saw_rcpt_header = true;
        }
        body_add(&b, line.s ? line.s : "", line.len);
        if (how == VSTREAM_LINE_CRLF)
            body_add(&b, fix_mode ? "\n" : "\r\n", fix_mode ? 1 : 2);
        else if (how == VSTREAM_LINE_LF)
            body_add(&b, "\n", 1);
        if (how == VSTREAM_LINE_EOF)
            break;
        at_start = complete;
    }
    vstream_detach(in);
    if (o->extract && o->rcpts.n == 0 && !saw_rcpt_header)
        sm_fatal(EX_USAGE, "No recipient addresses found in message header");
    if (b.buf.len)
        put(out, QREC_BODY, b.buf.s, b.buf.len);
    put(out, QREC_END, "", 0);
    int werr = vstream_close(out);
    int status = wait_postdrop();
    if (status == 0 && werr < 0)
        sm_fatal(EX_TEMPFAIL, "write to postdrop failed");
    sbuf_free(&line);
    sbuf_free(&b.buf);
    sbuf_free(&full);
    sbuf_free(&notify);
    return status;
}
