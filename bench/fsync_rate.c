/*
 * fsync_rate - the disk's ceiling for queue files: create + write + fsync + rename per second.
 *
 *   fsync_rate DIR WRITERS SECONDS [BYTES]
 *
 * Starts WRITERS processes that each, for SECONDS, repeat: create a
 * new file in DIR (O_EXCL), write BYTES (default 1024), fsync it, close
 * it and rename it to its final name, the way an MTA commits a queue
 * file. Prints one line "writers=W ops=N seconds=S rate=R" (R: operations
 * per second, all writers together) and removes every file it made.
 * Used by bench/run.sh only; not installed, not part of the test suite.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One writer: returns the number of completed operations. */
static long writer(const char *dir, int id, double seconds, size_t bytes, int start_fd)
{
    char    tmp[4096], fin[4096], *buf = malloc(bytes ? bytes : 1), go;
    long    n = 0;
    if (!buf)
        exit(2);
    memset(buf, 'x', bytes);
    if (read(start_fd, &go, 1) < 0)         /* wait for the start (EOF) */
        exit(2);
    double  end = now() + seconds;
    while (now() < end) {
        snprintf(tmp, sizeof(tmp), "%s/w%d.%ld.tmp", dir, id, n);
        snprintf(fin, sizeof(fin), "%s/w%d.%ld", dir, id, n);
        int     fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || write(fd, buf, bytes) != (ssize_t) bytes || fsync(fd) < 0 || close(fd) < 0
            || rename(tmp, fin) < 0) {
            perror(tmp);
            exit(2);
        }
        n++;
    }
    for (long i = 0; i < n; i++) {
        snprintf(fin, sizeof(fin), "%s/w%d.%ld", dir, id, i);
        unlink(fin);
    }
    free(buf);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: fsync_rate DIR WRITERS SECONDS [BYTES]\n");
        return 1;
    }
    const char *dir = argv[1];
    int     writers = atoi(argv[2]);
    double  seconds = atof(argv[3]);
    long    bytes = argc == 5 ? atol(argv[4]) : 1024;
    if (writers < 1 || writers > 256 || !(seconds > 0 && seconds <= 600) || bytes < 0
        || bytes > 64L * 1024 * 1024) {
        fprintf(stderr, "fsync_rate: bad arguments\n");
        return 1;
    }
    int     start[2], result[2];
    if (pipe(start) < 0 || pipe(result) < 0) {
        perror("pipe");
        return 1;
    }
    for (int i = 0; i < writers; i++) {
        pid_t   pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            close(start[1]);
            close(result[0]);
            long    n = writer(dir, i, seconds, (size_t) bytes, start[0]);
            if (write(result[1], &n, sizeof(n)) != sizeof(n))
                _exit(2);
            _exit(0);
        }
    }
    close(start[0]);
    close(result[1]);
    double  t0 = now();
    close(start[1]);                        /* go */
    long    total = 0, n;
    int     got = 0;
    while (read(result[0], &n, sizeof(n)) == sizeof(n)) {
        total += n;
        got++;
    }
    double  t1 = now();
    int     status, bad = 0;
    while (wait(&status) > 0)
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad = 1;
    if (bad || got != writers) {
        fprintf(stderr, "fsync_rate: a writer failed\n");
        return 1;
    }
    /* The writers' clean-up is outside their timed loop; time the loop only. */
    double  secs = seconds < t1 - t0 ? seconds : t1 - t0;
    printf("writers=%d ops=%ld seconds=%.3f rate=%.1f\n", writers, total, secs, total / secs);
    return 0;
}
