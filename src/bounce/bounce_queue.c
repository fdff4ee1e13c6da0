/*
 * bounce_queue.c - read what a notice needs from the original queue file.
 *
 * The envelope (sender, arrival time, DSN ENVID and RET, the size record)
 * and, on request, the content: header records, the empty line that the
 * queue file leaves out, then the body records, up to the extracted
 * section. The bounce service only reads queue files; qmgr owns them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounce/bounce.h"
#include "util/mem.h"

static void set_attr(struct bounce_msg *m, const char *s)
{
    const char *eq = strchr(s, '=');
    if (!eq)
        return;
    size_t n = (size_t) (eq - s);
    if (n == 9 && strncmp(s, "dsn_envid", n) == 0) {
        xfree(m->dsn_envid);
        m->dsn_envid = xstrdup(eq + 1);
    } else if (n == 7 && strncmp(s, "dsn_ret", n) == 0) {
        m->dsn_ret = strcasecmp(eq + 1, "FULL") == 0 ? 1 : strcasecmp(eq + 1, "HDRS") == 0 ? 2 : 0;
    }
}

int bounce_msg_read(const char *queue_name, const char *queue_id, struct bounce_msg *m,
                    sbuf *why)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->queue_name, sizeof(m->queue_name), "%s", queue_name);
    snprintf(m->queue_id, sizeof(m->queue_id), "%s", queue_id);
    qfile *qf = qfile_open(queue_name, queue_id, false);
    if (!qf) {
        sbuf_printf(why, "open %s/%s: %s", queue_name, queue_id, strerror(errno));
        return -1;
    }
    sbuf data = SBUF_INIT;
    bool have_sizes = false;
    int type, rc = -1;
    while ((type = qfile_get(qf, &data, 0)) > 0 && type != QREC_CONTENT) {
        switch (type) {
        case QREC_SIZE:
            have_sizes = qfile_parse_sizes(data.s, data.len, &m->sizes) == 0;
            break;
        case QREC_TIME:
            m->arrival = (time_t) strtoll(sbuf_str(&data), 0, 10);
            break;
        case QREC_SENDER:
            xfree(m->sender);
            m->sender = xstrdup(sbuf_str(&data));
            break;
        case QREC_ATTR:
            set_attr(m, sbuf_str(&data));
            break;
        default:
            break;
        }
    }
    if (type != QREC_CONTENT)
        sbuf_printf(why, "%s/%s: %s", queue_name, queue_id,
                    type < 0 ? "damaged queue file" : "no content record");
    else if (!have_sizes || !m->sender)
        sbuf_printf(why, "%s/%s: no %s record", queue_name, queue_id,
                    !have_sizes ? "size" : "sender");
    else
        rc = 0;
    if (!m->dsn_envid)
        m->dsn_envid = xstrdup("");
    if (!m->sender)
        m->sender = xstrdup("");
    sbuf_free(&data);
    qfile_close(qf);
    return rc;
}

void bounce_msg_free(struct bounce_msg *m)
{
    xfree(m->sender);
    xfree(m->dsn_envid);
    m->sender = m->dsn_envid = 0;
}

int bounce_copy_content(const struct bounce_msg *m, bool headers_only, bounce_out_fn out,
                        void *ctx, sbuf *why)
{
    qfile *qf = qfile_open(m->queue_name, m->queue_id, false);
    if (!qf) {
        sbuf_printf(why, "open %s/%s: %s", m->queue_name, m->queue_id, strerror(errno));
        return -1;
    }
    sbuf data = SBUF_INIT;
    int type = 0, rc = 0;
    bool in_body = false, last_lf = true;
    if (qfile_seek(qf, (off_t) m->sizes.content_offset) < 0) {
        sbuf_printf(why, "%s/%s: bad content offset", m->queue_name, m->queue_id);
        rc = -1;
    }
    while (rc == 0 && (type = qfile_get(qf, &data, 0)) > 0) {
        if (type == QREC_CONTENT)
            continue;
        if (type == QREC_HEADER) {
            if (in_body)
                continue;
            if (data.len && out(ctx, data.s, data.len) < 0)
                rc = -1;
            last_lf = data.len == 0 || data.s[data.len - 1] == '\n';
            continue;
        }
        if (type == QREC_BODY) {
            if (headers_only)
                break;
            if (!in_body) {
                in_body = true;
                if ((!last_lf && out(ctx, "\n", 1) < 0) || out(ctx, "\n", 1) < 0) {
                    rc = -1;
                    break;
                }
            }
            if (data.len && out(ctx, data.s, data.len) < 0)
                rc = -1;
            if (data.len)
                last_lf = data.s[data.len - 1] == '\n';
            continue;
        }
        break;                  /* QREC_EXTRACTED, QREC_END or anything else */
    }
    if (rc == 0 && type < 0) {
        sbuf_printf(why, "%s/%s: damaged content record", m->queue_name, m->queue_id);
        rc = -1;
    }
    if (rc == 0 && !last_lf && out(ctx, "\n", 1) < 0)
        rc = -1;
    sbuf_free(&data);
    qfile_close(qf);
    return rc;
}
