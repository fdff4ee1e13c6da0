/*
 * local.c - the local delivery agent: daemon set-up, one delivery request, results.
 *
 * master.cf: "local unix - n n - - local" (not unprivileged: the agent
 * stays root so each delivery step can become the right user; see
 * local.h for the module map and docs/local.md for the behaviour).
 *
 * Per request (deliver_request.h): open the queue file read-only,
 * collect the Delivered-To: headers of the message (loop detection),
 * then for each recipient expand and deliver (local_recipient.c), submit
 * the forwards it produced (local_forward.c), and report one status to
 * qmgr. Every individual delivery is logged here, in Postfix's format:
 *   ID: to=<leaf>, orig_to=<original>, relay=local, delay=0.1,
 *       delays=0.01/0/0/0.09, dsn=2.0.0, status=sent (delivered to mailbox)
 * The queue file is never written: qmgr owns it.
 *
 * NOT HERE: qmgr's bookkeeping, bounce notifications (qmgr asks the
 * bounce service from the statuses), biff notifications (not supported).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "local/local.h"
#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "util/dict.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/vstream.h"

struct local_cf local_cf;

/* ---- configuration ---- */

struct mask_word {
    const char *word;
    int     bit;
};

/* Comma/space list of known words -> bits; unknown words are fatal, as in Postfix. */
static int parse_mask(const char *param, const struct mask_word *words, bool ignore_unknown)
{
    strv list = {0};
    int mask = 0;
    mail_conf_list(param, &list);
    for (size_t i = 0; i < list.n; i++) {
        bool known = false;
        for (const struct mask_word *w = words; w->word; w++) {
            if (strcasecmp(list.v[i], w->word) == 0) {
                mask |= w->bit;
                known = true;
            }
        }
        if (!known && !ignore_unknown)
            msg_fatal("%s: unknown value \"%s\" in \"%s\"", param, list.v[i],
                      mail_conf_str(param));
    }
    strv_free(&list);
    return mask;
}

static maps *open_optional_maps(const char *param)
{
    const char *spec = mail_conf_str(param);
    if (!*spec)
        return 0;
    return maps_open(param, spec, DICT_FLAG_DEFAULT | DICT_FLAG_NO_SUBST);
}

static void local_load_config(void)
{
    static const struct mask_word exp_words[] = {
        {"alias", EXP_TYPE_ALIAS}, {"forward", EXP_TYPE_FORWARD}, {"include", EXP_TYPE_INCLUDE},
        {0, 0}};
    static const struct mask_word hdr_words[] = {
        {"command", DELIVER_HDR_COMMAND}, {"file", DELIVER_HDR_FILE},
        {"forward", DELIVER_HDR_FORWARD}, {0, 0}};
    static const struct mask_word ext_words[] = {
        {"alias", EXT_PROP_ALIAS}, {"forward", EXT_PROP_FORWARD}, {"include", EXT_PROP_INCLUDE},
        {"canonical", 0}, {"virtual", 0}, {"generic", 0}, {0, 0}};
    static const struct mask_word lock_words[] = {
        {"fcntl", 1}, {"flock", 1}, {"dotlock", 2}, {0, 0}};

    local_cf.service = mail_server_service();
    local_cf.cmd_mask = parse_mask("allow_mail_to_commands", exp_words, false);
    local_cf.file_mask = parse_mask("allow_mail_to_files", exp_words, false);
    local_cf.hdr_mask = parse_mask("prepend_delivered_header", hdr_words, false);
    local_cf.ext_prop_mask = parse_mask("propagate_unmatched_extensions", ext_words, false);
    int lock = parse_mask("mailbox_delivery_lock", lock_words, false);
    local_cf.lock_fcntl = (lock & 1) != 0;
    local_cf.lock_dotlock = (lock & 2) != 0;
    local_cf.mailbox_limit = (long) mail_conf_long("mailbox_size_limit");
    long long message_limit = mail_conf_long("message_size_limit");
    if (local_cf.mailbox_limit > 0 && local_cf.mailbox_limit < message_limit)
        msg_fatal("main.cf configuration error: mailbox_size_limit (%ld) is smaller than "
                  "message_size_limit (%lld)", local_cf.mailbox_limit, message_limit);
    local_cf.command_time_limit = mail_conf_time("command_time_limit");
    local_cf.frozen_delivered = mail_conf_bool("frozen_delivered_to");
    local_cf.owner_request_special = mail_conf_bool("owner_request_special");
    local_cf.expand_owner_alias = mail_conf_bool("expand_owner_alias");
    local_cf.reset_owner_alias = mail_conf_bool("reset_owner_alias");
    local_cf.strict_mailbox_ownership = mail_conf_bool("strict_mailbox_ownership");
    local_cf.require_home = mail_conf_bool("require_home_directory");
    local_cf.enable_orig_rcpt = mail_conf_bool("enable_original_recipient");
    local_cf.lock_attempts = (int) mail_conf_int("deliver_lock_attempts");
    local_cf.lock_delay = mail_conf_time("deliver_lock_delay");
    local_cf.stale_lock_time = mail_conf_time("stale_lock_time");
    local_cf.dup_limit = mail_conf_int("duplicate_filter_limit");
    local_cf.line_limit = mail_conf_int("line_length_limit");

    /* alias_maps: one maps per table, so a hit tells which file (and owner).
     * local(8) opens proxy:-tables directly. */
    strv list = {0};
    mail_conf_list("alias_maps", &list);
    local_cf.aliases = xcalloc(list.n ? list.n : 1, sizeof(*local_cf.aliases));
    for (size_t i = 0; i < list.n; i++) {
        const char *spec = list.v[i];
        if (strncmp(spec, "proxy:", 6) == 0)
            spec += 6;
        struct alias_table *t = &local_cf.aliases[local_cf.nalias++];
        t->spec = xstrdup(spec);
        t->m = maps_open("alias_maps", spec, DICT_FLAG_DEFAULT | DICT_FLAG_NO_SUBST);
    }
    strv_free(&list);
    local_cf.mbox_transport_maps = open_optional_maps("mailbox_transport_maps");
    local_cf.mbox_command_maps = open_optional_maps("mailbox_command_maps");
    local_cf.fallback_transport_maps = open_optional_maps("fallback_transport_maps");
}

static bool tables_changed(void)
{
    for (size_t i = 0; i < local_cf.nalias; i++)
        if (maps_changed(local_cf.aliases[i].m))
            return true;
    maps *opt[] = {local_cf.mbox_transport_maps, local_cf.mbox_command_maps,
                   local_cf.fallback_transport_maps};
    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
        if (opt[i] && maps_changed(opt[i]))
            return true;
    return false;
}

/* ---- results ---- */

static int rank(enum deliver_outcome o)
{
    return o == DELIVER_DEFER ? 2 : o == DELIVER_BOUNCE ? 1 : 0;
}

static void fold_result(struct local_rcpt_state *st, enum deliver_outcome o, const char *dsn,
                        const char *reason)
{
    if (st->have_result && rank(o) <= rank(st->outcome))
        return;
    st->have_result = true;
    st->outcome = o;
    snprintf(st->dsn, sizeof(st->dsn), "%s", dsn);
    sbuf_set(&st->reason, reason);
}

int local_status(const struct msg_attr *a, enum deliver_outcome o, const char *dsn,
                 const char *fmt, ...)
{
    sbuf text = SBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(&text, fmt, ap);
    va_end(ap);

    /* Log this delivery under the leaf address, keeping the request's timing. */
    struct deliver_request one = *a->st->req;
    struct deliver_rcpt r;
    memset(&r, 0, sizeof(r));
    r.address = (char *) a->address;
    r.orig_address = (char *) (a->orig ? a->orig : "");
    one.rcpt = &r;
    one.nrcpt = 1;
    struct deliver_result res;
    memset(&res, 0, sizeof(res));
    res.outcome = o;
    snprintf(res.dsn, sizeof(res.dsn), "%s", dsn);
    res.relay = (char *) local_cf.service;
    res.reason = (char *) sbuf_str(&text);
    deliver_log(&one, 0, &res);

    fold_result(a->st, o, dsn, sbuf_str(&text));
    sbuf_free(&text);
    return o == DELIVER_DEFER;
}

int local_status_dsn(const struct msg_attr *a, const char *dsn, const char *text)
{
    enum deliver_outcome o = dsn[0] == '2' ? DELIVER_SENT
        : dsn[0] == '5' ? DELIVER_BOUNCE : DELIVER_DEFER;
    return local_status(a, o, dsn, "%s", text);
}

int local_status_quiet(struct local_rcpt_state *st, enum deliver_outcome o, const char *dsn,
                       const char *reason)
{
    fold_result(st, o, dsn, reason);
    return o == DELIVER_DEFER;
}

bool local_verify_only(const struct msg_attr *a)
{
    return (a->st->req->flags & DEL_REQ_FLAG_VERIFY) != 0;
}

/* ---- one request ---- */

/* Delivered-To: values of the message, unquoted and in lower case. -1 if
 * the content cannot be read. */
static int read_delivered(qfile *qf, off_t offset, strv *out)
{
    sbuf rec = SBUF_INIT, value = SBUF_INIT, addr = SBUF_INIT;
    int type, rc = -1;
    if (qfile_seek(qf, offset) < 0)
        goto out;
    while ((type = qfile_get(qf, &rec, 0)) > 0) {
        if (type == QREC_CONTENT)
            continue;
        if (type != QREC_HEADER) {
            rc = type == QREC_BODY || type == QREC_EXTRACTED || type == QREC_END ? 0 : -1;
            break;
        }
        static const char name[] = "delivered-to:";
        if (rec.len < sizeof(name) - 1 || strncasecmp(rec.s, name, sizeof(name) - 1) != 0)
            continue;
        sbuf_reset(&value);
        for (size_t i = sizeof(name) - 1; i < rec.len; i++)
            if (rec.s[i] != '\r' && rec.s[i] != '\n')
                sbuf_addc(&value, rec.s[i] == '\t' ? ' ' : rec.s[i]);
        const char *v = sbuf_str(&value);
        while (*v == ' ')
            v++;
        size_t n = strlen(v);
        while (n > 0 && v[n - 1] == ' ')
            n--;
        sbuf tmp = SBUF_INIT;
        sbuf_add(&tmp, v, n);
        address_unquote(sbuf_str(&tmp), &addr);
        sbuf_lower(&addr);
        if (addr.len)
            strv_add(out, sbuf_str(&addr));
        sbuf_free(&tmp);
    }
out:
    sbuf_free(&rec);
    sbuf_free(&value);
    sbuf_free(&addr);
    return rc;
}

static void deliver_one(const struct deliver_request *req, size_t index, qfile *qf,
                        const strv *delivered, struct deliver_result *res, sbuf *reason)
{
    const struct deliver_rcpt *r = &req->rcpt[index];
    struct local_rcpt_state st;
    memset(&st, 0, sizeof(st));
    st.req = req;
    st.index = index;
    st.qf = qf;
    st.delivered_hdrs = delivered;
    st.dup = local_dup_create(local_cf.dup_limit);

    struct msg_attr a;
    memset(&a, 0, sizeof(a));
    a.st = &st;
    a.address = r->address;
    a.orig = r->orig_address && *r->orig_address ? r->orig_address : r->address;
    a.sender = req->sender ? req->sender : "";
    a.notify = r->notify;
    a.dsn_orcpt = r->dsn_orcpt ? r->dsn_orcpt : "";
    a.exp_type = EXP_TYPE_NONE;
    struct usr_attr u;
    memset(&u, 0, sizeof(u));

    if (!qf) {
        local_defer(&a, "4.3.0", "queue file unavailable");
    } else if (!delivered) {
        local_defer(&a, "4.3.0", "queue file read error");
    } else {
        (void) local_deliver_recipient(a, u);
        local_forward_finish(&st, st.have_result && st.outcome == DELIVER_DEFER);
    }

    memset(res, 0, sizeof(*res));
    res->relay = (char *) local_cf.service;
    if (!st.have_result) {
        /* Everything was a duplicate of something already done. */
        res->outcome = DELIVER_SENT;
        snprintf(res->dsn, sizeof(res->dsn), "2.0.0");
        sbuf_set(reason, "delivered");
    } else {
        res->outcome = st.outcome;
        snprintf(res->dsn, sizeof(res->dsn), "%s", st.dsn);
        sbuf_set(reason, sbuf_str(&st.reason));
    }
    res->reason = (char *) sbuf_str(reason);
    if (res->outcome != DELIVER_SENT) {
        res->diag_type = (char *) "x-unix";     /* RFC 3464 Diagnostic-Code for notices */
        res->diag_text = res->reason;
    }
    local_dup_free(st.dup);
    sbuf_free(&st.reason);
}

static void local_serve(vstream *client, const char *service)
{
    struct deliver_request req;
    (void) service;
    long timeout = mail_conf_time("ipc_timeout");
    vstream_set_timeout(client, timeout > 0 && timeout < 86400 ? (int) (timeout * 1000)
                                                               : 3600000);
    if (deliver_request_read(client, &req) < 0)
        return;
    local_pw_forget();          /* passwd entries are looked up afresh per request */

    /* qmgr names a queue directory: one plain name, never a path. */
    qfile *qf = 0;
    bool name_ok = req.queue_name[0] && strspn(req.queue_name, "abcdefghijklmnopqrstuvwxyz")
                                            == strlen(req.queue_name);
    if (name_ok)
        qf = qfile_open(req.queue_name, req.queue_id, false);
    strv delivered = {0};
    bool readable = false;
    if (!name_ok)
        msg_warn("%s: bad queue name in delivery request", req.queue_id);
    else if (!qf)
        msg_warn("%s: open queue file %s/%s: %m", req.queue_id, req.queue_name, req.queue_id);
    else if (read_delivered(qf, req.content_offset, &delivered) < 0)
        msg_warn("%s: damaged message content in queue file", req.queue_id);
    else
        readable = true;

    sbuf reason = SBUF_INIT;
    for (size_t i = 0; i < req.nrcpt; i++) {
        struct deliver_result res;
        deliver_one(&req, i, qf, readable ? &delivered : 0, &res, &reason);
        if (deliver_status_write(client, i, &res) < 0) {
            msg_warn("%s: cannot send delivery status to the queue manager", req.queue_id);
            break;
        }
    }
    (void) deliver_request_done(client, &req);
    sbuf_free(&reason);
    strv_free(&delivered);
    if (qf)
        qfile_close(qf);
    deliver_request_free(&req);

    /* A rebuilt alias table is picked up by a fresh process. */
    if (tables_changed()) {
        msg_info("table changed -- restarting");
        (void) kill(getpid(), SIGTERM);
    }
}

/* Close the tables on the way out (lets leak checkers see a clean exit). */
static void local_pre_exit(void)
{
    local_pw_forget();
    for (size_t i = 0; i < local_cf.nalias; i++) {
        maps_close(local_cf.aliases[i].m);
        xfree(local_cf.aliases[i].spec);
    }
    xfree(local_cf.aliases);
    local_cf.aliases = 0;
    local_cf.nalias = 0;
    maps *opt[] = {local_cf.mbox_transport_maps, local_cf.mbox_command_maps,
                   local_cf.fallback_transport_maps};
    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
        if (opt[i])
            maps_close(opt[i]);
    local_cf.mbox_transport_maps = local_cf.mbox_command_maps = 0;
    local_cf.fallback_transport_maps = 0;
}

static void local_pre_init(void)
{
    if (geteuid() != 0)
        msg_warn("not running as root: deliveries as other users will fail");
    /* Delivery children are reaped with waitpid(): an inherited SIG_IGN
     * would make the kernel reap them first. */
    signal(SIGCHLD, SIG_DFL);
    /* Mailbox writes run in this process with mailbox_size_limit as the
     * file size limit (local_eugid.c): a write past it must fail with
     * EFBIG, not kill the process. */
    signal(SIGXFSZ, SIG_IGN);
    local_load_config();
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "local",
        .kind = MAIL_SERVER_STREAM,
        .stay_root = true,
        .pre_init = local_pre_init,
        .serve = local_serve,
        .pre_exit = local_pre_exit,
    };
    return mail_server_main(argc, argv, &srv);
}
