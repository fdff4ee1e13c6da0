/*
 * pc_other.c - postconf listings that need no configuration: -m (table
 * types), -l (mailbox locks), -a / -A (SASL plug-ins), -T (TLS library),
 * and -t / -b (bounce templates, not supported yet: a clear error).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "postconf/postconf.h"
#include "util/dict.h"
#include "util/msg.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

void pc_show_maps(void)
{
    const char *const *names = dict_type_names();
    size_t n = 0;
    while (names && names[n])
        n++;
    const char **sorted = calloc(n ? n : 1, sizeof(*sorted));
    if (!sorted)
        msg_fatal("out of memory");
    memcpy(sorted, names, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_str);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", sorted[i]);
    free(sorted);
}

void pc_show_locks(void)
{
    /* The methods mail/ locking code implements, in Postfix's order. */
    printf("flock\nfcntl\ndotlock\n");
}

void pc_show_sasl(int which)
{
    /* Server and client both use Cyrus SASL; there is no Dovecot client. */
    (void) which;
    printf("cyrus\n");
}

void pc_show_tls(const char *mode)
{
    if (strcmp(mode, "compile-version") == 0)
        printf("%s\n", OPENSSL_VERSION_TEXT);
    else if (strcmp(mode, "run-version") == 0)
        printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    else if (strcmp(mode, "public-key-algorithms") == 0)
        printf("rsa\necdsa\ned25519\ned448\n");
    else
        msg_fatal("invalid -T option argument \"%s\": use compile-version, run-version "
                  "or public-key-algorithms", mode);
}

void pc_show_templates(int mode, char **args, int nargs)
{
    (void) args;
    (void) nargs;
    msg_fatal("%s is not supported: Hikyaku has no bounce template support yet",
              (mode & PC_DSN_DUMP) ? "-t" : "-b");
}
