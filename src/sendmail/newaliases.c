/*
 * newaliases.c - rebuild the alias databases named by alias_database.
 *
 * Execs "$command_directory/postalias -c $config_directory [-v] map..."
 * as Postfix's sendmail -bi does, so the build (atomic, with the
 * "@" sentinel) is postalias's. Knows nothing about alias file syntax.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/strv.h"

#include "newaliases.h"

int newaliases_run(int verbose)
{
    strv maps = { 0, 0, 0 };
    mail_conf_list("alias_database", &maps);
    if (maps.n == 0) {
        strv_free(&maps);
        return 0;
    }
    char *path = 0;
    size_t len = strlen(mail_conf_str("command_directory")) + sizeof("/postalias");
    path = xmalloc(len);
    snprintf(path, len, "%s/postalias", mail_conf_str("command_directory"));

    strv args = { 0, 0, 0 };
    strv_init(&args);
    strv_add(&args, "postalias");
    strv_add(&args, "-c");
    strv_add(&args, mail_conf_dir());
    for (int i = 0; i < verbose && i < 5; i++)
        strv_add(&args, "-v");
    for (size_t i = 0; i < maps.n; i++)
        strv_add(&args, maps.v[i]);
    fflush(stdout);
    execv(path, args.v);
    msg_warn("execv %s: %m", path);
    return 75;                          /* EX_TEMPFAIL */
}
