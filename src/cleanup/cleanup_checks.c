/*
 * cleanup_checks.c - header_checks, mime_header_checks, nested_header_checks
 * and body_checks: table lookups, action parsing, and what each verdict
 * does to the whole message (see cleanup_checks.h).
 *
 * NOT HERE: what a verdict does to the line itself (cleanup_header.c for
 * primary headers, cleanup_content.c for MIME headers and body lines),
 * and the end-of-message effects of REDIRECT, FILTER, BCC, HOLD and
 * DISCARD (cleanup_commit.c).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "cleanup/cleanup.h"
#include "cleanup/cleanup_checks.h"
#include "mail/dsn_util.h"
#include "mail/mail_conf.h"
#include "mail/maps.h"
#include "mail/mime_state.h"
#include "util/mem.h"
#include "util/msg.h"

#define LOG_CONTENT_MAX 200     /* bytes of the header or line in a log line */

static struct {
    maps   *header, *mime, *nested, *body;
} ctab;

static maps *open_checks(const char *param)
{
    const char *spec = mail_conf_str(param);
    if (!spec || !*spec)
        return 0;
    return maps_open(param, spec, DICT_FLAG_DEFAULT | DICT_FLAG_LOCK);
}

void cleanup_checks_init(void)
{
    maps **all[] = {&ctab.header, &ctab.mime, &ctab.nested, &ctab.body};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (*all[i])
            maps_close(*all[i]);
        *all[i] = 0;
    }
    ctab.header = open_checks("header_checks");
    ctab.mime = open_checks("mime_header_checks");
    ctab.nested = open_checks("nested_header_checks");
    ctab.body = open_checks("body_checks");
}

bool cleanup_checks_header_tables(void)
{
    return ctab.header || ctab.mime || ctab.nested;
}

bool cleanup_checks_body_done(const struct cleanup_state *st, uint64_t offset)
{
    long long limit = cleanup_par.body_checks_size_limit;
    return !ctab.body || !(st->flags & CLEANUP_FLAG_FILTER)
        || (limit > 0 && offset >= (uint64_t) limit);
}

bool cleanup_checks_changed(void)
{
    maps *all[] = {ctab.header, ctab.mime, ctab.nested, ctab.body};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i] && maps_changed(all[i]))
            return true;
    return false;
}

/* ---- parsing a table result ---- */

/* RFC 5322 2.2 header label, as PREPEND and REPLACE of a header need it. */
static bool is_header_text(const char *s)
{
    size_t n;
    return cleanup_is_header(s, strlen(s), &n);
}

static const struct {
    const char *name;
    enum cleanup_act act;
    bool    needs_text;
} actions[] = {
    {"REJECT", CLEANUP_ACT_REJECT, false},
    {"WARN", CLEANUP_ACT_WARN, false},
    {"INFO", CLEANUP_ACT_INFO, false},
    {"FILTER", CLEANUP_ACT_FILTER, true},
    {"DISCARD", CLEANUP_ACT_DISCARD, false},
    {"HOLD", CLEANUP_ACT_HOLD, false},
    {"PREPEND", CLEANUP_ACT_PREPEND, true},
    {"REPLACE", CLEANUP_ACT_REPLACE, true},
    {"REDIRECT", CLEANUP_ACT_REDIRECT, true},
    {"BCC", CLEANUP_ACT_BCC, true},
    {"STRIP", CLEANUP_ACT_STRIP, false},
    {"PASS", CLEANUP_ACT_PASS, false},
    {"IGNORE", CLEANUP_ACT_IGNORE, false},
    {"DUNNO", CLEANUP_ACT_NONE, false},
    {"OK", CLEANUP_ACT_NONE, false},
};

enum cleanup_act cleanup_parse_action(const char *value, const char *where,
                                      const char *map_class, struct cleanup_verdict *v)
{
    v->act = CLEANUP_ACT_NONE;
    sbuf_reset(&v->text);
    size_t cmd_len = strcspn(value, " \t");
    const char *text = value + cmd_len;
    while (*text == ' ' || *text == '\t')
        text++;
    /* A table value is one line; no trailing blanks in the text. */
    size_t tlen = strlen(text);
    while (tlen && (text[tlen - 1] == ' ' || text[tlen - 1] == '\t'))
        tlen--;

    size_t i;
    for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strlen(actions[i].name) == cmd_len && strncasecmp(value, actions[i].name, cmd_len) == 0)
            break;
    if (i == sizeof(actions) / sizeof(actions[0])) {
        msg_warn("unknown command in %s map: %s", map_class, value);
        return v->act;
    }
    enum cleanup_act act = actions[i].act;
    if (actions[i].needs_text && tlen == 0) {
        msg_warn("%s action without text in %s map", actions[i].name, map_class);
        return v->act;
    }
    sbuf_add(&v->text, text, tlen);
    const char *t = sbuf_str(&v->text);
    switch (act) {
    case CLEANUP_ACT_REJECT: {
        char code[DSN_CODE_SIZE];
        const char *rest = dsn_split(t, "5.7.1", code, sizeof(code));
        sbuf msg = SBUF_INIT;
        if (code[0] != '4' && code[0] != '5') {
            msg_warn("bad DSN action in %s -- need 4.x.x or 5.x.x", t);
            dsn_set_class(code, '4');
        }
        sbuf_printf(&msg, "%s %s", code, *rest ? rest : "Message content rejected");
        sbuf_set(&v->text, sbuf_str(&msg));
        sbuf_free(&msg);
        act = code[0] == '4' ? CLEANUP_ACT_DEFER : CLEANUP_ACT_REJECT;
        break;
    }
    case CLEANUP_ACT_FILTER:
        if (!strchr(t, ':')) {
            msg_warn("bad FILTER command %s in %s -- need transport:destination", t, map_class);
            return v->act;
        }
        break;
    case CLEANUP_ACT_PREPEND:
    case CLEANUP_ACT_REPLACE:
        if (strcmp(where, "header") == 0 && !is_header_text(t)) {
            msg_warn("bad %s header text \"%s\" in %s map -- need \"headername: headervalue\"",
                     actions[i].name, t, map_class);
            return v->act;
        }
        break;
    case CLEANUP_ACT_REDIRECT:
    case CLEANUP_ACT_BCC:
        if (!strchr(t, '@')) {
            msg_warn("bad %s %s \"%s\" in %s map -- need user@domain", actions[i].name,
                     act == CLEANUP_ACT_BCC ? "address" : "target", t, map_class);
            return v->act;
        }
        break;
    case CLEANUP_ACT_IGNORE:
    case CLEANUP_ACT_NONE:
        sbuf_reset(&v->text);       /* optional text after these is ignored */
        break;
    default:
        break;
    }
    v->act = act;
    return act;
}

/* ---- lookups ---- */

static enum cleanup_act lookup(struct cleanup_state *st, maps *m, const char *where,
                               const char *text, size_t len, struct cleanup_verdict *v)
{
    v->act = CLEANUP_ACT_NONE;
    sbuf_reset(&v->text);
    if (!m || !(st->flags & CLEANUP_FLAG_FILTER))
        return v->act;
    /* The key: without the final LF. A NUL ends it (as for any C string). */
    if (len && text[len - 1] == '\n')
        len--;
    if (len == 0)
        return v->act;          /* empty lines never match */
    char *key = xstrndup(text, len);
    int err = 0;
    const char *value = maps_find(m, key, &err);
    xfree(key);
    if (value) {
        cleanup_parse_action(value, where, maps_title(m), v);
    } else if (err) {
        msg_warn("%s: %s map lookup problem -- message not accepted, try again later",
                 st->queue_id, maps_title(m));
        cleanup_error(st, CLEANUP_STAT_WRITE, 0);
    }
    return v->act;
}

enum cleanup_act cleanup_check_header(struct cleanup_state *st, int hdr_class,
                                      const char *hdr, size_t len,
                                      struct cleanup_verdict *v)
{
    maps *m;
    bool mime_hdr = !cleanup_par.disable_mime && mime_header_is_mime(hdr, len);
    if (hdr_class == MIME_HDR_MULTIPART || mime_hdr)
        m = ctab.mime;
    else if (hdr_class == MIME_HDR_NESTED)
        m = ctab.nested;
    else
        m = ctab.header;
    return lookup(st, m, "header", hdr, len, v);
}

enum cleanup_act cleanup_check_body(struct cleanup_state *st, const char *line, size_t len,
                                    uint64_t offset, struct cleanup_verdict *v)
{
    long long limit = cleanup_par.body_checks_size_limit;
    if (limit > 0 && offset >= (uint64_t) limit) {
        v->act = CLEANUP_ACT_NONE;
        sbuf_reset(&v->text);
        return v->act;
    }
    return lookup(st, ctab.body, "body", line, len, v);
}

/* ---- verdicts ---- */

static const char *checks_attr_value(const struct cleanup_state *st, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < st->attrs.n; i++)
        if (strncmp(st->attrs.v[i], name, n) == 0 && st->attrs.v[i][n] == '=')
            return st->attrs.v[i] + n + 1;
    return 0;
}

void cleanup_log_origin(const struct cleanup_state *st, sbuf *out)
{
    const char *name = checks_attr_value(st, "client_name");
    const char *addr = checks_attr_value(st, "client_address");
    if (addr)
        sbuf_printf(out, "%s[%s]", name && *name ? name : "unknown", addr);
    else
        sbuf_adds(out, "local");
}

/* "from host[addr]; from=<s> to=<r> proto=P helo=<h>" as Postfix logs it. */
static void log_context(const struct cleanup_state *st, sbuf *out)
{
    const char *proto = checks_attr_value(st, "protocol");
    const char *helo = checks_attr_value(st, "helo_name");
    sbuf_adds(out, "from ");
    cleanup_log_origin(st, out);
    sbuf_addc(out, ';');
    sbuf_printf(out, " from=<%s>", st->sender ? st->sender : "");
    if (st->first_rcpt)
        sbuf_printf(out, " to=<%s>", st->first_rcpt);
    if (proto)
        sbuf_printf(out, " proto=%s", proto);
    if (helo)
        sbuf_printf(out, " helo=<%s>", helo);
}

static void checks_log_action(struct cleanup_state *st, const char *label, const char *where,
                       const char *what, size_t what_len, const char *text)
{
    while (what_len && (what[what_len - 1] == '\n' || what[what_len - 1] == '\r'))
        what_len--;
    sbuf line = SBUF_INIT;
    sbuf_printf(&line, "%s %.*s ", where,
                (int) (what_len > LOG_CONTENT_MAX ? LOG_CONTENT_MAX : what_len), what);
    log_context(st, &line);
    if (text && *text)
        sbuf_printf(&line, ": %s", text);
    msg_info("%s: %s: %s", st->queue_id, label, sbuf_str(&line));
    if (strcmp(label, "discard") == 0 || strcmp(label, "hold") == 0)
        sbuf_set(&st->action_log, sbuf_str(&line));
    sbuf_free(&line);
}

/* No more header/body checks (and no milters) for this message. */
static void stop_inspection(struct cleanup_state *st)
{
    st->flags &= ~(CLEANUP_FLAG_FILTER | CLEANUP_FLAG_MILTER);
}

void cleanup_apply_verdict(struct cleanup_state *st, const char *where, const char *what,
                           size_t what_len, const struct cleanup_verdict *v)
{
    const char *text = sbuf_str(&v->text);
    switch (v->act) {
    case CLEANUP_ACT_NONE:
    case CLEANUP_ACT_IGNORE:
        return;
    case CLEANUP_ACT_REPLACE:
        checks_log_action(st, "replace", where, what, what_len, text);
        return;
    case CLEANUP_ACT_PREPEND:
        checks_log_action(st, "prepend", where, what, what_len, text);
        return;
    case CLEANUP_ACT_STRIP:
        checks_log_action(st, "strip", where, what, what_len, text);
        return;
    case CLEANUP_ACT_WARN:
        checks_log_action(st, "warning", where, what, what_len, text);
        return;
    case CLEANUP_ACT_INFO:
        checks_log_action(st, "info", where, what, what_len, text);
        return;
    case CLEANUP_ACT_REJECT:
    case CLEANUP_ACT_DEFER:
        if (!*text)
            text = v->act == CLEANUP_ACT_REJECT ? "5.7.1 Message content rejected"
                                                : "4.7.1 Service unavailable - try again later";
        /* The reason is this rejection's, even after a softer error. */
        sbuf_set(&st->reason, text);
        cleanup_error(st, v->act == CLEANUP_ACT_REJECT ? CLEANUP_STAT_CONT : CLEANUP_STAT_DEFER,
                      text);
        stop_inspection(st);
        checks_log_action(st, "reject", where, what, what_len, text);
        return;
    case CLEANUP_ACT_DISCARD:
        checks_log_action(st, "discard", where, what, what_len, text);
        st->discard = true;
        stop_inspection(st);
        return;
    case CLEANUP_ACT_HOLD:
        if (!st->hold && !st->discard) {
            checks_log_action(st, "hold", where, what, what_len, text);
            st->hold = true;
        }
        return;
    case CLEANUP_ACT_REDIRECT:
        checks_log_action(st, "redirect", where, what, what_len, text);
        xfree(st->redirect);
        st->redirect = xstrdup(text);
        stop_inspection(st);
        return;
    case CLEANUP_ACT_FILTER:
        checks_log_action(st, "filter", where, what, what_len, text);
        xfree(st->filter);
        st->filter = xstrdup(text);
        return;
    case CLEANUP_ACT_BCC:
        checks_log_action(st, "bcc", where, what, what_len, text);
        strv_add(&st->bcc, text);
        return;
    case CLEANUP_ACT_PASS:
        checks_log_action(st, "pass", where, what, what_len, text);
        stop_inspection(st);
        return;
    }
}
