/*
 * conf_trust.c - alternate configuration directories for set-group-ID commands.
 *
 * See conf_trust.h. Reads alternate_config_directories from the default
 * main.cf (DEF_CONFIG_DIR) and checks ownership with lstat (a symbolic
 * link is never trusted).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mail/conf_trust.h"
#include "mail/mail_conf.h"
#include "util/strv.h"

static bool safe_root_owned(const char *path, bool want_dir)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return false;
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return false;
    return st.st_uid == 0 && (st.st_mode & 022) == 0;
}

bool conf_dir_trusted(const char *dir)
{
    if (strcmp(dir, DEF_CONFIG_DIR) == 0)
        return true;
    char *err = 0;
    bool ok = false;
    if (mail_conf_try_load(DEF_CONFIG_DIR, &err) == 0) {
        strv alt = {0};
        strv_init(&alt);
        const char *raw = mail_conf_raw("alternate_config_directories");
        strv_split(&alt, raw ? raw : "", STRV_LIST_DELIMS);
        for (size_t i = 0; i < alt.n && !ok; i++)
            ok = strcmp(alt.v[i], dir) == 0;
        strv_free(&alt);
    }
    free(err);
    if (!ok) {
        char main_cf[4200];
        int n = snprintf(main_cf, sizeof(main_cf), "%s/main.cf", dir);
        ok = n > 0 && (size_t) n < sizeof(main_cf) && safe_root_owned(dir, true)
             && safe_root_owned(main_cf, false);
    }
    return ok;
}
