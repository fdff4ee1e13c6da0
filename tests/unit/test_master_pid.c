/*
 * test_master_pid.c - unit tests for mail/master_pid (master.pid and its lock).
 *
 * POSIX locks never conflict with their own process, so "somebody else
 * holds it" is always asked from a forked child.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "mail/mail_conf.h"
#include "mail/master_pid.h"

static char qdir[64];
static char piddir[96];
static char pidfile[128];

static int setup(void **state)
{
    (void) state;
    snprintf(qdir, sizeof(qdir), "/tmp/test_master_pid.XXXXXX");
    assert_non_null(mkdtemp(qdir));
    snprintf(piddir, sizeof(piddir), "%s/pid", qdir);
    snprintf(pidfile, sizeof(pidfile), "%s/master.pid", piddir);
    assert_int_equal(mkdir(piddir, 0755), 0);
    mail_conf_load(qdir);           /* no main.cf there: defaults */
    mail_conf_override("queue_directory", qdir);
    return 0;
}

static int teardown(void **state)
{
    (void) state;
    unlink(pidfile);
    rmdir(piddir);
    rmdir(qdir);
    return 0;
}

/* Run fn in a child; returns its exit status. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static pid_t expected_holder;

static int child_sees_holder(void)
{
    return master_pid_running() == expected_holder ? 0 : 1;
}

static int child_cannot_lock(void)
{
    pid_t holder = 0;
    int fd = master_pid_lock(&holder);
    return fd < 0 && errno == EAGAIN && holder == expected_holder ? 0 : 1;
}

static int child_sees_nobody(void)
{
    return master_pid_running() == 0 ? 0 : 1;
}

static void test_path(void **state)
{
    (void) state;
    char buf[256];
    assert_int_equal(master_pid_path(buf, sizeof(buf)), 0);
    assert_string_equal(buf, pidfile);
    char tiny[8];
    assert_int_equal(master_pid_path(tiny, sizeof(tiny)), -1);
}

static void test_no_file_is_not_running(void **state)
{
    (void) state;
    assert_int_equal(master_pid_running(), 0);
}

static void test_stale_file_is_not_running(void **state)
{
    (void) state;
    FILE *f = fopen(pidfile, "w");
    assert_non_null(f);
    fprintf(f, "%10d\n", 1);
    fclose(f);
    assert_int_equal(master_pid_running(), 0);
    /* and it can be taken over */
    int fd = master_pid_lock(0);
    assert_true(fd >= 0);
    close(fd);
}

static void test_lock_write_and_query(void **state)
{
    (void) state;
    int fd = master_pid_lock(0);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(master_pid_write(fd, getpid()), 0);
    /* Read through the same descriptor: closing any other descriptor of
     * the file would drop this process's lock (POSIX rules). */
    char buf[64] = "";
    assert_true(pread(fd, buf, sizeof(buf) - 1, 0) > 0);
    char want[64];
    snprintf(want, sizeof(want), "%10ld\n", (long) getpid());
    assert_string_equal(buf, want);

    expected_holder = getpid();
    assert_int_equal(in_child(child_sees_holder), 0);
    assert_int_equal(in_child(child_cannot_lock), 0);

    /* Closing the descriptor releases the lock. */
    close(fd);
    assert_int_equal(in_child(child_sees_nobody), 0);
}

static void test_rewrite_shorter_pid(void **state)
{
    (void) state;
    int fd = master_pid_lock(0);
    assert_true(fd >= 0);
    assert_int_equal(master_pid_write(fd, 123456789), 0);
    assert_int_equal(master_pid_write(fd, 7), 0);
    close(fd);
    char buf[64] = "";
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_string_equal(buf, "         7\n");
}

static void test_unreadable_directory(void **state)
{
    (void) state;
    mail_conf_override("queue_directory", "/nonexistent/queue");
    assert_int_equal(master_pid_running(), 0);      /* no file: not running */
    errno = 0;
    assert_int_equal(master_pid_lock(0), -1);
    assert_int_equal(errno, ENOENT);
    mail_conf_override("queue_directory", qdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_file_is_not_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_file_is_not_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_write_and_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewrite_shorter_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
