/*
 * postalias.c - postalias(1): create, query, list and update alias tables.
 *
 *   postalias [-Nfinoprsuvw] [-c config_dir] [-d key] [-q key] [type:]file ...
 *
 * Like postmap(1), but the source is in aliases(5) format ("name: value"),
 * names fold to lower case, and every build adds the entries Sendmail and
 * NIS clients expect: "@" -> "@" (the "database complete" sentinel),
 * YP_LAST_MODIFIED (build time) and YP_MASTER_NAME (this host), the last
 * two without a trailing NUL, as Postfix writes them. Output of -q - and
 * -s is "key:<TAB>value".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/mail_conf.h"
#include "mail/mail_dict.h"
#include "util/dict.h"
#include "util/dict_build.h"
#include "util/dict_tool.h"
#include "util/mem.h"
#include "util/msg.h"
#include "util/sbuf.h"

#include "postalias.h"

#define USAGE "usage: postalias [-Nfinoprsuvw] [-c config_dir] [-d key] [-q key] " \
              "[map_type:]file..."

static void alias_line(dict *d, char *line, int lineno, const char *origin, void *ctx)
{
    sbuf name = SBUF_INIT, value = SBUF_INIT;
    const char *why;
    (void) ctx;
    if (alias_parse_line(line, &name, &value, &why) < 0)
        msg_warn("%s, line %d: %s", origin, lineno, why);
    else if (dict_update(d, sbuf_str(&name), sbuf_str(&value)) < 0)
        msg_fatal("table %s:%s: write error", d->type, d->name);
    sbuf_free(&name);
    sbuf_free(&value);
}

/* ctx is $myhostname. */
static void add_sentinels(dict *d, void *ctx)
{
    int saved = d->flags;
    d->flags = (saved & ~DICT_FLAG_DUP_MASK) | DICT_FLAG_DUP_REPLACE;
    if (dict_update(d, "@", "@") < 0)
        msg_fatal("table %s:%s: write error", d->type, d->name);
    /* NIS entries: no trailing NUL, no case folding. */
    d->flags = (d->flags & ~(DICT_FLAG_TRY1NULL | DICT_FLAG_FOLD_FIX)) | DICT_FLAG_TRY0NULL;
    char buf[256];
    snprintf(buf, sizeof(buf), "%010ld", (long) time(0));
    if (dict_update(d, "YP_LAST_MODIFIED", buf) < 0)
        msg_fatal("table %s:%s: write error", d->type, d->name);
    if (dict_update(d, "YP_MASTER_NAME", (const char *) ctx) < 0)
        msg_fatal("table %s:%s: write error", d->type, d->name);
    d->flags = saved;
}

static void on_signal(int sig)
{
    dict_build_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    const char *config_dir = 0, *query = 0, *del = 0;
    int dict_flags = DICT_FLAG_DEFAULT, build_flags = 0;
    int dump = 0, incremental = 0, as_owner = 1;
    int c, nmodes = 0;

    msg_init("postalias", MSG_TO_STDERR | MSG_TO_SYSLOG);
    if (getenv("MAIL_VERBOSE"))
        msg_verbose++;
    while ((c = getopt(argc, argv, "c:d:finNopq:rsuvw")) != -1) {
        switch (c) {
        case 'c': config_dir = optarg; break;
        case 'd': del = optarg; nmodes++; break;
        case 'f': dict_flags &= ~DICT_FLAG_FOLD_FIX; break;
        case 'i': incremental = 1; break;
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
        case 'u': break;                 /* SMTPUTF8 checks: not applicable */
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
    if (optind >= argc)
        msg_fatal(USAGE);

    mail_conf_load(config_dir);
    mail_conf_setup_logging();
    msg_set_targets(msg_get_targets() | MSG_TO_STDERR);
    mail_dict_setup();
    const char *deftype = mail_conf_str("default_database_type");
    char **maps = argv + optind;
    int nmaps = argc - optind;

    if (query)
        return dict_tool_query(maps, nmaps, deftype, dict_flags, query, ":\t", stdin);
    if (dump)
        return dict_tool_dump(maps, nmaps, deftype, dict_flags, ":\t");
    msg_set_cleanup(dict_build_cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGQUIT, on_signal);
    if (del)
        return dict_tool_delete(maps, nmaps, deftype, dict_flags, del, stdin);
    for (int i = 0; i < nmaps; i++) {
        char *type, *name;
        dict_tool_split(maps[i], deftype, &type, &name);
        if (as_owner)
            dict_tool_run_as_owner(name);
        dict_tool_build(type, name, dict_flags, build_flags, incremental, alias_line,
                        add_sentinels, (void *) mail_conf_str("myhostname"));
        xfree(type);
        xfree(name);
    }
    return 0;
}
