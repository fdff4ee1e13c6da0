/*
 * smtpd.c - the SMTP server daemon: main, one session, the command loop.
 *
 * main() is one mail_server_main() call (MAIL_SERVER_STREAM); serve()
 * runs one client session:
 *   1. find out who the client is (smtpd_peer.c), log "connect from",
 *   2. send the 220 greeting ($smtpd_banner); nothing the client sends is
 *      read before it,
 *   3. read one command line at a time, check it against the session
 *      limits (line length, bare LF, error limits, unauthorised
 *      pipelining), and dispatch it to its handler,
 *   4. log "disconnect from name[addr] ehlo=1 mail=1 ... commands=N".
 * Replies are buffered and leave when the loop next waits for input, so
 * pipelined commands are answered in order with one write (RFC 2920).
 *
 * At TLS level encrypt every command but HELO, EHLO, STARTTLS, RSET, NOOP
 * and QUIT waits for STARTTLS ("530 5.7.0 Must issue a STARTTLS command
 * first"); with smtpd_tls_wrappermode the handshake comes before the
 * greeting (smtpd_tls.c).
 *
 * Session-ending conditions, as Postfix logs and answers them:
 *   timeout         "timeout after CMD from X", 421 4.4.2 host Error: timeout exceeded
 *   lost connection "lost connection after CMD from X"
 *   error limit     "too many errors after CMD from X", 421 4.7.0 host Error: too many errors
 *   pipelining      "improper command pipelining after CMD from X: text",
 *                   554 5.5.0 Error: SMTP protocol synchronization
 *   forbidden cmd   "warning: non-SMTP command from X: text",
 *                   221 2.7.0 Error: I can break rules, too. Goodbye.
 *
 * NOT HERE: what each command does (smtpd_helo/mail/rcpt/data/misc.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>

#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "util/dict.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#include "smtpd/smtpd.h"
#include "smtpd/smtpd_dot.h"
#include "smtpd/smtpd_milter.h"

#define CMD_LIMIT 1     /* counts towards smtpd_junk_command_limit */
#define CMD_LAST  2     /* RFC 2920 3.1: must be the last command of a group */
#define CMD_PRE_TLS 4   /* allowed before STARTTLS at level encrypt */

struct smtpd_cmd {
    const char *name;
    int id;
    int (*fn)(SMTPD_STATE *, const char *);
    int flags;
};

static const struct smtpd_cmd cmd_table[] = {
    {"HELO", SMTPD_CMD_HELO, smtpd_helo_cmd, CMD_LIMIT | CMD_LAST | CMD_PRE_TLS},
    {"EHLO", SMTPD_CMD_EHLO, smtpd_ehlo_cmd, CMD_LIMIT | CMD_LAST | CMD_PRE_TLS},
    {"STARTTLS", SMTPD_CMD_STARTTLS, smtpd_starttls_cmd, CMD_PRE_TLS},
    {"AUTH", SMTPD_CMD_AUTH, smtpd_auth_cmd, 0},
    {"MAIL", SMTPD_CMD_MAIL, smtpd_mail_cmd, 0},
    {"RCPT", SMTPD_CMD_RCPT, smtpd_rcpt_cmd, 0},
    {"DATA", SMTPD_CMD_DATA, smtpd_data_cmd, CMD_LAST},
    {"RSET", SMTPD_CMD_RSET, smtpd_rset_cmd, CMD_LIMIT | CMD_PRE_TLS},
    {"NOOP", SMTPD_CMD_NOOP, smtpd_noop_cmd, CMD_LIMIT | CMD_LAST | CMD_PRE_TLS},
    {"VRFY", SMTPD_CMD_VRFY, smtpd_vrfy_cmd, CMD_LIMIT | CMD_LAST},
    {"ETRN", SMTPD_CMD_ETRN, smtpd_etrn_cmd, CMD_LIMIT},
    {"QUIT", SMTPD_CMD_QUIT, smtpd_quit_cmd, CMD_PRE_TLS},
    {0, 0, 0, 0},
};

/* Names in the disconnect line, indexed by enum smtpd_cmd_id. */
static const char *const cmd_log_names[SMTPD_CMD_COUNT] = {
    "helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "rset", "noop", "vrfy", "etrn",
    "quit", "unknown",
};

static struct smtpd_lookup *lookup;
static strv forbidden_words;            /* smtpd_forbidden_commands: plain names */
static dict **forbidden_tables;         /* ... and type:table entries */
static size_t forbidden_ntables;

static void open_forbidden_commands(void)
{
    strv items;

    strv_init(&forbidden_words);
    strv_init(&items);
    mail_conf_list("smtpd_forbidden_commands", &items);
    for (size_t i = 0; i < items.n; i++) {
        const char *colon = strchr(items.v[i], ':');
        if (colon && colon != items.v[i]) {
            char *err = 0;
            dict *d = dict_open(items.v[i], 0, DICT_FLAG_DEFAULT, &err);
            if (!d) {
                msg_warn("smtpd_forbidden_commands: %s: %s", items.v[i], err ? err : "error");
                xfree(err);
                continue;
            }
            forbidden_tables = xreallocarray(forbidden_tables, forbidden_ntables + 1,
                                             sizeof(*forbidden_tables));
            forbidden_tables[forbidden_ntables++] = d;
        } else {
            strv_add(&forbidden_words, items.v[i]);
        }
    }
    strv_free(&items);
}

static bool forbidden_command(const char *verb)
{
    for (size_t i = 0; i < forbidden_words.n; i++)
        if (strcasecmp(forbidden_words.v[i], verb) == 0)
            return true;
    for (size_t i = 0; i < forbidden_ntables; i++)
        if (dict_lookup(forbidden_tables[i], verb))
            return true;
    return false;
}

static bool noop_command(const char *verb)
{
    strv items;
    bool found = false;

    strv_init(&items);
    mail_conf_list("smtpd_noop_commands", &items);
    for (size_t i = 0; i < items.n && !found; i++)
        found = strcasecmp(items.v[i], verb) == 0;
    strv_free(&items);
    return found;
}

static void conf_load(SMTPD_STATE *st)
{
    st->line_limit = (size_t) mail_conf_int("line_length_limit");
    if (st->line_limit < 512)
        st->line_limit = 512;           /* RFC 5321 4.5.3.1.4 */
    st->size_limit = mail_conf_long("message_size_limit");
    st->recipient_limit = mail_conf_int("smtpd_recipient_limit");
    st->recipient_overshoot = mail_conf_int("smtpd_recipient_overshoot_limit");
    st->soft_error_limit = mail_conf_int("smtpd_soft_error_limit");
    st->hard_error_limit = mail_conf_int("smtpd_hard_error_limit");
    st->error_sleep = mail_conf_time("smtpd_error_sleep_time");
    st->junk_limit = mail_conf_int("smtpd_junk_command_limit");
    long t = mail_conf_time("smtpd_timeout");
    st->timeout_ms = t > 2000000 ? 2000000000 : (int) (t * 1000);
    st->helo_required = mail_conf_bool("smtpd_helo_required");
    st->strict_821 = mail_conf_bool("strict_rfc821_envelopes");
    st->disable_vrfy = mail_conf_bool("disable_vrfy_command");
    st->forbid_unauth_pipelining = mail_conf_bool("smtpd_forbid_unauth_pipelining");
    st->smtputf8 = mail_conf_bool("smtputf8_enable");
    st->myhostname = mail_conf_str("myhostname");

    const char *bare = mail_conf_str("smtpd_forbid_bare_newline");
    st->dot_mode = smtpd_dot_mode_parse(bare);
    if (st->dot_mode < 0) {
        msg_warn("smtpd_forbid_bare_newline: unknown value \"%s\"; using \"normalize\"", bare);
        st->dot_mode = SMTPD_DOT_NORMALIZE;
    }
}

static void log_disconnect(SMTPD_STATE *st)
{
    sbuf line = SBUF_INIT;
    int total = 0, ok = 0;

    sbuf_printf(&line, "disconnect from %s", st->namaddr);
    for (int i = 0; i < SMTPD_CMD_COUNT; i++) {
        if (!st->cmd_total[i])
            continue;
        if (st->cmd_ok[i] == st->cmd_total[i])
            sbuf_printf(&line, " %s=%d", cmd_log_names[i], st->cmd_total[i]);
        else
            sbuf_printf(&line, " %s=%d/%d", cmd_log_names[i], st->cmd_ok[i], st->cmd_total[i]);
        total += st->cmd_total[i];
        ok += st->cmd_ok[i];
    }
    if (total > 0 && ok == total)
        sbuf_printf(&line, " commands=%d", total);
    else
        sbuf_printf(&line, " commands=%d/%d", ok, total);
    msg_info("%s", sbuf_str(&line));
    sbuf_free(&line);
}

/* The client went away or went quiet: log it, answer a timeout. */
static void input_failed(SMTPD_STATE *st)
{
    if (vstream_timed_out(st->client)) {
        msg_info("timeout after %s from %s", st->where, st->namaddr);
        vstream_clearerr(st->client);
        smtpd_reply(st, "421 4.4.2 %s Error: timeout exceeded", st->myhostname);
        vstream_flush(st->client);
    } else {
        msg_info("lost connection after %s from %s", st->where, st->namaddr);
    }
    st->done = true;
}

/* Bytes the client sent that we have not read yet (an end of file is
 * not input: a client may send its last command and close). */
static bool input_pending(SMTPD_STATE *st)
{
    int n = 0;
    if (vstream_peek_pending(st->client) > 0)
        return true;
    return ioctl(vstream_fd(st->client), FIONREAD, &n) == 0 && n > 0;
}

/* RFC 2920 violation with smtpd_forbid_unauth_pipelining: log what the
 * client sent too early and hang up. */
static void improper_pipelining(SMTPD_STATE *st, const char *after, const char *text,
                                size_t text_len)
{
    sbuf shown = SBUF_INIT;
    char more[100];
    ssize_t n = 0;

    if (text)
        smtpd_printable(&shown, text, text_len, 100);
    if (shown.len < 100 && input_pending(st)
        && (n = vstream_read_some(st->client, more, sizeof(more))) > 0)
        smtpd_printable(&shown, more, (size_t) n, 100 - shown.len);
    msg_info("improper command pipelining after %s from %s: %s", after, st->namaddr,
             sbuf_str(&shown));
    smtpd_reply(st, "554 5.5.0 Error: SMTP protocol synchronization");
    st->done = true;
    sbuf_free(&shown);
}

static const struct smtpd_cmd *find_cmd(const char *verb)
{
    for (const struct smtpd_cmd *c = cmd_table; c->name; c++)
        if (strcasecmp(c->name, verb) == 0)
            return c;
    return 0;
}

/* One command line: split, police, dispatch. */
static void do_command(SMTPD_STATE *st, int how)
{
    char *line = st->line.s ? st->line.s : "";
    size_t len = st->line.len;
    char verb[32];
    size_t vlen = 0;
    const char *args;
    const struct smtpd_cmd *cmd;

    if (memchr(line, 0, len)) {
        smtpd_reply(st, "500 5.5.2 Error: bad syntax");
        st->error_count++;
        return;
    }
    if (how == VSTREAM_LINE_LF && st->dot_mode == SMTPD_DOT_REJECT) {
        int code = (int) mail_conf_int("smtpd_forbid_bare_newline_reject_code");
        msg_info("bare <LF> received from %s after %s", st->namaddr, st->where);
        smtpd_reply(st, "%d 5.5.2 Error: bare <LF> received", code);
        st->error_count++;
        if (code == 521)
            st->done = true;
        return;
    }
    /* Verb: up to the first blank; arguments: the rest, trimmed. */
    while (vlen < len && line[vlen] != ' ' && line[vlen] != '\t')
        vlen++;
    while (len > vlen && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        line[--len] = 0;
    args = line + vlen;
    args += strspn(args, " \t");
    if (vlen == 0 || vlen >= sizeof(verb)) {
        cmd = 0;
        verb[0] = 0;
    } else {
        memcpy(verb, line, vlen);
        verb[vlen] = 0;
        cmd = find_cmd(verb);
    }
    if (verb[0] && forbidden_command(verb)) {
        sbuf shown = SBUF_INIT;
        smtpd_printable(&shown, line, len, 100);
        msg_warn("non-SMTP command from %s: %s", st->namaddr, sbuf_str(&shown));
        sbuf_free(&shown);
        smtpd_reply(st, "221 2.7.0 Error: I can break rules, too. Goodbye.");
        st->done = true;
        return;
    }
    /* A client that talked before the greeting (RFC 5321 4.3.1). */
    if (st->pregreet) {
        sbuf text = SBUF_INIT;
        sbuf_add(&text, line, len);
        sbuf_adds(&text, how == VSTREAM_LINE_CRLF ? "\r\n" : "\n");
        st->cmd_total[cmd ? cmd->id : SMTPD_CMD_UNKNOWN]++;
        improper_pipelining(st, "CONNECT", text.s, text.len);
        sbuf_free(&text);
        return;
    }
    if (verb[0] && !cmd && noop_command(verb)) {
        smtpd_reply(st, "250 2.0.0 Ok");
        return;
    }
    if (!cmd) {
        st->where = "UNKNOWN";
        st->cmd_total[SMTPD_CMD_UNKNOWN]++;
        const char *milter_reply = smtpd_milter_unknown(st, line);
        if (milter_reply)
            smtpd_reply(st, "%s", milter_reply);
        else
            smtpd_reply(st, "502 5.5.2 Error: command not recognized");
        st->error_count++;
        return;
    }

    /* RFC 2920 3.1; Postfix 3.9 smtpd_forbid_unauth_pipelining. Without
     * it, reject_unauth_pipelining still hears about it. */
    if (cmd->id != SMTPD_CMD_QUIT && ((cmd->flags & CMD_LAST) || !st->pipelining)
        && input_pending(st)) {
        if (st->forbid_unauth_pipelining) {
            st->cmd_total[cmd->id]++;
            improper_pipelining(st, cmd->name, 0, 0);
            return;
        }
        st->unauth_pipelining = true;
    }
    if ((cmd->flags & CMD_LIMIT) && st->junk_cmds++ >= st->junk_limit)
        st->error_count++;
    st->where = cmd->name;
    st->cmd_total[cmd->id]++;
    if (!(cmd->flags & CMD_PRE_TLS) && smtpd_tls_required(st)) {
        smtpd_reply(st, "530 5.7.0 Must issue a STARTTLS command first");
        st->error_count++;
        return;
    }
    if (smtpd_anvil_command(st, cmd->id) < 0) {     /* message/recipient/AUTH rates */
        st->error_count++;
        return;
    }
    if (cmd->fn(st, args) == 0)
        st->cmd_ok[cmd->id]++;
    else
        st->error_count++;
}

static void serve(vstream *client, const char *service)
{
    SMTPD_STATE st;
    struct smtpd_check chk;

    memset(&st, 0, sizeof(st));
    st.client = client;
    st.service = service;
    st.lookup = lookup;
    st.protocol = "SMTP";
    st.where = "CONNECT";
    sbuf_init(&st.line);
    smtpd_actions_reset(&st);
    conf_load(&st);
    smtpd_peer_init(&st, vstream_fd(client), mail_conf_bool("smtpd_client_port_logging"));
    if (st.dot_mode != SMTPD_DOT_LAX && smtpd_lookup_bare_lf_excluded(&st) > 0)
        st.dot_mode = SMTPD_DOT_LAX;
    vstream_set_timeout(client, st.timeout_ms);
    if (mail_conf_bool("smtpd_per_record_deadline"))
        vstream_set_deadline(client, 1);
    msg_info("connect from %s", st.namaddr);

    /* Connection count and rate limits (anvil): 421 and goodbye. */
    if (smtpd_anvil_connect(&st) < 0)
        st.done = true;

    /* smtpd_delay_reject = no: client restrictions at connect time; the
     * refusal is the answer to MAIL, RCPT, VRFY and ETRN later. */
    if (!st.done && !mail_conf_bool("smtpd_delay_reject")) {
        smtpd_check_setup(&st, &chk);
        if (smtpd_check_client(&chk) == SMTPD_CHECK_REJECT)
            st.access_denied = xstrdup(sbuf_str(&chk.reply));
        smtpd_check_free(&chk);
    }

    /* smtps: TLS from the first byte, before the greeting. */
    smtpd_tls_session_init(&st);
    if (!st.done && smtpd_tls_wrapper_start(&st) == 0) {
        smtpd_sasl_session_init(&st);
        /* A client that talks before the greeting is not an SMTP client. */
        if (st.forbid_unauth_pipelining && input_pending(&st))
            st.pregreet = true;
        /* smtpd_milters: the connect event may replace the greeting. */
        if (smtpd_milter_connect(&st) == 0)
            smtpd_reply(&st, "220 %s", mail_conf_str("smtpd_banner"));
    }

    while (!st.done) {
        if (st.error_count >= st.hard_error_limit) {
            msg_info("too many errors after %s from %s", st.where, st.namaddr);
            smtpd_reply(&st, "421 4.7.0 %s Error: too many errors", st.myhostname);
            break;
        }
        int how = vstream_get_line(client, &st.line, st.line_limit);
        if (how == VSTREAM_LINE_ERR || how == VSTREAM_LINE_EOF) {
            input_failed(&st);
            break;
        }
        if (msg_verbose) {
            sbuf shown = SBUF_INIT;
            smtpd_printable(&shown, st.line.s ? st.line.s : "", st.line.len, 200);
            msg_info("< %s: %s", st.namaddr, sbuf_str(&shown));
        }
        if (how == VSTREAM_LINE_LONG) {
            /* RFC 5321 4.5.3.1.4: a command line longer than we accept. */
            if (vstream_skip_line(client) < 0) {
                input_failed(&st);
                break;
            }
            smtpd_reply(&st, "500 5.5.0 Error: line too long");
            st.error_count++;
            continue;
        }
        st.line_end = how;
        do_command(&st, how);
    }
    vstream_flush(client);
    smtpd_mail_reset(&st);
    smtpd_milter_disconnect(&st);
    smtpd_sasl_session_end(&st);
    smtpd_tls_session_end(&st);
    xfree(st.helo_name);
    xfree(st.access_denied);
    sbuf_free(&st.line);
    smtpd_anvil_disconnect(&st);
    log_disconnect(&st);

    /* A rebuilt table takes effect in a fresh process. */
    if (!mail_server_standalone() && smtpd_lookup_changed(lookup)) {
        msg_info("table has changed -- restarting");
        vstream_close(client);
        mail_server_busy(false);
        exit(0);
    }
}

static void pre_init(void)
{
    lookup = smtpd_lookup_open();
    open_forbidden_commands();
    smtpd_tls_pre_init();
    smtpd_sasl_pre_init();
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "smtpd",
        .kind = MAIL_SERVER_STREAM,
        .pre_init = pre_init,
        .serve = serve,
    };
    return mail_server_main(argc, argv, &srv);
}
