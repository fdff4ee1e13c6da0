/*
 * dict_test_util.h - helpers shared by the table unit tests (header only).
 *
 * A scratch directory per test program, writing small files into it, and
 * capturing what msg_* writes to stderr so tests can assert warnings.
 */
#ifndef HK_TESTS_DICT_TEST_UTIL_H
#define HK_TESTS_DICT_TEST_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "util/mem.h"
#include "util/msg.h"

#define TU_FN static __attribute__((unused))

static char tu_dir[256];

/* Make (once) and return a scratch directory; removed by tu_cleanup(). */
TU_FN const char *tu_scratch(void)
{
    if (!tu_dir[0]) {
        snprintf(tu_dir, sizeof(tu_dir), "/tmp/hk-dict-test.XXXXXX");
        if (!mkdtemp(tu_dir))
            abort();
    }
    return tu_dir;
}

/* Path of name inside the scratch directory (static buffer rotation). */
TU_FN const char *tu_path(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 512, "%s/%s", tu_scratch(), name);
    return b;
}

TU_FN const char *tu_write(const char *name, const char *text)
{
    const char *p = tu_path(name);
    FILE *fp = fopen(p, "w");
    if (!fp)
        abort();
    fputs(text, fp);
    fclose(fp);
    return p;
}

TU_FN void tu_cleanup(void)
{
    if (tu_dir[0]) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tu_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cleanup of %s failed\n", tu_dir);
    }
}

/* stderr capture: tu_capture_start() ... tu_capture_end() returns the text
 * written meanwhile (malloc'd; caller frees). */
static int tu_saved_fd = -1;
static char tu_cap_path[600];

TU_FN void tu_capture_start(void)
{
    snprintf(tu_cap_path, sizeof(tu_cap_path), "%s/.stderr", tu_scratch());
    fflush(stderr);
    tu_saved_fd = dup(2);
    int fd = open(tu_cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    dup2(fd, 2);
    close(fd);
}

TU_FN char *tu_capture_end(void)
{
    fflush(stderr);
    dup2(tu_saved_fd, 2);
    close(tu_saved_fd);
    tu_saved_fd = -1;
    FILE *fp = fopen(tu_cap_path, "r");
    char *buf = xcalloc(1, 65536);
    if (fp) {
        size_t n = fread(buf, 1, 65535, fp);
        buf[n] = 0;
        fclose(fp);
    }
    return buf;
}

#define assert_contains(hay, needle) do { \
        if (!strstr((hay), (needle))) \
            fail_msg("expected \"%s\" in:\n%s", (needle), (hay)); \
    } while (0)
#define assert_not_contains(hay, needle) do { \
        if (strstr((hay), (needle))) \
            fail_msg("did not expect \"%s\" in:\n%s", (needle), (hay)); \
    } while (0)

#endif
