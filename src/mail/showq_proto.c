/*
 * showq_proto.c - write and read showq protocol records.
 *
 * See showq_proto.h for the record layout. The reader validates types,
 * counts and text; every string it hands out is passed through
 * queue_printable() again.
 */
#include <string.h>

#include "mail/showq_proto.h"
#include "util/attr.h"

int showq_send_message(vstream *s, const queue_summary *qs)
{
    if (attr_print(s, ATTR_SEND_STR("type", "message"), ATTR_SEND_STR("queue_name", qs->queue),
                   ATTR_SEND_STR("queue_id", qs->id), ATTR_SEND_LONG("arrival_time", qs->arrival),
                   ATTR_SEND_LONG("message_size", qs->size),
                   ATTR_SEND_INT("forced_expire", qs->forced_expire ? 1 : 0),
                   ATTR_SEND_STR("sender", qs->sender ? qs->sender : ""),
                   ATTR_SEND_INT("rcpt_count", (int32_t) qs->nrcpt), ATTR_END) < 0)
        return -1;
    for (size_t i = 0; i < qs->nrcpt; i++)
        if (attr_print(s, ATTR_SEND_STR("type", "rcpt"),
                       ATTR_SEND_STR("address", qs->rcpt[i].address),
                       ATTR_SEND_STR("orig_address", qs->rcpt[i].orig),
                       ATTR_SEND_STR("delay_reason", qs->rcpt[i].reason), ATTR_END) < 0)
            return -1;
    return 0;
}

int showq_send_end(vstream *s, int status, const char *reason)
{
    if (status == 0)
        return attr_print(s, ATTR_SEND_STR("type", "end"), ATTR_SEND_INT("status", 0), ATTR_END);
    return attr_print(s, ATTR_SEND_STR("type", "end"), ATTR_SEND_INT("status", status),
                      ATTR_SEND_STR("reason", reason ? reason : "unknown error"), ATTR_END);
}

static void clean(sbuf *out, const char *s)
{
    sbuf_reset(out);
    queue_printable(out, s, strlen(s));
}

static int read_record(vstream *s, attr_list *l, const char **type, sbuf *why)
{
    int r = attr_read(s, l, SHOWQ_RECORD_MAX, why);
    if (r == ATTR_CLOSED) {
        sbuf_adds(why, "connection closed before the end of the listing");
        return -1;
    }
    if (r != ATTR_OK)
        return -1;
    if (attr_get_str(l, "type", type) < 0) {
        sbuf_adds(why, "record without a type");
        return -1;
    }
    return 0;
}

int showq_read(vstream *s, queue_summary *qs, int *status, sbuf *reason, sbuf *why)
{
    attr_list l = ATTR_LIST_INIT;
    const char *type, *queue, *id, *sender;
    int64_t arrival, size;
    int32_t forced, count, st;
    sbuf q = SBUF_INIT, i = SBUF_INIT, snd = SBUF_INIT;
    sbuf a = SBUF_INIT, o = SBUF_INIT, w = SBUF_INIT;
    int rc = -1;

    queue_summary_free(qs);
    if (read_record(s, &l, &type, why) < 0)
        goto out;
    if (strcmp(type, "end") == 0) {
        if (attr_get_int(&l, "status", &st) < 0) {
            sbuf_adds(why, "end record without a status");
            goto out;
        }
        *status = st;
        const char *text;
        if (reason && attr_get_str(&l, "reason", &text) == 0)
            clean(reason, text);
        rc = 0;
        goto out;
    }
    if (strcmp(type, "message") != 0) {
        sbuf_printf(why, "unexpected record type \"%.40s\"", type);
        goto out;
    }
    if (attr_scan(&l, why, ATTR_RECV_STR("queue_name", &queue), ATTR_RECV_STR("queue_id", &id),
                  ATTR_RECV_LONG("arrival_time", &arrival), ATTR_RECV_LONG("message_size", &size),
                  ATTR_RECV_INT("forced_expire", &forced), ATTR_RECV_STR("sender", &sender),
                  ATTR_RECV_INT("rcpt_count", &count), ATTR_END) < 0)
        goto out;
    if (count < 0 || count > SHOWQ_RCPT_MAX) {
        sbuf_printf(why, "bad recipient count %ld", (long) count);
        goto out;
    }
    clean(&q, queue);
    clean(&i, id);
    clean(&snd, sender);
    queue_summary_set(qs, sbuf_str(&q), sbuf_str(&i), arrival, size, sbuf_str(&snd));
    qs->forced_expire = forced != 0;
    for (int32_t n = 0; n < count; n++) {
        const char *addr, *orig, *delay;
        if (read_record(s, &l, &type, why) < 0)
            goto out;
        if (strcmp(type, "rcpt") != 0) {
            sbuf_printf(why, "expected a recipient record, got \"%.40s\"", type);
            goto out;
        }
        if (attr_scan(&l, why, ATTR_RECV_STR("address", &addr),
                      ATTR_RECV_STR("orig_address", &orig),
                      ATTR_RECV_STR("delay_reason", &delay), ATTR_END) < 0)
            goto out;
        clean(&a, addr);
        clean(&o, orig);
        clean(&w, delay);
        queue_summary_add_rcpt(qs, sbuf_str(&a), sbuf_str(&o), sbuf_str(&w));
    }
    rc = 1;
out:
    if (rc < 0)
        queue_summary_free(qs);
    attr_list_free(&l);
    sbuf_free(&q);
    sbuf_free(&i);
    sbuf_free(&snd);
    sbuf_free(&a);
    sbuf_free(&o);
    sbuf_free(&w);
    return rc;
}
