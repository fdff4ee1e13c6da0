/*
 * conf_trust.h - may an unprivileged user point a privileged command at
 * this configuration directory?
 *
 * Set-group-ID commands (postdrop, postqueue) take -c dir or MAIL_CONFIG
 * from the user. As in Postfix, a directory other than the default is
 * accepted from a user who is not root only when the default main.cf
 * lists it in alternate_config_directories. A Hikyaku extension
 * (docs/submission.md): it is also accepted when the directory and its
 * main.cf are owned by root and writable by nobody else, since whoever
 * wrote it could have written the default main.cf too.
 *
 * NOT HERE: loading the configuration (mail_conf.h), privilege changes.
 */
#ifndef HK_MAIL_CONF_TRUST_H
#define HK_MAIL_CONF_TRUST_H

#include <stdbool.h>

/* True when dir may be used; loads (and leaves loaded) the default main.cf. */
bool conf_dir_trusted(const char *dir);

#endif
