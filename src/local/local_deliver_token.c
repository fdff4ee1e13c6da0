/*
 * local_deliver_token.c - deliver to each destination of an alias value,
 * .forward file or :include: file, and resolve addresses found there.
 *
 * Destinations: /file (and ~/file in the user's home), |command (only
 * where allow_mail_to_commands permits this kind of expansion; likewise
 * allow_mail_to_files for files), :include:/path, and addresses. An
 * address is rewritten and resolved as cleanup and qmgr would
 * (rewrite_address "local" context, resolve_address); when it resolves
 * to this very transport it is delivered here at once (recursion),
 * otherwise it is forwarded: collected and resubmitted through cleanup
 * as a new message (local_forward.c). "\user" skips aliases and
 * .forward and goes to the user's mailbox.
 *
 * NOT HERE: parsing (local_token.c), the deliveries themselves.
 */
#include <string.h>

#include "local/local.h"
#include "local/local_token.h"
#include "mail/mail_conf.h"
#include "mail/resolve.h"
#include "mail/rewrite.h"
#include "util/msg.h"

static int deliver_home_file(struct msg_attr a, struct usr_attr u, const char *path)
{
    if (path[1] != '/')
        return local_bounce(&a, "5.3.5", "bad home directory syntax for: %s", path);
    if (!u.set || !u.home)
        return local_bounce(&a, "5.3.5", "unknown home directory for: %s", path);
    sbuf full = SBUF_INIT;
    if (strcmp(u.home, "/") == 0)
        sbuf_set(&full, path + 1);
    else
        sbuf_printf(&full, "%s%s", u.home, path + 1);
    int status = local_deliver_file(a, u, sbuf_str(&full));
    sbuf_free(&full);
    return status;
}

static int deliver_token(struct msg_attr a, struct usr_attr u, const struct local_token *t)
{
    switch (t->type) {
    case LOCAL_TOK_FILE:
        if (t->text[0] == '~')
            return deliver_home_file(a, u, t->text);
        return local_deliver_file(a, u, t->text);
    case LOCAL_TOK_COMMAND:
        if ((a.exp_type & local_cf.cmd_mask) == 0)
            return local_bounce(&a, "5.7.1", "mail to command is restricted");
        return local_deliver_command(a, u, t->text);
    case LOCAL_TOK_INCLUDE:
        return local_deliver_include(a, u, t->text);
    case LOCAL_TOK_ADDRESS:
    default:
        a.no_expand = t->backslash;
        return local_deliver_resolve_addr(a, u, t->text);
    }
}

int local_deliver_token_string(struct msg_attr a, struct usr_attr u, const char *text,
                               int *count)
{
    struct local_token_list list = LOCAL_TOKEN_LIST_INIT;
    int status = 0;
    local_token_parse(text, &list);
    for (size_t i = 0; i < list.n; i++) {
        if (count)
            (*count)++;
        status |= deliver_token(a, u, &list.t[i]);
    }
    local_token_list_free(&list);
    return status;
}

int local_deliver_token_text(struct msg_attr a, struct usr_attr u, const char *text,
                             size_t len, int *count)
{
    size_t limit = local_cf.line_limit > 0 ? (size_t) local_cf.line_limit : 2048;
    sbuf line = SBUF_INIT;
    int status = 0;
    size_t i = 0;
    while (i < len && status == 0) {
        /* One line, or line_limit bytes of a longer one (local(8)). */
        size_t start = i;
        while (i < len && text[i] != '\n' && i - start < limit)
            i++;
        sbuf_reset(&line);
        sbuf_add(&line, text + start, i - start);
        if (i < len && text[i] == '\n')
            i++;
        /* NUL bytes cannot be part of a destination: cut the line there. */
        if (line.len && line.s[0] != '#')
            status |= local_deliver_token_string(a, u, line.s, count);
    }
    sbuf_free(&line);
    return status;
}

int local_deliver_resolve_addr(struct msg_attr a, struct usr_attr u, const char *addr)
{
    a.level++;
    sbuf canon = SBUF_INIT;
    struct resolve_reply reply;
    int status;

    rewrite_address(REWRITE_LOCAL, addr, &canon);
    resolve_init(&reply);
    resolve_address(a.sender, sbuf_str(&canon), &reply);
    if (reply.flags & RESOLVE_FLAG_FAIL) {
        a.address = sbuf_str(&canon);
        status = local_defer(&a, "4.3.0", "address resolver failure");
    } else if (reply.flags & RESOLVE_FLAG_ERROR) {
        a.address = sbuf_str(&canon);
        status = local_bounce(&a, "5.1.3", "bad recipient address syntax: %s",
                              sbuf_str(&reply.recipient));
    } else {
        /* Splice in the unmatched extension when the policy asks for it. */
        sbuf rcpt = SBUF_INIT;
        sbuf_set(&rcpt, sbuf_str(&reply.recipient));
        if (a.unmatched && *a.unmatched) {
            char delims[2] = {mail_conf_str("recipient_delimiter")[0], 0};
            const char *at = strrchr(sbuf_str(&rcpt), '@');
            size_t pos = at ? (size_t) (at - rcpt.s) : rcpt.len;
            sbuf tmp = SBUF_INIT;
            sbuf_add(&tmp, rcpt.s, pos);
            sbuf_adds(&tmp, delims);
            sbuf_adds(&tmp, a.unmatched);
            sbuf_adds(&tmp, rcpt.s + pos);
            sbuf_set(&rcpt, sbuf_str(&tmp));
            sbuf_free(&tmp);
        }
        a.address = sbuf_str(&rcpt);
        if (strcmp(sbuf_str(&reply.transport), local_cf.service) == 0)
            status = local_deliver_recipient(a, u);
        else
            status = local_forward_append(&a);
        sbuf_free(&rcpt);
    }
    resolve_free(&reply);
    sbuf_free(&canon);
    return status;
}
