/*
 * check.c - "postfix check": find configuration and installation problems.
 *
 * Checks main.cf values against the parameter table, maillog_file against
 * maillog_file_prefixes, master.cf syntax and
 * that every service's program exists, the mail_owner and setgid_group,
 * and the queue directory tree (creating missing directories, as Postfix
 * does). Prints one line per problem; does not start anything.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "postfix/postfix.h"
#include "mail/mail_conf.h"
#include "mail/master_cf.h"
#include "mail/queue_dirs.h"
#include "mail/tls.h"
#include "util/msg.h"
#include "util/mem.h"
#include "util/strv.h"

/* maillog_file must be under one of maillog_file_prefixes (postlogd
 * refuses it otherwise): better to hear it before the start. */
static int check_maillog_file(void)
{
    const char *file = mail_conf_str("maillog_file");
    if (!*file)
        return 0;
    strv prefixes;
    strv_init(&prefixes);
    mail_conf_list("maillog_file_prefixes", &prefixes);
    bool ok = false;
    for (size_t i = 0; i < prefixes.n && !ok; i++)
        ok = strncmp(file, prefixes.v[i], strlen(prefixes.v[i])) == 0;
    strv_free(&prefixes);
    if (ok)
        return 0;
    int line = mail_conf_line("maillog_file");
    if (line > 0)
        msg_error("%s, line %d: maillog_file = %s: the path does not start with one of "
                  "maillog_file_prefixes (%s)", mail_conf_file(), line, file,
                  mail_conf_str("maillog_file_prefixes"));
    else
        msg_error("maillog_file = %s: the path does not start with one of "
                  "maillog_file_prefixes (%s)", file, mail_conf_str("maillog_file_prefixes"));
    return 1;
}

int postfix_check(bool quiet)
{
    int errors = 0;
    strv problems = {0};
    strv_init(&problems);

    if (mail_conf_validate(&problems) > 0) {
        for (size_t i = 0; i < problems.n; i++)
            msg_error("%s", problems.v[i]);
        errors += (int) problems.n;
    }
    strv_free(&problems);

    errors += check_maillog_file();
    errors += tls_check_report(quiet);     /* src/mail/tls_check.c */

    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/master.cf", mail_conf_dir());
    struct master_cf cf;
    char *err = 0;
    strv services = {0};
    strv_init(&services);
    if (master_cf_load(path, &cf, &err) < 0) {
        msg_error("%s", err);
        xfree(err);
        errors++;
    } else {
        const char *ddir = mail_conf_str("daemon_directory");
        for (size_t i = 0; i < cf.n; i++) {
            const struct master_service *s = &cf.svc[i];
            strv_add(&services, s->name);
            char prog[PATH_MAX];
            if (s->command[0] == '/')
                snprintf(prog, sizeof(prog), "%s", s->command);
            else
                snprintf(prog, sizeof(prog), "%s/%s", ddir, s->command);
            if (access(prog, X_OK) < 0 && !quiet)
                msg_warn("%s, line %d: service %s/%s: program %s is not installed "
                         "(this service will not start)", path, s->line, s->name, s->type,
                         prog);
            for (size_t j = 0; j < s->overrides.n; j++) {
                char *copy = xstrdup(s->overrides.v[j]);
                char *eq = strchr(copy, '=');
                if (eq) {
                    *eq = 0;
                    if (!mail_conf_name_known(copy, &services) && !quiet)
                        msg_warn("%s, line %d: service %s/%s: unknown parameter in -o %s",
                                 path, s->line, s->name, s->type, copy);
                }
                xfree(copy);
            }
        }
        master_cf_free(&cf);
    }
    if (!quiet)
        mail_conf_warn_unknown(&services);
    strv_free(&services);

    strv_init(&problems);
    int left = queue_dirs_check(geteuid() == 0, &problems);
    for (size_t i = 0; i < problems.n; i++)
        msg_warn("%s", problems.v[i]);
    strv_free(&problems);
    if (left && geteuid() == 0)
        errors += left;

    if (errors)
        msg_error("configuration check found %d problem%s", errors, errors == 1 ? "" : "s");
    return errors ? 1 : 0;
}
