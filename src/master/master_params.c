/*
 * master_params.c - the main.cf values master uses, copied once per load.
 *
 * master reads main.cf at start and on reload only (as Postfix's master
 * does). Copying what it needs means a half-failed reload, or an edit of
 * main.cf that nobody has reloaded yet, never changes a running master.
 * Also sets master's environment from import_environment, which every
 * worker inherits (a sanitizer build also keeps the sanitizer option
 * variables: util/sanitizer.h). Does not read master.cf (master_conf.c).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/master.h"
#include "mail/mail_conf.h"
#include "util/mem.h"
#include "util/sanitizer.h"
#include "util/sbuf.h"

void master_params_free(struct master_params *p)
{
    xfree(p->config_dir);
    xfree(p->queue_dir);
    xfree(p->daemon_dir);
    xfree(p->mail_owner);
    xfree(p->maillog_file);
    strv_free(&p->interfaces);
    strv_free(&p->protocols);
    strv_free(&p->known_ports);
    strv_free(&p->disable);
    strv_free(&p->import_env);
    memset(p, 0, sizeof(*p));
}

int master_params_load(struct master_params *p, strv *errs)
{
    strv problems;
    strv_init(&problems);
    /* Typed reads of bad values are fatal: find them first. */
    if (mail_conf_validate(&problems) > 0) {
        for (size_t i = 0; i < problems.n; i++)
            strv_add(errs, problems.v[i]);
        strv_free(&problems);
        return -1;
    }
    strv_free(&problems);

    struct master_params n;
    memset(&n, 0, sizeof(n));
    const char *owner = mail_conf_str("mail_owner");
    struct passwd *pw = getpwnam(owner);
    if (!pw) {
        sbuf e = SBUF_INIT;
        sbuf_printf(&e, "mail_owner: unknown user name: %s", owner);
        strv_add(errs, sbuf_str(&e));
        sbuf_free(&e);
        return -1;
    }
    if (pw->pw_uid == 0) {
        strv_add(errs, "mail_owner must not be the super-user (root)");
        return -1;
    }
    n.owner_uid = pw->pw_uid;
    n.owner_gid = pw->pw_gid;
    n.mail_owner = xstrdup(owner);
    n.config_dir = xstrdup(mail_conf_dir());
    n.queue_dir = xstrdup(mail_conf_str("queue_directory"));
    n.daemon_dir = xstrdup(mail_conf_str("daemon_directory"));
    n.maillog_file = xstrdup(mail_conf_str("maillog_file"));
    n.throttle_time = mail_conf_time("service_throttle_time");
    n.default_process_limit = (int) mail_conf_int("default_process_limit");
    strv_init(&n.interfaces);
    strv_init(&n.protocols);
    strv_init(&n.known_ports);
    strv_init(&n.disable);
    strv_init(&n.import_env);
    mail_conf_list("inet_interfaces", &n.interfaces);
    mail_conf_list("inet_protocols", &n.protocols);
    mail_conf_list("known_tcp_ports", &n.known_ports);
    mail_conf_list("master_service_disable", &n.disable);
    mail_conf_list("import_environment", &n.import_env);
    if (n.queue_dir[0] != '/' || n.daemon_dir[0] != '/') {
        strv_add(errs, "queue_directory and daemon_directory must be absolute paths");
        master_params_free(&n);
        return -1;
    }
    master_params_free(p);
    *p = n;
    return 0;
}

/* Add NAME=value to keep if NAME is set. */
static void keep_current(strv *keep, const char *name)
{
    const char *v = getenv(name);
    if (!v)
        return;
    sbuf s = SBUF_INIT;
    sbuf_printf(&s, "%s=%s", name, v);
    strv_add(keep, sbuf_str(&s));
    sbuf_free(&s);
}

/*
 * Keep only the variables import_environment names ("NAME" keeps the
 * current value, "NAME=value" sets one), then MAIL_CONFIG, as Postfix
 * does for its daemons.
 */
void master_params_apply_env(const struct master_params *p)
{
    strv keep;
    strv_init(&keep);
    for (size_t i = 0; i < p->import_env.n; i++) {
        const char *item = p->import_env.v[i];
        if (strchr(item, '='))
            strv_add(&keep, item);
        else
            keep_current(&keep, item);
    }
#if HK_SANITIZER_BUILD
    /* Test plumbing: a test's sanitizer options (where reports go) reach
     * the daemons too. Never compiled into a normal build. */
    static const char *const sanitizer_vars[] = HK_SANITIZER_ENV_VARS;
    for (size_t i = 0; i < sizeof(sanitizer_vars) / sizeof(sanitizer_vars[0]); i++)
        keep_current(&keep, sanitizer_vars[i]);
#endif
    clearenv();
    for (size_t i = 0; i < keep.n; i++) {
        char *eq = strchr(keep.v[i], '=');
        *eq = 0;
        setenv(keep.v[i], eq + 1, 1);
    }
    setenv("MAIL_CONFIG", p->config_dir, 1);
    strv_free(&keep);
}
