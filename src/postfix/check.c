/*
 * check.c - "postfix check": find configuration and installation problems.
 *
 * Checks main.cf values against the parameter table, master.cf syntax and
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
#include "util/msg.h"
#include "util/mem.h"
#include "util/strv.h"

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
