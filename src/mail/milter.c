/*
 * milter.c - one mail filter: connect, SMFIC_OPTNEG, send an event, read
 * the verdict and the modification requests (see milter.h for the
 * contract, milters.c for the list and the public events).
 *
 * Every wait is bounded: the connect by the filter's connect timeout,
 * each reply by the command or content timeout (per read operation; a
 * SMFIR_PROGRESS starts a new wait, as Sendmail allows). Any failure
 * goes through milter_comm_error(), which shuts the socket down (so a
 * process sharing it notices), closes it and sets the sticky reply of
 * milter_default_action.
 *
 * NOT HERE: macro values and stages (milters.c), packet layout
 * (milter_proto.c), what verdicts mean for mail.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "mail/milter_int.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sock.h"

#define REPLY_REJECT   "550 5.7.1 Command rejected"
#define REPLY_TEMPFAIL "451 4.7.1 Service unavailable - try again later"
#define REPLY_DEF_REJECT "550 5.5.0 Service unavailable"
#define REPLY_CONFIG   "451 4.3.5 Server configuration problem - try again later"

/* Protocol versions: the events we may send (SMFIP_NO* bits we offer)
 * and, from 6 on, the no-reply and other flags. SMFIP_RCPT_REJ is not
 * offered: rejected recipients are not reported. */
#define V2_EVENTS (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NOBODY \
                   | SMFIP_NOHDRS | SMFIP_NOEOH)
#define V3_EVENTS (V2_EVENTS | SMFIP_NOUNKNOWN)
#define V4_EVENTS (V3_EVENTS | SMFIP_NODATA)
#define V6_EVENTS (V4_EVENTS | SMFIP_SKIP | SMFIP_NOREPLY_MASK | SMFIP_HDR_LEADSPC)

static uint32_t version_events(uint32_t version)
{
    switch (version) {
    case 2:
        return V2_EVENTS;
    case 3:
        return V3_EVENTS;
    case 4:
    case 5:
        return V4_EVENTS;
    default:
        return version >= 6 ? V6_EVENTS : 0;
    }
}

milter *milter_alloc(milters *parent, const char *name, int conn_timeout, int cmd_timeout,
                     int msg_timeout, const char *def_action, const char *protocol)
{
    milter *m = xcalloc(1, sizeof(*m));
    m->parent = parent;
    m->name = xstrdup(name);
    m->conn_timeout = conn_timeout;
    m->cmd_timeout = cmd_timeout;
    m->msg_timeout = msg_timeout;
    m->def_action = xstrdup(def_action);
    m->protocol = xstrdup(protocol);
    m->state = MILTER_ST_CLOSED;
    for (int i = 0; i < MILTER_MAC_COUNT; i++)
        strv_init(&m->macros[i]);
    sbuf_init(&m->out);
    sbuf_init(&m->in);
    sbuf_init(&m->reply);
    sbuf_init(&m->why);
    return m;
}

void milter_free(milter *m)
{
    if (!m)
        return;
    if (m->fp)
        vstream_close(m->fp);
    xfree(m->name);
    xfree(m->def_action);
    xfree(m->protocol);
    xfree(m->def_reply);
    for (int i = 0; i < MILTER_MAC_COUNT; i++)
        strv_free(&m->macros[i]);
    sbuf_free(&m->out);
    sbuf_free(&m->in);
    sbuf_free(&m->reply);
    sbuf_free(&m->why);
    xfree(m);
}

static const char *set_def_reply(milter *m, const char *reply)
{
    xfree(m->def_reply);
    m->def_reply = reply ? xstrdup(reply) : 0;
    return m->def_reply;
}

void milter_close(milter *m)
{
    if (m->fp) {
        vstream_close(m->fp);
        m->fp = 0;
    }
}

/* Poison the socket: another process may hold a copy of it. */
static void shut(milter *m)
{
    if (m->fp) {
        (void) shutdown(vstream_fd(m->fp), SHUT_RDWR);
        milter_close(m);
    }
}

const char *milter_comm_error(milter *m)
{
    const char *reply;
    shut(m);
    if (strcasecmp(m->def_action, "accept") == 0) {
        reply = 0;
    } else if (strcasecmp(m->def_action, "reject") == 0) {
        reply = REPLY_DEF_REJECT;
    } else if (strcasecmp(m->def_action, "tempfail") == 0) {
        reply = REPLY_TEMPFAIL;
    } else if (strcasecmp(m->def_action, "quarantine") == 0) {
        reply = MILTER_HOLD;
    } else {
        msg_warn("milter %s: unrecognized default action: %s", m->name, m->def_action);
        reply = REPLY_CONFIG;
    }
    m->state = MILTER_ST_ERROR;
    return set_def_reply(m, reply);
}

const char *milter_conf_error(milter *m)
{
    const char *reply;
    shut(m);
    if (strcasecmp(m->def_action, "accept") == 0)
        reply = 0;
    else if (strcasecmp(m->def_action, "quarantine") == 0)
        reply = MILTER_HOLD;
    else
        reply = REPLY_CONFIG;
    m->state = MILTER_ST_ERROR;
    return set_def_reply(m, reply);
}

/* Why a stream operation failed, for the log. */
static const char *stream_why(vstream *s)
{
    if (vstream_timed_out(s))
        return strerror(ETIMEDOUT);
    if (vstream_eof(s))
        return "lost connection";
    return strerror(vstream_errno(s) ? vstream_errno(s) : EIO);
}

/* ---- connecting ---- */

/* "version [no_header_reply]" -> version and the events we offer. */
static int parse_protocol(const char *text, uint32_t *version, uint32_t *events)
{
    strv words;
    int ret = 0;
    *version = 0;
    *events = 0;
    strv_init(&words);
    strv_split(&words, text, ", \t\r\n");
    for (size_t i = 0; i < words.n && ret == 0; i++) {
        const char *w = words.v[i];
        if (strcmp(w, "no_header_reply") == 0) {
            *events |= SMFIP_NR_HDR;
        } else if (w[0] >= '2' && w[0] <= '6' && w[1] == 0 && *version == 0) {
            *version = (uint32_t) (w[0] - '0');
            *events |= version_events(*version);
        } else {
            ret = -1;
        }
    }
    strv_free(&words);
    return ret == 0 && *version ? 0 : -1;
}

/* Connect to "inet:host:port" or "unix:/path" ("local:" too). fd or -1
 * with why set; conf is set when the name itself is wrong. */
static int connect_endpoint(milter *m, bool *conf)
{
    const char *name = m->name;
    int timeout_ms = m->conn_timeout > 0 && m->conn_timeout < 86400 ? m->conn_timeout * 1000
                                                                     : 86400 * 1000;
    *conf = false;
    sbuf_reset(&m->why);
    if (strncmp(name, "unix:", 5) == 0 || strncmp(name, "local:", 6) == 0) {
        const char *path = strchr(name, ':') + 1;
        char full[SOCK_PATH_MAX + 2];
        int n = path[0] == '/' ? snprintf(full, sizeof(full), "%s", path)
                               : snprintf(full, sizeof(full), "%s/%s",
                                          mail_conf_str("queue_directory"), path);
        if (!*path || n < 0 || (size_t) n >= sizeof(full)) {
            *conf = true;
            sbuf_set(&m->why, "bad socket path");
            return -1;
        }
        int fd = sock_connect_unix(full, timeout_ms);
        if (fd < 0)
            sbuf_set(&m->why, strerror(errno));
        return fd;
    }
    if (strncmp(name, "inet:", 5) != 0) {
        *conf = true;
        sbuf_set(&m->why, "Milter service needs transport:endpoint");
        return -1;
    }
    sock_endpoint ep;
    if (sock_parse_endpoint(name + 5, 0, &ep, &m->why) < 0 || ep.kind != SOCK_EP_INET
        || !ep.host[0]) {
        *conf = true;
        if (!m->why.len)
            sbuf_set(&m->why, "bad inet endpoint");
        return -1;
    }
    int fd = sock_connect_inet(ep.host, ep.port, 0, timeout_ms);
    if (fd < 0 && errno == EINVAL) {
        /* A host name (not a literal): ask the system resolver. */
        struct sockaddr_storage ss[4];
        int k = sock_lookup(ep.host, ep.port, AF_UNSPEC, ss, 4);
        for (int i = 0; i < k && fd < 0; i++)
            fd = sock_connect_addr((struct sockaddr *) &ss[i],
                                   sock_addr_len((struct sockaddr *) &ss[i]), 0, 0, timeout_ms);
        if (k <= 0 && errno == EINVAL)
            *conf = true;
    }
    if (fd < 0)
        sbuf_set(&m->why, strerror(errno));
    return fd;
}

/* Read one reply packet into m->in. 0, or -1 after milter_comm_error(). */
static int read_packet(milter *m, int event)
{
    unsigned char hdr[4];
    if (vstream_read_exact(m->fp, hdr, 4) < 0) {
        msg_warn("milter %s: can't read %s reply packet header: %s", m->name,
                 milter_cmd_name(event), stream_why(m->fp));
        milter_comm_error(m);
        return -1;
    }
    uint32_t len = (uint32_t) hdr[0] << 24 | (uint32_t) hdr[1] << 16 | (uint32_t) hdr[2] << 8
                   | hdr[3];
    if (len < 1) {
        msg_warn("milter %s: bad packet length: %lu", m->name, (unsigned long) len);
        milter_comm_error(m);
        return -1;
    }
    if (len > MILTER_MAX_PACKET) {
        msg_warn("milter %s: unreasonable packet length: %lu > %lu", m->name,
                 (unsigned long) len, (unsigned long) MILTER_MAX_PACKET);
        milter_comm_error(m);
        return -1;
    }
    sbuf_reset(&m->in);
    if (vstream_read_append(m->fp, &m->in, len) < 0) {
        msg_warn("milter %s: can't read %s reply packet data: %s", m->name,
                 milter_cmd_name(event), stream_why(m->fp));
        milter_comm_error(m);
        return -1;
    }
    return 0;
}

/* Send m->out. 0, or -1 after milter_comm_error(). */
static int write_out(milter *m)
{
    if (vstream_write(m->fp, m->out.s, m->out.len) < 0 || vstream_flush(m->fp) < 0) {
        msg_warn("milter %s: error writing command: %s", m->name, stream_why(m->fp));
        milter_comm_error(m);
        return -1;
    }
    return 0;
}

void milter_open(milter *m)
{
    if (m->fp)
        return;
    set_def_reply(m, 0);
    m->in_tx = false;
    if (parse_protocol(m->protocol, &m->my_version, &m->my_events) < 0) {
        msg_warn("milter %s: bad protocol information: %s", m->name, m->protocol);
        milter_conf_error(m);
        return;
    }
    m->np_mask = SMFIP_NOSEND_MASK & ~m->my_events;

    bool conf;
    int fd = connect_endpoint(m, &conf);
    if (fd < 0) {
        msg_warn("connect to Milter service %s: %s", m->name, sbuf_str(&m->why));
        if (conf)
            milter_conf_error(m);
        else
            milter_comm_error(m);
        return;
    }
    m->fp = vstream_open(fd);
    vstream_set_deadline(m->fp, 1);
    vstream_set_timeout(m->fp, m->cmd_timeout > 0 && m->cmd_timeout < 86400
                                   ? m->cmd_timeout * 1000 : 86400 * 1000);

    sbuf_reset(&m->out);
    size_t at = milter_pkt_begin(&m->out, SMFIC_OPTNEG);
    milter_pkt_add_u32(&m->out, m->my_version);
    milter_pkt_add_u32(&m->out, SMFIF_ALL);
    milter_pkt_add_u32(&m->out, m->my_events);
    milter_pkt_end(&m->out, at);
    if (write_out(m) < 0) {
        msg_warn("milter %s: write error in initial handshake", m->name);
        return;
    }
    if (read_packet(m, SMFIC_OPTNEG) < 0) {
        msg_warn("milter %s: read error in initial handshake", m->name);
        return;
    }
    struct milter_optneg o;
    milter_optneg_init(&o);
    sbuf_reset(&m->why);
    if (milter_optneg_parse(m->in.s, m->in.len, &o, &m->why) < 0) {
        msg_warn("milter %s: %s", m->name, sbuf_str(&m->why));
        milter_comm_error(m);
    } else if (o.version > m->my_version || o.version < 2) {
        msg_warn("milter %s: protocol version %lu conflict with MTA protocol version %lu",
                 m->name, (unsigned long) o.version, (unsigned long) m->my_version);
        milter_comm_error(m);
    } else if ((o.actions & ~SMFIF_ALL) != 0) {
        msg_warn("milter %s: request mask 0x%lx conflict with MTA request mask 0x%lx",
                 m->name, (unsigned long) o.actions, (unsigned long) SMFIF_ALL);
        milter_comm_error(m);
    } else {
        m->version = o.version;
        m->actions = o.actions;
        /* Steps it does not want are always honoured; reply and feature
         * flags only when we offered them. */
        m->events = o.protocol & (SMFIP_NOSEND_MASK | m->my_events);
        /* An older filter must not get events its version does not know. */
        if (m->version < m->my_version)
            m->np_mask |= SMFIP_NOSEND_MASK & ~version_events(m->version);
        if (o.has_macros) {
            for (int i = 0; i < MILTER_MAC_COUNT; i++) {
                strv_free(&m->macros[i]);
                strv_init(&m->macros[i]);
                if (i < SMFIM_COUNT && o.macro_set[i])
                    strv_split(&m->macros[i], sbuf_str(&o.macros[i]), ", \t\r\n");
            }
        }
        m->state = MILTER_ST_READY;
        if (msg_verbose)
            msg_info("milter %s: version %lu actions 0x%lx protocol 0x%lx", m->name,
                     (unsigned long) m->version, (unsigned long) m->actions,
                     (unsigned long) m->events);
    }
    milter_optneg_free(&o);
}

/* ---- macros ---- */

/* Append the SMFIC_MACRO packet for stage (before event code). */
static void add_macros(milter *m, int code, int stage)
{
    if (stage < 0 || stage >= MILTER_MAC_COUNT || m->macros[stage].n == 0)
        return;
    milters *ms = m->parent;
    size_t at = m->out.len;
    size_t start = milter_pkt_begin(&m->out, SMFIC_MACRO);
    milter_pkt_add_byte(&m->out, code);
    bool any = false;
    for (size_t i = 0; i < m->macros[stage].n; i++) {
        const char *name = m->macros[stage].v[i];
        char bare[128];
        size_t n = strlen(name);
        if (n >= 2 && name[0] == '{' && name[n - 1] == '}')
            snprintf(bare, sizeof(bare), "%.*s", (int) (n - 2), name + 1);
        else
            snprintf(bare, sizeof(bare), "%s", name);
        const char *value = ms->lookup ? ms->lookup(ms->lookup_ctx, bare) : 0;
        if (!value) {
            size_t bn = strlen(bare);
            for (size_t k = 0; k < ms->defaults.n && !value; k++)
                if (strncmp(ms->defaults.v[k], bare, bn) == 0 && ms->defaults.v[k][bn] == '=')
                    value = ms->defaults.v[k] + bn + 1;
        }
        if (!value)
            continue;
        milter_pkt_add_str(&m->out, name);
        milter_pkt_add_str(&m->out, value);
        any = true;
    }
    if (any)
        milter_pkt_end(&m->out, start);
    else
        sbuf_truncate(&m->out, at);
}

/* ---- replies ---- */

/* SMFIR_REPLYCODE text: "%%" -> "%", lone '%' dropped (Sendmail uses it
 * as a format); an enhanced status code is added when missing. */
static const char *fix_reply(milter *m, const char *text)
{
    sbuf_reset(&m->reply);
    sbuf_add(&m->reply, text, 4);
    const char *p = text + 4;
    if (!(p[0] == text[0] && p[1] == '.'))
        sbuf_printf(&m->reply, "%c.0.0 ", text[0]);
    for (; *p; p++) {
        if (*p == '%') {
            if (p[1] == '%')
                sbuf_addc(&m->reply, *++p);
            continue;
        }
        sbuf_addc(&m->reply, *p);
    }
    return sbuf_str(&m->reply);
}

/* Header text to store from what a filter sent (see milter.h). */
static void header_text(const milter *m, const char *name, const char *value, sbuf *out)
{
    sbuf_reset(out);
    sbuf_adds(out, name);
    sbuf_addc(out, ':');
    bool leadspc = (m->events & SMFIP_HDR_LEADSPC) != 0;
    if (!leadspc && *value != ' ' && *value != '\t')
        sbuf_addc(out, ' ');
    bool first = true;
    while (*value || first) {
        const char *nl = strchr(value, '\n');
        size_t n = nl ? (size_t) (nl - value) : strlen(value);
        size_t k = n;
        while (k > 0 && value[k - 1] == '\r')
            k--;
        bool blank = true;
        for (size_t i = 0; i < k; i++)
            if (value[i] != ' ' && value[i] != '\t')
                blank = false;
        if (first) {
            sbuf_add(out, value, k);
        } else if (!blank) {
            /* A continuation line must start with white space, and an
             * empty one would end the header block. */
            sbuf_addc(out, '\n');
            if (value[0] != ' ' && value[0] != '\t')
                sbuf_addc(out, '\t');
            sbuf_add(out, value, k);
        }
        first = false;
        value += n + (nl ? 1 : 0);
        if (!nl)
            break;
    }
    for (size_t i = 0; i < out->len; i++)
        if (out->s[i] == '\r')
            out->s[i] = ' ';
    sbuf_addc(out, '\n');
}

struct body_repl {
    bool    started;
    bool    cr;                 /* a CR ended the previous chunk */
    sbuf    buf;
};

/* SMFIR_REPLBODY data: CR LF -> LF across chunk boundaries. */
static const char *repl_body_chunk(milter *m, struct body_repl *b, const char *p, size_t n)
{
    const struct milter_edit_ops *ed = m->parent->ed;
    const char *resp = 0;
    if (!ed || !ed->repl_body)
        return 0;
    if (!b->started) {
        b->started = true;
        if ((resp = ed->repl_body(m->parent->ed_ctx, MILTER_BODY_START, 0, 0)) != 0)
            return resp;
    }
    sbuf_reset(&b->buf);
    for (size_t i = 0; i < n; i++) {
        if (b->cr) {
            b->cr = false;
            if (p[i] != '\n')
                sbuf_addc(&b->buf, '\r');
        }
        if (p[i] == '\r')
            b->cr = true;
        else
            sbuf_addc(&b->buf, p[i]);
    }
    if (b->buf.len)
        resp = ed->repl_body(m->parent->ed_ctx, MILTER_BODY_DATA, b->buf.s, b->buf.len);
    return resp;
}

static const char *repl_body_end(milter *m, struct body_repl *b)
{
    const struct milter_edit_ops *ed = m->parent->ed;
    const char *resp = 0;
    if (!b->started || !ed || !ed->repl_body)
        return 0;
    if (b->cr)
        resp = ed->repl_body(m->parent->ed_ctx, MILTER_BODY_DATA, "\r", 1);
    if (!resp)
        resp = ed->repl_body(m->parent->ed_ctx, MILTER_BODY_END, 0, 0);
    return resp;
}

/* One modification request during SMFIC_BODYEOB. */
static const char *edit_request(milter *m, const struct milter_reply *r, struct body_repl *b)
{
    const struct milter_edit_ops *ed = m->parent->ed;
    void *ctx = m->parent->ed_ctx;
    sbuf text = SBUF_INIT;
    const char *resp = 0;

    if (!ed)
        return 0;
    switch (r->cmd) {
    case SMFIR_ADDHEADER:
        header_text(m, r->arg1, r->arg2, &text);
        if (ed->add_header)
            resp = ed->add_header(ctx, r->arg1, text.s, text.len);
        break;
    case SMFIR_INSHEADER:
        header_text(m, r->arg1, r->arg2, &text);
        if (ed->ins_header)
            resp = ed->ins_header(ctx, r->index, r->arg1, text.s, text.len);
        break;
    case SMFIR_CHGHEADER:
        if (*r->arg2)
            header_text(m, r->arg1, r->arg2, &text);
        if (ed->chg_header)     /* Sendmail compatibility: index 0 is the first */
            resp = ed->chg_header(ctx, r->index ? r->index : 1, r->arg1,
                                  *r->arg2 ? text.s : 0, text.len);
        break;
    case SMFIR_CHGFROM:
        if (ed->chg_from)
            resp = ed->chg_from(ctx, r->arg1, r->arg2);
        break;
    case SMFIR_ADDRCPT:
    case SMFIR_ADDRCPT_PAR:
        if (ed->add_rcpt)
            resp = ed->add_rcpt(ctx, r->arg1, r->arg2);
        break;
    case SMFIR_DELRCPT:
        if (ed->del_rcpt)
            resp = ed->del_rcpt(ctx, r->arg1);
        break;
    case SMFIR_REPLBODY:
        resp = repl_body_chunk(m, b, r->data, r->len);
        break;
    }
    sbuf_free(&text);
    return resp;
}

static bool connect_event(int code)
{
    return code == SMFIC_CONNECT || code == SMFIC_HELO;
}

/* Read replies until the verdict for event code. */
static const char *read_verdict(milter *m, int code)
{
    struct body_repl body = {false, false, SBUF_INIT};
    const char *edit_resp = 0, *ret = 0;
    bool hold = false;
    struct milter_reply r;

    for (;;) {
        if (read_packet(m, code) < 0) {
            ret = m->def_reply;
            break;
        }
        sbuf_reset(&m->why);
        if (milter_reply_parse(m->in.s, m->in.len, &r, &m->why) < 0) {
            msg_warn("milter %s: %s after event %s", m->name, sbuf_str(&m->why),
                     milter_cmd_name(code));
            if (r.cmd == SMFIR_REPLYCODE)
                ret = milter_conf_error(m);
            else
                ret = milter_comm_error(m);
            break;
        }
        if (msg_verbose)
            msg_info("milter %s: %s reply %s", m->name, milter_cmd_name(code),
                     milter_reply_name(r.cmd));
        if (r.cmd == SMFIR_PROGRESS)
            continue;
        if (r.cmd == SMFIR_CONTINUE) {
            ret = m->def_reply;
            break;
        }
        if (r.cmd == SMFIR_ACCEPT) {
            if (connect_event(code)) {
                milter_quit(m);
                m->state = MILTER_ST_ACCEPT_CON;
            } else {
                m->state = MILTER_ST_ACCEPT_MSG;
            }
            ret = m->def_reply;
            break;
        }
        if (r.cmd == SMFIR_DISCARD) {
            if (connect_event(code)) {
                msg_warn("milter %s: DISCARD action is not allowed for connect or helo",
                         m->name);
                ret = milter_conf_error(m);
            } else {
                m->state = MILTER_ST_ACCEPT_MSG;
                ret = MILTER_DISCARD;
            }
            break;
        }
        if (r.cmd == SMFIR_REJECT || r.cmd == SMFIR_TEMPFAIL || r.cmd == SMFIR_REPLYCODE) {
            const char *text = r.cmd == SMFIR_REJECT ? REPLY_REJECT
                               : r.cmd == SMFIR_TEMPFAIL ? REPLY_TEMPFAIL
                                                         : fix_reply(m, r.arg1);
            if (connect_event(code)) {
                milter_quit(m);
                m->state = MILTER_ST_REJECT_CON;
                ret = set_def_reply(m, text);
            } else {
                ret = text;
            }
            break;
        }
        if (r.cmd == SMFIR_SHUTDOWN || r.cmd == SMFIR_CONN_FAIL) {
            milter_close(m);
            m->state = MILTER_ST_REJECT_CON;
            ret = set_def_reply(m, MILTER_SHUTDOWN);
            break;
        }
        if (r.cmd == SMFIR_QUARANTINE) {
            /* Not final: at the end of the message the verdict follows. */
            if (code == SMFIC_BODYEOB) {
                hold = true;
                continue;
            }
            ret = MILTER_HOLD;
            break;
        }
        if (r.cmd == SMFIR_SKIP && code == SMFIC_BODY) {
            m->skip_body = true;
            ret = m->def_reply;
            break;
        }
        if (code == SMFIC_BODYEOB
            && (r.cmd == SMFIR_ADDHEADER || r.cmd == SMFIR_INSHEADER || r.cmd == SMFIR_CHGHEADER
                || r.cmd == SMFIR_CHGFROM || r.cmd == SMFIR_ADDRCPT
                || r.cmd == SMFIR_ADDRCPT_PAR || r.cmd == SMFIR_DELRCPT
                || r.cmd == SMFIR_REPLBODY)) {
            /* After an edit failed, the rest are read and dropped. */
            if (!edit_resp)
                edit_resp = edit_request(m, &r, &body);
            continue;
        }
        msg_warn("milter %s: unexpected filter response %s after event %s", m->name,
                 milter_reply_name(r.cmd), milter_cmd_name(code));
        ret = milter_comm_error(m);
        break;
    }
    if (!edit_resp && m->state != MILTER_ST_ERROR)
        edit_resp = repl_body_end(m, &body);
    sbuf_free(&body.buf);
    /* A failed edit overrides all but discard, shutdown and tempfail. */
    if (edit_resp && (!ret || !strchr("DS4", ret[0])))
        ret = edit_resp;
    if (hold && !ret && m->state != MILTER_ST_ERROR)
        ret = MILTER_HOLD;
    return ret;
}

static int timeout_ms(int seconds)
{
    return seconds > 0 && seconds < 86400 ? seconds * 1000 : 86400 * 1000;
}

const char *milter_event(milter *m, int code, uint32_t skip_flag, uint32_t noreply_flag,
                         int stage, const sbuf *args, int timeout)
{
    if (!m->fp || m->def_reply)
        return m->def_reply;
    /* Not in the negotiated protocol version: neither event nor macros. */
    if (skip_flag & m->np_mask)
        return 0;
    vstream_set_timeout(m->fp, timeout_ms(timeout));
    sbuf_reset(&m->out);
    /* Macros go even when the filter skips the event itself. */
    add_macros(m, code, stage);
    bool skip = (skip_flag & m->events) != 0;
    if (!skip) {
        size_t at = milter_pkt_begin(&m->out, code);
        if (args && args->len)
            milter_pkt_add_data(&m->out, args->s, args->len);
        milter_pkt_end(&m->out, at);
    }
    if (m->out.len == 0)
        return 0;
    if (write_out(m) < 0)
        return m->def_reply;
    if (skip || (noreply_flag & m->events))
        return 0;
    return read_verdict(m, code);
}

/* QUIT on the way out: a failure changes nothing, so it is not one. */
static void quit_quietly(milter *m)
{
    if (!m->fp)
        return;
    vstream_set_timeout(m->fp, timeout_ms(m->cmd_timeout));
    sbuf_reset(&m->out);
    size_t at = milter_pkt_begin(&m->out, SMFIC_QUIT);
    milter_pkt_end(&m->out, at);
    (void) vstream_write(m->fp, m->out.s, m->out.len);
    (void) vstream_flush(m->fp);
}

void milter_quit(milter *m)
{
    quit_quietly(m);
    milter_close(m);
}

void milter_send_noreply(milter *m, int code)
{
    if (!m->fp)
        return;
    vstream_set_timeout(m->fp, timeout_ms(m->cmd_timeout));
    sbuf_reset(&m->out);
    size_t at = milter_pkt_begin(&m->out, code);
    milter_pkt_end(&m->out, at);
    (void) write_out(m);
}

void milter_header_args(const milter *m, const char *hdr, size_t len, sbuf *args)
{
    const char *colon = memchr(hdr, ':', len);
    size_t name_len = colon ? (size_t) (colon - hdr) : len;
    while (name_len > 0 && (hdr[name_len - 1] == ' ' || hdr[name_len - 1] == '\t'))
        name_len--;
    const char *value = colon ? colon + 1 : hdr + len;
    size_t value_len = (size_t) (hdr + len - value);
    /* Sendmail eats one space (not a tab) after the colon. */
    if (!(m->events & SMFIP_HDR_LEADSPC) && value_len && *value == ' ') {
        value++;
        value_len--;
    }
    while (value_len && (value[value_len - 1] == '\n' || value[value_len - 1] == '\r'))
        value_len--;
    sbuf_reset(args);
    milter_pkt_add_strn(args, hdr, name_len);
    milter_pkt_add_strn(args, value, value_len);
}
