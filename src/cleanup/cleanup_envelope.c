/*
 * cleanup_envelope.c - per-message state, main.cf values, and the envelope:
 * sender, attributes and recipients, mapped and de-duplicated, written as
 * SENDER, ATTR, [ORCPT][NOTIFY][DSN_ORCPT] RCPT records before CONTENT.
 *
 * The envelope is kept in memory until the first content byte (or the
 * finish request), so the records come out in the documented order
 * whatever order the client sent them in. Recipients found in headers
 * (sendmail -t) come later and are written after the EXTRACTED record.
 *
 * NOT HERE: address mapping itself (cleanup_map.c), content, commit.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cleanup/cleanup.h"
#include "cleanup/cleanup_map.h"
#include "cleanup/cleanup_milter.h"
#include "mail/mail_conf.h"
#include "mail/queue_dirs.h"
#include "mail/rewrite.h"
#include "util/mem.h"
#include "util/msg.h"

#define ATTR_NAME_LIMIT   64
#define ATTR_VALUE_LIMIT  4096
#define ATTR_COUNT_LIMIT  256
#define ADDR_LENGTH_LIMIT 4096

struct cleanup_params cleanup_par;

void cleanup_params_init(void)
{
    struct cleanup_params *p = &cleanup_par;
    xfree(p->empty_address_recipient);
    xfree(p->undisclosed_recipients_header);
    xfree(p->myhostname);
    xfree(p->myorigin);
    strv_free(&p->drop_headers);
    p->enable_original_recipient = mail_conf_bool("enable_original_recipient");
    p->duplicate_filter_limit = mail_conf_int("duplicate_filter_limit");
    p->empty_address_recipient = xstrdup(mail_conf_str("empty_address_recipient"));
    p->message_size_limit = mail_conf_long("message_size_limit");
    p->hopcount_limit = mail_conf_int("hopcount_limit");
    p->header_size_limit = mail_conf_long("header_size_limit");
    p->always_add_missing_headers = mail_conf_bool("always_add_missing_headers");
    p->undisclosed_recipients_header = xstrdup(mail_conf_str("undisclosed_recipients_header"));
    p->myhostname = xstrdup(mail_conf_str("myhostname"));
    p->myorigin = xstrdup(mail_conf_str("myorigin"));
    p->header_from_standard = strcasecmp(mail_conf_str("header_from_format"), "obsolete") != 0;
    strv_init(&p->drop_headers);
    strv names = {0};
    mail_conf_list("message_drop_headers", &names);
    for (size_t i = 0; i < names.n; i++) {
        sbuf low = SBUF_INIT;
        sbuf_adds(&low, names.v[i]);
        sbuf_lower(&low);
        strv_add(&p->drop_headers, sbuf_str(&low));
        sbuf_free(&low);
    }
    strv_free(&names);
    p->replace_stray_cr = mail_conf_bool("cleanup_replace_stray_cr_lf");
    p->remote_header_rewrite = *mail_conf_str("remote_header_rewrite_domain") != 0;
    p->extract_recipient_limit = mail_conf_int("extract_recipient_limit");
    p->header_address_token_limit = mail_conf_int("header_address_token_limit");
    p->body_checks_size_limit = mail_conf_long("body_checks_size_limit");
    p->line_length_limit = mail_conf_int("line_length_limit");
    p->disable_mime = mail_conf_bool("disable_mime_input_processing");
    p->mime_nesting_limit = mail_conf_int("mime_nesting_limit");
    p->mime_boundary_length_limit = mail_conf_int("mime_boundary_length_limit");
    p->strict_8bitmime = mail_conf_bool("strict_8bitmime");
    p->strict_7bit_headers = mail_conf_bool("strict_7bit_headers");
    p->strict_8bitmime_body = mail_conf_bool("strict_8bitmime_body");
    p->strict_mime_encoding_domain = mail_conf_bool("strict_mime_encoding_domain");
    p->soft_bounce = mail_conf_bool("soft_bounce");
}

/* ---- state ---- */

struct cleanup_state *cleanup_state_new(int flags)
{
    struct cleanup_state *st = xcalloc(1, sizeof(*st));
    st->flags = flags;
    gettimeofday(&st->arrival, 0);
    strv_init(&st->attrs);
    strv_init(&st->xrcpt);
    strv_init(&st->xrcpt_resent);
    strv_init(&st->bcc);
    st->dups = memtab_create();
    /* A message to be bounced is written whole even after a content
     * rejection; only errors that make it incomplete stop the output. */
    st->err_mask = (flags & CLEANUP_FLAG_BOUNCE)
        ? CLEANUP_STAT_BAD | CLEANUP_STAT_WRITE | CLEANUP_STAT_SIZE | CLEANUP_STAT_DEFER
        : ~0;
    st->local = (flags & CLEANUP_FLAG_LOCAL) != 0;
    if (flags & CLEANUP_FLAG_NOTIFICATION)
        st->qflags |= QFILE_FL_BOUNCE;
    if (flags & CLEANUP_FLAG_HOLD)
        st->hold = true;
    if (flags & CLEANUP_FLAG_DISCARD)
        st->discard = true;
    return st;
}

static void free_rcpt(struct cleanup_rcpt *r)
{
    xfree(r->orcpt);
    xfree(r->dsn_orcpt);
    xfree(r->addr);
}

struct cleanup_state *cleanup_state_open(int flags)
{
    struct cleanup_state *st = cleanup_state_new(flags);
    st->q = qfile_create(QUEUE_INCOMING, st->queue_id, sizeof(st->queue_id));
    if (!st->q) {
        msg_warn("create file %s/%s: %m", mail_conf_str("queue_directory"), QUEUE_INCOMING);
        cleanup_error(st, CLEANUP_STAT_WRITE, 0);
        return st;
    }
    struct qfile_sizes zero = {0};
    char sizes[QFILE_SIZE_LEN];
    qfile_format_sizes(&zero, sizes);
    cleanup_put(st, QREC_SIZE, sizes, QFILE_SIZE_LEN);
    char when[64];
    int n = snprintf(when, sizeof(when), "%ld.%06ld", (long) st->arrival.tv_sec,
                     (long) st->arrival.tv_usec);
    cleanup_put(st, QREC_TIME, when, (size_t) n);
    /* The delay warning's due time, read by qmgr and zeroed in place once sent. */
    long warn = mail_conf_time("delay_warning_time");
    if (warn > 0) {
        char due[24];
        snprintf(due, sizeof(due), "%020lld", (long long) st->arrival.tv_sec + warn);
        cleanup_put(st, QREC_WARN, due, 20);
    }
    if (msg_verbose)
        msg_info("%s: open flags=0x%x", st->queue_id, (unsigned) flags);
    return st;
}

void cleanup_state_free(struct cleanup_state *st)
{
    if (!st)
        return;
    cleanup_milter_release(st);     /* smtpd's mail filters, if still held */
    if (st->q)
        qfile_abort(st->q);         /* never committed: the file goes away */
    sbuf_free(&st->reason);
    xfree(st->sender);
    xfree(st->orig_sender);
    strv_free(&st->attrs);
    xfree(st->full_name);
    for (size_t i = 0; i < st->npending; i++)
        free_rcpt(&st->pending[i]);
    xfree(st->pending);
    memtab_free(st->dups);
    xfree(st->rcpt_offsets);
    for (size_t i = 0; st->written && i < st->nrcpt_offsets; i++)
        free_rcpt(&st->written[i]);
    xfree(st->written);
    xfree(st->first_rcpt);
    sbuf_free(&st->line);
    mime_state_free(st->mime);
    sbuf_free(&st->body);
    strv_free(&st->xrcpt);
    strv_free(&st->xrcpt_resent);
    xfree(st->redirect);
    xfree(st->filter);
    strv_free(&st->bcc);
    sbuf_free(&st->action_log);
    xfree(st);
}

void cleanup_error(struct cleanup_state *st, int bit, const char *reason)
{
    if (st->errs == 0)
        sbuf_set(&st->reason, reason && *reason ? reason : cleanup_stat_text(bit));
    st->errs |= bit;
}

bool cleanup_failed(const struct cleanup_state *st)
{
    return (st->errs & st->err_mask) != 0;
}

void cleanup_put(struct cleanup_state *st, int type, const void *data, size_t len)
{
    if (!st->q || cleanup_failed(st))
        return;
    if (qfile_put(st->q, type, data, len) < 0) {
        int err = errno;
        msg_warn("%s: write queue file: %m", st->queue_id);
        /* A full queue file system is "452 4.3.1 Insufficient system storage". */
        cleanup_error(st, CLEANUP_STAT_WRITE
                      | (err == ENOSPC || err == EDQUOT ? CLEANUP_STAT_NOSPACE : 0), 0);
    }
}

static void map_error(struct cleanup_state *st, int rc, const sbuf *why)
{
    cleanup_error(st, rc == CLEANUP_MAP_RETRY ? CLEANUP_STAT_WRITE : CLEANUP_STAT_DEFER,
                  sbuf_str(why));
}

/* ---- sender and attributes ---- */

void cleanup_env_sender(struct cleanup_state *st, const char *addr)
{
    if (st->have_sender || st->envelope_done || strlen(addr) > ADDR_LENGTH_LIMIT) {
        msg_warn("%s: unexpected or bad sender request", st->queue_id);
        cleanup_error(st, CLEANUP_STAT_BAD, 0);
        return;
    }
    st->have_sender = true;
    st->orig_sender = xstrdup(addr);
    if (!*addr) {
        st->sender = xstrdup("");
        return;
    }
    sbuf out = SBUF_INIT, why = SBUF_INIT;
    int rc = cleanup_map_addr(CLEANUP_CLS_ENV_SENDER, REWRITE_LOCAL,
                              (st->flags & CLEANUP_FLAG_MAP_OK) != 0, addr, &out, &why);
    if (rc != CLEANUP_MAP_OK)
        map_error(st, rc, &why);
    st->sender = sbuf_steal(&out);
    sbuf_free(&why);
}

static bool attr_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > ATTR_NAME_LIMIT)
        return false;
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char) *p) || *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

void cleanup_env_attr(struct cleanup_state *st, const char *name, const char *value)
{
    if (st->envelope_done || !attr_name_ok(name) || strlen(value) > ATTR_VALUE_LIMIT
        || st->attrs.n >= ATTR_COUNT_LIMIT) {
        msg_warn("%s: unexpected or bad attribute request (%.64s)", st->queue_id, name);
        cleanup_error(st, CLEANUP_STAT_BAD, 0);
        return;
    }
    if (strcmp(name, "rewrite_context") == 0) {
        if (strcmp(value, REWRITE_LOCAL) == 0)
            st->local = true;
    } else if (strcmp(name, "full_name") == 0) {
        xfree(st->full_name);
        st->full_name = xstrdup(value);
    } else if (strcmp(name, "body_type") == 0) {
        if (strcasecmp(value, "8BITMIME") == 0)
            st->qflags |= QFILE_FL_8BITMIME;
    } else if (strcmp(name, "smtputf8") == 0) {
        if (strcmp(value, "0") != 0 && *value)
            st->qflags |= QFILE_FL_SMTPUTF8;
    } else if (strcmp(name, "content_filter") == 0) {
        /* content_filter of the submitting service, or an access(5)
         * FILTER: the last one wins; FILTER actions of the checks
         * override it. It becomes the FILTER record at commit. */
        xfree(st->filter);
        st->filter = *value ? xstrdup(value) : 0;
        return;
    } else if (strcmp(name, "redirect") == 0) {
        /* access(5) REDIRECT from smtpd (it logged it). */
        xfree(st->redirect);
        st->redirect = *value ? xstrdup(value) : 0;
        return;
    } else if (strcmp(name, "hold") == 0) {
        /* access(5) HOLD decided after the queue file was opened (smtpd
         * logged it); the value is the log text. */
        st->hold = true;
        return;
    }
    sbuf nv = SBUF_INIT;
    sbuf_printf(&nv, "%s=%s", name, value);
    strv_add(&st->attrs, sbuf_str(&nv));
    sbuf_free(&nv);
}

/* ---- recipients ---- */

void cleanup_notify_text(int notify, sbuf *out)
{
    sbuf_reset(out);
    if (notify & DSN_NOTIFY_NEVER) {
        sbuf_adds(out, "NEVER");
        return;
    }
    static const struct { int bit; const char *name; } names[] = {
        {DSN_NOTIFY_SUCCESS, "SUCCESS"}, {DSN_NOTIFY_FAILURE, "FAILURE"},
        {DSN_NOTIFY_DELAY, "DELAY"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (notify & names[i].bit)
            sbuf_printf(out, "%s%s", out->len ? "," : "", names[i].name);
}

/* True when this recipient was already added (duplicate_filter_limit bounds memory). */
static bool duplicate(struct cleanup_state *st, const char *orcpt, int notify,
                      const char *dsn_orcpt, const char *addr)
{
    sbuf key = SBUF_INIT;
    if (cleanup_par.enable_original_recipient)
        sbuf_printf(&key, "%s\n%d\n%s\n%s", dsn_orcpt ? dsn_orcpt : "", notify,
                    orcpt ? orcpt : "", addr);
    else
        sbuf_adds(&key, addr);
    sbuf_lower(&key);
    bool dup = memtab_get(st->dups, sbuf_str(&key)) != 0;
    if (!dup && (cleanup_par.duplicate_filter_limit <= 0
                 || (long) st->ndups < cleanup_par.duplicate_filter_limit)) {
        memtab_put(st->dups, sbuf_str(&key), "", 0);
        st->ndups++;
    }
    sbuf_free(&key);
    return dup;
}

static void write_rcpt(struct cleanup_state *st, const struct cleanup_rcpt *r)
{
    if (cleanup_par.enable_original_recipient && r->orcpt)
        cleanup_put(st, QREC_ORCPT, r->orcpt, strlen(r->orcpt));
    if (r->notify) {
        sbuf text = SBUF_INIT;
        cleanup_notify_text(r->notify, &text);
        cleanup_put(st, QREC_NOTIFY, text.s, text.len);
        sbuf_free(&text);
    }
    if (r->dsn_orcpt)
        cleanup_put(st, QREC_DSN_ORCPT, r->dsn_orcpt, strlen(r->dsn_orcpt));
    off_t where = st->q ? qfile_tell(st->q) : 0;
    cleanup_put(st, QREC_RCPT, r->addr, strlen(r->addr));
    if (cleanup_failed(st))
        return;
    if (st->nrcpt_offsets == st->cap_rcpt_offsets) {
        st->cap_rcpt_offsets = st->cap_rcpt_offsets ? 2 * st->cap_rcpt_offsets : 16;
        st->rcpt_offsets = xreallocarray(st->rcpt_offsets, st->cap_rcpt_offsets,
                                         sizeof(off_t));
        if (st->flags & CLEANUP_FLAG_BOUNCE)
            st->written = xreallocarray(st->written, st->cap_rcpt_offsets,
                                        sizeof(*st->written));
    }
    if (st->flags & CLEANUP_FLAG_BOUNCE) {
        struct cleanup_rcpt *w = &st->written[st->nrcpt_offsets];
        w->orcpt = r->orcpt ? xstrdup(r->orcpt) : 0;
        w->dsn_orcpt = r->dsn_orcpt ? xstrdup(r->dsn_orcpt) : 0;
        w->notify = r->notify;
        w->addr = xstrdup(r->addr);
    }
    st->rcpt_offsets[st->nrcpt_offsets++] = where;
    st->nrcpt++;
}

/* Map, expand and add one recipient (pending or written at once). */
static void add_recipient(struct cleanup_state *st, const char *addr, const char *orig,
                          int notify, const char *dsn_orcpt)
{
    if (cleanup_failed(st))
        return;
    const char *orcpt = orig ? orig : addr;
    if (!*addr)
        addr = cleanup_par.empty_address_recipient;
    sbuf mapped = SBUF_INIT, why = SBUF_INIT;
    strv final = {0};
    bool map_ok = (st->flags & CLEANUP_FLAG_MAP_OK) != 0;
    int rc = cleanup_map_addr(CLEANUP_CLS_ENV_RCPT, REWRITE_LOCAL, map_ok, addr, &mapped, &why);
    if (rc == CLEANUP_MAP_OK) {
        if (map_ok)
            rc = cleanup_map_virtual(sbuf_str(&mapped), &final, &why);
        else
            strv_add(&final, sbuf_str(&mapped));
    }
    if (rc != CLEANUP_MAP_OK)
        map_error(st, rc, &why);
    for (size_t i = 0; rc == CLEANUP_MAP_OK && i < final.n; i++) {
        if (duplicate(st, orcpt, notify, dsn_orcpt, final.v[i]))
            continue;
        if (!st->first_rcpt)
            st->first_rcpt = xstrdup(final.v[i]);
        struct cleanup_rcpt r = {xstrdup(orcpt), dsn_orcpt ? xstrdup(dsn_orcpt) : 0, notify,
                                 xstrdup(final.v[i])};
        if (st->envelope_done) {
            write_rcpt(st, &r);
            free_rcpt(&r);
        } else {
            if (st->npending == st->cap_pending) {
                st->cap_pending = st->cap_pending ? 2 * st->cap_pending : 8;
                st->pending = xreallocarray(st->pending, st->cap_pending, sizeof(r));
            }
            st->pending[st->npending++] = r;
        }
    }
    strv_free(&final);
    sbuf_free(&mapped);
    sbuf_free(&why);
}

void cleanup_env_rcpt(struct cleanup_state *st, const char *addr, const char *orig, int notify,
                      const char *dsn_orcpt)
{
    if (st->envelope_done || strlen(addr) > ADDR_LENGTH_LIMIT
        || (orig && strlen(orig) > ADDR_LENGTH_LIMIT)
        || (dsn_orcpt && strlen(dsn_orcpt) > ADDR_LENGTH_LIMIT)) {
        msg_warn("%s: unexpected or bad recipient request", st->queue_id);
        cleanup_error(st, CLEANUP_STAT_BAD, 0);
        return;
    }
    add_recipient(st, addr, orig, notify, dsn_orcpt);
}

void cleanup_env_extracted(struct cleanup_state *st, const char *addr)
{
    if (strlen(addr) > ADDR_LENGTH_LIMIT)
        return;
    add_recipient(st, addr, addr, 0, 0);
}

void cleanup_env_bcc(struct cleanup_state *st, const char *addr)
{
    if (strlen(addr) > ADDR_LENGTH_LIMIT)
        return;
    /* header_checks(5): as if given with NOTIFY=NONE. */
    add_recipient(st, addr, addr, DSN_NOTIFY_NEVER, 0);
}

void cleanup_env_flush(struct cleanup_state *st)
{
    if (st->envelope_done)
        return;
    st->envelope_done = true;
    if (!st->have_sender) {
        msg_warn("%s: no sender request before the content", st->queue_id);
        cleanup_error(st, CLEANUP_STAT_BAD, 0);
    }
    /* Headers are rewritten for local mail, and for remote mail only when
     * remote_header_rewrite_domain says how to complete their addresses. */
    st->hdr_rewrite = st->local ? REWRITE_LOCAL
                                : cleanup_par.remote_header_rewrite ? REWRITE_REMOTE : 0;
    const char *sender = st->sender ? st->sender : "";
    cleanup_put(st, QREC_SENDER, sender, strlen(sender));
    for (size_t i = 0; i < st->attrs.n; i++)
        cleanup_put(st, QREC_ATTR, st->attrs.v[i], strlen(st->attrs.v[i]));
    for (size_t i = 0; i < st->npending; i++) {
        write_rcpt(st, &st->pending[i]);
        free_rcpt(&st->pending[i]);
    }
    st->npending = 0;
    if (st->q)
        st->content_offset = qfile_tell(st->q);
    cleanup_put(st, QREC_CONTENT, "", 0);
}
