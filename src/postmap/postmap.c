/*
 * postmap.c - postmap(1): create, query, list and update lookup tables.
 *
 *   postmap [-bfhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] [type:]file ...
 *
 * Builds hash/btree/lmdb tables from "key whitespace value" source files
 * (atomically: dict_build.h), and queries (-q), lists (-s) or deletes from
 * (-d) any table type. The default type is default_database_type from
 * main.cf. Option semantics follow postmap(1); see docs/tables.md for the
 * few differences (-F is not supported; -m is accepted but MIME parts are
 * not descended into).
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "mail/mail_dict.h"
#include "util/dict.h"
#include "util/dict_build.h"
#include "util/dict_tool.h"
#include "util/table_file.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/strv.h"

#include "postmap.h"

#define USAGE "usage: postmap [-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] " \
              "[map_type:]file..."

static void kv_line(dict *d, char *line, int lineno, const char *origin, void *ctx)
{
    char *key, *value;
    const char *why;
    (void) ctx;
    if (table_split_kv(line, &key, &value, &why) < 0) {
        if (why[0] == 'u')
            msg_warn("%s, line %d: %s in '%.100s' -- ignoring this line", origin, lineno, why, line);
        else
            msg_warn("%s, line %d: %s", origin, lineno, why);
        return;
    }
    if (dict_update(d, key, value) < 0)
        msg_fatal("table %s:%s: write error", d->type, d->name);
}

static void on_signal(int sig)
{
    dict_build_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

void postmap_setup_signals(void)
{
    msg_set_cleanup(dict_build_cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGQUIT, on_signal);
}

int main(int argc, char **argv)
{
    const char *config_dir = 0, *query = 0, *del = 0;
    int dict_flags = DICT_FLAG_DEFAULT, build_flags = 0;
    int dump = 0, incremental = 0, as_owner = 1, mode_h = 0, mode_b = 0;
    int c, nmodes = 0;

    msg_init("postmap", MSG_TO_STDERR | MSG_TO_SYSLOG);
    if (getenv("MAIL_VERBOSE"))
        msg_verbose++;
    while ((c = getopt(argc, argv, "bc:d:fFhimnNopq:rsuUvw")) != -1) {
        switch (c) {
        case 'b': mode_b = 1; break;
        case 'c': config_dir = optarg; break;
        case 'd': del = optarg; nmodes++; break;
        case 'f': dict_flags &= ~DICT_FLAG_FOLD_FIX; break;
        case 'F': msg_fatal("option -F (base64 file values) is not supported");
        case 'h': mode_h = 1; break;
        case 'i': incremental = 1; break;
        case 'm': break;                 /* MIME parts: not descended into */
        case 'n':
            dict_flags = (dict_flags | DICT_FLAG_TRY0NULL) & ~DICT_FLAG_TRY1NULL;
            break;
        case 'N':
            dict_flags = (dict_flags | DICT_FLAG_TRY1NULL) & ~DICT_FLAG_TRY0NULL;
            break;
        case 'o': as_owner = 0; break;
        case 'p': build_flags |= DICT_BUILD_DEFAULT_MODE; break;
        case 'q': query = optarg; nmodes++; break;
        case 'r':
            dict_flags = (dict_flags & ~DICT_FLAG_DUP_MASK) | DICT_FLAG_DUP_REPLACE;
            break;
        case 's': dump = 1; nmodes++; break;
        case 'u': case 'U': break;       /* SMTPUTF8 checks: not applicable */
        case 'v': msg_verbose++; break;
        case 'w':
            dict_flags = (dict_flags & ~DICT_FLAG_DUP_MASK) | DICT_FLAG_DUP_IGNORE;
            break;
        default:
            msg_fatal(USAGE);
        }
    }
    if (nmodes > 1)
        msg_fatal("specify only one of -s or -q or -d");
    if ((mode_b || mode_h) && !(query && strcmp(query, "-") == 0))
        msg_fatal("options -b and -h require -q -");
    if (optind >= argc)
        msg_fatal(USAGE);

    mail_conf_load(config_dir);
    mail_conf_setup_logging();
    msg_set_targets(msg_get_targets() | MSG_TO_STDERR);
    mail_dict_setup();
    const char *deftype = mail_conf_str("default_database_type");
    char **maps = argv + optind;
    int nmaps = argc - optind;

    if (query && (mode_b || mode_h)) {
        strv keys = { 0, 0, 0 };
        postmap_message_keys(stdin, mode_h, mode_b, &keys);
        int rc = dict_tool_query_keys(maps, nmaps, deftype, dict_flags, keys.v, keys.n, "\t");
        strv_free(&keys);
        return rc;
    }
    if (query)
        return dict_tool_query(maps, nmaps, deftype, dict_flags, query, "\t", stdin);
    if (dump)
        return dict_tool_dump(maps, nmaps, deftype, dict_flags, "\t");
    postmap_setup_signals();
    if (del)
        return dict_tool_delete(maps, nmaps, deftype, dict_flags, del, stdin);

    for (int i = 0; i < nmaps; i++) {
        char *type, *name;
        dict_tool_split(maps[i], deftype, &type, &name);
        if (as_owner)
            dict_tool_run_as_owner(name);
        dict_tool_build(type, name, dict_flags, build_flags, incremental, kv_line, 0, 0);
        xfree(type);
        xfree(name);
    }
    return 0;
}
