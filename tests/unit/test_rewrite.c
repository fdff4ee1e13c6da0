/* test_rewrite.c - unit tests for mail/rewrite: trivial-rewrite's canonical form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "conf_fixture.h"
#include "mail/rewrite.h"

/* Seed 000's main.cf (with mydestination extended to test local stripping). */
static void seed_conf(const char *extra1, const char *extra2)
{
    fixture_main_cf("myhostname = mail.example.jp",
                    "mydomain = example.jp",
                    "myorigin = $mydomain",
                    "append_at_myorigin = yes",
                    "append_dot_mydomain = yes",
                    "inet_interfaces = 127.0.0.1",
                    "mydestination = $myhostname, localhost.$mydomain, localhost",
                    extra1 ? extra1 : "# -",
                    extra2 ? extra2 : "# -",
                    (char *) 0);
}

static int setup(void **state)
{
    (void) state;
    seed_conf(0, 0);
    return 0;
}

static void rw(const char *context, const char *in, const char *want)
{
    sbuf out = SBUF_INIT;
    rewrite_address(context, in, &out);
    if (strcmp(sbuf_str(&out), want) != 0)
        fail_msg("rewrite(%s, \"%s\") = \"%s\", want \"%s\"", context, in, sbuf_str(&out),
                 want);
    sbuf_free(&out);
}

static void test_append_at_myorigin(void **state)
{
    (void) state;
    rw(REWRITE_LOCAL, "root", "root@example.jp");               /* seed 000 */
    rw(REWRITE_LOCAL, "root@example.jp", "root@example.jp");
    rw(REWRITE_LOCAL, "User.Name", "User.Name@example.jp");
    rw("anything-else", "root", "root@example.jp");             /* unknown = local */
    rw(0, "root", "root@example.jp");
    /* default myorigin is $myhostname */
    fixture_main_cf("myhostname = host.example.jp", (char *) 0);
    rw(REWRITE_LOCAL, "root", "root@host.example.jp");
    fixture_main_cf("myhostname = host.example.jp", "append_at_myorigin = no", (char *) 0);
    rw(REWRITE_LOCAL, "root", "root");
    fixture_main_cf("myhostname = host.example.jp", "myorigin =", (char *) 0);
    rw(REWRITE_LOCAL, "root", "root");
    setup(0);
}

static void test_append_dot_mydomain(void **state)
{
    (void) state;
    rw(REWRITE_LOCAL, "user@host", "user@host.example.jp");
    rw(REWRITE_LOCAL, "user@host.other", "user@host.other");
    rw(REWRITE_LOCAL, "user@[192.168.1.2]", "user@[192.168.1.2]");
    rw(REWRITE_LOCAL, "user@", "user@");                          /* left for the resolver */
    fixture_main_cf("myhostname = mail.example.jp", "mydomain = example.jp", (char *) 0);
    rw(REWRITE_LOCAL, "user@host", "user@host");                  /* default: no */
    fixture_main_cf("mydomain =", "append_dot_mydomain = yes", "myhostname = x.y", (char *) 0);
    rw(REWRITE_LOCAL, "user@host", "user@host");
    setup(0);
}

static void test_special_forms(void **state)
{
    (void) state;
    rw(REWRITE_LOCAL, "", "");
    rw(REWRITE_LOCAL, "@", "");
    rw(REWRITE_REMOTE, "@", "");
    rw(REWRITE_LOCAL, "@a.example,@b.example:user@example.org", "user@example.org");
    rw(REWRITE_LOCAL, "@a.example:user", "user@example.jp");
    rw(REWRITE_LOCAL, "@a.example:", "@a.example:");              /* nothing after the route */
    rw(REWRITE_LOCAL, "user@example.org.", "user@example.org");
    rw(REWRITE_LOCAL, "user@example.org..", "user@example.org..");
    rw(REWRITE_LOCAL, "user@.", "user@.");
    rw(REWRITE_LOCAL, "user@host.", "user@host");                  /* has a dot: no .mydomain */
    rw(REWRITE_LOCAL, "a@b@example.org", "a@b@example.org");      /* quoted '@' stays */
}

static void test_bang_and_percent(void **state)
{
    (void) state;
    rw(REWRITE_LOCAL, "host!user", "user@host.example.jp");
    rw(REWRITE_LOCAL, "host.org!user", "user@host.org");
    rw(REWRITE_LOCAL, "a.org!b.org!user", "b.org!user@a.org");
    rw(REWRITE_LOCAL, "user%host.org", "user@host.org");
    rw(REWRITE_LOCAL, "user%a.org%b.org", "user%a.org@b.org");
    rw(REWRITE_LOCAL, "a.org!user%b.org", "user%b.org@a.org");    /* bang first */
    rw(REWRITE_LOCAL, "!user", "!user@example.jp");
    rw(REWRITE_LOCAL, "user!", "user!@example.jp");
    /* with '@' present, no bang or percent rewriting for remote domains */
    rw(REWRITE_LOCAL, "user%host.org@remote.org", "user%host.org@remote.org");
    rw(REWRITE_LOCAL, "host.org!user@remote.org", "host.org!user@remote.org");
    /* ...but a local domain is stripped first (allow_percent_hack) */
    rw(REWRITE_LOCAL, "user%host.org@localhost", "user@host.org");  /* localhost.example.jp */
    rw(REWRITE_LOCAL, "user%localhost@localhost", "user@localhost.example.jp");
    seed_conf("append_dot_mydomain = no", 0);
    rw(REWRITE_LOCAL, "user%host.org@localhost", "user@host.org");
    rw(REWRITE_LOCAL, "user%host.org@mail.example.jp", "user@host.org");
    rw(REWRITE_LOCAL, "user%host.org@[127.0.0.1]", "user@host.org");
    rw(REWRITE_LOCAL, "user%host.org@[127.0.0.2]", "user%host.org@[127.0.0.2]");
    rw(REWRITE_LOCAL, "host.org!user@localhost", "user@host.org");
    rw(REWRITE_LOCAL, "a%b.org%localhost@localhost", "a@b.org");
    rw(REWRITE_LOCAL, "user%localhost@localhost", "user@localhost");
    rw(REWRITE_LOCAL, "a@b%c@localhost", "a@b%c@localhost");
    /* the canonical step alone does not strip local domains */
    sbuf out = SBUF_INIT;
    rewrite_address_canon(REWRITE_LOCAL, "user%host.org@localhost", &out);
    assert_string_equal(sbuf_str(&out), "user%host.org@localhost");
    rewrite_address_canon(REWRITE_LOCAL, "user%host.org", &out);
    assert_string_equal(sbuf_str(&out), "user@host.org");
    sbuf_free(&out);

    seed_conf("allow_percent_hack = no", "swap_bangpath = no");
    rw(REWRITE_LOCAL, "user%host.org", "user%host.org@example.jp");
    rw(REWRITE_LOCAL, "host!user", "host!user@example.jp");
    rw(REWRITE_LOCAL, "user%host.org@localhost", "user%host.org@localhost.example.jp");
    rw(REWRITE_LOCAL, "host.org!user@mail.example.jp", "host.org!user@mail.example.jp");
    setup(0);
}

static void test_remote_context(void **state)
{
    (void) state;
    /* remote_header_rewrite_domain empty (default): nothing is appended */
    rw(REWRITE_REMOTE, "root", "root");
    rw(REWRITE_REMOTE, "user@host", "user@host");
    rw(REWRITE_REMOTE, "host.org!user", "user@host.org");
    rw(REWRITE_REMOTE, "user%host.org", "user@host.org");
    rw(REWRITE_REMOTE, "@a.example:user@example.org", "user@example.org");
    rw(REWRITE_REMOTE, "user@example.org.", "user@example.org");
    seed_conf("remote_header_rewrite_domain = domain.invalid", 0);
    rw(REWRITE_REMOTE, "root", "root@domain.invalid");
    rw(REWRITE_REMOTE, "user@host", "user@host.domain.invalid");
    rw(REWRITE_LOCAL, "root", "root@example.jp");
    setup(0);
}

static void test_long_and_odd(void **state)
{
    (void) state;
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    sbuf out = SBUF_INIT;
    rewrite_address(REWRITE_LOCAL, big, &out);
    assert_int_equal(out.len, sizeof(big) - 1 + strlen("@example.jp"));
    /* many percent signs with local domains: bounded */
    sbuf in = SBUF_INIT;
    sbuf_adds(&in, "u");
    for (int i = 0; i < 50; i++)
        sbuf_adds(&in, "%localhost");
    sbuf_adds(&in, "@localhost");
    rewrite_address(REWRITE_LOCAL, sbuf_str(&in), &out);
    assert_true(out.len > 0);
    rewrite_address(REWRITE_LOCAL, 0, &out);
    assert_string_equal(sbuf_str(&out), "");
    sbuf_free(&in);
    sbuf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_at_myorigin),
        cmocka_unit_test(test_append_dot_mydomain),
        cmocka_unit_test(test_special_forms),
        cmocka_unit_test(test_bang_and_percent),
        cmocka_unit_test(test_remote_context),
        cmocka_unit_test(test_long_and_odd),
    };
    return cmocka_run_group_tests(tests, setup, 0);
}
