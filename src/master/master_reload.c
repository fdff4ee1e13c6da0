/*
 * master_reload.c - SIGHUP: re-read main.cf and master.cf without refusing a connection.
 *
 * The new configuration is built completely before anything changes; if
 * main.cf or master.cf is bad the reload is refused with an error and
 * the running configuration stays. Then:
 *   - the watch pipe of the old generation is closed: its processes
 *     finish their current client and exit; they no longer count as idle
 *     (a new client gets a new process with the new settings);
 *   - a service whose listener is the same (same name, type and
 *     addresses or path) keeps its open listener, status pipe and
 *     process counts, and takes the new command, arguments and limits;
 *   - a service that is gone has its listener closed (its socket file
 *     removed) and its processes terminated;
 *   - a new service gets its listener;
 *   - services with an unconditional wakeup (qmgr, pickup) are woken at
 *     once, and again when their last old process has exited.
 * A new listener that cannot be created is an error for that service
 * only. Logs "reload -- version X, configuration DIR".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"
#include "mail/mail_conf.h"
#include "util/mem.h"
#include "util/msg.h"

static struct svc *take_match(struct svc **list, const struct svc *want)
{
    for (struct svc **pp = list; *pp; pp = &(*pp)->next) {
        struct svc *s = *pp;
        if (strcmp(s->name, want->name) == 0 && strcmp(s->type, want->type) == 0
            && strcmp(s->listen_key, want->listen_key) == 0) {
            *pp = s->next;
            s->next = 0;
            return s;
        }
    }
    return 0;
}

/* Move the configuration of fresh into the running service old. */
static void adopt(struct svc *old, struct svc *fresh)
{
    old->line = fresh->line;
    xfree(old->prog);
    old->prog = fresh->prog;
    fresh->prog = 0;
    strv_free(&old->args);
    old->args = fresh->args;
    strv_init(&fresh->args);
    old->unpriv = fresh->unpriv;
    old->maxproc = fresh->maxproc;
    old->wakeup = fresh->wakeup;
    old->wakeup_cond = fresh->wakeup_cond;
    svc_free(fresh);
}

static void retire(struct svc *s)
{
    wakeup_stop(s);
    listen_close(s);
    if (s->path)
        unlink(s->path);
    spawn_close_service(s);
    svc_free(s);
}

void master_reload(event_loop *loop, int signo, void *ctx)
{
    if (M.stopping)
        return;
    char *err = 0;
    if (mail_conf_try_load(M.par.config_dir, &err) < 0) {
        msg_error("reload: %s -- configuration unchanged", err);
        xfree(err);
        return;
    }
    strv errs;
    strv_init(&errs);
    struct master_params np;
    memset(&np, 0, sizeof(np));
    if (master_params_load(&np, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++)
            msg_error("reload: %s", errs.v[i]);
        msg_error("reload: configuration unchanged");
        strv_free(&errs);
        return;
    }
    strv_free(&errs);
    struct svc *fresh = master_conf_load(&np, &err);
    if (!fresh) {
        msg_error("reload: %s -- configuration unchanged", err);
        xfree(err);
        master_params_free(&np);
        return;
    }
    master_params_free(&M.par);
    M.par = np;
    if (!*M.par.maillog_file) {
        /* maillog_file was removed: back to syslog. */
        msg_set_postlog("");
        msg_set_targets((msg_get_targets() & ~MSG_TO_POSTLOG) | MSG_TO_SYSLOG);
    }
    mail_conf_setup_logging();
    master_params_apply_env(&M.par);
    msg_info("reload -- version %s, configuration %s", HK_VERSION, M.par.config_dir);

    /* Old processes: finish and go. */
    spawn_new_generation();
    close(M.watch_wr);
    close(M.watch_rd);
    if (master_open_watch() < 0)
        msg_fatal("reload: create watch pipe: %m");

    /* Pair fresh services with running ones; the rest of the old list goes. */
    struct svc *old = M.services, *head = 0, **tail = &head;
    struct svc *added = 0, **added_tail = &added;
    M.services = 0;
    for (struct svc *f = fresh, *next; f; f = next) {
        next = f->next;
        f->next = 0;
        struct svc *keep = take_match(&old, f);
        if (keep) {
            adopt(keep, f);
            *tail = keep;
            tail = &keep->next;
        } else {
            *added_tail = f;
            added_tail = &f->next;
        }
    }
    for (struct svc *s = old, *next; s; s = next) {
        next = s->next;
        msg_info("reload: service %s removed", svc_label(s));
        retire(s);
    }
    for (struct svc *s = added, *next; s; s = next) {
        next = s->next;
        s->next = 0;
        if (listen_open(s, 0, &err) < 0) {
            msg_error("reload: service %s: %s -- service not started", svc_label(s), err);
            xfree(err);
            svc_free(s);
            continue;
        }
        *tail = s;
        tail = &s->next;
        spawn_init_service(s);
        wakeup_start(s, true);
    }
    M.services = head;
    for (struct svc *s = M.services; s; s = s->next) {
        if (s->status_rd >= 0) {
            wakeup_stop(s);
            wakeup_start(s, true);
        }
        spawn_update_listen(s);
    }
}
