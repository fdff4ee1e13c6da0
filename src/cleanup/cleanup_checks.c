/*
 * cleanup_checks.c - header/body check hooks and what their verdicts do
 * (see cleanup_checks.h). The hooks answer "no action" until the
 * content-inspection work fills them in.
 */
#include <string.h>

#include "cleanup/cleanup.h"
#include "cleanup/cleanup_checks.h"
#include "util/mem.h"
#include "util/msg.h"

enum cleanup_act cleanup_check_header(struct cleanup_state *st, const char *hdr, size_t len,
                                      struct cleanup_verdict *v)
{
    (void) st;
    (void) hdr;
    (void) len;
    /* header_checks(5) go here. */
    v->act = CLEANUP_ACT_NONE;
    return v->act;
}

enum cleanup_act cleanup_check_body(struct cleanup_state *st, const char *line, size_t len,
                                    struct cleanup_verdict *v)
{
    (void) st;
    (void) line;
    (void) len;
    /* body_checks(5) go here. */
    v->act = CLEANUP_ACT_NONE;
    return v->act;
}

static const char *attr_value(const struct cleanup_state *st, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < st->attrs.n; i++)
        if (strncmp(st->attrs.v[i], name, n) == 0 && st->attrs.v[i][n] == '=')
            return st->attrs.v[i] + n + 1;
    return 0;
}

/* "from host[addr]; from=<s> to=<r> proto=P helo=<h>" as Postfix logs it. */
static void log_context(const struct cleanup_state *st, sbuf *out)
{
    const char *name = attr_value(st, "client_name");
    const char *addr = attr_value(st, "client_address");
    const char *proto = attr_value(st, "protocol");
    const char *helo = attr_value(st, "helo_name");
    if (addr)
        sbuf_printf(out, "from %s[%s];", name ? name : "unknown", addr);
    else
        sbuf_adds(out, "from local;");
    sbuf_printf(out, " from=<%s> to=<%s>", st->sender ? st->sender : "",
                st->first_rcpt ? st->first_rcpt : "");
    if (proto)
        sbuf_printf(out, " proto=%s", proto);
    if (helo)
        sbuf_printf(out, " helo=<%s>", helo);
}

void cleanup_apply_verdict(struct cleanup_state *st, const char *where, const char *what,
                           size_t what_len, const struct cleanup_verdict *v)
{
    const char *label = 0;
    const char *text = sbuf_str(&v->text);
    switch (v->act) {
    case CLEANUP_ACT_NONE:
        return;
    case CLEANUP_ACT_IGNORE:
    case CLEANUP_ACT_REPLACE:
    case CLEANUP_ACT_PREPEND:
        if (msg_verbose)
            msg_info("%s: %s action %d", st->queue_id, where, (int) v->act);
        return;
    case CLEANUP_ACT_WARN:
        label = "warning";
        break;
    case CLEANUP_ACT_REJECT:
        label = "reject";
        if (!*text)
            text = "5.7.1 Message content rejected";
        cleanup_error(st, CLEANUP_STAT_CONT, text);
        break;
    case CLEANUP_ACT_DEFER:
        label = "reject";
        if (!*text)
            text = "4.7.1 Service unavailable - try again later";
        cleanup_error(st, CLEANUP_STAT_DEFER, text);
        break;
    case CLEANUP_ACT_DISCARD:
        label = "discard";
        st->discard = true;
        break;
    case CLEANUP_ACT_HOLD:
        label = "hold";
        st->hold = true;
        break;
    case CLEANUP_ACT_REDIRECT:
        label = "redirect";
        xfree(st->redirect);
        st->redirect = xstrdup(text);
        break;
    case CLEANUP_ACT_FILTER:
        label = "filter";
        msg_warn("%s: FILTER actions are not supported yet -- ignored", st->queue_id);
        break;
    }
    /* Strip the final LF; msg_* turns the folds into '?'. */
    while (what_len && (what[what_len - 1] == '\n' || what[what_len - 1] == '\r'))
        what_len--;
    sbuf line = SBUF_INIT;
    sbuf_printf(&line, "%s %.*s ", where, (int) (what_len > 1000 ? 1000 : what_len), what);
    log_context(st, &line);
    if (*text)
        sbuf_printf(&line, ": %s", text);
    msg_info("%s: %s: %s", st->queue_id, label, sbuf_str(&line));
    if (v->act == CLEANUP_ACT_DISCARD || v->act == CLEANUP_ACT_HOLD)
        sbuf_set(&st->action_log, sbuf_str(&line));
    sbuf_free(&line);
}

void cleanup_check_body_line(struct cleanup_state *st, const char *line, size_t len)
{
    struct cleanup_verdict v = {CLEANUP_ACT_NONE, SBUF_INIT};
    if (cleanup_check_body(st, line, len, &v) != CLEANUP_ACT_NONE)
        cleanup_apply_verdict(st, "body", line, len, &v);
    sbuf_free(&v.text);
}
