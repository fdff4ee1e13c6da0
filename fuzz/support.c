/*
 * support.c - helpers shared by the fuzz targets (see support.h).
 *
 * The temporary directory is made once per process and removed (with
 * whatever the targets wrote into it) by an atexit handler, so a fuzzing
 * run leaves nothing behind in $TMPDIR. It is not a fuzz target itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "util/msg.h"

static char tmpdir[PATH_MAX];
static char pathbuf[PATH_MAX];

static void remove_tmpdir(void)
{
    if (!tmpdir[0])
        return;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[PATH_MAX + 256];
            snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    tmpdir[0] = 0;
}

void fuzz_init(void)
{
    if (tmpdir[0])
        return;
    const char *verbose = getenv("FUZZ_VERBOSE");
    msg_init("fuzz", verbose && *verbose == '1' ? MSG_TO_STDERR : 0);
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/hk-fuzz.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(remove_tmpdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_init();
    return 0;
}

const char *fuzz_dir(void)
{
    fuzz_init();
    return tmpdir;
}

const char *fuzz_write_file(const char *name, const void *data, size_t size)
{
    fuzz_init();
    snprintf(pathbuf, sizeof(pathbuf), "%s/%s", tmpdir, name);
    /* A new file each time: truncating and rewriting one makes ext4 start
     * writeback on close (auto_da_alloc), which costs a disk wait per input. */
    unlink(pathbuf);
    int fd = open(pathbuf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(pathbuf);
        abort();
    }
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            perror(pathbuf);
            abort();
        }
        p += n;
        size -= (size_t) n;
    }
    close(fd);
    return pathbuf;
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = 0;
    return s;
}

unsigned fuzz_byte(struct fuzz_in *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

ssize_t fuzz_take_line(struct fuzz_in *in, void *buf, size_t len)
{
    const uint8_t *lf = in->left ? memchr(in->p, '\n', in->left) : 0;
    size_t n = lf ? (size_t) (lf - in->p) + 1 : in->left;
    if (n > len)
        n = len;
    if (n)
        memcpy(buf, in->p, n);
    in->p += n;
    in->left -= n;
    return (ssize_t) n;
}

char *fuzz_take(struct fuzz_in *in, uint8_t sep, size_t *len)
{
    const uint8_t *end = in->left ? memchr(in->p, sep, in->left) : NULL;
    size_t n = end ? (size_t) (end - in->p) : in->left;
    char *s = fuzz_cstr(in->p, n);
    in->p += n;
    in->left -= n;
    if (end) {
        in->p++;
        in->left--;
    }
    if (len)
        *len = n;
    return s;
}
