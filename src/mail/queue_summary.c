/*
 * queue_summary.c - read one queued message's envelope and defer log for mailq.
 *
 * See queue_summary.h. The queue file is walked with qfile_get(); the
 * content is skipped with one seek to the extracted records (recipients
 * found in the headers by "sendmail -t" follow the content). The defer
 * log is read whole with dsn_log_read().
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mail/address.h"
#include "mail/dsn_log.h"
#include "mail/mail_conf.h"
#include "mail/qfile.h"
#include "mail/queue_summary.h"
#include "util/mem.h"
#include "util/msg.h"

void queue_summary_init(queue_summary *qs)
{
    memset(qs, 0, sizeof(*qs));
}

void queue_summary_free(queue_summary *qs)
{
    for (size_t i = 0; i < qs->nrcpt; i++) {
        xfree(qs->rcpt[i].address);
        xfree(qs->rcpt[i].orig);
        xfree(qs->rcpt[i].reason);
    }
    xfree(qs->rcpt);
    xfree(qs->sender);
    queue_summary_init(qs);
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

void queue_summary_set(queue_summary *qs, const char *queue, const char *id, long long arrival,
                       long long size, const char *sender)
{
    snprintf(qs->queue, sizeof(qs->queue), "%s", nz(queue));
    snprintf(qs->id, sizeof(qs->id), "%s", nz(id));
    qs->arrival = arrival;
    qs->size = size;
    xfree(qs->sender);
    qs->sender = xstrdup(nz(sender));
}

void queue_summary_add_rcpt(queue_summary *qs, const char *address, const char *orig,
                            const char *reason)
{
    if (qs->nrcpt == qs->cap) {
        qs->cap = qs->cap ? 2 * qs->cap : 8;
        qs->rcpt = xreallocarray(qs->rcpt, qs->cap, sizeof(*qs->rcpt));
    }
    struct queue_rcpt *r = &qs->rcpt[qs->nrcpt++];
    r->address = xstrdup(nz(address));
    r->orig = xstrdup(nz(orig));
    r->reason = xstrdup(nz(reason));
}

/* ---- printable text ---- */

/* Length of the well-formed UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned min2 = 0x80, max2 = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            min2 = 0xA0;            /* no overlong forms */
        else if (c == 0xED)
            max2 = 0x9F;            /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            min2 = 0x90;
        else if (c == 0xF4)
            max2 = 0x8F;            /* at most U+10FFFF */
    } else
        return 0;
    if (n < len || p[1] < min2 || p[1] > max2)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

void queue_printable(sbuf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s;
    sbuf_reserve(out, len);
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        if (c < 0x80) {
            sbuf_addc(out, c < 0x20 || c == 0x7f ? '?' : (int) c);
            i++;
            continue;
        }
        size_t n = utf8_len(p + i, len - i);
        if (n == 0) {
            sbuf_addc(out, '?');
            i++;
        } else {
            sbuf_add(out, p + i, n);
            i += n;
        }
    }
}

void queue_printable_address(sbuf *out, const char *addr)
{
    sbuf ext = SBUF_INIT;
    address_quote(addr, &ext);
    queue_printable(out, ext.s ? ext.s : "", ext.len);
    sbuf_free(&ext);
}

void queue_asctime(long long when, char *out, size_t size)
{
    static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    time_t t = (time_t) when;
    if ((long long) t != when || !localtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6
        || tm.tm_mon < 0 || tm.tm_mon > 11) {
        snprintf(out, size, "??\n");
        return;
    }
    snprintf(out, size, "%s %s%3d %.2d:%.2d:%.2d %lld\n", wday[tm.tm_wday], mon[tm.tm_mon],
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long) tm.tm_year + 1900);
}

/* ---- reading ---- */

struct pending {
    off_t   offset;         /* of the QREC_RCPT record */
    char   *address;        /* internal form */
    char   *orig;           /* internal form or NULL */
    long    last;           /* index of the last defer log record for it, -1 */
    bool    emitted;
};

struct pending_list {
    struct pending *v;
    size_t  n, cap;
};

static void pending_add(struct pending_list *pl, off_t offset, const char *addr, char *orig)
{
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? 2 * pl->cap : 16;
        pl->v = xreallocarray(pl->v, pl->cap, sizeof(*pl->v));
    }
    pl->v[pl->n++] = (struct pending) {offset, xstrdup(addr), orig, -1, false};
}

static void pending_free(struct pending_list *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        xfree(pl->v[i].address);
        xfree(pl->v[i].orig);
    }
    xfree(pl->v);
}

/* Pending recipient whose record is at offset (records are in file order). */
static struct pending *find_by_offset(struct pending_list *pl, off_t offset)
{
    size_t lo = 0, hi = pl->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pl->v[mid].offset == offset)
            return &pl->v[mid];
        if (pl->v[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static struct pending *find_by_address(struct pending_list *pl, const char *addr)
{
    for (size_t i = 0; i < pl->n; i++)
        if (strcmp(pl->v[i].address, addr) == 0)
            return &pl->v[i];
    return 0;
}

static void add_printable_rcpt(queue_summary *qs, const char *addr, const char *orig,
                               const char *reason)
{
    sbuf a = SBUF_INIT, o = SBUF_INIT, r = SBUF_INIT;
    const char *empty = mail_conf_str("empty_address_recipient");
    queue_printable_address(&a, *addr ? addr : empty);
    if (orig && *orig)
        queue_printable_address(&o, orig);
    if (reason)
        queue_printable(&r, reason, strlen(reason));
    queue_summary_add_rcpt(qs, sbuf_str(&a), sbuf_str(&o), sbuf_str(&r));
    sbuf_free(&a);
    sbuf_free(&o);
    sbuf_free(&r);
}

/* Order recipients: those in the defer log first (log order), then the rest. */
static void add_recipients(queue_summary *qs, struct pending_list *pl, const char *id)
{
    dsn_log log = DSN_LOG_INIT;
    sbuf why = SBUF_INIT;
    int n = pl->n ? dsn_log_read(DSN_LOG_DEFER, id, &log, &why) : 0;
    if (n < 0)
        msg_warn("%s: read %s log: %s", id, DSN_LOG_DEFER, sbuf_str(&why));
    for (int i = 0; i < n; i++) {
        const struct dsn_rec *d = &log.rec[i];
        struct pending *p = d->offset > 0 ? find_by_offset(pl, d->offset) : 0;
        if (!p)
            p = find_by_address(pl, d->recipient);
        if (p)
            p->last = i;
    }
    /* Walk the log in order; a recipient is shown at its last record. */
    for (int i = 0; i < n; i++) {
        const struct dsn_rec *d = &log.rec[i];
        struct pending *p = d->offset > 0 ? find_by_offset(pl, d->offset) : 0;
        if (!p)
            p = find_by_address(pl, d->recipient);
        if (!p || p->last != i || p->emitted)
            continue;
        p->emitted = true;
        add_printable_rcpt(qs, *d->recipient ? d->recipient : p->address, p->orig, d->reason);
    }
    for (size_t i = 0; i < pl->n; i++)
        if (!pl->v[i].emitted)
            add_printable_rcpt(qs, pl->v[i].address, pl->v[i].orig, "");
    dsn_log_free(&log);
    sbuf_free(&why);
}

static long long parse_time(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return 0;
    return v;
}

int queue_summary_read(const char *queue, const char *id, queue_summary *qs, sbuf *why)
{
    queue_summary_free(qs);
    char path[4200];
    if (!qfile_id_ok(id) || qfile_path(path, sizeof(path), queue, id) < 0) {
        sbuf_printf(why, "%s/%s: bad queue file name", queue, id);
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        sbuf_printf(why, "%s/%s: %s", queue, id, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR))
        return 0;
    qfile *q = qfile_open_path(path, false);
    if (!q) {
        if (errno == ENOENT)
            return 0;
        sbuf_printf(why, "open %s/%s: %s", queue, id, strerror(errno));
        return -1;
    }

    struct pending_list pl = {0};
    sbuf data = SBUF_INIT;
    char *orig = 0;
    char *sender = 0;
    long long arrival = 0, size = 0;
    uint64_t extracted = 0, content = 0;
    bool first = true, damaged = false;
    int type;
    off_t where;
    while ((type = qfile_get(q, &data, &where)) > 0) {
        if (first && type != QREC_VERSION) {
            sbuf_printf(why, "%s/%s: not a queue file", queue, id);
            goto fail;
        }
        first = false;
        if (type != QREC_BODY && memchr(sbuf_str(&data), 0, data.len)) {
            damaged = true;
            break;
        }
        switch (type) {
        case QREC_SIZE: {
            struct qfile_sizes sz;
            if (qfile_parse_sizes(data.s, data.len, &sz) == 0) {
                size = (long long) sz.content_size;
                extracted = sz.extracted_offset;
                content = sz.content_offset;
            }
            break;
        }
        case QREC_TIME:
            arrival = parse_time(sbuf_str(&data));
            break;
        case QREC_SENDER:
            xfree(sender);
            sender = xstrdup(sbuf_str(&data));
            break;
        case QREC_ORCPT:
            xfree(orig);
            orig = xstrdup(sbuf_str(&data));
            break;
        case QREC_RCPT:
            pending_add(&pl, where, sbuf_str(&data), orig);
            orig = 0;
            break;
        case QREC_DONE:
            xfree(orig);
            orig = 0;
            break;
        case QREC_CONTENT:
            /* Skip the content: only extracted recipients may follow it. */
            if (extracted > content && extracted > (uint64_t) where
                && qfile_seek(q, (off_t) extracted) < 0)
                damaged = true;
            break;
        default:
            break;
        }
        if (type == QREC_END || damaged)
            break;
    }
    if (type < 0)
        damaged = true;
    if (first) {
        sbuf_printf(why, "%s/%s: empty queue file", queue, id);
        goto fail;
    }
    if (damaged && !sender) {
        sbuf_printf(why, "%s/%s: damaged queue file", queue, id);
        goto fail;
    }
    if (damaged)
        msg_warn("%s/%s: damaged queue file: showing what could be read", queue, id);

    sbuf s = SBUF_INIT;
    const char *snd = sender ? sender : "";
    queue_printable_address(&s, *snd ? snd : mail_conf_str("empty_address_recipient"));
    queue_summary_set(qs, queue, id, arrival > 0 ? arrival : (long long) st.st_mtime,
                      size > 0 ? size : (long long) st.st_size, sbuf_str(&s));
    sbuf_free(&s);
    add_recipients(qs, &pl, id);

    pending_free(&pl);
    sbuf_free(&data);
    xfree(orig);
    xfree(sender);
    qfile_close(q);
    return 1;

fail:
    pending_free(&pl);
    sbuf_free(&data);
    xfree(orig);
    xfree(sender);
    qfile_close(q);
    queue_summary_free(qs);
    return -1;
}
