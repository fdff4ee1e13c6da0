/*
 * pq_format.c - the sendmail-style (-p) and JSON (-j) queue listings.
 *
 * See pq_format.h for the layouts. Column widths are Postfix's, so
 * scripts written for Postfix's mailq output parse ours.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "postqueue/pq_format.h"

/* Short queue IDs: Postfix's historical columns. */
#define S_STRING_FMT "%-11s %7s %-20s %s\n"
#define S_SENDER_FMT "%-11s %7lld %20.20s %s\n"
/* enable_long_queue_ids = yes */
#define L_STRING_FMT "%-17s %8s %-19s %s\n"
#define L_SENDER_FMT "%-17s %8lld %19.19s %s\n"

#define REASON_COLUMN 76    /* "(reason)" ends at column 78 */

void pq_begin(pq_format *f, enum pq_mode mode, bool long_ids)
{
    memset(f, 0, sizeof(*f));
    f->mode = mode;
    f->long_ids = long_ids;
}

void pq_json_quote(sbuf *out, const char *text)
{
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        switch (*p) {
        case '"': sbuf_adds(out, "\\\""); break;
        case '\\': sbuf_adds(out, "\\\\"); break;
        case '\b': sbuf_adds(out, "\\b"); break;
        case '\f': sbuf_adds(out, "\\f"); break;
        case '\n': sbuf_adds(out, "\\n"); break;
        case '\r': sbuf_adds(out, "\\r"); break;
        case '\t': sbuf_adds(out, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                sbuf_printf(out, "\\u%04X", (unsigned) *p);
            else
                sbuf_addc(out, *p);
            break;
        }
    }
}

/* One line in the string layout (headings, recipients). */
static void string_line(sbuf *out, bool long_ids, const char *a, const char *b, const char *c,
                        const char *d)
{
    if (long_ids)
        sbuf_printf(out, L_STRING_FMT, a, b, c, d);
    else
        sbuf_printf(out, S_STRING_FMT, a, b, c, d);
}

static void compat_message(pq_format *f, const queue_summary *qs, sbuf *out)
{
    if (f->count == 0) {
        if (f->long_ids)
            string_line(out, true, "----Queue ID-----", "--Size--", "---Arrival Time----",
                        "--Sender/Recipient------");
        else
            string_line(out, false, "-Queue ID-", "--Size--", "----Arrival Time----",
                        "-Sender/Recipient-------");
    } else {
        sbuf_addc(out, '\n');
    }
    sbuf id = SBUF_INIT;
    sbuf_adds(&id, qs->id);
    if (strcmp(qs->queue, "active") == 0)
        sbuf_addc(&id, '*');
    else if (strcmp(qs->queue, "hold") == 0)
        sbuf_addc(&id, '!');
    if (qs->forced_expire)
        sbuf_addc(&id, '#');
    char when[64];
    queue_asctime(qs->arrival, when, sizeof(when));
    const char *sender = qs->sender ? qs->sender : "";
    if (f->long_ids)
        sbuf_printf(out, L_SENDER_FMT, sbuf_str(&id), qs->size, when, sender);
    else
        sbuf_printf(out, S_SENDER_FMT, sbuf_str(&id), qs->size, when, sender);
    sbuf_free(&id);

    const char *shown = "";     /* the reason printed last ("" = none yet) */
    for (size_t i = 0; i < qs->nrcpt; i++) {
        const char *why = qs->rcpt[i].reason;
        if (strcmp(shown, why) != 0) {
            shown = why;
            const char *text = *why ? why : "reason unavailable";
            int pad = REASON_COLUMN - (int) strlen(text);
            sbuf_printf(out, "%*s(%s)\n", pad > 0 ? pad : 0, "", text);
        }
        string_line(out, f->long_ids, "", "", "", qs->rcpt[i].address);
    }
}

static void json_message(const queue_summary *qs, sbuf *out)
{
    sbuf_adds(out, "{\"queue_name\": \"");
    pq_json_quote(out, qs->queue);
    sbuf_adds(out, "\", \"queue_id\": \"");
    pq_json_quote(out, qs->id);
    sbuf_printf(out, "\", \"arrival_time\": %lld, \"message_size\": %lld, \"forced_expire\": %s, "
                "\"sender\": \"", qs->arrival, qs->size, qs->forced_expire ? "true" : "false");
    pq_json_quote(out, qs->sender ? qs->sender : "");
    sbuf_adds(out, "\", \"recipients\": [");
    for (size_t i = 0; i < qs->nrcpt; i++) {
        if (i)
            sbuf_adds(out, ", ");
        sbuf_adds(out, "{\"address\": \"");
        pq_json_quote(out, qs->rcpt[i].address);
        sbuf_addc(out, '"');
        if (*qs->rcpt[i].reason) {
            sbuf_adds(out, ", \"delay_reason\": \"");
            pq_json_quote(out, qs->rcpt[i].reason);
            sbuf_addc(out, '"');
        }
        sbuf_addc(out, '}');
    }
    sbuf_adds(out, "]}\n");
}

void pq_message(pq_format *f, const queue_summary *qs, sbuf *out)
{
    if (f->mode == PQ_MODE_JSON)
        json_message(qs, out);
    else
        compat_message(f, qs, out);
    f->count++;
    if (qs->size > 0)
        f->total += (unsigned long long) qs->size;
}

void pq_end(pq_format *f, sbuf *out)
{
    if (f->mode == PQ_MODE_JSON)
        return;
    if (f->count == 0)
        sbuf_adds(out, "Mail queue is empty\n");
    else
        sbuf_printf(out, "\n-- %llu Kbytes in %lu Request%s.\n", f->total / 1024, f->count,
                    f->count == 1 ? "" : "s");
}
