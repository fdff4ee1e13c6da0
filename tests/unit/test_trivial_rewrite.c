/* test_trivial_rewrite.c - the trivial-rewrite daemon, run stand-alone (-S) on a socketpair. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf_fixture.h"
#include "mail/rewrite_client.h"
#include "util/attr.h"
#include "util/vstream.h"

static pid_t child = -1;
static vstream *conn;

/* Start "trivial-rewrite -S -c DIR" with one end of a socketpair as fd 0. */
static int start_daemon(void **state)
{
    const char *build = getenv("HK_BUILD_DIR");
    if (!build) {
        fprintf(stderr, "HK_BUILD_DIR not set: skipping\n");
        *state = 0;
        return 0;
    }
    char prog[512];
    snprintf(prog, sizeof(prog), "%s/trivial-rewrite", build);
    char line[600];
    snprintf(line, sizeof(line), "transport_maps = texthash:%s",
             fixture_write("transport", "root@example.jp local:\n* :\n"));
    fixture_main_cf("myhostname = example.jp", "mydomain = example.jp", "myorigin = $mydomain",
                    "mydestination = localhost", "inet_interfaces = 127.0.0.1", line,
                    "relay_domains = relay.example", (char *) 0);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return -1;
    child = fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        dup2(sv[1], 0);
        dup2(sv[1], 1);
        close(sv[0]);
        close(sv[1]);
        execl(prog, "trivial-rewrite", "-S", "-c", fixture_dir(), (char *) 0);
        _exit(127);
    }
    close(sv[1]);
    conn = vstream_open(sv[0]);
    vstream_set_timeout(conn, 10000);
    *state = conn;
    return 0;
}

static int stop_daemon(void **state)
{
    (void) state;
    if (conn)
        vstream_close(conn);
    if (child > 0) {
        int status;
        waitpid(child, &status, 0);
    }
    return 0;
}

static void test_rewrite_requests(void **state)
{
    if (!*state)
        skip();
    vstream *s = *state;
    sbuf out = SBUF_INIT, why = SBUF_INIT;
    assert_int_equal(rewrite_client_rewrite(s, "local", "root", &out, &why), 0);
    assert_string_equal(sbuf_str(&out), "root@example.jp");
    assert_int_equal(rewrite_client_rewrite(s, "remote", "root", &out, &why), 0);
    assert_string_equal(sbuf_str(&out), "root");
    assert_int_equal(rewrite_client_rewrite(s, "local", "@a,@b:u@x.example", &out, &why), 0);
    assert_string_equal(sbuf_str(&out), "u@x.example");
    assert_int_equal(rewrite_client_rewrite(s, "sideways", "root", &out, &why), -1);
    assert_string_equal(sbuf_str(&why), "unknown rewrite rule");
    sbuf_free(&out);
    sbuf_free(&why);
}

static void test_resolve_requests(void **state)
{
    if (!*state)
        skip();
    vstream *s = *state;
    struct resolve_reply r;
    sbuf why = SBUF_INIT;
    resolve_init(&r);
    assert_int_equal(rewrite_client_resolve(s, "", "root@example.jp", &r, &why), 0);
    assert_string_equal(sbuf_str(&r.transport), "local");
    assert_string_equal(sbuf_str(&r.nexthop), "example.jp");
    assert_string_equal(sbuf_str(&r.recipient), "root@example.jp");
    assert_true(r.flags & RESOLVE_CLASS_DEFAULT);
    assert_int_equal(rewrite_client_resolve(s, 0, "user@relay.example", &r, &why), 0);
    assert_string_equal(sbuf_str(&r.transport), "relay");
    assert_true(r.flags & RESOLVE_CLASS_RELAY);
    assert_int_equal(rewrite_client_resolve(s, "a@b", "x%y.example@relay.example", &r, &why), 0);
    assert_true(r.flags & RESOLVE_FLAG_ROUTED);
    assert_int_equal(rewrite_client_resolve(s, "", "u@localhost", &r, &why), 0);
    assert_true(r.flags & RESOLVE_CLASS_LOCAL);
    assert_string_equal(sbuf_str(&r.nexthop), "example.jp");
    resolve_free(&r);
    sbuf_free(&why);
}

static void bad_request(vstream *s, const char *want_reason, attr_list *req)
{
    attr_list reply = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    int32_t status;
    const char *reason;
    assert_int_equal(attr_write(s, req), 0);
    assert_int_equal(attr_read(s, &reply, 0, &why), ATTR_OK);
    assert_int_equal(attr_get_int(&reply, "status", &status), 0);
    assert_int_equal(status, -1);
    assert_int_equal(attr_get_str(&reply, "reason", &reason), 0);
    if (!strstr(reason, want_reason))
        fail_msg("reason \"%s\", want \"%s\"", reason, want_reason);
    attr_list_free(&reply);
    sbuf_free(&why);
}

static void test_bad_requests_then_good(void **state)
{
    if (!*state)
        skip();
    vstream *s = *state;
    attr_list req = ATTR_LIST_INIT;
    attr_add_str(&req, "request", "verify");
    bad_request(s, "unknown request", &req);
    attr_list_reset(&req);
    attr_add_str(&req, "address", "x@y");
    bad_request(s, "request without a name", &req);
    attr_list_reset(&req);
    attr_add_str(&req, "request", "resolve");
    bad_request(s, "address", &req);
    attr_list_reset(&req);
    attr_add_str(&req, "request", "rewrite");
    attr_add_str(&req, "rule", "local");
    attr_add_int(&req, "address", 5);
    bad_request(s, "address", &req);
    attr_list_reset(&req);
    attr_add_str(&req, "request", "rewrite");
    attr_add_str(&req, "rule", "local");
    attr_add_data(&req, "address", "a\0b", 3);                /* NUL inside */
    bad_request(s, "address", &req);
    attr_list_free(&req);
    /* the session is still usable */
    sbuf out = SBUF_INIT;
    assert_int_equal(rewrite_client_rewrite(s, "local", "root", &out, 0), 0);
    assert_string_equal(sbuf_str(&out), "root@example.jp");
    sbuf_free(&out);
}

static void test_malformed_ends_session(void **state)
{
    if (!*state)
        skip();
    vstream *s = *state;
    vstream_write(s, "Zgarbage", 8);
    vstream_flush(s);
    attr_list reply = ATTR_LIST_INIT;
    sbuf why = SBUF_INIT;
    int rc = attr_read(s, &reply, 0, &why);
    assert_true(rc == ATTR_CLOSED || rc == ATTR_ERROR);
    attr_list_free(&reply);
    sbuf_free(&why);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    child = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewrite_requests),
        cmocka_unit_test(test_resolve_requests),
        cmocka_unit_test(test_bad_requests_then_good),
        cmocka_unit_test(test_malformed_ends_session),
    };
    return cmocka_run_group_tests(tests, start_daemon, stop_daemon);
}
