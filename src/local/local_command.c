/*
 * local_command.c - delivery to |command (aliases, .forward, mailbox_command).
 *
 * In a child with the delivery rights (the recipient's; default_privs for
 * root and for root-owned alias files): the command runs under /bin/sh -c
 * (or local_command_shell) in its own process group, with a clean
 * environment (local(8): HOME, LOGNAME, USER, SHELL, PATH, SENDER,
 * RECIPIENT, LOCAL, DOMAIN, EXTENSION, ORIGINAL_RECIPIENT, CLIENT_ADDRESS,
 * CLIENT_HOSTNAME when known, plus the export_environment names; values
 * pass command_expansion_filter), the working directory
 * command_execution_directory or the user's home (else /), and the
 * message on standard input (From_ line, Return-Path, X-Original-To,
 * Delivered-To; no quoting, no trailing empty line). The child feeds the
 * input and collects the first bytes of output in one poll loop, so a
 * command that writes before it reads cannot deadlock it.
 *
 * Outcome (local(8), sysexits.h): exit 0 is success; a command that
 * stops reading early is not an error. An enhanced status code at the
 * start of the output decides a failure's class. Otherwise EX_TEMPFAIL
 * and EX_OSERR defer, other sysexits codes bounce with their meaning,
 * any other status bounces ("Command died with status N: "cmd""), a
 * signal defers, and command_time_limit kills the whole process group
 * and bounces ("Command time limit exceeded").
 *
 * NOT HERE: where commands are allowed (local_deliver_token.c checks
 * allow_mail_to_commands), the privilege switch (local_child.c).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "local/local.h"
#include "local/local_child.h"
#include "local/local_copy.h"
#include "local/local_expand.h"
#include "mail/mail_conf.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#define OUTPUT_KEEP 512         /* bytes of command output kept for the reason */
#define DEFAULT_PATH "/usr/bin:/bin"

struct command_job {
    const char *command;
    const char *cwd;            /* NULL: home or / */
    const char *home;
    strv    env;                /* "NAME=value" */
    strv    argv;
    qfile  *qf;
    off_t   content_offset;
    struct local_copy_attr copy;
    long    time_limit;
};

static const struct {
    int     code;
    const char *dsn;
    const char *text;
} sysexits[] = {            /* sysexits.h, EX__BASE 64 .. EX__MAX 78 */
    {64, "5.3.0", "command line usage error"},
    {65, "5.6.0", "data format error"},
    {66, "5.3.0", "cannot open input"},
    {67, "5.1.1", "user unknown"},
    {68, "5.1.2", "host name unknown"},
    {69, "5.3.0", "service unavailable"},
    {70, "5.3.0", "internal software error"},
    {71, "4.3.0", "system resource problem"},
    {72, "5.3.0", "critical OS file missing"},
    {73, "5.2.0", "can't create user output file"},
    {74, "5.3.0", "input/output error"},
    {75, "4.3.0", "temporary failure"},
    {76, "5.5.0", "remote error in protocol"},
    {77, "5.7.0", "permission denied"},
    {78, "5.3.5", "local configuration error"},
};

/* "4.2.1 text" -> "4.2.1": an enhanced status code at the start of s. */
static bool leading_dsn(const char *s, char dsn[16])
{
    const char *p = s;
    if ((*p != '2' && *p != '4' && *p != '5') || p[1] != '.')
        return false;
    p += 2;
    int digits = 0;
    while (isdigit((unsigned char) *p) && digits < 3)
        p++, digits++;
    if (!digits || *p != '.')
        return false;
    p++;
    digits = 0;
    while (isdigit((unsigned char) *p) && digits < 3)
        p++, digits++;
    if (!digits || (*p && !isspace((unsigned char) *p)))
        return false;
    snprintf(dsn, 16, "%.*s", (int) (p - s), s);
    return true;
}

/* Output fit for a log line: blanks for tabs and newlines, '_' for other
 * unprintable bytes, no trailing blanks. */
static void clean_output(sbuf *out)
{
    for (size_t i = 0; i < out->len; i++) {
        unsigned char c = (unsigned char) out->s[i];
        if (c == '\t' || c == '\n' || c == '\r')
            out->s[i] = ' ';
        else if (c < 0x20 || c >= 0x7f)
            out->s[i] = '_';
    }
    while (out->len > 0 && out->s[out->len - 1] == ' ')
        out->s[--out->len] = 0;
}

static void exec_command(struct command_job *j, int in_fd, int out_fd)
{
    setsid();
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        _exit(71);
    closefrom(3);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
    clearenv();
    for (size_t i = 0; i < j->env.n; i++)
        putenv(j->env.v[i]);
    execvp(j->argv.v[0], j->argv.v);        /* PATH is the one set above */
    dprintf(2, "cannot execute %s: %s\n", j->argv.v[0], strerror(errno));
    _exit(71);      /* EX_OSERR: try again later */
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void command_step(void *ctx, struct local_child_result *res, sbuf *data)
{
    struct command_job *j = ctx;
    (void) data;

    /* Working directory: an explicit one must work; home may fall back to /. */
    if (j->cwd) {
        if (chdir(j->cwd) < 0) {
            local_child_set(res, DELIVER_DEFER, "4.3.0",
                            "mail system configuration error: cannot chdir to %s: %s",
                            j->cwd, strerror(errno));
            return;
        }
    } else if (!j->home || !*j->home || chdir(j->home) < 0) {
        if (chdir("/") < 0) {
            local_child_set(res, DELIVER_DEFER, "4.3.0", "cannot chdir to /: %s",
                            strerror(errno));
            return;
        }
    }

    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        local_child_set(res, DELIVER_DEFER, "4.3.0", "pipe: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        local_child_set(res, DELIVER_DEFER, "4.3.0", "Delivery failed: fork: %s",
                        strerror(errno));
        return;
    }
    if (pid == 0)
        exec_command(j, in[0], out[1]);
    close(in[0]);
    close(out[1]);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);

    struct local_copy copy;
    sbuf chunk = SBUF_INIT, output = SBUF_INIT;
    size_t chunk_off = 0;
    int in_fd = in[1], out_fd = out[0];
    bool timed_out = false, exited = false, corrupt = false;
    int wstatus = 0, write_err = 0;
    long deadline = now_ms() + j->time_limit * 1000;
    if (local_copy_start(&copy, j->qf, j->content_offset, &j->copy) < 0) {
        corrupt = true;
        close(in_fd);
        in_fd = -1;
    }

    for (;;) {
        if (!exited) {
            pid_t w = waitpid(pid, &wstatus, WNOHANG);
            if (w == pid)
                exited = true;
        }
        /* Input: refill the chunk, then write what the pipe takes. */
        if (in_fd >= 0 && chunk_off == chunk.len) {
            int got = local_copy_next(&copy, &chunk);
            chunk_off = 0;
            if (got <= 0) {
                if (got < 0)
                    corrupt = true;
                close(in_fd);
                in_fd = -1;
                sbuf_reset(&chunk);
            }
        }
        if (exited && in_fd >= 0) {
            close(in_fd);       /* nobody is reading any more */
            in_fd = -1;
        }
        if (exited && out_fd < 0)
            break;
        long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p[2];
        int n = 0, in_i = -1, out_i = -1;
        if (in_fd >= 0) {
            in_i = n;
            p[n++] = (struct pollfd) {in_fd, POLLOUT, 0};
        }
        if (out_fd >= 0) {
            out_i = n;
            p[n++] = (struct pollfd) {out_fd, POLLIN, 0};
        }
        /* Wake up now and then to notice the command's exit. */
        int r = poll(p, (nfds_t) n, (int) (left < 100 ? left : 100));
        if (r < 0 && errno != EINTR)
            break;
        if (r == 0 && exited && out_fd >= 0) {
            /* The command is gone but something it started keeps the
             * output open: take what came and stop waiting for it. */
            close(out_fd);
            out_fd = -1;
        }
        if (r <= 0)
            continue;
        if (in_i >= 0 && p[in_i].revents) {
            ssize_t w = write(in_fd, chunk.s + chunk_off, chunk.len - chunk_off);
            if (w > 0) {
                chunk_off += (size_t) w;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                if (errno != EPIPE)
                    write_err = errno;
                close(in_fd);   /* the command stopped reading: fine */
                in_fd = -1;
            }
        }
        if (out_i >= 0 && p[out_i].revents) {
            char buf[4096];
            ssize_t got = read(out_fd, buf, sizeof(buf));
            if (got > 0) {
                if (output.len < OUTPUT_KEEP)
                    sbuf_add(&output, buf, (size_t) got < OUTPUT_KEEP - output.len
                             ? (size_t) got : OUTPUT_KEEP - output.len);
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(out_fd);
                out_fd = -1;
            }
        }
    }
    if (in_fd >= 0)
        close(in_fd);
    if (out_fd >= 0)
        close(out_fd);
    local_copy_end(&copy);
    sbuf_free(&chunk);
    if (!exited) {
        (void) kill(-pid, SIGKILL);     /* the whole group, offspring included */
        while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
            ;
    }

    clean_output(&output);
    const char *sep = output.len ? ". Command output: " : "";
    const char *cmd = j->command;
    char dsn[16];
    if (timed_out) {
        local_child_set(res, DELIVER_BOUNCE, "5.3.0", "Command time limit exceeded: \"%s\"%s%s",
                        cmd, sep, sbuf_str(&output));
    } else if (WIFSIGNALED(wstatus)) {
        local_child_set(res, DELIVER_DEFER, "4.3.0", "Command died with signal %d: \"%s\"%s%s",
                        WTERMSIG(wstatus), cmd, sep, sbuf_str(&output));
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0) {
        int code = WEXITSTATUS(wstatus);
        const char *sdsn = "5.3.0", *stext = 0;
        for (size_t i = 0; i < sizeof(sysexits) / sizeof(sysexits[0]); i++)
            if (sysexits[i].code == code) {
                sdsn = sysexits[i].dsn;
                stext = sysexits[i].text;
            }
        if (leading_dsn(sbuf_str(&output), dsn) && dsn[0] != '2')
            sdsn = dsn;
        if (stext)
            local_child_set(res, sdsn[0] == '4' ? DELIVER_DEFER : DELIVER_BOUNCE, sdsn,
                            "%s%s%s", stext, sep, sbuf_str(&output));
        else
            local_child_set(res, sdsn[0] == '4' ? DELIVER_DEFER : DELIVER_BOUNCE, sdsn,
                            "Command died with status %d: \"%s\"%s%s", code, cmd, sep,
                            sbuf_str(&output));
    } else if (corrupt) {
        local_child_set(res, DELIVER_DEFER, "4.3.0", "queue file read error");
    } else if (write_err) {
        local_child_set(res, DELIVER_DEFER, "4.3.0", "Command failed: %s: \"%s\"",
                        strerror(write_err), cmd);
    } else {
        local_child_set(res, DELIVER_SENT, "2.0.0", "ok");
    }
    sbuf_free(&output);
}

/* Environment values: characters outside the filter become '_'. */
static void add_env(strv *env, const char *name, const char *value, const char *filter)
{
    if (!value)
        return;
    sbuf e = SBUF_INIT;
    sbuf_printf(&e, "%s=", name);
    for (const char *p = value; *p; p++)
        sbuf_addc(&e, filter && !strchr(filter, *p) ? '_' : *p);
    strv_add(env, sbuf_str(&e));
    sbuf_free(&e);
}

int local_deliver_command(struct msg_attr a, struct usr_attr u, const char *command)
{
    a.level++;
    if (local_been_here(a.st->dup, "command %s:%ld %s", a.user ? a.user : "",
                        (long) (u.set ? u.uid : 0), command))
        return 0;
    if (local_verify_only(&a))
        return local_sent(&a, "delivers to command: %s", command);
    if (!local_cf.frozen_delivered)
        a.delivered = a.address;

    struct usr_attr rights;
    struct local_pw pw;
    sbuf why = SBUF_INIT;
    local_pw_init(&pw);
    if (local_delivery_rights(&u, &rights, &pw, &why) < 0) {
        msg_warn("%s", sbuf_str(&why));
        int st = local_defer(&a, "4.3.5", "mail system configuration error");
        sbuf_free(&why);
        local_pw_free(&pw);
        return st;
    }

    struct command_job j;
    memset(&j, 0, sizeof(j));
    j.command = command;
    j.home = rights.home;
    j.qf = a.st->qf;
    j.content_offset = a.st->req->content_offset;
    j.time_limit = local_cf.command_time_limit;
    j.copy.flags = LOCAL_COPY_FROM_LINE | LOCAL_COPY_RETURN_PATH | LOCAL_COPY_ORIG_RCPT;
    if (local_cf.hdr_mask & DELIVER_HDR_COMMAND)
        j.copy.flags |= LOCAL_COPY_DELIVERED;
    if (!local_cf.enable_orig_rcpt)
        j.copy.flags &= ~LOCAL_COPY_ORIG_RCPT;
    j.copy.sender = a.sender;
    j.copy.orig_rcpt = a.orig && *a.orig ? a.orig : a.address;
    j.copy.delivered = a.delivered ? a.delivered : a.address;
    j.copy.now = time(0);

    /* Environment (local(8) EXTERNAL COMMAND DELIVERY). */
    const char *filter = mail_conf_str("command_expansion_filter");
    strv_init(&j.env);
    strv exports = {0};
    mail_conf_list("export_environment", &exports);
    for (size_t i = 0; i < exports.n; i++) {
        const char *eq = strchr(exports.v[i], '=');
        if (eq) {
            strv_add(&j.env, exports.v[i]);
        } else {
            const char *v = getenv(exports.v[i]);
            if (v)
                add_env(&j.env, exports.v[i], v, 0);
        }
    }
    strv_free(&exports);
    add_env(&j.env, "PATH", DEFAULT_PATH, 0);
    if (rights.home)
        add_env(&j.env, "HOME", rights.home, filter);
    add_env(&j.env, "LOGNAME", a.user, filter);
    add_env(&j.env, "USER", a.user, filter);
    add_env(&j.env, "SENDER", a.sender, filter);
    add_env(&j.env, "RECIPIENT", a.address, filter);
    add_env(&j.env, "LOCAL", a.local, filter);
    if (rights.shell)
        add_env(&j.env, "SHELL", rights.shell, filter);
    add_env(&j.env, "DOMAIN", a.domain, filter);
    add_env(&j.env, "EXTENSION", a.extension, filter);
    if (a.orig && *a.orig)
        add_env(&j.env, "ORIGINAL_RECIPIENT", a.orig, filter);
    const struct deliver_request *req = a.st->req;
    if (req->client_name && *req->client_name)
        add_env(&j.env, "CLIENT_HOSTNAME", req->client_name, filter);
    if (req->client_addr && *req->client_addr)
        add_env(&j.env, "CLIENT_ADDRESS", req->client_addr, filter);

    /* argv: local_command_shell words + command, else /bin/sh -c command. */
    strv_init(&j.argv);
    const char *shell = mail_conf_str("local_command_shell");
    if (*shell) {
        strv_split(&j.argv, shell, " \t\r\n");
    } else {
        strv_add(&j.argv, "/bin/sh");
        strv_add(&j.argv, "-c");
    }
    strv_add(&j.argv, command);

    /* command_execution_directory, expanded with the recipient's attributes. */
    sbuf cwd = SBUF_INIT;
    const char *exec_dir = mail_conf_str("command_execution_directory");
    int status = -1;
    if (*exec_dir) {
        struct local_exp_ctx ec = {&a, &rights, false};
        int flags = local_expand(&cwd, exec_dir, local_attr_value, &ec,
                                 mail_conf_str("execution_directory_expansion_filter"));
        if (flags & LOCAL_EXP_ERROR) {
            msg_warn("bad parameter value syntax for command_execution_directory: %s",
                     exec_dir);
            status = local_defer(&a, "4.3.5", "mail system configuration error");
        } else if (cwd.len) {
            j.cwd = sbuf_str(&cwd);
        }
    }
    if (status < 0) {
        struct local_privs privs = {rights.uid, rights.gid};
        struct local_child_result res;
        local_child_run(&privs, command_step, &j, &res, 0, 0);
        if (res.outcome == DELIVER_SENT)
            status = local_sent(&a, "delivered to command: %s", command);
        else
            status = local_status(&a, (enum deliver_outcome) res.outcome, res.dsn, "%s",
                                  res.text);
    }
    sbuf_free(&cwd);
    strv_free(&j.env);
    strv_free(&j.argv);
    sbuf_free(&why);
    local_pw_free(&pw);
    return status;
}
