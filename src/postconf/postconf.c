/*
 * postconf.c - the postconf command: show and edit main.cf and master.cf.
 *
 * Parses the options of postconf(1), checks that they go together and
 * hands over to pc_main.c, pc_master.c or pc_other.c. An argument with
 * '=' implies -e, as in Postfix 2.8 and later. -c DIR (else $MAIL_CONFIG,
 * else the compiled-in directory) chooses the configuration. Exit status
 * is 0, or 1 after "postconf: fatal: ..." on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mail/param_usage.h"
#include "postconf/postconf.h"
#include "util/msg.h"
#include "util/strv.h"

static void usage(void)
{
    msg_fatal("usage: postconf [-aAbdefFhHlmMnpPtTvxX#] [-c config_dir] [-C class] "
              "[-o name=value] [name ...]");
}

static int bits(int v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static int parse_classes(const char *arg)
{
    static const struct { const char *name; int cls; } map[] = {
        {"builtin", PARAM_BUILTIN}, {"service", PARAM_SERVICE},
        {"user", PARAM_USER}, {"all", PARAM_ALL},
    };
    strv words = {0};
    int cls = 0;
    strv_split(&words, arg, ", \t");
    for (size_t i = 0; i < words.n; i++) {
        int found = 0;
        for (size_t j = 0; j < sizeof(map) / sizeof(map[0]); j++)
            if (strcasecmp(words.v[i], map[j].name) == 0) {
                cls |= map[j].cls;
                found = 1;
            }
        if (!found)
            msg_fatal("invalid -C option value \"%s\" in \"%s\": use builtin, service, "
                      "user or all", words.v[i], arg);
    }
    strv_free(&words);
    if (!cls)
        msg_fatal("-C option requires a class name: builtin, service, user or all");
    return cls;
}

#define PC_WHAT (PC_MAIN_PARAM | PC_MASTER_ENTRY | PC_MASTER_FLD | PC_MASTER_PARAM \
                 | PC_SHOW_MAPS | PC_SHOW_LOCKS | PC_SASL_SERVER | PC_SASL_CLIENT \
                 | PC_SHOW_TLS | PC_DSN_DUMP | PC_DSN_EXPAND)
#define PC_MASTER_ANY (PC_MASTER_ENTRY | PC_MASTER_FLD | PC_MASTER_PARAM)
#define PC_EDIT_ANY (PC_EDIT_CONF | PC_EDIT_EXCL | PC_COMMENT_OUT)

static void check_options(int mode)
{
    if (bits(mode & PC_WHAT) > 1)
        msg_fatal("specify one of -a, -A, -b, -F, -l, -m, -M, -p, -P, -t and -T");
    if (bits(mode & (PC_EDIT_ANY | PC_SHOW_DEFS | PC_SHOW_NONDEF)) > 1)
        msg_fatal("specify one of -d, -e, -n, -X and -#");
    if ((mode & PC_HIDE_NAME) && (mode & PC_HIDE_VALUE))
        msg_fatal("specify one of -h and -H");
    if ((mode & PC_EDIT_ANY) && (mode & (PC_HIDE_NAME | PC_HIDE_VALUE | PC_SHOW_EVAL
                                         | PC_FOLD_LINE)))
        msg_fatal("-e, -X and -# do not combine with -f, -h, -H or -x");
    if ((mode & PC_EDIT_ANY) && !(mode & (PC_MAIN_PARAM | PC_MASTER_ANY)))
        msg_fatal("-e, -X and -# apply to main.cf (-p), or with -M, -F or -P to master.cf");
    if ((mode & PC_MASTER_ANY) && (mode & (PC_SHOW_DEFS | PC_SHOW_NONDEF)))
        msg_fatal("-d and -n apply to main.cf parameters only, not with -M, -F or -P");
    if ((mode & PC_MASTER_ENTRY) && (mode & (PC_HIDE_NAME | PC_HIDE_VALUE)))
        msg_fatal("-h and -H do not apply to -M");
    if ((mode & PC_MASTER_FLD) && (mode & (PC_EDIT_EXCL | PC_COMMENT_OUT)))
        msg_fatal("-F supports -e only (not -X or -#)");
    if ((mode & PC_MASTER_PARAM) && (mode & PC_COMMENT_OUT))
        msg_fatal("-P supports -e and -X only (not -#)");
}

int main(int argc, char **argv)
{
    struct pc_options o;
    int ch;

    msg_init("postconf", MSG_TO_STDERR);
    memset(&o, 0, sizeof(o));
    o.classes = PARAM_ALL;
    strv_init(&o.overrides);

    opterr = 0;
    while ((ch = getopt(argc, argv, "+aAbc:C:deEfFhHlmMno:pPqtT:vxX#")) != -1) {
        switch (ch) {
        case 'a': o.mode |= PC_SASL_SERVER; break;
        case 'A': o.mode |= PC_SASL_CLIENT; break;
        case 'b': o.mode |= PC_DSN_EXPAND; break;
        case 'c': o.config_dir = optarg; break;
        case 'C': o.classes = parse_classes(optarg); break;
        case 'd': o.mode |= PC_SHOW_DEFS; break;
        case 'e': o.mode |= PC_EDIT_CONF; break;
        case 'E': break;                        /* obsolete, accepted */
        case 'f': o.mode |= PC_FOLD_LINE; break;
        case 'F': o.mode |= PC_MASTER_FLD; break;
        case 'h': o.mode |= PC_HIDE_NAME; break;
        case 'H': o.mode |= PC_HIDE_VALUE; break;
        case 'l': o.mode |= PC_SHOW_LOCKS; break;
        case 'm': o.mode |= PC_SHOW_MAPS; break;
        case 'M': o.mode |= PC_MASTER_ENTRY; break;
        case 'n': o.mode |= PC_SHOW_NONDEF; break;
        case 'o':
            if (!strchr(optarg, '='))
                msg_fatal("-o option requires name=value, not \"%s\"", optarg);
            strv_add(&o.overrides, optarg);
            break;
        case 'p': o.mode |= PC_MAIN_PARAM; break;
        case 'P': o.mode |= PC_MASTER_PARAM; break;
        case 'q': o.mode |= PC_QUIET; break;
        case 't': o.mode |= PC_DSN_DUMP; break;
        case 'T':
            if (o.mode & PC_SHOW_TLS)
                msg_fatal("At most one -T <mode> option may be specified");
            o.mode |= PC_SHOW_TLS;
            o.tls_mode = optarg;
            break;
        case 'v': msg_verbose++; break;
        case 'x': o.mode |= PC_SHOW_EVAL; break;
        case 'X': o.mode |= PC_EDIT_EXCL; break;
        case '#': o.mode |= PC_COMMENT_OUT; break;
        default: usage();
        }
    }
    char **args = argv + optind;
    int nargs = argc - optind;

    if (!(o.mode & PC_WHAT))
        o.mode |= PC_MAIN_PARAM;
    if ((o.mode & (PC_MAIN_PARAM | PC_MASTER_ANY)) && nargs > 0 && strchr(args[0], '=')
        && !(o.mode & (PC_EDIT_EXCL | PC_COMMENT_OUT)))
        o.mode |= PC_EDIT_CONF;
    check_options(o.mode);
    if ((o.mode & PC_EDIT_CONF) && nargs == 0)
        msg_fatal("-e requires name=value argument");

    if (o.mode & (PC_DSN_DUMP | PC_DSN_EXPAND)) {
        pc_show_templates(o.mode, args, nargs);
    } else if (o.mode & PC_SHOW_MAPS) {
        pc_show_maps();
    } else if (o.mode & PC_SHOW_LOCKS) {
        pc_show_locks();
    } else if (o.mode & (PC_SASL_SERVER | PC_SASL_CLIENT)) {
        pc_show_sasl(o.mode & (PC_SASL_SERVER | PC_SASL_CLIENT));
    } else if (o.mode & PC_SHOW_TLS) {
        pc_show_tls(o.tls_mode);
    } else if (o.mode & PC_EDIT_ANY) {
        if (nargs == 0)
            msg_fatal("%s requires one or more %s", (o.mode & PC_EDIT_EXCL) ? "-X" : "-#",
                      (o.mode & PC_MASTER_ANY) ? "service names" : "parameter names");
        if (o.mode & PC_MASTER_ANY)
            pc_edit_master(&o, args, nargs);
        else
            pc_edit_main(&o, args, nargs);
    } else if (o.mode & PC_MASTER_ANY) {
        pc_show_master(&o, args, nargs);
    } else {
        pc_show_main(&o, args, nargs);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        msg_fatal("write error on standard output");
    strv_free(&o.overrides);
    return 0;
}
