/*
 * dict_unix.c - unix:passwd.byname and unix:group.byname tables.
 *
 * Looks the key up with getpwnam(3)/getgrnam(3) and returns the entry in
 * passwd(5) or group(5) line format ("root:x:0:0:root:/root:/bin/bash",
 * "mail:x:8:a,b"). Keys fold to lower case with DICT_FLAG_FOLD_FIX, as in
 * Postfix. Read-only; cannot be listed.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>

#include "util/dict_impl.h"
#include "util/mem.h"
#include "util/sbuf.h"

struct unix_priv {
    int     group;
    sbuf    keybuf, out;
};

static const char *unix_lookup(dict *d, const char *key)
{
    struct unix_priv *p = d->priv;
    const char *k = dict_fold_key(d, key, &p->keybuf);
    sbuf_reset(&p->out);
    errno = 0;
    if (!p->group) {
        struct passwd *pw = getpwnam(k);
        if (!pw) {
            if (errno != 0 && errno != ENOENT && errno != ESRCH)
                d->error = DICT_ERR_RETRY;
            return 0;
        }
        sbuf_printf(&p->out, "%s:%s:%ld:%ld:%s:%s:%s", pw->pw_name, pw->pw_passwd,
                    (long) pw->pw_uid, (long) pw->pw_gid, pw->pw_gecos, pw->pw_dir, pw->pw_shell);
    } else {
        struct group *gr = getgrnam(k);
        if (!gr) {
            if (errno != 0 && errno != ENOENT && errno != ESRCH)
                d->error = DICT_ERR_RETRY;
            return 0;
        }
        sbuf_printf(&p->out, "%s:%s:%ld:", gr->gr_name, gr->gr_passwd, (long) gr->gr_gid);
        for (char **m = gr->gr_mem; m && *m; m++)
            sbuf_printf(&p->out, "%s%s", m == gr->gr_mem ? "" : ",", *m);
    }
    return sbuf_str(&p->out);
}

static void unix_close(dict *d)
{
    struct unix_priv *p = d->priv;
    sbuf_free(&p->keybuf);
    sbuf_free(&p->out);
    xfree(p);
    dict_free(d);
}

dict *dict_unix_open(const char *name, int open_flags, int dict_flags, char **err)
{
    int group;
    if (strcmp(name, "passwd.byname") == 0)
        group = 0;
    else if (strcmp(name, "group.byname") == 0)
        group = 1;
    else {
        *err = dict_errorf("unknown table: unix:%s", name);
        return 0;
    }
    dict *d = dict_alloc("unix", name, open_flags, dict_flags | DICT_FLAG_FIXED);
    struct unix_priv *p = xcalloc(1, sizeof(*p));
    p->group = group;
    d->priv = p;
    d->lookup = unix_lookup;
    d->close = unix_close;
    return d;
}
