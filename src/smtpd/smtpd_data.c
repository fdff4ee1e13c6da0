/*
 * smtpd_data.c - DATA (RFC 5321 4.1.1.4): receive the message and commit
 * it through cleanup.
 *
 * The steps, in order; the commit point is cleanup_finish():
 *   1. refuse DATA without MAIL/valid RCPT, or with an argument;
 *      smtpd_data_restrictions;
 *   2. "354 End data with <CR><LF>.<CR><LF>";
 *   3. send the access(5) message actions (smtpd_actions.c: HOLD, FILTER,
 *      REDIRECT, BCC as attributes and recipients, PREPEND header lines),
 *      our Received: header, then each content line (dot-unstuffed,
 *      LF line ends) to cleanup; the end of data is decided by
 *      smtpd_dot.c (smtpd_forbid_bare_newline; <LF>.<LF> and friends are
 *      never the end in the default "normalize" mode). Lines are read in
 *      place (vstream_get_line_ref: the same lines as vstream_get_line,
 *      without a copy), from a 64 KiB input buffer once the message
 *      passed 16 KiB, and collected into data requests of up to 64 KiB:
 *      per megabyte a few dozen system calls, one copy, no allocation;
 *   4. while reading, count bytes against message_size_limit: once over,
 *      stop sending to cleanup but keep reading to the end of data;
 *   5. at the end: too big -> drop the queue file, "552 5.3.4 Error:
 *      message file too big"; bare LF in "reject" mode -> drop, "550
 *      5.5.2 Error: bare <LF> received"; smtpd_end_of_data_restrictions;
 *      a DISCARD action -> drop the queue file and still answer "250 2.0.0
 *      Ok: queued as ID";
 *   6. cleanup_finish(): CLEANUP_STAT_OK means the file is complete and
 *      on stable storage -- only then "250 2.0.0 Ok: queued as ID". Any
 *      other status is answered with cleanup's reason (4xx/5xx) and the
 *      message is not queued.
 * A timeout or lost connection in the middle drops the queue file and
 * ends the session ("timeout after DATA (N bytes) from X").
 *
 * Does not: header checks or header fixes (cleanup does them).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail/mail_conf.h"
#include "util/msg.h"

#include "smtpd/smtpd.h"
#include "smtpd/smtpd_dot.h"
#include "smtpd/smtpd_milter.h"

#define DATA_CHUNK CLEANUP_DATA_MAX   /* content bytes per cleanup_data() */
#define DATA_BUFSIZE 65536      /* the client's input buffer for a big message */
#define DATA_BIG (2 * VSTREAM_BUFSIZE)  /* content bytes that make a message big */

struct data_out {
    cleanup_client *cc;
    sbuf buf;                   /* a DATA_CHUNK buffer kept for the next message */
    bool failed;                /* cleanup_data() failed: finish will say why */
};

/* The collection buffer lives as long as the process: no fresh 64 KiB
 * of pages for every message. */
static sbuf data_buf;

static void out_done(struct data_out *o)
{
    if (o->buf.cap > 2 * DATA_CHUNK)
        sbuf_free(&o->buf);         /* a huge PREPEND made it big */
    sbuf_reset(&o->buf);
    data_buf = o->buf;
}

static void out_flush(struct data_out *o)
{
    if (o->buf.len && !o->failed && cleanup_data(o->cc, o->buf.s, o->buf.len) < 0)
        o->failed = true;
    sbuf_reset(&o->buf);
}

/* Append n bytes, and an LF when lf is set. What is collected goes to
 * cleanup before it would reach DATA_CHUNK: one data request each, and
 * the buffer never grows past DATA_CHUNK bytes with its NUL. */
static void out_write(struct data_out *o, const char *p, size_t n, bool lf)
{
    if (o->failed)
        return;
    size_t total = n + (lf ? 1 : 0);
    if (o->buf.len + total >= DATA_CHUNK) {
        out_flush(o);
        if (total >= DATA_CHUNK) {      /* a huge line piece: straight through */
            if (cleanup_data(o->cc, p, n) < 0 || (lf && cleanup_data(o->cc, "\n", 1) < 0))
                o->failed = true;
            return;
        }
    }
    sbuf_reserve(&o->buf, total);
    memcpy(o->buf.s + o->buf.len, p, n);
    o->buf.len += n;
    if (lf)
        o->buf.s[o->buf.len++] = '\n';
    o->buf.s[o->buf.len] = 0;
}

/* Default reply text for a cleanup status without a reason. */
static const char *status_text(int status)
{
    if (status & CLEANUP_STAT_SIZE)
        return "5.3.4 Error: message file too big";
    if (status & CLEANUP_STAT_CONT)
        return "5.7.1 Error: message content rejected";
    if (status & CLEANUP_STAT_HOPS)
        return "5.4.0 Error: too many hops";
    if (status & CLEANUP_STAT_RCPT)
        return "5.5.1 Error: no valid recipients";
    if (status & CLEANUP_STAT_DEFER)
        return "4.7.1 Error: try again later";
    return "4.3.0 Error: queue file write error";
}

/* smtpd_end_of_data_restrictions; 0, or -1 after replying. Actions that
 * need cleanup can no longer reach it here: they are logged and dropped. */
static int end_of_data_checks(SMTPD_STATE *st, long long size)
{
    if (!mail_conf_str("smtpd_end_of_data_restrictions")[0])
        return 0;
    struct smtpd_actions *a = &st->actions;
    bool had_hold = a->hold, had_filter = a->filter, had_redirect = a->redirect;
    size_t had_bcc = a->bcc.n;
    struct smtpd_check chk;
    smtpd_check_setup(st, &chk);
    chk.size = size;
    int status = smtpd_check_eod(&chk);
    if (status == SMTPD_CHECK_REJECT)
        smtpd_reply(st, "%s", sbuf_str(&chk.reply));
    smtpd_check_free(&chk);
    if (status == SMTPD_CHECK_REJECT)
        return -1;
    if ((a->hold && !had_hold) || (a->filter && !had_filter) || (a->redirect && !had_redirect)
        || a->bcc.n != had_bcc)
        msg_warn("%s: HOLD, FILTER, REDIRECT and BCC actions in "
                 "smtpd_end_of_data_restrictions are not supported -- ignored",
                 smtpd_queue_id(st));
    return 0;
}

/* The session ends in the middle of the data. */
static int data_lost(SMTPD_STATE *st, long long bytes)
{
    if (vstream_timed_out(st->client)) {
        msg_info("timeout after DATA (%lld bytes) from %s", bytes, st->namaddr);
        vstream_clearerr(st->client);
        smtpd_reply(st, "421 4.4.2 %s Error: timeout exceeded", st->myhostname);
    } else {
        msg_info("lost connection after DATA (%lld bytes) from %s", bytes, st->namaddr);
    }
    smtpd_mail_reset(st);       /* drops the incomplete queue file */
    st->done = true;
    return -1;
}

int smtpd_data_cmd(SMTPD_STATE *st, const char *args)
{
    struct smtpd_dot dot;
    struct data_out out;
    long long size = 0;
    bool too_big = false, first = true;
    sbuf reason = SBUF_INIT;

    if (*args) {
        smtpd_reply(st, "501 5.5.4 Syntax: DATA");
        return -1;
    }
    if (!st->sender) {
        smtpd_reply(st, "503 5.5.1 Error: need RCPT command");
        return -1;
    }
    if (st->rcpt_count == 0 || !st->cleanup) {
        /* RFC 2920 3.1: DATA after only rejected recipients. */
        if (st->cmd_total[SMTPD_CMD_RCPT] > 0)
            smtpd_reply(st, "554 5.5.1 Error: no valid recipients");
        else
            smtpd_reply(st, "503 5.5.1 Error: need RCPT command");
        return -1;
    }
    if (mail_conf_str("smtpd_data_restrictions")[0]) {
        struct smtpd_check chk;
        smtpd_check_setup(st, &chk);
        int status = smtpd_check_data(&chk);
        if (status == SMTPD_CHECK_REJECT)
            smtpd_reply(st, "%s", sbuf_str(&chk.reply));
        smtpd_check_free(&chk);
        if (status == SMTPD_CHECK_REJECT)
            return -1;
    }
    if (smtpd_milter_data(st) < 0)      /* smtpd_milters: the DATA event */
        return -1;

    smtpd_reply(st, "354 End data with <CR><LF>.<CR><LF>");

    out.cc = st->cleanup;
    out.failed = false;
    out.buf = data_buf;
    sbuf_reset(&out.buf);
    smtpd_actions_apply(st, &out.buf);      /* PREPEND goes before Received: */
    smtpd_received(st, time(0), &out.buf);

    /* A big message gets a big input buffer (few system calls per
     * megabyte); a small one does not need the memory. */
    bool big = vstream_bufsize(st->client) >= DATA_BUFSIZE;
    smtpd_dot_init(&dot, st->dot_mode, st->line_end);
    for (;;) {
        const char *line;
        size_t len;
        int how = vstream_get_line_ref(st->client, &st->line, st->line_limit, &line, &len);
        if (how == VSTREAM_LINE_ERR || how == VSTREAM_LINE_EOF) {
            out_done(&out);
            return data_lost(st, size);
        }
        size_t skip;
        int kind = smtpd_dot_line(&dot, line, len, how, &skip);
        if (kind == SMTPD_DOT_END)
            break;
        if (kind == SMTPD_DOT_DROP)
            continue;
        const char *p = line + skip;
        size_t n = len - skip;
        /* Content that starts with white space would continue our
         * Received: header; an empty line keeps them apart (Postfix does
         * the same). */
        if (first && n > 0 && (p[0] == ' ' || p[0] == '\t'))
            out_write(&out, "", 0, true);
        first = false;
        size += (long long) n + (kind == SMTPD_DOT_CONTENT ? 1 : 0);
        if (st->size_limit > 0 && size > st->size_limit)
            too_big = true;
        if (!too_big)
            out_write(&out, p, n, kind == SMTPD_DOT_CONTENT);
        if (!big && size > DATA_BIG) {      /* between lines: line is no longer used */
            vstream_set_bufsize(st->client, DATA_BUFSIZE, 0);
            big = true;
        }
    }
    st->where = "END-OF-MESSAGE";

    if (too_big) {
        out_done(&out);
        smtpd_mail_reset(st);
        smtpd_reply(st, "552 5.3.4 Error: message file too big");
        return -1;
    }
    if (dot.mode == SMTPD_DOT_REJECT && smtpd_dot_bare_lf(&dot)) {
        sbuf text = SBUF_INIT;
        sbuf_printf(&text, "%d 5.5.2 Error: bare <LF> received",
                    (int) mail_conf_int("smtpd_forbid_bare_newline_reject_code"));
        smtpd_log_whatsup(st, "reject", sbuf_str(&text));
        out_done(&out);
        smtpd_mail_reset(st);
        smtpd_reply(st, "%s", sbuf_str(&text));
        sbuf_free(&text);
        return -1;
    }
    if (end_of_data_checks(st, size) < 0) {
        out_done(&out);
        smtpd_mail_reset(st);
        return -1;
    }
    /* DISCARD: the client hears that the message was taken; it was not. */
    if (st->actions.discard) {
        out_done(&out);
        smtpd_reply(st, "250 2.0.0 Ok: queued as %s", st->queue_id);
        smtpd_mail_reset(st);       /* drops the queue file */
        return 0;
    }
    out_flush(&out);
    out_done(&out);
    /* smtpd_milters: cleanup sends them the content before it commits. */
    smtpd_milter_end_of_data(st);

    /* The commit point: OK only once the queue file is on stable storage. */
    int status = cleanup_finish(st->cleanup, &reason);
    st->cleanup = 0;
    int ret;
    if (status == CLEANUP_STAT_OK || status == CLEANUP_STAT_DISCARD) {
        smtpd_reply(st, "250 2.0.0 Ok: queued as %s", st->queue_id);
        ret = 0;
    } else {
        int code = cleanup_stat_smtp_code(status);
        const char *text = reason.len ? sbuf_str(&reason) : status_text(status);
        if (code < 400 || code > 599)
            code = 451;
        /* A whole SMTP reply (a milter's) is used as it is; otherwise keep
         * the reply class and the status code class together. */
        if ((text[0] == '4' || text[0] == '5') && text[1] >= '0' && text[1] <= '9'
            && text[2] >= '0' && text[2] <= '9' && (text[3] == ' ' || text[3] == '-')) {
            smtpd_reply(st, "%s", text);
            if (strncmp(text, "421", 3) == 0)
                st->done = true;        /* a filter's shutdown */
        } else if (text[0] != '4' && text[0] != '5')
            smtpd_reply(st, "%d %c.0.0 %s", code, code >= 500 ? '5' : '4', text);
        else
            smtpd_reply(st, "%d %s", code, text);
        if (code >= 400 && code < 500 && (status & (CLEANUP_STAT_WRITE | CLEANUP_STAT_BAD)))
            msg_warn("%s: queue file write error for %s: %s", st->queue_id, st->namaddr, text);
        ret = -1;
    }
    sbuf_free(&reason);
    smtpd_mail_reset(st);
    return ret;
}
