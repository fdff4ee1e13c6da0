/*
 * local_mailbox.c - deliver to the user's mailbox, by whichever method main.cf selects.
 *
 * Precedence (local(8)): mailbox_transport_maps, mailbox_transport (hand
 * the recipient to that transport, whether or not the user exists), then
 * for users in the passwd database: mailbox_command_maps,
 * mailbox_command, home_mailbox ending in '/' (Maildir in the home
 * directory), mail_spool_directory ending in '/' (Maildir per user
 * there), else an mbox file ($home/$home_mailbox or
 * $mail_spool_directory/user). Each user's mailbox is delivered at most
 * once per request recipient, whatever the alias tree looks like.
 *
 * Returns false when the user does not exist, so the caller can try the
 * unknown-user methods.
 *
 * NOT HERE: the deliveries themselves (local_mbox.c, local_maildir.c,
 * local_command.c, local_pass.c).
 */
#include <string.h>

#include "local/local.h"
#include "mail/mail_conf.h"
#include "util/msg.h"

bool local_deliver_mailbox(struct msg_attr a, struct usr_attr u, int *status)
{
    a.level++;
    *status = 0;
    if (local_been_here(a.st->dup, "mailbox %s", a.local))
        return true;

    int err = 0;
    const char *transport;
    if (local_cf.mbox_transport_maps
        && (transport = maps_find(local_cf.mbox_transport_maps, a.user, &err)) != 0) {
        *status = local_deliver_pass(&a, transport);
        return true;
    }
    if (err) {
        *status = local_defer(&a, "4.3.0", "table lookup failure");
        return true;
    }
    transport = mail_conf_str("mailbox_transport");
    if (*transport) {
        *status = local_deliver_pass(&a, transport);
        return true;
    }

    struct local_pw pw;
    local_pw_init(&pw);
    int found = local_pw_byname(a.user, &pw);
    if (found < 0) {
        msg_warn("error looking up passwd info for %s: %m", a.user);
        *status = local_defer(&a, "4.0.0", "user lookup error");
        local_pw_free(&pw);
        return true;
    }
    if (found == 0) {
        local_pw_free(&pw);
        return false;
    }
    local_usr_set(&u, &pw);

    const char *command;
    const char *home_mailbox = mail_conf_str("home_mailbox");
    const char *spool = mail_conf_str("mail_spool_directory");
    size_t hlen = strlen(home_mailbox), slen = strlen(spool);
    if (local_cf.mbox_command_maps
        && (command = maps_find(local_cf.mbox_command_maps, a.user, &err)) != 0) {
        *status = local_deliver_command(a, u, command);
    } else if (err) {
        *status = local_defer(&a, "4.3.0", "table lookup failure");
    } else if (*(command = mail_conf_str("mailbox_command"))) {
        *status = local_deliver_command(a, u, command);
    } else if (hlen > 0 && home_mailbox[hlen - 1] == '/') {
        sbuf path = SBUF_INIT;
        sbuf_printf(&path, "%s/%s", u.home, home_mailbox);
        *status = local_deliver_maildir(a, u, sbuf_str(&path), true);
        sbuf_free(&path);
    } else if (hlen == 0 && slen > 0 && spool[slen - 1] == '/') {
        sbuf path = SBUF_INIT;
        sbuf_printf(&path, "%s%s/", spool, a.user);
        *status = local_deliver_maildir(a, u, sbuf_str(&path), true);
        sbuf_free(&path);
    } else {
        *status = local_deliver_mbox(a, u);
    }
    local_pw_free(&pw);
    return true;
}
