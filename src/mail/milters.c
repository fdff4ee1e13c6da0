/*
 * milters.c - the list of mail filters: configuration, the SMTP events
 * in order, the message content, hand-over helpers (see milter.h).
 *
 * An event goes to each filter in turn; the first verdict that is not
 * "continue" ends the round (later filters do not see that event), as
 * Postfix does. The content goes to one filter at a time, and the
 * caller's done() callback runs between filters.
 *
 * NOT HERE: the per-filter protocol engine (milter.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "mail/mail_conf.h"
#include "mail/milter_int.h"
#include "util/mem.h"
#include "util/msg.h"

#define QUEUE_READ_ERROR "451 4.3.0 Queue file read error"

static const char *const stage_params[MILTER_MAC_COUNT] = {
    "milter_connect_macros", "milter_helo_macros", "milter_mail_macros",
    "milter_rcpt_macros", "milter_data_macros", "milter_end_of_data_macros",
    "milter_end_of_header_macros", "milter_unknown_command_macros",
};

static const char *const stage_names[MILTER_MAC_COUNT] = {
    "connect", "helo", "mail", "rcpt", "data", "eom", "eoh", "unknown",
};

const char *milter_stage_name(int stage)
{
    return stage >= 0 && stage < MILTER_MAC_COUNT ? stage_names[stage] : "?";
}

static long conf_seconds(const char *name)
{
    long t = mail_conf_time(name);
    return t < 1 ? 1 : t;
}

static void add_milter(milters *ms, milter *m)
{
    ms->v = xreallocarray(ms->v, ms->n + 1, sizeof(*ms->v));
    ms->v[ms->n++] = m;
}

static void load_defaults(milters *ms)
{
    strv items;
    strv_init(&items);
    strv_split(&items, mail_conf_str("milter_macro_defaults"), ", \t\r\n");
    for (size_t i = 0; i < items.n; i++) {
        const char *it = items.v[i];
        const char *eq = strchr(it, '=');
        if (!eq || eq == it) {
            msg_warn("milter_macro_defaults: ignoring \"%s\": need name=value", it);
            continue;
        }
        size_t n = (size_t) (eq - it);
        sbuf nv = SBUF_INIT;
        if (n >= 2 && it[0] == '{' && it[n - 1] == '}')
            sbuf_add(&nv, it + 1, n - 2);
        else
            sbuf_add(&nv, it, n);
        sbuf_adds(&nv, eq);
        strv_add(&ms->defaults, sbuf_str(&nv));
        sbuf_free(&nv);
    }
    strv_free(&items);
}

milters *milters_new_empty(void)
{
    milters *ms = xcalloc(1, sizeof(*ms));
    strv_init(&ms->defaults);
    strv_init(&ms->received);
    load_defaults(ms);
    return ms;
}

/* One list entry: "name" or the inside of "{ name, key=value, ... }". */
static milter *parse_entry(milters *ms, const char *entry)
{
    strv words;
    strv_init(&words);
    strv_split(&words, entry, ", \t\r\n");
    if (words.n == 0) {
        strv_free(&words);
        return 0;
    }
    long conn = conf_seconds("milter_connect_timeout");
    long cmd = conf_seconds("milter_command_timeout");
    long msg = conf_seconds("milter_content_timeout");
    const char *action = mail_conf_str("milter_default_action");
    const char *protocol = mail_conf_str("milter_protocol");
    bool ok = true;
    for (size_t i = 1; i < words.n && ok; i++) {
        char *eq = strchr(words.v[i], '=');
        long t;
        if (!eq) {
            ok = false;
            break;
        }
        *eq++ = 0;
        const char *key = words.v[i];
        if (strcmp(key, "default_action") == 0) {
            action = eq;
        } else if (strcmp(key, "protocol") == 0) {
            protocol = eq;
        } else if ((strcmp(key, "connect_timeout") == 0 || strcmp(key, "command_timeout") == 0
                    || strcmp(key, "content_timeout") == 0)
                   && mail_conf_parse_time(eq, 's', &t) == 0) {
            t = t < 1 ? 1 : t;
            if (strcmp(key, "connect_timeout") == 0)
                conn = t;
            else if (strcmp(key, "command_timeout") == 0)
                cmd = t;
            else
                msg = t;
        } else {
            ok = false;
        }
    }
    milter *m = 0;
    if (!ok)
        msg_warn("milter %s: bad setting in \"{ %s }\" -- milter ignored", words.v[0], entry);
    else
        m = milter_alloc(ms, words.v[0], (int) conn, (int) cmd, (int) msg, action, protocol);
    strv_free(&words);
    return m;
}

milters *milters_create(const char *list)
{
    strv entries;
    strv_init(&entries);
    if (strv_split_list(&entries, list ? list : "", ", \t\r\n") < 0) {
        msg_warn("milter list \"%s\": unbalanced braces -- milters ignored", list);
        strv_free(&entries);
        return 0;
    }
    if (entries.n == 0) {
        strv_free(&entries);
        return 0;
    }
    milters *ms = milters_new_empty();
    strv lists[MILTER_MAC_COUNT];
    for (int i = 0; i < MILTER_MAC_COUNT; i++) {
        strv_init(&lists[i]);
        strv_split(&lists[i], mail_conf_str(stage_params[i]), ", \t\r\n");
    }
    for (size_t i = 0; i < entries.n; i++) {
        milter *m = parse_entry(ms, entries.v[i]);
        if (!m)
            continue;
        for (int k = 0; k < MILTER_MAC_COUNT; k++)
            for (size_t j = 0; j < lists[k].n; j++)
                strv_add(&m->macros[k], lists[k].v[j]);
        add_milter(ms, m);
    }
    for (int i = 0; i < MILTER_MAC_COUNT; i++)
        strv_free(&lists[i]);
    strv_free(&entries);
    if (ms->n == 0) {
        milters_free(ms);
        return 0;
    }
    return ms;
}

void milters_free(milters *ms)
{
    if (!ms)
        return;
    for (size_t i = 0; i < ms->n; i++)
        milter_free(ms->v[i]);
    xfree(ms->v);
    strv_free(&ms->defaults);
    strv_free(&ms->received);
    xfree(ms);
}

size_t milters_count(const milters *ms)
{
    return ms ? ms->n : 0;
}

void milters_set_macros(milters *ms, milter_macro_fn fn, void *ctx)
{
    ms->lookup = fn;
    ms->lookup_ctx = ctx;
}

/* ---- events ---- */

const char *milters_connect(milters *ms, const char *client_name, const char *client_addr,
                            const char *client_port, int family)
{
    const char *resp = 0;
    for (size_t i = 0; i < ms->n && !resp; i++) {
        milter *m = ms->v[i];
        if (m->state == MILTER_ST_CLOSED)
            milter_open(m);
        if (m->state == MILTER_ST_ERROR) {
            resp = m->def_reply;
            continue;
        }
        if (m->state != MILTER_ST_READY)
            continue;
        m->state = MILTER_ST_ENVELOPE;
        sbuf args = SBUF_INIT;
        long port = client_port ? strtol(client_port, 0, 10) : 0;
        if (port < 0 || port > 65535)
            port = 0;
        milter_pkt_add_str(&args, client_name ? client_name : "unknown");
        switch (family) {
        case AF_INET:
        case AF_INET6:
            milter_pkt_add_byte(&args, family == AF_INET ? SMFIA_INET : SMFIA_INET6);
            milter_pkt_add_u16(&args, (uint16_t) port);
            milter_pkt_add_str(&args, client_addr ? client_addr : "");
            break;
        case AF_UNIX:
            milter_pkt_add_byte(&args, SMFIA_UNIX);
            milter_pkt_add_u16(&args, 0);
            milter_pkt_add_str(&args, client_addr ? client_addr : "");
            break;
        default:
            milter_pkt_add_byte(&args, SMFIA_UNKNOWN);
            break;
        }
        resp = milter_event(m, SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN,
                            MILTER_MAC_CONNECT, &args, m->cmd_timeout);
        sbuf_free(&args);
    }
    return resp;
}

/* The sticky verdict of a filter that takes no more events, or NULL. */
static bool sticky(const milter *m, const char **resp)
{
    switch (m->state) {
    case MILTER_ST_ERROR:
    case MILTER_ST_REJECT_CON:
        *resp = m->def_reply;
        return true;
    case MILTER_ST_ACCEPT_CON:
    case MILTER_ST_CLOSED:
    case MILTER_ST_READY:
        *resp = 0;
        return true;
    default:
        return false;
    }
}

const char *milters_helo(milters *ms, const char *helo)
{
    const char *resp = 0;
    for (size_t i = 0; i < ms->n && !resp; i++) {
        milter *m = ms->v[i];
        if (sticky(m, &resp))
            continue;
        sbuf args = SBUF_INIT;
        milter_pkt_add_str(&args, helo);
        resp = milter_event(m, SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO, MILTER_MAC_HELO, &args,
                            m->cmd_timeout);
        sbuf_free(&args);
    }
    return resp;
}

static void add_argv(sbuf *args, const char *const *argv)
{
    for (; *argv; argv++)
        milter_pkt_add_str(args, *argv);
}

const char *milters_mail(milters *ms, const char *const *argv)
{
    const char *resp = 0;
    for (size_t i = 0; i < ms->n && !resp; i++) {
        milter *m = ms->v[i];
        if (sticky(m, &resp))
            continue;
        m->state = MILTER_ST_ENVELOPE;      /* a new message */
        m->in_tx = true;
        sbuf args = SBUF_INIT;
        add_argv(&args, argv);
        resp = milter_event(m, SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, MILTER_MAC_MAIL, &args,
                            m->cmd_timeout);
        sbuf_free(&args);
    }
    return resp;
}

/* rcpt, data and unknown: only filters still in the envelope. */
static const char *envelope_event(milters *ms, int code, uint32_t skip, uint32_t nr, int stage,
                                  const sbuf *args)
{
    const char *resp = 0;
    for (size_t i = 0; i < ms->n && !resp; i++) {
        milter *m = ms->v[i];
        if (sticky(m, &resp) || m->state != MILTER_ST_ENVELOPE)
            continue;
        resp = milter_event(m, code, skip, nr, stage, args, m->cmd_timeout);
    }
    return resp;
}

const char *milters_rcpt(milters *ms, const char *const *argv)
{
    sbuf args = SBUF_INIT;
    add_argv(&args, argv);
    const char *resp = envelope_event(ms, SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT,
                                      MILTER_MAC_RCPT, &args);
    sbuf_free(&args);
    return resp;
}

const char *milters_data(milters *ms)
{
    return envelope_event(ms, SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA, MILTER_MAC_DATA, 0);
}

const char *milters_unknown(milters *ms, const char *command)
{
    sbuf args = SBUF_INIT;
    milter_pkt_add_str(&args, command);
    const char *resp = envelope_event(ms, SMFIC_UNKNOWN, SMFIP_NOUNKNOWN, SMFIP_NR_UNKN,
                                      MILTER_MAC_UNKNOWN, &args);
    sbuf_free(&args);
    return resp;
}

const char *milters_other(milters *ms)
{
    for (size_t i = 0; i < ms->n; i++)
        if ((ms->v[i]->state == MILTER_ST_ERROR || ms->v[i]->state == MILTER_ST_REJECT_CON)
            && ms->v[i]->def_reply)
            return ms->v[i]->def_reply;
    return 0;
}

void milters_abort(milters *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        milter *m = ms->v[i];
        if (!m->in_tx)
            continue;
        m->in_tx = false;
        if (m->state == MILTER_ST_ENVELOPE || m->state == MILTER_ST_MESSAGE
            || m->state == MILTER_ST_ACCEPT_MSG) {
            milter_send_noreply(m, SMFIC_ABORT);
            if (m->state != MILTER_ST_ERROR)
                m->state = MILTER_ST_ENVELOPE;
        }
    }
}

void milters_quit(milters *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        milter *m = ms->v[i];
        milter_quit(m);
        if (m->state != MILTER_ST_ERROR)
            m->state = MILTER_ST_CLOSED;
    }
}

bool milter_in_message(const milter *m)
{
    return m->fp && m->state == MILTER_ST_ENVELOPE;
}

bool milters_want_message(const milters *ms)
{
    for (size_t i = 0; ms && i < ms->n; i++)
        if (milter_in_message(ms->v[i]))
            return true;
    return false;
}

/* ---- content ---- */

/* Body bytes as SMFIC_BODY chunks, LF -> CR LF. */
static const char *send_body(milter *m, const struct milter_message_src *src, void *ctx)
{
    sbuf in = SBUF_INIT, chunk = SBUF_INIT;
    const char *resp = 0;
    int rc;
    while (!m->skip_body && m->state == MILTER_ST_MESSAGE && (rc = src->body(ctx, &in)) != 0) {
        if (rc < 0) {
            resp = QUEUE_READ_ERROR;
            break;
        }
        for (size_t i = 0; i < in.len && !resp; i++) {
            if (in.s[i] == '\n')
                sbuf_addc(&chunk, '\r');
            sbuf_addc(&chunk, in.s[i]);
            if (chunk.len >= MILTER_CHUNK_SIZE - 1) {
                resp = milter_event(m, SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY, -1, &chunk,
                                    m->msg_timeout);
                sbuf_reset(&chunk);
                if (m->skip_body || m->state != MILTER_ST_MESSAGE)
                    break;
            }
        }
        sbuf_reset(&in);
        if (resp)
            break;
    }
    if (!resp && chunk.len && !m->skip_body && m->state == MILTER_ST_MESSAGE)
        resp = milter_event(m, SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY, -1, &chunk,
                            m->msg_timeout);
    sbuf_free(&in);
    sbuf_free(&chunk);
    return resp;
}

/* The whole message to one filter. */
static const char *message_one(milters *ms, milter *m, const struct milter_message_src *src,
                               void *ctx)
{
    const char *resp = 0;
    sbuf hdr = SBUF_INIT, args = SBUF_INIT;
    int rc;

    (void) ms;
    if (src->rewind(ctx) < 0)
        return QUEUE_READ_ERROR;
    m->state = MILTER_ST_MESSAGE;
    m->skip_body = false;
    if (!(m->events & SMFIP_NOHDRS)) {
        while ((rc = src->header(ctx, &hdr)) != 0) {
            if (rc < 0) {
                resp = QUEUE_READ_ERROR;
                break;
            }
            milter_header_args(m, hdr.s, hdr.len, &args);
            resp = milter_event(m, SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR, -1, &args,
                                m->msg_timeout);
            sbuf_reset(&hdr);
            if (resp || m->state != MILTER_ST_MESSAGE)
                break;
        }
    }
    if (!resp && m->state == MILTER_ST_MESSAGE)
        resp = milter_event(m, SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, MILTER_MAC_EOH, 0,
                            m->msg_timeout);
    if (!resp && m->state == MILTER_ST_MESSAGE && !(m->events & SMFIP_NOBODY))
        resp = send_body(m, src, ctx);
    if (!resp && m->state == MILTER_ST_MESSAGE)
        resp = milter_event(m, SMFIC_BODYEOB, 0, 0, MILTER_MAC_EOM, 0, m->msg_timeout);
    if (m->state == MILTER_ST_MESSAGE || m->state == MILTER_ST_ACCEPT_MSG)
        m->state = MILTER_ST_ENVELOPE;
    sbuf_free(&hdr);
    sbuf_free(&args);
    return resp;
}

const char *milters_message(milters *ms, const struct milter_message_src *src, void *src_ctx,
                            const struct milter_edit_ops *ed, void *ed_ctx)
{
    const char *resp = 0;
    bool hold = false;

    ms->ed = ed;
    ms->ed_ctx = ed_ctx;
    for (size_t i = 0; i < ms->n; i++) {
        milter *m = ms->v[i];
        if (m->state == MILTER_ST_ACCEPT_MSG) {
            m->state = MILTER_ST_ENVELOPE;      /* accepted: its part is done */
            continue;
        }
        if (sticky(m, &resp)) {
            if (resp && strcmp(resp, MILTER_HOLD) == 0) {
                hold = true;
                resp = 0;
            }
            if (resp)
                break;
            continue;
        }
        if (m->state != MILTER_ST_ENVELOPE)
            continue;
        resp = message_one(ms, m, src, src_ctx);
        if (resp && strcmp(resp, MILTER_HOLD) == 0) {
            hold = true;
            resp = 0;
        }
        if (resp)
            break;
        if (ed && ed->done && (resp = ed->done(ed_ctx)) != 0)
            break;
    }
    ms->ed = 0;
    ms->ed_ctx = 0;
    if (!resp && hold)
        resp = MILTER_HOLD;
    return resp;
}

/* ---- hand-over ---- */

size_t milters_size(const milters *ms)
{
    return ms ? ms->n : 0;
}

milter *milters_get(const milters *ms, size_t i)
{
    return i < ms->n ? ms->v[i] : 0;
}

const char *milter_name(const milter *m)
{
    return m->name;
}

void milter_get_xfer(const milter *m, struct milter_xfer *x)
{
    x->name = m->name;
    x->conn_timeout = m->conn_timeout;
    x->cmd_timeout = m->cmd_timeout;
    x->msg_timeout = m->msg_timeout;
    x->def_action = m->def_action;
    x->protocol = m->protocol;
    x->version = m->version;
    x->actions = m->actions;
    x->events = m->events;
    x->np_mask = m->np_mask;
    x->state = m->state;
    x->macros = m->macros;
    x->fd = m->fp ? vstream_fd(m->fp) : -1;
}

void milters_add_xfer(milters *ms, const struct milter_xfer *x)
{
    milter *m = milter_alloc(ms, x->name, x->conn_timeout, x->cmd_timeout, x->msg_timeout,
                             x->def_action, x->protocol);
    m->version = x->version;
    m->actions = x->actions;
    m->events = x->events;
    m->np_mask = x->np_mask;
    m->state = x->state;
    for (int i = 0; i < MILTER_MAC_COUNT && x->macros; i++)
        for (size_t j = 0; j < x->macros[i].n; j++)
            strv_add(&m->macros[i], x->macros[i].v[j]);
    if (x->fd >= 0) {
        m->fp = vstream_open(x->fd);
        vstream_set_deadline(m->fp, 1);
    } else if (m->state != MILTER_ST_ERROR) {
        m->state = MILTER_ST_CLOSED;
    }
    add_milter(ms, m);
}
