/*
 * tlsmgr.c - the TLS manager daemon of master.cf's stock line
 *     tlsmgr    unix  -       -       n       1000?   1       tlsmgr
 *
 * Hikyaku's TLS servers share session ticket keys through a file in
 * $data_directory (src/mail/tls_tickets.c) and rotate them themselves, so
 * this daemon has little to do: on each wake-up from master it rotates
 * the keys when they are due (new key after
 * smtpd_tls_session_cache_timeout, old ones dropped after twice that), so
 * rotation also happens while no client connects. It never creates the
 * file (smtpd does, when TLS is first used), holds no state, and exits
 * after max_idle like every other daemon.
 *
 * Postfix's tlsmgr also serves a session cache and PRNG seed over IPC;
 * nothing here needs either (tickets carry the session, OpenSSL seeds
 * itself).
 */
#include <sys/stat.h>

#include "mail/mail_conf.h"
#include "mail/mail_server.h"
#include "mail/tls.h"

static void maintain(void)
{
    struct stat st;
    const char *file = tls_ticket_file();
    long lifetime = mail_conf_time("smtpd_tls_session_cache_timeout");

    if (*file && lifetime > 0 && stat(file, &st) == 0)
        tls_tickets_maintain(lifetime > 8 * 86400 ? 8 * 86400 : lifetime);
}

static void trigger(const char *buf, size_t len, const char *service)
{
    (void) buf;
    (void) len;
    (void) service;
    maintain();
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "tlsmgr",
        .kind = MAIL_SERVER_TRIGGER,
        .post_init = maintain,
        .trigger = trigger,
    };
    return mail_server_main(argc, argv, &srv);
}
