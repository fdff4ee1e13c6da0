/*
 * local_user.c - passwd lookups and the rights used for file and command deliveries.
 *
 * Lookups copy what they need out of the C library's buffers, so a
 * struct local_pw stays valid across further lookups. Lookups by name
 * are remembered for the rest of one delivery request (the .forward
 * search, the mailbox and default_privs each need the entry; the
 * request loop calls local_pw_forget() before the next request, so a
 * change to the passwd database is seen by the next message). default_privs
 * (local(8) DELIVERY RIGHTS) stands in when there is no user context or
 * the context is root: a root-owned alias file must not run commands as
 * root.
 *
 * NOT HERE: switching to a user (local_child.c).
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local/local.h"
#include "mail/mail_conf.h"
#include "util/mem.h"

void local_pw_init(struct local_pw *pw)
{
    memset(pw, 0, sizeof(*pw));
}

void local_pw_free(struct local_pw *pw)
{
    sbuf_free(&pw->name);
    sbuf_free(&pw->home);
    sbuf_free(&pw->shell);
}

static int copy_pw(int err, const struct passwd *p, struct local_pw *pw)
{
    if (!p) {
        /* getpw*_r report "no such user" in several ways (getpwnam(3)). */
        if (err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM)
            return 0;
        errno = err;
        return -1;
    }
    sbuf_set(&pw->name, p->pw_name);
    sbuf_set(&pw->home, p->pw_dir ? p->pw_dir : "");
    sbuf_set(&pw->shell, p->pw_shell ? p->pw_shell : "");
    pw->uid = p->pw_uid;
    pw->gid = p->pw_gid;
    return 1;
}

static size_t pw_bufsize(void)
{
    long n = sysconf(_SC_GETPW_R_SIZE_MAX);
    return n > 0 && n < 1024 * 1024 ? (size_t) n : 16384;
}

/* Recent lookups by name: found (1) or not (0); errors are not kept. */
#define PW_CACHE_SIZE 4
static struct pw_cache_entry {
    sbuf    key;
    int     found;
    struct local_pw pw;
} pw_cache[PW_CACHE_SIZE];
static size_t pw_cache_used, pw_cache_next;

static void pw_copy(struct local_pw *to, const struct local_pw *from)
{
    sbuf_set(&to->name, sbuf_str(&from->name));
    sbuf_set(&to->home, sbuf_str(&from->home));
    sbuf_set(&to->shell, sbuf_str(&from->shell));
    to->uid = from->uid;
    to->gid = from->gid;
}

void local_pw_forget(void)
{
    for (size_t i = 0; i < PW_CACHE_SIZE; i++) {
        sbuf_free(&pw_cache[i].key);
        local_pw_free(&pw_cache[i].pw);
        pw_cache[i].found = 0;
    }
    pw_cache_used = pw_cache_next = 0;
}

static int pw_lookup_name(const char *name, struct local_pw *pw)
{
    struct passwd pwbuf, *p = 0;
    size_t size = pw_bufsize();
    for (;;) {
        char *buf = xmalloc(size);
        int err = getpwnam_r(name, &pwbuf, buf, size, &p);
        if (err == ERANGE && size < 1024 * 1024) {
            xfree(buf);
            size *= 4;
            continue;
        }
        int rc = copy_pw(err, p, pw);
        xfree(buf);
        return rc;
    }
}

int local_pw_byname(const char *name, struct local_pw *pw)
{
    for (size_t i = 0; i < pw_cache_used; i++) {
        struct pw_cache_entry *e = &pw_cache[i];
        if (strcmp(sbuf_str(&e->key), name) == 0) {
            if (e->found)
                pw_copy(pw, &e->pw);
            return e->found;
        }
    }
    int rc = pw_lookup_name(name, pw);
    if (rc >= 0) {
        struct pw_cache_entry *e = &pw_cache[pw_cache_next];
        pw_cache_next = (pw_cache_next + 1) % PW_CACHE_SIZE;
        if (pw_cache_used < PW_CACHE_SIZE)
            pw_cache_used++;
        sbuf_set(&e->key, name);
        e->found = rc;
        if (rc > 0)
            pw_copy(&e->pw, pw);
    }
    return rc;
}

int local_pw_byuid(uid_t uid, struct local_pw *pw)
{
    struct passwd pwbuf, *p = 0;
    size_t size = pw_bufsize();
    for (;;) {
        char *buf = xmalloc(size);
        int err = getpwuid_r(uid, &pwbuf, buf, size, &p);
        if (err == ERANGE && size < 1024 * 1024) {
            xfree(buf);
            size *= 4;
            continue;
        }
        int rc = copy_pw(err, p, pw);
        xfree(buf);
        return rc;
    }
}

void local_usr_set(struct usr_attr *u, const struct local_pw *pw)
{
    u->set = true;
    u->uid = pw->uid;
    u->gid = pw->gid;
    u->logname = sbuf_str(&pw->name);
    u->home = sbuf_str(&pw->home);
    u->shell = sbuf_str(&pw->shell);
}

int local_delivery_rights(const struct usr_attr *u, struct usr_attr *out,
                          struct local_pw *storage, sbuf *why)
{
    if (u->set && u->uid != 0) {
        *out = *u;
        return 0;
    }
    const char *name = mail_conf_str("default_privs");
    int rc = local_pw_byname(name, storage);
    if (rc <= 0) {
        sbuf_set(why, "");
        sbuf_printf(why, rc < 0 ? "default_privs: cannot look up user %s" :
                    "default_privs: unknown user %s", name);
        return -1;
    }
    if (storage->uid == 0 || storage->gid == 0) {
        sbuf_set(why, "");
        sbuf_printf(why, "default_privs: user %s has root privileges", name);
        return -1;
    }
    local_usr_set(out, storage);
    /* Keep the recipient's environment where there is one (root's HOME). */
    if (u->set) {
        out->logname = u->logname;
        out->home = u->home;
        out->shell = u->shell;
    }
    return 0;
}
