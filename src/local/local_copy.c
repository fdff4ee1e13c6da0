/*
 * local_copy.c - produce the delivered form of a message from its queue file.
 *
 * See local_copy.h. The queue file is only read (qfile_seek/qfile_get on
 * a read-only handle, pread underneath, so a forked child can use the
 * parent's handle). A record other than header/body before the end of the
 * content, or the end of the file before it, is a damaged queue file.
 *
 * NOT HERE: locking, file creation, privileges, size limits (the callers).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "local/local_copy.h"
#include "mail/address.h"
#include "util/safe_file.h"

#define COPY_WRITE_SIZE 65536

enum { PH_PREFIX, PH_HEADERS, PH_BODY, PH_TRAILER, PH_DONE };

static const char from_[] = "From ";
#define FROM_LEN 5

void local_from_line(sbuf *out, const char *sender, time_t when)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    localtime_r(&when, &tm);
    sbuf ext = SBUF_INIT;
    if (*sender)
        address_quote(sender, &ext);
    /* asctime(3) layout, day of month padded with a blank. */
    sbuf_printf(out, "From %s  %s %s %2d %02d:%02d:%02d %d\n",
                *sender ? sbuf_str(&ext) : "MAILER-DAEMON", days[tm.tm_wday % 7],
                months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                tm.tm_year + 1900);
    sbuf_free(&ext);
}

void local_quote_from(struct local_quote *q, const char *p, size_t n, sbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!q->mid_line) {
            if (c == from_[q->held]) {
                if (++q->held == FROM_LEN) {
                    sbuf_addc(out, '>');
                    sbuf_add(out, from_, FROM_LEN);
                    q->held = 0;
                    q->mid_line = true;
                }
                continue;
            }
            /* Not "From ": give back what was held, then this byte. */
            sbuf_add(out, from_, (size_t) q->held);
            q->held = 0;
            q->mid_line = true;
        }
        sbuf_addc(out, c);
        if (c == '\n')
            q->mid_line = false;
    }
}

void local_quote_flush(struct local_quote *q, sbuf *out)
{
    sbuf_add(out, from_, (size_t) q->held);
    q->held = 0;
}

int local_copy_start(struct local_copy *c, qfile *qf, off_t content_offset,
                     const struct local_copy_attr *attr)
{
    memset(c, 0, sizeof(*c));
    c->qf = qf;
    c->attr = attr;
    c->phase = PH_PREFIX;
    c->last_nl = true;
    return qfile_seek(qf, content_offset);
}

void local_copy_end(struct local_copy *c)
{
    sbuf_free(&c->rec);
}

static void add_header(sbuf *out, const char *name, const char *addr, bool angle)
{
    sbuf ext = SBUF_INIT;
    if (*addr)
        address_quote(addr, &ext);
    sbuf_printf(out, angle ? "%s: <%s>\n" : "%s: %s\n", name, sbuf_str(&ext));
    sbuf_free(&ext);
}

static void prefix(struct local_copy *c, sbuf *out)
{
    const struct local_copy_attr *a = c->attr;
    const char *sender = a->sender ? a->sender : "";
    if (a->flags & LOCAL_COPY_FROM_LINE)
        local_from_line(out, sender, a->now);
    if (a->flags & LOCAL_COPY_RETURN_PATH)
        add_header(out, "Return-Path", sender, true);
    if ((a->flags & LOCAL_COPY_ORIG_RCPT) && a->orig_rcpt && *a->orig_rcpt)
        add_header(out, "X-Original-To", a->orig_rcpt, false);
    if ((a->flags & LOCAL_COPY_DELIVERED) && a->delivered && *a->delivered) {
        sbuf low = SBUF_INIT;
        sbuf_set(&low, a->delivered);
        sbuf_lower(&low);
        add_header(out, "Delivered-To", sbuf_str(&low), false);
        sbuf_free(&low);
    }
    if (a->extra_headers)
        sbuf_adds(out, a->extra_headers);
}

int local_copy_next(struct local_copy *c, sbuf *out)
{
    sbuf_reset(out);
    while (out->len == 0) {
        switch (c->phase) {
        case PH_PREFIX:
            prefix(c, out);
            c->phase = PH_HEADERS;
            break;
        case PH_HEADERS:
        case PH_BODY: {
            int type = qfile_get(c->qf, &c->rec, 0);
            if (type <= 0) {
                if (type == 0)
                    errno = EINVAL;     /* no end of content: damaged */
                return -1;
            }
            if (type == QREC_CONTENT && c->phase == PH_HEADERS)
                continue;
            if (type == QREC_HEADER && c->phase == PH_HEADERS) {
                sbuf_add(out, c->rec.s, c->rec.len);
                if (c->rec.len && c->rec.s[c->rec.len - 1] != '\n')
                    sbuf_addc(out, '\n');
                continue;
            }
            if (type == QREC_BODY || type == QREC_HEADER) {
                if (c->phase == PH_HEADERS) {
                    sbuf_addc(out, '\n');   /* the header/body separator */
                    c->phase = PH_BODY;
                }
                if (c->attr->flags & LOCAL_COPY_QUOTE)
                    local_quote_from(&c->quote, c->rec.s, c->rec.len, out);
                else
                    sbuf_add(out, c->rec.s, c->rec.len);
                continue;
            }
            if (type == QREC_EXTRACTED || type == QREC_END) {
                if (c->phase == PH_HEADERS)
                    sbuf_addc(out, '\n');
                local_quote_flush(&c->quote, out);
                c->phase = PH_TRAILER;
                if (out->len == 0)
                    continue;
                break;
            }
            errno = EINVAL;
            return -1;
        }
        case PH_TRAILER:
            c->phase = PH_DONE;
            if (c->attr->flags & LOCAL_COPY_BLANK) {
                if (!c->last_nl)
                    sbuf_addc(out, '\n');
                sbuf_addc(out, '\n');
            }
            break;
        case PH_DONE:
        default:
            return 0;
        }
    }
    c->last_nl = out->s[out->len - 1] == '\n';
    return 1;
}

int local_copy_to_fd(qfile *qf, off_t content_offset, const struct local_copy_attr *attr, int fd)
{
    struct local_copy c;
    sbuf chunk = SBUF_INIT;
    int rc = 0, got;
    if (local_copy_start(&c, qf, content_offset, attr) < 0) {
        local_copy_end(&c);
        return -2;
    }
    sbuf buf = SBUF_INIT;       /* gather small records into fewer writes */
    while ((got = local_copy_next(&c, &chunk)) > 0) {
        sbuf_add(&buf, chunk.s, chunk.len);
        if (buf.len >= COPY_WRITE_SIZE) {
            if (write_full(fd, buf.s, buf.len) < 0) {
                rc = -1;
                break;
            }
            sbuf_reset(&buf);
        }
    }
    if (got < 0)
        rc = -2;
    else if (rc == 0 && buf.len > 0 && write_full(fd, buf.s, buf.len) < 0)
        rc = -1;
    sbuf_free(&buf);
    int saved = errno;
    local_copy_end(&c);
    sbuf_free(&chunk);
    errno = saved;
    return rc;
}
