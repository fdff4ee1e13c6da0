/*
 * cleanup.c - the cleanup daemon's main: one mail_server_main() call.
 *
 * The protocol loop is cleanup_service.c; cleanup.h lists the modules a
 * message flows through. Tables are opened before privileges are dropped.
 */
#include "cleanup/cleanup.h"
#include "cleanup/cleanup_checks.h"
#include "cleanup/cleanup_map.h"
#include "mail/mail_server.h"

static void cleanup_pre_init(void)
{
    cleanup_params_init();
    cleanup_map_init();             /* as root: some tables are readable only by root */
    cleanup_checks_init();
}

int main(int argc, char **argv)
{
    static const struct mail_server srv = {
        .program = "cleanup",
        .kind = MAIL_SERVER_STREAM,
        .pre_init = cleanup_pre_init,
        .serve = cleanup_service,
    };
    return mail_server_main(argc, argv, &srv);
}
