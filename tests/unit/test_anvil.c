/*
 * test_anvil.c - the anvil server (src/anvil/anvil.c, run stand-alone with
 * -S on a socketpair) and its client library (src/mail/anvil_client.c):
 * connection counts, event rates and their time window, disconnects, the
 * statistics log, bad requests, and a client whose anvil is gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf_fixture.h"
#include "mail/anvil_client.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/sbuf.h"
#include "util/sock.h"
#include "util/vstream.h"

static char prog[512];
static char maillog[512];

static void write_conf(void)
{
    char log_line[600], prefixes[600];
    snprintf(maillog, sizeof(maillog), "%s/maillog", fixture_dir());
    snprintf(log_line, sizeof(log_line), "maillog_file = %s", maillog);
    snprintf(prefixes, sizeof(prefixes), "maillog_file_prefixes = %s", fixture_dir());
    fixture_main_cf("anvil_rate_time_unit = 1s", log_line, prefixes, (char *) 0);
}

/* In a child: keep only stdin, stdout and stderr, so that the test's own
 * end of a socketpair is not held open by anvil (anvil would never see
 * the test hang up). */
static void close_others(void)
{
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
}

/* anvil -S with fd 0 = fd; returns its pid. */
static pid_t start_anvil(int fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(60);                  /* never outlive a broken test */
        dup2(fd, 0);
        close_others();
        execl(prog, "anvil", "-S", "-c", fixture_dir(), (char *) 0);
        _exit(127);
    }
    return pid;
}

static int32_t ask(vstream *s, const char *request, const char *ident, attr_list *reply)
{
    int32_t status = -9;
    sbuf why = SBUF_INIT;
    if (ident)
        attr_print(s, ATTR_SEND_STR("request", request), ATTR_SEND_STR("ident", ident),
                   ATTR_END);
    else
        attr_print(s, ATTR_SEND_STR("request", request), ATTR_END);
    assert_int_equal(attr_read(s, reply, 0, &why), ATTR_OK);
    assert_int_equal(attr_get_int(reply, "status", &status), 0);
    sbuf_free(&why);
    return status;
}

static int32_t get(const attr_list *l, const char *name)
{
    int32_t v = -1;
    assert_int_equal(attr_get_int(l, name, &v), 0);
    return v;
}

static bool log_has(const char *text)
{
    size_t len = 0;
    char *buf = 0;
    FILE *f = fopen(maillog, "r");
    if (!f)
        return false;
    buf = malloc(65536);
    len = fread(buf, 1, 65535, f);
    buf[len] = 0;
    fclose(f);
    bool found = strstr(buf, text) != 0;
    free(buf);
    return found;
}

static void test_counts_and_rates(void **state)
{
    (void) state;
    int sv[2];
    attr_list r = ATTR_LIST_INIT;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = start_anvil(sv[1]);
    close(sv[1]);
    vstream *s = vstream_open(sv[0]);
    vstream_set_timeout(s, 10000);

    assert_int_equal(ask(s, "connect", "smtp:192.0.2.1", &r), 0);
    assert_int_equal(get(&r, "count"), 1);
    assert_int_equal(get(&r, "rate"), 1);
    assert_int_equal(ask(s, "connect", "smtp:192.0.2.1", &r), 0);
    assert_int_equal(get(&r, "count"), 2);
    assert_int_equal(get(&r, "rate"), 2);
    assert_int_equal(ask(s, "connect", "smtp:192.0.2.2", &r), 0);
    assert_int_equal(get(&r, "count"), 1);
    assert_int_equal(ask(s, "disconnect", "smtp:192.0.2.1", &r), 0);

    assert_int_equal(ask(s, "message", "smtp:192.0.2.1", &r), 0);
    assert_int_equal(get(&r, "rate"), 1);
    assert_int_equal(ask(s, "message", "smtp:192.0.2.1", &r), 0);
    assert_int_equal(get(&r, "rate"), 2);
    assert_int_equal(ask(s, "recipient", "smtp:192.0.2.1", &r), 0);
    assert_int_equal(get(&r, "rate"), 1);
    assert_int_equal(ask(s, "auth", "smtp:192.0.2.1", &r), 0);
    assert_int_equal(get(&r, "rate"), 1);
    assert_int_equal(ask(s, "newtls", "smtp:192.0.2.1", &r), 0);
    assert_int_equal(ask(s, "newtls_report", "smtp:192.0.2.1", &r), 0);
    assert_int_equal(get(&r, "rate"), 1);         /* a report does not count */

    assert_int_equal(ask(s, "lookup", "smtp:192.0.2.1", &r), 0);
    assert_int_equal(get(&r, "count"), 1);
    assert_int_equal(get(&r, "rate"), 2);
    assert_int_equal(get(&r, "message"), 2);
    assert_int_equal(get(&r, "recipient"), 1);
    assert_int_equal(get(&r, "auth"), 1);
    assert_int_equal(get(&r, "newtls"), 1);
    assert_int_equal(ask(s, "lookup", "smtp:203.0.113.9", &r), 0);
    assert_int_equal(get(&r, "count"), 0);

    /* A new window after anvil_rate_time_unit (1s); the count stays. */
    usleep(1100 * 1000);
    assert_int_equal(ask(s, "connect", "smtp:192.0.2.1", &r), 0);
    assert_int_equal(get(&r, "count"), 2);
    assert_int_equal(get(&r, "rate"), 1);

    /* Bad requests are refused, not fatal. */
    assert_int_equal(ask(s, "connect", 0, &r), 1);
    assert_int_equal(ask(s, "explode", "smtp:192.0.2.1", &r), 1);
    char big[700];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(ask(s, "connect", big, &r), 1);
    assert_int_equal(ask(s, "lookup", "smtp:192.0.2.1", &r), 0);

    /* The client goes away: anvil (stand-alone) reports and exits. */
    vstream_close(s);
    int wstatus;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    assert_true(log_has("statistics: max connection rate 2/1s for (smtp:192.0.2.1)"));
    assert_true(log_has("statistics: max connection count 2 for (smtp:192.0.2.1)"));
    assert_true(log_has("statistics: max message rate 2/1s for (smtp:192.0.2.1)"));
    attr_list_free(&r);
}

static void test_garbage_closes_client(void **state)
{
    (void) state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = start_anvil(sv[1]);
    close(sv[1]);
    assert_int_equal(write(sv[0], "this is not an attribute list\n", 30), 30);
    char buf[16];
    /* anvil hangs up on a client that is out of step, and exits. */
    assert_true(read(sv[0], buf, sizeof(buf)) <= 0);
    close(sv[0]);
    int wstatus;
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    assert_true(WIFEXITED(wstatus));
}

static void test_client_library(void **state)
{
    (void) state;
    char path[600];
    int count = -1, rate = -1;
    sbuf ident = SBUF_INIT;

    snprintf(path, sizeof(path), "%s/anvil.sock", fixture_dir());
    int lfd = sock_listen_unix(path, 4, 0600);
    assert_true(lfd >= 0);
    /* A helper takes the first connection and runs anvil on it. */
    pid_t helper = fork();
    if (helper == 0) {
        alarm(60);
        sock_set_nonblock(lfd, 0);
        int cfd = sock_accept(lfd, 0, 0);
        if (cfd < 0)
            _exit(1);
        dup2(cfd, 0);
        close_others();
        execl(prog, "anvil", "-S", "-c", fixture_dir(), (char *) 0);
        _exit(127);
    }
    close(lfd);
    anvil_set_path(path);
    anvil_ident(&ident, "submission", "2001:db8::1");
    assert_string_equal(sbuf_str(&ident), "submission:2001:db8::1");
    assert_int_equal(anvil_connect(sbuf_str(&ident), &count, &rate), 0);
    assert_int_equal(count, 1);
    assert_int_equal(rate, 1);
    assert_int_equal(anvil_event(ANVIL_REQ_MESSAGE, sbuf_str(&ident), &rate), 0);
    assert_int_equal(rate, 1);
    struct anvil_lookup l;
    assert_int_equal(anvil_lookup(sbuf_str(&ident), &l), 0);
    assert_int_equal(l.count, 1);
    assert_int_equal(l.message, 1);
    assert_int_equal(anvil_disconnect(sbuf_str(&ident)), 0);
    anvil_close();
    int wstatus;
    assert_int_equal(waitpid(helper, &wstatus, 0), helper);
    /* Nobody listens any more: a warning and -1, never a hang. */
    unlink(path);
    assert_int_equal(anvil_connect(sbuf_str(&ident), &count, &rate), -1);
    anvil_set_path(0);
    sbuf_free(&ident);
}

int main(void)
{
    const char *build = getenv("HK_BUILD_DIR");
    if (!build) {
        fprintf(stderr, "HK_BUILD_DIR not set: skipping\n");
        return 0;
    }
    snprintf(prog, sizeof(prog), "%s/anvil", build);
    if (access(prog, X_OK) != 0) {
        fprintf(stderr, "%s not built: skipping\n", prog);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(120);                     /* a hang is a failure, not a stuck test run */
    msg_init("test_anvil", MSG_TO_STDERR);
    write_conf();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_rates),
        cmocka_unit_test(test_garbage_closes_client),
        cmocka_unit_test(test_client_library),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
