/*
 * cleanup_milter.c - mail filters in cleanup (see cleanup_milter.h).
 *
 * The message is read back from the queue file into a small model: the
 * envelope records from SENDER up to CONTENT, the header records in
 * memory, the body where it lies (BODY records, or a spool file once a
 * filter replaced it). Each filter reads the model and edits it; after
 * the last one, if anything changed, the queue file is cut at the SENDER
 * record and written again from the model (qfile_truncate). The file is
 * not committed yet, so a crash in between leaves an incomplete file
 * that is never delivered. Our own first header (Received:) stays
 * hidden from the filters but keeps its place.
 *
 * NOT HERE: the protocol (src/mail/milter*.c), the SMTP side
 * (src/smtpd/smtpd_milter.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup/cleanup.h"
#include "cleanup/cleanup_map.h"
#include "cleanup/cleanup_milter.h"
#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/milter.h"
#include "mail/milter_send.h"
#include "mail/queue_dirs.h"
#include "mail/receive_override.h"
#include "mail/resolve.h"
#include "mail/rewrite.h"
#include "util/mem.h"
#include "util/msg.h"

#define SPOOL_CHUNK 65536

/* smtpd's filters, between the "milters" request and the hook. */
static struct {
    struct cleanup_state *owner;
    milters *ms;
} cm_held;

struct cm_env_rec {
    int     type;
    sbuf    data;
};

struct cm_hdr {
    sbuf    text;
    bool    hidden;             /* our own first Received: */
};

struct cm_model {
    struct cleanup_state *st;
    milters *ms;
    bool    local;              /* non_smtpd_milters: we play the SMTP events */
    qfile  *rd;                 /* a reader on the queue file */
    off_t   env_start;          /* offset of the SENDER record */
    struct cm_env_rec *env;
    size_t  nenv;
    struct cm_hdr *hdrs;
    size_t  nhdr;
    off_t   body_start;         /* first BODY record, -1 when there is none */
    int     body_fd;            /* the body as plain bytes (spool), -1: in the queue file */
    /* reading */
    size_t  hi;
    off_t   body_pos;
    bool    body_seeked;
    /* changes */
    bool    dirty;
    char   *new_sender;
    strv    add_rcpt, del_rcpt;
    int     new_body_fd;
    off_t   new_body_len;
    char    new_body_last;
    bool    new_body_big;
    /* macros */
    const char *rcpt;           /* the recipient of an emulated RCPT */
    sbuf    mac;
};

/* ---- small helpers ---- */

static const char *cm_attr_value(const struct cleanup_state *st, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < st->attrs.n; i++)
        if (strncmp(st->attrs.v[i], name, n) == 0 && st->attrs.v[i][n] == '=')
            return st->attrs.v[i] + n + 1;
    return 0;
}

static const char *cm_client_name(const struct cm_model *m)
{
    const char *v = m->local ? 0 : cm_attr_value(m->st, "client_name");
    return v ? v : "localhost";
}

static const char *cm_client_addr(const struct cm_model *m)
{
    const char *v = m->local ? 0 : cm_attr_value(m->st, "client_address");
    return v ? v : "127.0.0.1";
}

/* A spool file for body bytes: in incoming/, unlinked at once. */
static int cm_spool_open(void)
{
    char path[4200];
    if (qfile_path(path, sizeof(path), QUEUE_INCOMING, ".milter.XXXXXX") < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkstemp(path);
    if (fd >= 0) {
        unlink(path);
        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    return fd;
}

static int cm_write_all(int fd, off_t at, const char *p, size_t n)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t) w;
        at += w;
    }
    return 0;
}

/* Internal form of an address as a filter sends it ("<a@b>", "a@b"). */
static int cm_parse_addr(const char *text, sbuf *out)
{
    const char *rest = 0, *why = 0;
    sbuf_reset(out);
    if (address_parse_smtp_path(text, false, out, &rest, &why) < 0 || (rest && *rest))
        return -1;
    return 0;
}

/* ---- logging and verdicts ---- */

static void cm_log_action(struct cm_model *m, const char *action, const char *where,
                       const char *text)
{
    struct cleanup_state *st = m->st;
    sbuf line = SBUF_INIT;
    sbuf_printf(&line, "%s: %s: %s from %s[%s]: %s; from=<%s> to=<%s>", st->queue_id, action,
                where, cm_client_name(m), cm_client_addr(m), text, st->sender ? st->sender : "",
                st->first_rcpt ? st->first_rcpt : "");
    const char *proto = m->local ? 0 : cm_attr_value(st, "protocol");
    const char *helo = m->local ? 0 : cm_attr_value(st, "helo_name");
    if (proto)
        sbuf_printf(&line, " proto=%s", proto);
    if (helo)
        sbuf_printf(&line, " helo=<%s>", helo);
    msg_info("%s", sbuf_str(&line));
    if (strcmp(action, "milter-reject") != 0)
        sbuf_set(&st->action_log, sbuf_str(&line));
    sbuf_free(&line);
}

/* Apply one verdict; true when it ends the filtering. */
static bool cm_apply(struct cm_model *m, const char *where, const char *resp)
{
    struct cleanup_state *st = m->st;
    if (!resp)
        return false;
    switch (resp[0]) {
    case 'H':
        cm_log_action(m, "milter-hold", where, "milter triggers HOLD action");
        st->hold = true;
        return false;
    case 'D':
        cm_log_action(m, "milter-discard", where, "milter triggers DISCARD action");
        st->discard = true;
        return true;
    case 'S':
        resp = "421 4.7.0 Server closing connection";
        break;
    case '4':
    case '5':
        break;
    default:
        resp = "451 4.3.5 Server configuration error";
        break;
    }
    cm_log_action(m, "milter-reject", where, strlen(resp) > 4 ? resp + 4 : resp);
    cleanup_error(st, resp[0] == '5' ? CLEANUP_STAT_CONT : CLEANUP_STAT_DEFER, resp);
    return true;
}

/* ---- macros ---- */

static const char *cm_resolved(struct cm_model *m, const char *addr, bool host)
{
    if (!addr || !*addr)
        return 0;
    struct resolve_reply r;
    resolve_init(&r);
    resolve_address(m->st->sender ? m->st->sender : "", addr, &r);
    sbuf_set(&m->mac, sbuf_str(host ? &r.nexthop : &r.transport));
    resolve_free(&r);
    return sbuf_str(&m->mac);
}

static const char *cm_macro(void *ctx, const char *name)
{
    struct cm_model *m = ctx;
    struct cleanup_state *st = m->st;
    const char *v;

    if (strcmp(name, "i") == 0)
        return st->queue_id;
    if (!m->local && (v = milters_received_macro(m->ms, name)) != 0)
        return v;
    if (strcmp(name, "j") == 0)
        return mail_conf_str("myhostname");
    if (strcmp(name, "v") == 0)
        return mail_conf_str("milter_macro_v");
    if (strcmp(name, "daemon_name") == 0)
        return mail_conf_str("milter_macro_daemon_name");
    if (strcmp(name, "_") == 0) {
        sbuf_reset(&m->mac);
        sbuf_printf(&m->mac, "%s [%s]", cm_client_name(m), cm_client_addr(m));
        return sbuf_str(&m->mac);
    }
    if (strcmp(name, "client_name") == 0 || strcmp(name, "client_ptr") == 0)
        return cm_client_name(m);
    if (strcmp(name, "client_addr") == 0)
        return cm_client_addr(m);
    if (strcmp(name, "client_port") == 0)
        return m->local ? "0" : cm_attr_value(st, "client_port");
    if (strcmp(name, "mail_addr") == 0)
        return st->sender;
    if (strcmp(name, "mail_host") == 0 || strcmp(name, "mail_mailer") == 0)
        return cm_resolved(m, st->sender, name[5] == 'h');
    if (strcmp(name, "rcpt_addr") == 0)
        return m->rcpt;
    if (strcmp(name, "rcpt_host") == 0 || strcmp(name, "rcpt_mailer") == 0)
        return cm_resolved(m, m->rcpt, name[5] == 'h');
    if (strcmp(name, "auth_type") == 0)
        return cm_attr_value(st, "sasl_method");
    if (strcmp(name, "auth_authen") == 0)
        return cm_attr_value(st, "sasl_username");
    if (strcmp(name, "auth_author") == 0)
        return cm_attr_value(st, "sasl_sender");
    return 0;
}

/* ---- the model ---- */

static void cm_model_free(struct cm_model *m)
{
    if (m->rd)
        qfile_close(m->rd);
    for (size_t i = 0; i < m->nenv; i++)
        sbuf_free(&m->env[i].data);
    xfree(m->env);
    for (size_t i = 0; i < m->nhdr; i++)
        sbuf_free(&m->hdrs[i].text);
    xfree(m->hdrs);
    if (m->body_fd >= 0)
        close(m->body_fd);
    if (m->new_body_fd >= 0)
        close(m->new_body_fd);
    xfree(m->new_sender);
    strv_free(&m->add_rcpt);
    strv_free(&m->del_rcpt);
    sbuf_free(&m->mac);
}

static void cm_hdr_insert(struct cm_model *m, size_t at, const char *text, size_t len)
{
    m->hdrs = xreallocarray(m->hdrs, m->nhdr + 1, sizeof(*m->hdrs));
    if (at > m->nhdr)
        at = m->nhdr;
    memmove(m->hdrs + at + 1, m->hdrs + at, (m->nhdr - at) * sizeof(*m->hdrs));
    sbuf_init(&m->hdrs[at].text);
    sbuf_add(&m->hdrs[at].text, text, len);
    m->hdrs[at].hidden = false;
    m->nhdr++;
}

/* Read the queue file (flushed) into the model. 0 or -1. */
static int cm_model_load(struct cm_model *m)
{
    struct cleanup_state *st = m->st;
    sbuf data = SBUF_INIT;
    off_t off;
    int type;
    bool in_env = false, in_content = false;

    m->env_start = -1;
    m->body_start = -1;
    if (qfile_flush(st->q) < 0 || !(m->rd = qfile_open_path(qfile_file(st->q), false))) {
        msg_warn("%s: milter: read queue file: %m", st->queue_id);
        return -1;
    }
    while ((type = qfile_get(m->rd, &data, &off)) > 0) {
        if (type == QREC_SENDER && m->env_start < 0) {
            m->env_start = off;
            in_env = true;
        }
        if (type == QREC_CONTENT) {
            in_env = false;
            in_content = true;
            continue;
        }
        if (in_env) {
            m->env = xreallocarray(m->env, m->nenv + 1, sizeof(*m->env));
            m->env[m->nenv].type = type;
            sbuf_init(&m->env[m->nenv].data);
            sbuf_add(&m->env[m->nenv].data, data.s, data.len);
            m->nenv++;
        } else if (in_content && type == QREC_HEADER && m->body_start < 0) {
            cm_hdr_insert(m, m->nhdr, data.s ? data.s : "", data.len);
        } else if (in_content && type == QREC_BODY) {
            if (m->body_start < 0)
                m->body_start = off;
        } else if (in_content) {
            break;
        }
    }
    sbuf_free(&data);
    if (type < 0 || m->env_start < 0 || !in_content) {
        msg_warn("%s: milter: unexpected queue file layout", st->queue_id);
        return -1;
    }
    /* Our own trace header is the first one; filters do not see it. */
    if (m->nhdr && strncasecmp(m->hdrs[0].text.s, "Received:", 9) == 0)
        m->hdrs[0].hidden = true;
    return 0;
}

/* ---- what the filters read ---- */

static int cm_src_rewind(void *ctx)
{
    struct cm_model *m = ctx;
    m->hi = 0;
    m->body_pos = 0;
    m->body_seeked = false;
    return 0;
}

static int cm_src_header(void *ctx, sbuf *hdr)
{
    struct cm_model *m = ctx;
    while (m->hi < m->nhdr && m->hdrs[m->hi].hidden)
        m->hi++;
    if (m->hi >= m->nhdr)
        return 0;
    sbuf_set(hdr, sbuf_str(&m->hdrs[m->hi].text));
    m->hi++;
    return 1;
}

static int cm_src_body(void *ctx, sbuf *buf)
{
    struct cm_model *m = ctx;
    sbuf_reset(buf);
    if (m->body_fd >= 0) {
        sbuf_reserve(buf, SPOOL_CHUNK);
        ssize_t n;
        do
            n = pread(m->body_fd, buf->s, SPOOL_CHUNK, m->body_pos);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return -1;
        buf->len = (size_t) n;
        buf->s[n] = 0;
        m->body_pos += n;
        return n > 0;
    }
    if (m->body_start < 0)
        return 0;
    if (!m->body_seeked) {
        if (qfile_seek(m->rd, m->body_start) < 0)
            return -1;
        m->body_seeked = true;
    }
    int type = qfile_get(m->rd, buf, 0);
    if (type < 0)
        return -1;
    return type == QREC_BODY ? 1 : 0;
}

static const struct milter_message_src cm_message_src = {cm_src_rewind, cm_src_header,
                                                         cm_src_body};

/* ---- what the filters change ---- */

static const char *cm_ed_add_header(void *ctx, const char *name, const char *text, size_t len)
{
    struct cm_model *m = ctx;
    (void) name;
    cm_hdr_insert(m, m->nhdr, text, len);
    m->dirty = true;
    return 0;
}

/* index counts every header, ours included: 0 is the very top. */
static const char *cm_ed_ins_header(void *ctx, uint32_t index, const char *name, const char *text,
                                 size_t len)
{
    struct cm_model *m = ctx;
    (void) name;
    cm_hdr_insert(m, index, text, len);
    m->dirty = true;
    return 0;
}

static bool cm_hdr_named(const sbuf *text, const char *name)
{
    size_t n = strlen(name);
    if (text->len <= n || strncasecmp(text->s, name, n) != 0)
        return false;
    const char *p = text->s + n;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == ':';
}

/* index: the n-th header called name among those the filters see. */
static const char *cm_ed_chg_header(void *ctx, uint32_t index, const char *name, const char *text,
                                 size_t len)
{
    struct cm_model *m = ctx;
    uint32_t seen = 0;
    for (size_t i = 0; i < m->nhdr; i++) {
        if (m->hdrs[i].hidden || !cm_hdr_named(&m->hdrs[i].text, name) || ++seen != index)
            continue;
        if (text) {
            sbuf_reset(&m->hdrs[i].text);
            sbuf_add(&m->hdrs[i].text, text, len);
        } else {
            sbuf_free(&m->hdrs[i].text);
            memmove(m->hdrs + i, m->hdrs + i + 1, (m->nhdr - i - 1) * sizeof(*m->hdrs));
            m->nhdr--;
        }
        m->dirty = true;
        return 0;
    }
    /* No such header: a change adds it (Sendmail), a delete does nothing. */
    if (text) {
        cm_hdr_insert(m, m->nhdr, text, len);
        m->dirty = true;
    }
    return 0;
}

static const char *cm_ed_chg_from(void *ctx, const char *addr, const char *args)
{
    struct cm_model *m = ctx;
    sbuf a = SBUF_INIT;
    (void) args;
    if (cm_parse_addr(addr, &a) < 0) {
        msg_warn("%s: milter: ignoring bad sender address from a filter: %.200s",
                 m->st->queue_id, addr);
    } else {
        xfree(m->new_sender);
        m->new_sender = sbuf_steal(&a);
        m->dirty = true;
    }
    sbuf_free(&a);
    return 0;
}

static const char *cm_ed_add_rcpt(void *ctx, const char *addr, const char *args)
{
    struct cm_model *m = ctx;
    sbuf a = SBUF_INIT;
    (void) args;
    if (cm_parse_addr(addr, &a) < 0 || a.len == 0) {
        msg_warn("%s: milter: ignoring bad recipient address from a filter: %.200s",
                 m->st->queue_id, addr);
    } else {
        strv_add(&m->add_rcpt, sbuf_str(&a));
        m->dirty = true;
    }
    sbuf_free(&a);
    return 0;
}

static const char *cm_ed_del_rcpt(void *ctx, const char *addr)
{
    struct cm_model *m = ctx;
    sbuf a = SBUF_INIT;
    if (cm_parse_addr(addr, &a) == 0) {
        strv_add(&m->del_rcpt, sbuf_str(&a));
        m->dirty = true;
    } else {
        msg_warn("%s: milter: ignoring bad recipient address from a filter: %.200s",
                 m->st->queue_id, addr);
    }
    sbuf_free(&a);
    return 0;
}

static const char *cm_ed_repl_body(void *ctx, int op, const char *data, size_t len)
{
    struct cm_model *m = ctx;
    if (op == MILTER_BODY_START) {
        if (m->new_body_fd >= 0)
            close(m->new_body_fd);
        m->new_body_len = 0;
        m->new_body_last = '\n';
        m->new_body_big = false;
        if ((m->new_body_fd = cm_spool_open()) < 0) {
            msg_warn("%s: milter: create body spool file: %m", m->st->queue_id);
            return "451 4.3.0 Error: queue file write error";
        }
        return 0;
    }
    if (m->new_body_fd < 0)
        return "451 4.3.0 Error: queue file write error";
    if (op == MILTER_BODY_DATA) {
        long long limit = cleanup_par.message_size_limit;
        if (limit > 0 && m->new_body_len + (off_t) len > limit) {
            m->new_body_big = true;
            return "552 5.3.4 Error: message file too big";
        }
        if (cm_write_all(m->new_body_fd, m->new_body_len, data, len) < 0) {
            msg_warn("%s: milter: write body spool file: %m", m->st->queue_id);
            return "451 4.3.0 Error: queue file write error";
        }
        m->new_body_len += (off_t) len;
        if (len)
            m->new_body_last = data[len - 1];
        return 0;
    }
    /* END: every stored line ends in LF. */
    if (m->new_body_last != '\n') {
        if (cm_write_all(m->new_body_fd, m->new_body_len, "\n", 1) < 0)
            return "451 4.3.0 Error: queue file write error";
        m->new_body_len++;
    }
    if (m->body_fd >= 0)
        close(m->body_fd);
    m->body_fd = m->new_body_fd;
    m->new_body_fd = -1;
    m->dirty = true;
    return 0;
}

static const struct milter_edit_ops cm_edit_ops = {
    cm_ed_add_header, cm_ed_ins_header, cm_ed_chg_header, cm_ed_chg_from,
    cm_ed_add_rcpt, cm_ed_del_rcpt, cm_ed_repl_body, 0,
};

/* ---- writing the changes ---- */

static bool cm_addr_deleted(const struct cm_model *m, const sbuf *rcpt, const sbuf *orcpt)
{
    for (size_t i = 0; i < m->del_rcpt.n; i++)
        if (strcasecmp(m->del_rcpt.v[i], sbuf_str(rcpt)) == 0
            || (orcpt && strcasecmp(m->del_rcpt.v[i], sbuf_str(orcpt)) == 0))
            return true;
    return false;
}

/* The k-th recipient record keeps its place in the lists as the j-th
 * (j <= k): its new offset, and with CLEANUP_FLAG_BOUNCE its copy in
 * st->written; keep false: it was deleted, and its copy goes. */
static void cm_keep_rcpt(struct cleanup_state *st, size_t k, size_t j, off_t where, bool keep)
{
    bool bounce = (st->flags & CLEANUP_FLAG_BOUNCE) && st->written;
    if (k >= st->nrcpt_offsets)
        return;
    if (!keep) {
        if (bounce) {
            xfree(st->written[k].orcpt);
            xfree(st->written[k].dsn_orcpt);
            xfree(st->written[k].addr);
        }
        return;
    }
    st->rcpt_offsets[j] = where;
    if (bounce)
        st->written[j] = st->written[k];
}

/* The original body as plain bytes, before the file is cut. 0 or -1. */
static int cm_spool_body(struct cm_model *m)
{
    if (m->body_fd >= 0 || m->body_start < 0)
        return 0;
    int fd = cm_spool_open();
    if (fd < 0)
        return -1;
    sbuf buf = SBUF_INIT;
    off_t at = 0;
    int type = 0;
    if (qfile_seek(m->rd, m->body_start) < 0)
        type = -1;
    while (type >= 0 && (type = qfile_get(m->rd, &buf, 0)) == QREC_BODY) {
        if (cm_write_all(fd, at, buf.s, buf.len) < 0) {
            type = -1;
            break;
        }
        at += (off_t) buf.len;
    }
    sbuf_free(&buf);
    if (type < 0) {
        close(fd);
        return -1;
    }
    m->body_fd = fd;
    return 0;
}

/* Write everything from the SENDER record on again. */
static void cm_rewrite(struct cm_model *m)
{
    struct cleanup_state *st = m->st;
    sbuf buf = SBUF_INIT, why = SBUF_INIT;
    const sbuf *orcpt = 0;

    if (cm_spool_body(m) < 0 || qfile_truncate(st->q, m->env_start) < 0) {
        msg_warn("%s: milter: update queue file: %m", st->queue_id);
        cleanup_error(st, CLEANUP_STAT_WRITE, 0);
        return;
    }
    size_t k = 0, j = 0, old_n = st->nrcpt_offsets;
    st->nrcpt = 0;
    for (size_t i = 0; i < m->nenv && !cleanup_failed(st); i++) {
        struct cm_env_rec *r = &m->env[i];
        switch (r->type) {
        case QREC_SENDER:
            if (m->new_sender) {
                int rc = *m->new_sender ? cleanup_map_addr(
                             CLEANUP_CLS_ENV_SENDER, REWRITE_LOCAL,
                             (st->flags & CLEANUP_FLAG_MAP_OK) != 0, m->new_sender, &buf, &why)
                                        : (sbuf_reset(&buf), CLEANUP_MAP_OK);
                if (rc != CLEANUP_MAP_OK)
                    cleanup_error(st, rc == CLEANUP_MAP_RETRY ? CLEANUP_STAT_WRITE
                                                               : CLEANUP_STAT_DEFER,
                                  sbuf_str(&why));
                xfree(st->sender);
                st->sender = xstrdup(sbuf_str(&buf));
                cleanup_put(st, QREC_SENDER, buf.s ? buf.s : "", buf.len);
            } else {
                cleanup_put(st, QREC_SENDER, r->data.s ? r->data.s : "", r->data.len);
            }
            break;
        case QREC_ORCPT:
            orcpt = &r->data;
            cleanup_put(st, r->type, r->data.s ? r->data.s : "", r->data.len);
            break;
        case QREC_RCPT:
            if (cm_addr_deleted(m, &r->data, orcpt)) {
                cleanup_put(st, QREC_DONE, r->data.s ? r->data.s : "", r->data.len);
                cm_keep_rcpt(st, k, j, 0, false);
            } else {
                off_t where = qfile_tell(st->q);
                cleanup_put(st, QREC_RCPT, r->data.s ? r->data.s : "", r->data.len);
                cm_keep_rcpt(st, k, j, where, true);
                if (k < old_n)
                    j++;
                st->nrcpt++;
            }
            k++;
            orcpt = 0;
            break;
        case QREC_DONE:
            orcpt = 0;
            /* FALLTHROUGH */
        default:
            cleanup_put(st, r->type, r->data.s ? r->data.s : "", r->data.len);
            break;
        }
    }
    st->nrcpt_offsets = j;
    /* Added recipients: mapped, de-duplicated, still in the envelope. */
    for (size_t i = 0; i < m->add_rcpt.n && !cleanup_failed(st); i++)
        cleanup_env_extracted(st, m->add_rcpt.v[i]);
    st->content_offset = qfile_tell(st->q);
    cleanup_put(st, QREC_CONTENT, "", 0);
    uint64_t size = 0;
    for (size_t i = 0; i < m->nhdr; i++) {
        cleanup_put(st, QREC_HEADER, m->hdrs[i].text.s ? m->hdrs[i].text.s : "",
                    m->hdrs[i].text.len);
        size += m->hdrs[i].text.len;
    }
    for (off_t at = 0; m->body_fd >= 0 && !cleanup_failed(st);) {
        sbuf_reserve(&buf, SPOOL_CHUNK);
        ssize_t n = pread(m->body_fd, buf.s, SPOOL_CHUNK, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            msg_warn("%s: milter: read body spool file: %m", st->queue_id);
            cleanup_error(st, CLEANUP_STAT_WRITE, 0);
            break;
        }
        if (n == 0)
            break;
        cleanup_put(st, QREC_BODY, buf.s, (size_t) n);
        size += (uint64_t) n;
        at += n;
    }
    st->content_size = size;
    sbuf_free(&buf);
    sbuf_free(&why);
}

/* ---- the SMTP events of a local submission ---- */

static bool cm_emulate_envelope(struct cm_model *m)
{
    struct cleanup_state *st = m->st;
    sbuf ext = SBUF_INIT;
    const char *argv[2] = {0, 0};

    if (cm_apply(m, "CONNECT", milters_connect(m->ms, "localhost", "127.0.0.1", "0", AF_INET)))
        return true;
    if (cm_apply(m, "EHLO", milters_helo(m->ms, "localhost")))
        return true;
    /* "<address>", quoted as in SMTP. */
    sbuf_addc(&ext, '<');
    if (st->sender && *st->sender) {
        sbuf q = SBUF_INIT;
        address_quote(st->sender, &q);
        sbuf_add(&ext, q.s, q.len);
        sbuf_free(&q);
    }
    sbuf_addc(&ext, '>');
    argv[0] = sbuf_str(&ext);
    bool done = cm_apply(m, "MAIL", milters_mail(m->ms, argv));
    for (size_t i = 0; i < m->nenv && !done; i++) {
        if (m->env[i].type != QREC_RCPT)
            continue;
        sbuf q = SBUF_INIT;
        address_quote(sbuf_str(&m->env[i].data), &q);
        sbuf_set(&ext, "<");
        sbuf_add(&ext, q.s, q.len);
        sbuf_addc(&ext, '>');
        sbuf_free(&q);
        argv[0] = sbuf_str(&ext);
        m->rcpt = sbuf_str(&m->env[i].data);
        done = cm_apply(m, "RCPT", milters_rcpt(m->ms, argv));
    }
    m->rcpt = 0;
    if (!done)
        done = cm_apply(m, "DATA", milters_data(m->ms));
    sbuf_free(&ext);
    return done;
}

/* ---- entry points ---- */

void cleanup_milter_release(struct cleanup_state *st)
{
    if (cm_held.ms && (!st || cm_held.owner == st)) {
        milters_free(cm_held.ms);      /* our copies of the sockets; smtpd keeps its own */
        cm_held.ms = 0;
        cm_held.owner = 0;
    }
}

bool cleanup_milter_receive(struct cleanup_state *st, vstream *client, const attr_list *req)
{
    sbuf why = SBUF_INIT;
    cleanup_milter_release(0);
    milters *ms = milters_receive(client, req, &why);
    if (!ms) {
        msg_warn("%s: cannot take the mail filters from the client: %s", st->queue_id,
                 sbuf_str(&why));
        sbuf_free(&why);
        return false;
    }
    sbuf_free(&why);
    cm_held.owner = st;
    cm_held.ms = ms;
    return true;
}

void cleanup_milter_inspect(struct cleanup_state *st)
{
    struct cm_model m;
    milters *ms = 0;
    bool local = false;

    if (cm_held.ms && cm_held.owner == st) {
        ms = cm_held.ms;
    } else if ((st->flags & CLEANUP_FLAG_MILTER) && !(st->flags & CLEANUP_FLAG_NOTIFICATION)) {
        ms = milters_create(mail_conf_str("non_smtpd_milters"));
        local = true;
    }
    if (!ms)
        return;
    if (st->errs || st->discard || !st->q || (receive_override() & RECV_NO_MILTERS)) {
        if (local)
            milters_free(ms);
        else
            cleanup_milter_release(st);
        return;
    }

    memset(&m, 0, sizeof(m));
    m.st = st;
    m.ms = ms;
    m.local = local;
    m.body_fd = -1;
    m.new_body_fd = -1;
    strv_init(&m.add_rcpt);
    strv_init(&m.del_rcpt);
    sbuf_init(&m.mac);
    milters_set_macros(ms, cm_macro, &m);

    if (cm_model_load(&m) < 0) {
        cleanup_error(st, CLEANUP_STAT_WRITE, 0);
    } else if (!local || !cm_emulate_envelope(&m)) {
        const char *resp = milters_message(ms, &cm_message_src, &m, &cm_edit_ops, &m);
        bool final = cm_apply(&m, "END-OF-MESSAGE", resp);
        if (!final && m.dirty && !cleanup_failed(st))
            cm_rewrite(&m);
    }
    if (local) {
        milters_quit(ms);
        milters_free(ms);
    } else {
        cleanup_milter_release(st);
    }
    cm_model_free(&m);
}
