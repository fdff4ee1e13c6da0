/*
 * lmtp.c - the LMTP client: the smtp program under the name "lmtp".
 *
 * master.cf runs "lmtp" for LMTP deliveries (lmtp unix - - n - - lmtp),
 * as in Postfix where lmtp is the smtp binary under another name. This
 * program only replaces itself with the smtp program found next to it
 * (the same directory: daemon_directory, or the build tree), keeping
 * argv[0] "lmtp" (which is how smtp knows to speak LMTP), every argument,
 * the environment and the descriptors master passed (3, 4, 5 ...).
 *
 * Nothing else lives here: the client is src/smtp/.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char self[PATH_MAX], path[PATH_MAX + 8];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "lmtp: cannot find my own program file: %s\n", strerror(errno));
        return 1;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) {
        fprintf(stderr, "lmtp: odd program path %s\n", self);
        return 1;
    }
    *slash = 0;
    snprintf(path, sizeof(path), "%s/smtp", self);
    char *fallback[] = { (char *) "lmtp", 0 };
    if (argc < 1)
        argv = fallback;
    argv[0] = (char *) "lmtp";
    execv(path, argv);
    fprintf(stderr, "lmtp: cannot run %s: %s\n", path, strerror(errno));
    return 1;
}
