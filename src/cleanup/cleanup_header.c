/*
 * cleanup_header.c - one logical header at a time, and the end of the header block.
 *
 * For each header, in order: header_checks hook and its verdict; note
 * what was seen (Resent-*, Received: hop count, Message-ID: logged as
 * "ID: message-id=<...>"); sendmail -t recipient extraction from
 * To/Cc/Bcc (or Resent-To/Cc/Bcc); message_drop_headers; address
 * rewriting of sender- and recipient-class headers when header rewriting
 * is on (local submission, local_header_rewrite_clients, or
 * remote_header_rewrite_domain); then the HEADER record.
 *
 * At the end of the header block, when header rewriting is on or
 * always_add_missing_headers is set, the missing (Resent-) Message-Id:,
 * Date: and From: are added, and To: from undisclosed_recipients_header
 * when there is no To: or Cc: (empty by default, as in Postfix >= 2.8).
 *
 * NOT HERE: line assembly and folding (cleanup_content.c), the checks
 * themselves (cleanup_checks.c).
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cleanup/cleanup.h"
#include "cleanup/cleanup_checks.h"
#include "cleanup/cleanup_hdr_addr.h"
#include "cleanup/cleanup_map.h"
#include "mail/address.h"
#include "mail/mail_date.h"
#include "util/msg.h"

static const struct hdr_info {
    const char *name;
    enum cleanup_hdr_id id;
    int     cls;                /* CLEANUP_CLS_HDR_SENDER / _RCPT: addresses to rewrite */
} hdr_table[] = {
    {"apparently-to", HDR_APPARENTLY_TO, CLEANUP_CLS_HDR_RCPT},
    {"bcc", HDR_BCC, CLEANUP_CLS_HDR_RCPT},
    {"cc", HDR_CC, CLEANUP_CLS_HDR_RCPT},
    {"content-transfer-encoding", HDR_CONTENT_TRANSFER_ENCODING, 0},
    {"date", HDR_DATE, 0},
    {"disposition-notification-to", HDR_DISP_NOTIFICATION_TO, CLEANUP_CLS_HDR_SENDER},
    {"errors-to", HDR_ERRORS_TO, CLEANUP_CLS_HDR_SENDER},
    {"from", HDR_FROM, CLEANUP_CLS_HDR_SENDER},
    {"mail-followup-to", HDR_MAIL_FOLLOWUP_TO, CLEANUP_CLS_HDR_RCPT},
    {"message-id", HDR_MESSAGE_ID, 0},
    {"received", HDR_RECEIVED, 0},
    {"reply-to", HDR_REPLY_TO, CLEANUP_CLS_HDR_RCPT},
    {"resent-bcc", HDR_RESENT_BCC, CLEANUP_CLS_HDR_RCPT},
    {"resent-cc", HDR_RESENT_CC, CLEANUP_CLS_HDR_RCPT},
    {"resent-date", HDR_RESENT_DATE, 0},
    {"resent-from", HDR_RESENT_FROM, CLEANUP_CLS_HDR_SENDER},
    {"resent-message-id", HDR_RESENT_MESSAGE_ID, 0},
    {"resent-reply-to", HDR_RESENT_REPLY_TO, CLEANUP_CLS_HDR_RCPT},
    {"resent-sender", HDR_RESENT_SENDER, CLEANUP_CLS_HDR_SENDER},
    {"resent-to", HDR_RESENT_TO, CLEANUP_CLS_HDR_RCPT},
    {"return-path", HDR_RETURN_PATH, CLEANUP_CLS_HDR_SENDER},
    {"return-receipt-to", HDR_RETURN_RECEIPT_TO, CLEANUP_CLS_HDR_SENDER},
    {"sender", HDR_SENDER, CLEANUP_CLS_HDR_SENDER},
    {"to", HDR_TO, CLEANUP_CLS_HDR_RCPT},
};

/* RFC 5322 2.2: field-name = 1*ftext (printable ASCII except ':'), then ':'
 * (obsolete syntax allows white space before the colon, 4.5). */
bool cleanup_is_header(const char *line, size_t len, size_t *name_len)
{
    size_t i = 0;
    while (i < len && line[i] > ' ' && line[i] < 0x7f && line[i] != ':')
        i++;
    if (i == 0)
        return false;
    *name_len = i;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return i < len && line[i] == ':';
}

static const struct hdr_info *hdr_info(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(hdr_table) / sizeof(hdr_table[0]); i++)
        if (strlen(hdr_table[i].name) == len && strncasecmp(hdr_table[i].name, name, len) == 0)
            return &hdr_table[i];
    return 0;
}

enum cleanup_hdr_id cleanup_hdr_lookup(const char *name, size_t len)
{
    const struct hdr_info *hi = hdr_info(name, len);
    return hi ? hi->id : HDR_OTHER;
}

static bool dropped(const char *name, size_t len)
{
    for (size_t i = 0; i < cleanup_par.drop_headers.n; i++) {
        const char *d = cleanup_par.drop_headers.v[i];
        if (strlen(d) == len && strncasecmp(d, name, len) == 0)
            return true;
    }
    return false;
}

/* Offset of the value: just past the colon. */
static size_t value_offset(const char *text, size_t len)
{
    const char *colon = memchr(text, ':', len);
    return colon ? (size_t) (colon - text) + 1 : len;
}

/* The value for a log line: no folds, no surrounding white space. */
static void log_value(const char *v, size_t n, sbuf *out)
{
    while (n && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    sbuf_reset(out);
    for (size_t i = 0; i < n; i++)
        sbuf_addc(out, v[i] == '\r' || v[i] == '\n' || v[i] == '\t' ? ' ' : v[i]);
}

/* ---- sendmail -t ---- */

struct extraction {
    strv   *into;
    size_t  room;               /* addresses still allowed (extract_recipient_limit) */
    bool    overflow;
};

static int collect(void *ctx, const char *addr, sbuf *repl)
{
    (void) repl;
    struct extraction *x = ctx;
    sbuf internal = SBUF_INIT;
    address_unquote(addr, &internal);
    if (internal.len) {
        if (x->room == 0) {
            x->overflow = true;
        } else {
            strv_add(x->into, sbuf_str(&internal));
            x->room--;
        }
    }
    sbuf_free(&internal);
    return 0;
}

static void extract(struct cleanup_state *st, strv *into, const char *v, size_t n)
{
    long limit = cleanup_par.extract_recipient_limit;
    size_t have = st->xrcpt.n + st->xrcpt_resent.n;
    struct extraction x = {into, limit > 0 ? (have < (size_t) limit ? (size_t) limit - have : 0)
                                           : (size_t) -1, false};
    hdr_addr_scan(v, n, (size_t) -1, collect, &x, 0);
    if (x.overflow)
        msg_warn("%s: more than %ld recipients in headers -- the rest is ignored",
                 st->queue_id, limit);
}

/* ---- header address rewriting ---- */

struct rewrite_ctx {
    struct cleanup_state *st;
    int     cls;
};

static int rewrite_one(void *ctx, const char *addr, sbuf *repl)
{
    struct rewrite_ctx *rc = ctx;
    struct cleanup_state *st = rc->st;
    sbuf internal = SBUF_INIT, mapped = SBUF_INIT, why = SBUF_INIT;
    int changed = 0;
    address_unquote(addr, &internal);
    if (internal.len) {
        int r = cleanup_map_addr(rc->cls, st->hdr_rewrite,
                                 (st->flags & CLEANUP_FLAG_MAP_OK) != 0, sbuf_str(&internal),
                                 &mapped, &why);
        if (r != CLEANUP_MAP_OK)
            cleanup_error(st, r == CLEANUP_MAP_RETRY ? CLEANUP_STAT_WRITE : CLEANUP_STAT_DEFER,
                          sbuf_str(&why));
        else if (mapped.len && strcmp(sbuf_str(&mapped), sbuf_str(&internal)) != 0) {
            address_quote(sbuf_str(&mapped), repl);
            changed = 1;
        }
    }
    sbuf_free(&internal);
    sbuf_free(&mapped);
    sbuf_free(&why);
    return changed;
}

/* ---- one header ---- */

static void cleanup_header_fixes(struct cleanup_state *st, const char *text, size_t len,
                                 size_t name_len);

void cleanup_header(struct cleanup_state *st, const char *text, size_t len)
{
    size_t name_len;
    if (!cleanup_is_header(text, len, &name_len))
        msg_panic("cleanup_header: not a header");
    if (cleanup_failed(st))
        return;

    /* header_checks (mime_header_checks for Content-* and MIME-Version). */
    struct cleanup_verdict v = {CLEANUP_ACT_NONE, SBUF_INIT};
    enum cleanup_act act = cleanup_check_header(st, MIME_HDR_PRIMARY, text, len, &v);
    cleanup_apply_verdict(st, "header", text, len, &v);
    if (act == CLEANUP_ACT_IGNORE || act == CLEANUP_ACT_STRIP) {
        sbuf_free(&v.text);
        return;
    }
    if (act == CLEANUP_ACT_PREPEND) {
        /* Written as is: not inspected, not rewritten, not counted as seen. */
        sbuf_addc(&v.text, '\n');
        cleanup_out_header(st, v.text.s, v.text.len);
    } else if (act == CLEANUP_ACT_REPLACE) {
        /* The replacement is processed as the header from here on. */
        sbuf_addc(&v.text, '\n');
        text = v.text.s;
        len = v.text.len;
        if (!cleanup_is_header(text, len, &name_len))
            msg_panic("cleanup_header: replacement is not a header");
    }
    cleanup_header_fixes(st, text, len, name_len);
    sbuf_free(&v.text);
}

/* Everything after the checks: what was seen, extraction, drop, rewrite, output. */
static void cleanup_header_fixes(struct cleanup_state *st, const char *text, size_t len,
                                 size_t name_len)
{
    const struct hdr_info *hi = hdr_info(text, name_len);
    size_t voff = value_offset(text, len);
    const char *value = text + voff;
    size_t vlen = len - voff;
    if (vlen && value[vlen - 1] == '\n')
        vlen--;                         /* the header's own LF is no part of the value */
    if (name_len > 7 && strncasecmp(text, "resent-", 7) == 0)
        st->resent = true;
    if (hi) {
        st->hdr_seen |= HDR_BIT(hi->id);
        sbuf logv = SBUF_INIT;
        switch (hi->id) {
        case HDR_RECEIVED:
            if (++st->hops > cleanup_par.hopcount_limit && !(st->errs & CLEANUP_STAT_HOPS)) {
                msg_warn("%s: hopcount exceeded (%d Received: headers)", st->queue_id,
                         st->hops);
                cleanup_error(st, CLEANUP_STAT_HOPS, 0);
            }
            break;
        case HDR_MESSAGE_ID:
            if (!st->msgid_logged) {
                log_value(value, vlen, &logv);
                msg_info("%s: message-id=%s", st->queue_id, sbuf_str(&logv));
                st->msgid_logged = true;
            }
            break;
        case HDR_RESENT_MESSAGE_ID:
            log_value(value, vlen, &logv);
            msg_info("%s: resent-message-id=%s", st->queue_id, sbuf_str(&logv));
            break;
        default:
            break;
        }
        sbuf_free(&logv);
        if (st->flags & CLEANUP_FLAG_EXTRACT_RCPT) {
            if (hi->id == HDR_TO || hi->id == HDR_CC || hi->id == HDR_BCC)
                extract(st, &st->xrcpt, value, vlen);
            else if (hi->id == HDR_RESENT_TO || hi->id == HDR_RESENT_CC
                     || hi->id == HDR_RESENT_BCC)
                extract(st, &st->xrcpt_resent, value, vlen);
        }
    }
    if (dropped(text, name_len))
        return;
    if (hi && hi->cls && st->hdr_rewrite) {
        struct rewrite_ctx rc = {st, hi->cls};
        sbuf nv = SBUF_INIT;
        long tokens = cleanup_par.header_address_token_limit;
        hdr_addr_scan(value, vlen, tokens > 0 ? (size_t) tokens : (size_t) -1, rewrite_one,
                      &rc, &nv);
        if (nv.len != vlen || memcmp(nv.s, value, vlen) != 0) {
            sbuf out = SBUF_INIT;
            sbuf_add(&out, text, voff);
            sbuf_add(&out, nv.s, nv.len);
            sbuf_add(&out, value + vlen, len - voff - vlen);     /* the final LF */
            cleanup_out_header(st, out.s, out.len);
            sbuf_free(&out);
            sbuf_free(&nv);
            return;
        }
        sbuf_free(&nv);
    }
    cleanup_out_header(st, text, len);
}

/* ---- the end of the header block ---- */

static bool needs_quotes(const char *name)
{
    return strpbrk(name, "()<>[]:;@\\,.\"!%") != 0;
}

static void add_from(struct cleanup_state *st, const char *prefix)
{
    sbuf addr = SBUF_INIT, name = SBUF_INIT, hdr = SBUF_INIT;
    if (st->sender && *st->sender) {
        address_quote(st->sender, &addr);
    } else {
        sbuf_printf(&addr, "MAILER-DAEMON@%s", cleanup_par.myhostname);
    }
    /* The full name, as one line of text. */
    for (const char *p = st->full_name ? st->full_name : ""; *p; p++)
        sbuf_addc(&name, (unsigned char) *p < ' ' || *p == 0x7f ? ' ' : *p);
    while (name.len && name.s[name.len - 1] == ' ')
        sbuf_truncate(&name, name.len - 1);
    const char *n = sbuf_str(&name);
    while (*n == ' ')
        n++;
    sbuf_printf(&hdr, "%sFrom: ", prefix);
    if (!*n || !st->sender || !*st->sender) {
        sbuf_printf(&hdr, "%s", sbuf_str(&addr));
    } else if (cleanup_par.header_from_standard) {
        if (needs_quotes(n)) {
            sbuf_addc(&hdr, '"');
            for (const char *p = n; *p; p++) {
                if (*p == '"' || *p == '\\')
                    sbuf_addc(&hdr, '\\');
                sbuf_addc(&hdr, *p);
            }
            sbuf_addc(&hdr, '"');
        } else {
            sbuf_adds(&hdr, n);
        }
        sbuf_printf(&hdr, " <%s>", sbuf_str(&addr));
    } else {
        sbuf_printf(&hdr, "%s (", sbuf_str(&addr));
        for (const char *p = n; *p; p++) {
            if (*p == '(' || *p == ')' || *p == '\\')
                sbuf_addc(&hdr, '\\');
            sbuf_addc(&hdr, *p);
        }
        sbuf_addc(&hdr, ')');
    }
    sbuf_addc(&hdr, '\n');
    cleanup_out_header(st, hdr.s, hdr.len);
    sbuf_free(&addr);
    sbuf_free(&name);
    sbuf_free(&hdr);
}

void cleanup_header_done(struct cleanup_state *st)
{
    if (cleanup_failed(st))
        return;
    bool resent = st->resent;
    const char *prefix = resent ? "Resent-" : "";
    if (st->hdr_rewrite || cleanup_par.always_add_missing_headers) {
        sbuf hdr = SBUF_INIT;
        if (!(st->hdr_seen & HDR_BIT(resent ? HDR_RESENT_MESSAGE_ID : HDR_MESSAGE_ID))) {
            /* <YYYYMMDDHHMMSS.QUEUEID@myhostname>, UTC, unique with the queue ID */
            char stamp[32];
            struct tm tm;
            time_t t = st->arrival.tv_sec;
            gmtime_r(&t, &tm);
            strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
            sbuf_printf(&hdr, "%sMessage-Id: <%s.%s@%s>\n", prefix, stamp, st->queue_id,
                        cleanup_par.myhostname);
            cleanup_out_header(st, hdr.s, hdr.len);
            msg_info("%s: %smessage-id=<%s.%s@%s>", st->queue_id, resent ? "resent-" : "",
                     stamp, st->queue_id, cleanup_par.myhostname);
            if (!resent)
                st->msgid_logged = true;
        }
        if (!(st->hdr_seen & HDR_BIT(resent ? HDR_RESENT_DATE : HDR_DATE))) {
            sbuf_reset(&hdr);
            sbuf_printf(&hdr, "%sDate: ", prefix);
            mail_date(st->arrival.tv_sec, &hdr);
            sbuf_addc(&hdr, '\n');
            cleanup_out_header(st, hdr.s, hdr.len);
        }
        if (!(st->hdr_seen & HDR_BIT(resent ? HDR_RESENT_FROM : HDR_FROM)))
            add_from(st, prefix);
        uint64_t to_cc = resent ? HDR_BIT(HDR_RESENT_TO) | HDR_BIT(HDR_RESENT_CC)
                                : HDR_BIT(HDR_TO) | HDR_BIT(HDR_CC);
        const char *undisclosed = cleanup_par.undisclosed_recipients_header;
        if (!(st->hdr_seen & to_cc) && *undisclosed) {
            size_t n;
            if (cleanup_is_header(undisclosed, strlen(undisclosed), &n)) {
                sbuf_set(&hdr, undisclosed);
                sbuf_addc(&hdr, '\n');
                cleanup_out_header(st, hdr.s, hdr.len);
            } else {
                msg_warn("undisclosed_recipients_header: not a header: %s", undisclosed);
            }
        }
        sbuf_free(&hdr);
    }
    if (!st->msgid_logged && !resent)
        msg_info("%s: message-id=<>", st->queue_id);
}
