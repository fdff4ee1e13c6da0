/*
 * smtp_content.c - the message content as it goes over SMTP after DATA.
 *
 * The queue file holds the headers (QREC_HEADER, one logical header each,
 * folds kept) and the body (QREC_BODY, LF line ends, a line may span
 * records); the blank line between them is not stored. On the wire every
 * line ends in CRLF, a line that starts with "." gets a second one (RFC
 * 5321 4.5.2), and a line longer than smtp_line_length_limit is broken
 * by inserting CRLF SPACE (as Postfix does: the least harm to MIME). The
 * content ends at QREC_EXTRACTED or QREC_END; then "." ends the data.
 * The conversion works on runs of bytes between line ends and folds, and
 * the result goes out in writes of 32 KiB or more (vstream sends a write
 * that big straight from our buffer, which is kept for the next message).
 *
 * Not here: header or body rewriting (smtp_generic_maps, header checks),
 * MIME conversion (8BITMIME to 7bit).
 */
#include <errno.h>
#include <string.h>

#include "smtp/smtp.h"
#include "util/msg.h"

#define CHUNK 32768     /* converted bytes collected before each write */
#define SLICE 16384     /* record bytes converted at a time (the output stays
                         * within about CHUNK + 2 * SLICE bytes) */
#define KEEP_MAX (128 * 1024)      /* buffer capacity kept for the next message */

void smtp_body_init(struct smtp_body *b, size_t limit)
{
    b->limit = limit;
    b->col = 0;
    b->bol = true;
}

/*
 * Whole runs at a time: up to the next LF, cut where the line reaches the
 * limit. Per byte, the rule is: an LF ends the line (CRLF); before a byte
 * that would go past the limit comes CRLF SPACE; a "." that starts a line
 * is doubled. The fold check comes before the dot check, and a folded
 * line starts with the SPACE, so only a byte at column 0 can need a dot.
 */
void smtp_body_put(struct smtp_body *b, const char *p, size_t n, sbuf *out)
{
    const char *end = p + n;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t) (end - p));
        const char *stop = lf ? lf : end;
        while (p < stop) {
            if (b->limit && b->col >= b->limit) {
                sbuf_add(out, "\r\n ", 3);
                b->col = 1;
                b->bol = false;
            }
            if (b->bol && *p == '.')        /* RFC 5321 4.5.2 transparency */
                sbuf_addc(out, '.');
            /* After a fold the byte goes out even when limit is 1. */
            size_t run = (size_t) (stop - p);
            size_t room = b->limit > b->col ? b->limit - b->col : 1;
            if (b->limit && run > room)
                run = room;
            sbuf_add(out, p, run);
            b->col += run;
            b->bol = false;
            p += run;
        }
        if (lf) {
            sbuf_add(out, "\r\n", 2);
            b->col = 0;
            b->bol = true;
            p = lf + 1;
        }
    }
}

void smtp_body_end(struct smtp_body *b, sbuf *out)
{
    if (!b->bol)
        sbuf_add(out, "\r\n", 2);
    b->col = 0;
    b->bol = true;
}

static int send_chunk(struct smtp_session *s, sbuf *chunk, struct smtp_why *why)
{
    if (chunk->len && vstream_write(s->stream, chunk->s, chunk->len) < 0) {
        smtp_stream_why(s, "sending message body", why);
        return -1;
    }
    sbuf_reset(chunk);
    return 0;
}

static int damaged(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why)
{
    msg_warn("%s: damaged message content in queue file %s/%s", st->req->queue_id,
             st->req->queue_name, st->req->queue_id);
    s->broken = true;       /* no "." was sent: the server drops the message */
    smtp_why_set(why, "4.3.0", sbuf_str(&s->relay), "queue file read error");
    return -1;
}

int smtp_send_content(struct smtp_state *st, struct smtp_session *s, struct smtp_why *why)
{
    long limit = smtp_param_int("line_length_limit");
    struct smtp_body body;
    smtp_body_init(&body, limit > 0 ? (size_t) limit : 0);
    vstream_set_timeout(s->stream, smtp_param_ms("data_xfer_timeout"));
    if (qfile_seek(st->qf, st->content_offset) < 0)
        return damaged(st, s, why);

    /* Kept from message to message: no allocation and no fresh pages
     * for every message (dropped when a huge record made them big). */
    static sbuf rec, chunk;
    sbuf_reset(&rec);
    sbuf_reset(&chunk);
    bool in_headers = true, ended = false;
    int rc = 0;
    while (!ended) {
        int type = qfile_get(st->qf, &rec, 0);
        if (type <= 0) {
            rc = damaged(st, s, why);
            break;
        }
        switch (type) {
        case QREC_CONTENT:
            continue;
        case QREC_HEADER:
            if (in_headers) {
                smtp_body_put(&body, rec.s, rec.len, &chunk);
                if (rec.len == 0 || rec.s[rec.len - 1] != '\n')
                    smtp_body_put(&body, "\n", 1, &chunk);
                break;
            }
            /* a header record after the body: body text */
            /* FALLTHROUGH */
        case QREC_BODY:
            if (in_headers) {
                smtp_body_end(&body, &chunk);
                smtp_body_put(&body, "\n", 1, &chunk);
                in_headers = false;
            }
            for (size_t off = 0; off < rec.len && rc == 0; off += SLICE) {
                size_t n = rec.len - off < SLICE ? rec.len - off : SLICE;
                smtp_body_put(&body, rec.s + off, n, &chunk);
                if (chunk.len >= CHUNK && send_chunk(s, &chunk, why) < 0)
                    rc = -1;
            }
            break;
        case QREC_EXTRACTED:
        case QREC_END:
            if (in_headers) {
                smtp_body_end(&body, &chunk);
                smtp_body_put(&body, "\n", 1, &chunk);
            }
            smtp_body_end(&body, &chunk);
            ended = true;
            break;
        default:
            rc = damaged(st, s, why);
            ended = true;
            break;
        }
        if (rc < 0)
            break;
        if (chunk.len >= CHUNK && send_chunk(s, &chunk, why) < 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 0)
        rc = send_chunk(s, &chunk, why);
    if (rc == 0) {
        vstream_write(s->stream, ".\r\n", 3);
        if (vstream_flush(s->stream) < 0) {
            smtp_stream_why(s, "sending message body", why);
            rc = -1;
        }
    }
    if (rec.cap > KEEP_MAX)
        sbuf_free(&rec);
    if (chunk.cap > KEEP_MAX)
        sbuf_free(&chunk);
    return rc;
}
