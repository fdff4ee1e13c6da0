/*
 * master_conf.c - master.cf into the list of services master runs.
 *
 * Applies the defaults (private, unpriv, maxproc = default_process_limit
 * for "-"), master_service_disable, and works out for each service where
 * it listens (a socket or FIFO path under $queue_directory/private or
 * public, or inet addresses) and which program runs it
 * ($daemon_directory/command unless the command is an absolute path).
 * A problem that would make master start something else than asked
 * (unknown port, bad name, unreadable master.cf) is an error for the
 * whole file: master refuses to start, or a reload keeps the running
 * configuration. Nothing is opened or started here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/master.h"
#include "mail/master_cf.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"

const char *svc_label(const struct svc *s)
{
    static char buf[600];
    snprintf(buf, sizeof(buf), "%s/%s", s->name, s->type);
    return buf;
}

void svc_free(struct svc *s)
{
    if (!s)
        return;
    xfree(s->name);
    xfree(s->type);
    xfree(s->path);
    xfree(s->addrs);
    xfree(s->listen_key);
    xfree(s->prog);
    strv_free(&s->args);
    xfree(s->fds);
    xfree(s);
}

void svc_free_list(struct svc *s)
{
    while (s) {
        struct svc *next = s->next;
        svc_free(s);
        s = next;
    }
}

/* master_service_disable: "type" or "name/type" entries. */
static bool disabled(const struct master_params *p, const struct master_service *ms)
{
    for (size_t i = 0; i < p->disable.n; i++) {
        const char *d = p->disable.v[i];
        const char *slash = strrchr(d, '/');
        if (!slash) {
            if (strcmp(d, ms->type) == 0)
                return true;
        } else if (strcmp(slash + 1, ms->type) == 0 && strlen(ms->name) == (size_t) (slash - d)
                   && strncmp(d, ms->name, (size_t) (slash - d)) == 0) {
            return true;
        }
    }
    return false;
}

static int parse_count(const char *s, int dflt)
{
    if (strcmp(s, "-") == 0)
        return dflt;
    long v = strtol(s, 0, 10);
    return v > 1000000 ? 1000000 : (int) v;
}

static bool safe_socket_name(const char *name)
{
    return *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static struct svc *build(const struct master_params *p, const struct master_service *ms,
                         const char *cf_path, sbuf *err)
{
    struct svc *s = xcalloc(1, sizeof(*s));
    sbuf key = SBUF_INIT;
    s->name = xstrdup(ms->name);
    s->type = xstrdup(ms->type);
    s->line = ms->line;
    s->status_rd = s->status_wr = -1;
    strv_init(&s->args);
    if (strcmp(ms->type, "inet") == 0) {
        s->kind = SVC_INET;
        char *why = 0;
        if (inet_service_addrs(p, ms->name, &s->addrs, &s->naddrs, &why) < 0) {
            sbuf_printf(err, "%s, line %d: %s", cf_path, ms->line, why);
            xfree(why);
            goto fail;
        }
        sbuf_adds(&key, "inet");
        for (size_t i = 0; i < s->naddrs; i++)
            sbuf_printf(&key, " %s", s->addrs[i].text);
    } else {
        s->kind = strcmp(ms->type, "unix") == 0 ? SVC_UNIX
                : strcmp(ms->type, "fifo") == 0 ? SVC_FIFO : SVC_DGRAM;
        if (!safe_socket_name(ms->name)) {
            sbuf_printf(err, "%s, line %d: bad service name \"%s\" for type %s", cf_path,
                        ms->line, ms->name, ms->type);
            goto fail;
        }
        sbuf p2 = SBUF_INIT;
        sbuf_printf(&p2, "%s/%s/%s", p->queue_dir,
                    master_service_private(ms) ? "private" : "public", ms->name);
        s->path = sbuf_steal(&p2);
        sbuf_printf(&key, "%s %s", ms->type, s->path);
    }
    s->listen_key = sbuf_steal(&key);
    if (ms->command[0] == '/') {
        s->prog = xstrdup(ms->command);
    } else {
        sbuf pr = SBUF_INIT;
        sbuf_printf(&pr, "%s/%s", p->daemon_dir, ms->command);
        s->prog = sbuf_steal(&pr);
    }
    for (size_t i = 0; i < ms->words.n; i++)
        strv_add(&s->args, ms->words.v[i]);
    s->unpriv = master_service_unpriv(ms);
    s->maxproc = parse_count(ms->maxproc, p->default_process_limit);
    s->wakeup = parse_count(ms->wakeup, 0);
    s->wakeup_cond = strchr(ms->wakeup, '?') != 0;
    if (s->wakeup > 0 && (s->kind == SVC_INET || s->kind == SVC_DGRAM)) {
        msg_warn("%s, line %d: service %s: wakeup is not supported for type %s: ignored",
                 cf_path, ms->line, svc_label(s), ms->type);
        s->wakeup = 0;
    }
    if (master_service_chroot(ms))
        msg_warn("%s, line %d: service %s: chroot is not supported; the service runs "
                 "without it", cf_path, ms->line, svc_label(s));
    return s;
fail:
    sbuf_free(&key);
    svc_free(s);
    return 0;
}

struct svc *master_conf_load(const struct master_params *p, char **err)
{
    sbuf path = SBUF_INIT;
    sbuf_printf(&path, "%s/master.cf", p->config_dir);
    struct master_cf cf;
    if (master_cf_load(sbuf_str(&path), &cf, err) < 0) {
        sbuf_free(&path);
        return 0;
    }
    struct svc *head = 0, **tail = &head;
    sbuf e = SBUF_INIT;
    for (size_t i = 0; i < cf.n; i++) {
        const struct master_service *ms = &cf.svc[i];
        if (disabled(p, ms))
            continue;
        if (strcmp(ms->type, "pass") == 0) {
            msg_warn("%s, line %d: service %s/pass: service type pass is not supported: "
                     "skipped", sbuf_str(&path), ms->line, ms->name);
            continue;
        }
        struct svc *s = build(p, ms, sbuf_str(&path), &e);
        if (!s)
            break;
        *tail = s;
        tail = &s->next;
    }
    master_cf_free(&cf);
    sbuf_free(&path);
    if (e.len) {
        svc_free_list(head);
        *err = sbuf_steal(&e);
        return 0;
    }
    sbuf_free(&e);
    if (!head) {
        *err = xstrdup("master.cf: no services");
        return 0;
    }
    return head;
}
