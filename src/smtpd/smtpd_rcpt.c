/*
 * smtpd_rcpt.c - RCPT TO (RFC 5321 4.1.1.3) with NOTIFY and ORCPT
 * (RFC 3461), the recipient limit, the restrictions, and the start of the
 * queue file.
 *
 * Order for each RCPT: syntax and parameters; smtpd_recipient_limit
 * ("452 4.5.3 Error: too many recipients"; errors are counted only after
 * smtpd_recipient_overshoot_limit more); the restrictions
 * (smtpd_check_rcpt: delayed client/helo/sender lists, relay and
 * recipient lists, unlisted recipient); then, for the first accepted
 * recipient, the cleanup session is opened
 * (smtpd_delay_open_until_valid_rcpt) and "ID: client=name[addr]" is
 * logged (with smtpd_delay_open_until_valid_rcpt = no, MAIL does that).
 * When cleanup cannot be reached the answer is "451 4.3.0 Error: queue
 * file write error".
 *
 * Does not: deliver, or look anything up itself (smtpd_lookup.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "mail/address.h"
#include "mail/mail_conf.h"
#include "mail/receive_override.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#include "smtpd/smtpd.h"
#include "smtpd/smtpd_milter.h"

struct rcpt_params {
    int notify;
    char *orcpt;
};

/* RFC 3461 4.1: NEVER, or a list of SUCCESS, FAILURE, DELAY. */
static int parse_notify(const char *value)
{
    strv words;
    int mask = 0;

    strv_init(&words);
    strv_split(&words, value, ",");
    for (size_t i = 0; i < words.n && mask >= 0; i++) {
        int bit = strcasecmp(words.v[i], "NEVER") == 0 ? DSN_NOTIFY_NEVER
                : strcasecmp(words.v[i], "SUCCESS") == 0 ? DSN_NOTIFY_SUCCESS
                : strcasecmp(words.v[i], "FAILURE") == 0 ? DSN_NOTIFY_FAILURE
                : strcasecmp(words.v[i], "DELAY") == 0 ? DSN_NOTIFY_DELAY : -1;
        if (bit < 0 || (mask & bit))
            mask = -1;
        else
            mask |= bit;
    }
    strv_free(&words);
    if (mask == 0 || (mask > 0 && (mask & DSN_NOTIFY_NEVER) && mask != DSN_NOTIFY_NEVER))
        return -1;
    return mask;
}

/* RFC 3461 4.2: ORCPT=addr-type;xtext -> "addr-type;decoded". */
static int parse_orcpt(const char *value, char **out)
{
    const char *semi = strchr(value, ';');
    sbuf dec = SBUF_INIT;

    if (!semi || semi == value || !semi[1])
        return -1;
    for (const char *p = value; p < semi; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '-'))
            return -1;
    if (smtpd_xtext_decode(semi + 1, &dec) < 0 || dec.len > 500) {
        sbuf_free(&dec);
        return -1;
    }
    sbuf out_buf = SBUF_INIT;
    sbuf_add(&out_buf, value, (size_t) (semi - value) + 1);
    sbuf_adds(&out_buf, sbuf_str(&dec));
    *out = sbuf_steal(&out_buf);
    sbuf_free(&dec);
    return 0;
}

/* 0, or -1 after replying. */
static int rcpt_params(SMTPD_STATE *st, const char *rest, struct rcpt_params *rp)
{
    char *copy = xstrdup(rest);
    char *save = 0;
    int ret = 0;

    for (char *p = strtok_r(copy, " \t", &save); p && ret == 0; p = strtok_r(0, " \t", &save)) {
        if (strncasecmp(p, "NOTIFY=", 7) == 0) {
            if (rp->notify || (rp->notify = parse_notify(p + 7)) < 0) {
                smtpd_reply(st, "501 5.5.4 Error: Bad NOTIFY parameter syntax");
                ret = -1;
            }
        } else if (strncasecmp(p, "ORCPT=", 6) == 0) {
            if (rp->orcpt || parse_orcpt(p + 6, &rp->orcpt) < 0) {
                smtpd_reply(st, "501 5.5.4 Error: Bad ORCPT parameter syntax");
                ret = -1;
            }
        } else {
            sbuf shown = SBUF_INIT;
            smtpd_printable(&shown, p, strlen(p), 100);
            smtpd_reply(st, "555 5.5.4 Unsupported option: %s", sbuf_str(&shown));
            sbuf_free(&shown);
            ret = -1;
        }
    }
    xfree(copy);
    return ret;
}

/* local_header_rewrite_clients, the parts that need no tables:
 * permit_inet_interfaces (the client connected from one of our own
 * addresses) and permit_mynetworks. */
static const char *rewrite_context(SMTPD_STATE *st)
{
    strv items;
    const char *ctx = "remote";

    strv_init(&items);
    mail_conf_list("local_header_rewrite_clients", &items);
    for (size_t i = 0; i < items.n; i++) {
        if (strcasecmp(items.v[i], "permit_inet_interfaces") == 0) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            char buf[SOCK_ADDR_STRLEN];
            if (getsockname(vstream_fd(st->client), (struct sockaddr *) &ss, &len) == 0
                && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
                && strcmp(sock_addr_str((struct sockaddr *) &ss, len, buf), st->addr) == 0)
                ctx = "local";
        } else if (strcasecmp(items.v[i], "permit_mynetworks") == 0) {
            if (smtpd_lookup_ops.mynetworks(st) > 0)
                ctx = "local";
        }
    }
    strv_free(&items);
    return ctx;
}

int smtpd_open_queue_file(SMTPD_STATE *st)
{
    sbuf err = SBUF_INIT;

    /* receive_override_options turns off what cleanup would do. smtpd_milters
     * get the SMTP events here and the content in cleanup, which takes them
     * over at the end of data (smtpd_milter.c, docs/milter.md);
     * CLEANUP_FLAG_MILTER asks for non_smtpd_milters and is not set here. */
    int flags = receive_override_cleanup_flags(smtpd_actions_open_flags(st), receive_override());
    st->cleanup = cleanup_open(flags, st->queue_id, sizeof(st->queue_id), &err);
    if (!st->cleanup) {
        st->queue_id[0] = 0;
        msg_warn("%s: cannot start a queue file for %s: %s", "NOQUEUE", st->namaddr,
                 err.len ? sbuf_str(&err) : "cleanup service unavailable");
        smtpd_reply(st, "451 4.3.0 Error: queue file write error");
        sbuf_free(&err);
        return -1;
    }
    sbuf_reset(&err);
    smtpd_sasl_log_suffix(st, &err);
    msg_info("%s: client=%s%s", st->queue_id, st->namaddr, sbuf_str(&err));
    sbuf_free(&err);
    cleanup_sender(st->cleanup, st->sender);
    cleanup_attr(st->cleanup, "log_ident", st->queue_id);
    cleanup_attr(st->cleanup, "client_name", st->name);
    cleanup_attr(st->cleanup, "client_address", st->addr);
    cleanup_attr(st->cleanup, "client_port", st->port);
    if (st->helo_name)
        cleanup_attr(st->cleanup, "helo_name", st->helo_name);
    cleanup_attr(st->cleanup, "protocol", st->protocol);
    cleanup_attr(st->cleanup, "rewrite_context", rewrite_context(st));
    if (st->encoding) {
        /* "encoding" is the name in smtpd's brief; cleanup acts on
         * "body_type" (8BITMIME flag). Both until one name is settled. */
        cleanup_attr(st->cleanup, "encoding", st->encoding);
        cleanup_attr(st->cleanup, "body_type", st->encoding);
    }
    if (st->dsn_envid)
        cleanup_attr(st->cleanup, "dsn_envid", st->dsn_envid);
    if (st->dsn_ret)
        cleanup_attr(st->cleanup, "dsn_ret", st->dsn_ret);
    if (st->smtputf8_requested)
        cleanup_attr(st->cleanup, "smtputf8", "1");
    /* After-queue content filter (an access FILTER, sent later, overrides it). */
    if (*mail_conf_str("content_filter"))
        cleanup_attr(st->cleanup, "content_filter", mail_conf_str("content_filter"));
    return 0;
}

int smtpd_rcpt_cmd(SMTPD_STATE *st, const char *args)
{
    sbuf addr = SBUF_INIT;
    const char *rest = 0, *why = 0;
    struct rcpt_params rp = {0, 0};
    struct smtpd_check chk;
    char *prev;
    int status, ret = -1;

    if (!st->sender) {
        smtpd_reply(st, "503 5.5.1 Error: need MAIL command");
        return -1;
    }
    if (strncasecmp(args, "TO:", 3) != 0 || !args[3 + strspn(args + 3, " \t")]) {
        smtpd_reply(st, "501 5.5.4 Syntax: RCPT TO:<address>");
        return -1;
    }
    args += 3;
    args += strspn(args, " \t");
    if (address_parse_smtp_path(args, st->strict_821, &addr, &rest, &why) < 0 || addr.len == 0) {
        smtpd_reply(st, "501 5.1.3 Bad recipient address syntax");
        goto out;
    }
    if (rcpt_params(st, rest ? rest : "", &rp) < 0)
        goto out;
    if (st->recipient_limit > 0 && st->rcpt_count >= st->recipient_limit) {
        smtpd_reply(st, "452 4.5.3 Error: too many recipients");
        ret = st->rcpt_overshoot++ < st->recipient_overshoot ? 0 : -1;
        goto out;
    }
    if (st->access_denied) {
        smtpd_reply(st, "%s", st->access_denied);
        goto out;
    }

    /* The restrictions see (and the reject log names) this recipient. */
    prev = st->recipient;
    st->recipient = xstrdup(sbuf_str(&addr));
    smtpd_check_setup(st, &chk);
    status = smtpd_check_rcpt(&chk);
    if (status == SMTPD_CHECK_REJECT)
        smtpd_reply(st, "%s", sbuf_str(&chk.reply));
    smtpd_check_free(&chk);
    /* smtpd_milters see only recipients the restrictions accepted; the
     * queue file waits for one they accept too. */
    if (status == SMTPD_CHECK_REJECT || smtpd_milter_rcpt(st) < 0
        || (!st->cleanup && smtpd_open_queue_file(st) < 0)) {
        xfree(st->recipient);
        st->recipient = prev;
        goto out;
    }
    xfree(prev);

    cleanup_rcpt(st->cleanup, st->recipient, st->recipient, rp.notify, rp.orcpt);
    st->rcpt_count++;
    smtpd_reply(st, "250 2.1.5 Ok");
    ret = 0;
out:
    xfree(rp.orcpt);
    sbuf_free(&addr);
    return ret;
}
