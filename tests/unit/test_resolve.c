/* test_resolve.c - unit tests for mail/resolve: address classes, transport_maps, relayhost. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "conf_fixture.h"
#include "mail/resolve.h"

/* A gateway: example.jp is ours (seed 001/004 style mydestination). */
#define BASE "myhostname = mail.example.jp", "mydomain = example.jp", \
             "myorigin = $mydomain", \
             "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain, abc.ne.jp", \
             "inet_interfaces = 127.0.0.1", "inet_protocols = ipv4"

static int setup(void **state)
{
    (void) state;
    fixture_main_cf(BASE, (char *) 0);
    return 0;
}

struct want {
    int cls;
    const char *transport, *nexthop, *recipient;
    int flags;                  /* RESOLVE_FLAG_* expected (others must be clear) */
};

static void res_from(const char *sender, const char *addr, struct want w)
{
    struct resolve_reply r;
    resolve_init(&r);
    resolve_address(sender, addr, &r);
    int cls = r.flags & RESOLVE_CLASS_MASK;
    int fl = r.flags & ~RESOLVE_CLASS_MASK;
    if (cls != w.cls || fl != w.flags || strcmp(sbuf_str(&r.transport), w.transport) != 0
        || strcmp(sbuf_str(&r.nexthop), w.nexthop) != 0
        || strcmp(sbuf_str(&r.recipient), w.recipient) != 0)
        fail_msg("resolve(\"%s\") = class %#x flags %#x %s:%s <%s>; want class %#x flags %#x "
                 "%s:%s <%s>", addr, cls, fl, sbuf_str(&r.transport), sbuf_str(&r.nexthop),
                 sbuf_str(&r.recipient), w.cls, w.flags, w.transport, w.nexthop, w.recipient);
    resolve_free(&r);
}

static void res(const char *addr, struct want w)
{
    res_from("", addr, w);
}

#define LOCAL   RESOLVE_CLASS_LOCAL
#define DEFAULT RESOLVE_CLASS_DEFAULT
#define RELAY   RESOLVE_CLASS_RELAY
#define ROUTED  RESOLVE_FLAG_ROUTED
#define ERROR   RESOLVE_FLAG_ERROR
#define FAIL    RESOLVE_FLAG_FAIL

static void test_local_class(void **state)
{
    (void) state;
    res("root@example.jp", (struct want){ LOCAL, "local", "mail.example.jp", "root@example.jp", 0 });
    res("root@EXAMPLE.JP", (struct want){ LOCAL, "local", "mail.example.jp", "root@EXAMPLE.JP", 0 });
    res("user@mail.example.jp", (struct want){ LOCAL, "local", "mail.example.jp",
                                               "user@mail.example.jp", 0 });
    res("user@localhost", (struct want){ LOCAL, "local", "mail.example.jp", "user@localhost", 0 });
    res("user@localhost.example.jp", (struct want){ LOCAL, "local", "mail.example.jp",
                                                    "user@localhost.example.jp", 0 });
    res("user@abc.ne.jp", (struct want){ LOCAL, "local", "mail.example.jp", "user@abc.ne.jp", 0 });
    res("user@example.jp.", (struct want){ LOCAL, "local", "mail.example.jp", "user@example.jp", 0 });
    /* no domain: this machine */
    res("root", (struct want){ LOCAL, "local", "mail.example.jp", "root@mail.example.jp", 0 });
    /* the null recipient is $empty_address_recipient */
    res("", (struct want){ LOCAL, "local", "mail.example.jp", "MAILER-DAEMON@mail.example.jp", 0 });
    res("@example.jp", (struct want){ LOCAL, "local", "mail.example.jp",
                                      "MAILER-DAEMON@example.jp", 0 });
    /* [address] literals of inet_interfaces are local */
    res("user@[127.0.0.1]", (struct want){ LOCAL, "local", "mail.example.jp",
                                           "user@[127.0.0.1]", 0 });
    res("user@[127.0.0.2]", (struct want){ DEFAULT, "smtp", "[127.0.0.2]", "user@[127.0.0.2]", 0 });
    /* subdomains of mydestination names are not local */
    res("user@sub.example.jp", (struct want){ DEFAULT, "smtp", "sub.example.jp",
                                              "user@sub.example.jp", 0 });
    assert_int_equal(resolve_local_domain("example.jp"), 1);
    assert_int_equal(resolve_local_domain("Example.JP."), 1);
    assert_int_equal(resolve_local_domain("[127.0.0.1]"), 1);
    assert_int_equal(resolve_local_domain("[127.0.0.9]"), 0);
    assert_int_equal(resolve_local_domain("[nonsense]"), 0);
    assert_int_equal(resolve_local_domain("other.org"), 0);
    assert_int_equal(resolve_local_domain(""), 0);
    assert_int_equal(resolve_local_domain(0), 0);
}

static void test_local_transport_forms(void **state)
{
    (void) state;
    fixture_main_cf(BASE, "local_transport = local", (char *) 0);
    res("root@example.jp", (struct want){ LOCAL, "local", "mail.example.jp", "root@example.jp", 0 });
    fixture_main_cf(BASE, "local_transport = lmtp:unix:/var/run/lmtp", (char *) 0);
    res("root@example.jp", (struct want){ LOCAL, "lmtp", "unix:/var/run/lmtp", "root@example.jp", 0 });
    /* proxy_interfaces and IPv6 literals */
    fixture_main_cf(BASE, "inet_interfaces = [::1], 127.0.0.1", "proxy_interfaces = 192.0.2.10",
                    (char *) 0);
    res("u@[192.0.2.10]", (struct want){ LOCAL, "local", "mail.example.jp", "u@[192.0.2.10]", 0 });
    res("u@[IPv6:::1]", (struct want){ LOCAL, "local", "mail.example.jp", "u@[IPv6:::1]", 0 });
    assert_int_equal(resolve_local_domain("[ipv6:0:0::1]"), 1);
    fixture_main_cf(BASE, "inet_interfaces = loopback-only", (char *) 0);
    assert_int_equal(resolve_local_domain("[127.0.0.1]"), 1);
    assert_int_equal(resolve_local_domain("[IPv6:::1]"), 1);
    fixture_main_cf(BASE, "inet_interfaces = all", (char *) 0);
    assert_int_equal(resolve_local_domain("[127.0.0.1]"), 1);    /* lo is always there */
    assert_int_equal(resolve_local_domain("[192.0.2.254]"), 0);
    setup(0);
}

static void test_default_class_and_relayhost(void **state)
{
    (void) state;
    res("user@example.org", (struct want){ DEFAULT, "smtp", "example.org", "user@example.org", 0 });
    /* seed 001/002: relayhost = [192.168.1.2] (no MX) */
    fixture_main_cf(BASE, "relayhost = [192.168.1.2]", (char *) 0);
    res("user@example.org", (struct want){ DEFAULT, "smtp", "[192.168.1.2]", "user@example.org", 0 });
    res("root@example.jp", (struct want){ LOCAL, "local", "mail.example.jp", "root@example.jp", 0 });
    /* default_transport's own nexthop wins over relayhost */
    fixture_main_cf(BASE, "relayhost = [192.168.1.2]", "default_transport = smtp:[10.0.0.1]:2525",
                    (char *) 0);
    res("user@example.org", (struct want){ DEFAULT, "smtp", "[10.0.0.1]:2525",
                                           "user@example.org", 0 });
    fixture_main_cf(BASE, "default_transport = uucp", (char *) 0);
    res("user@example.org", (struct want){ DEFAULT, "uucp", "example.org", "user@example.org", 0 });
    /* sender-dependent maps */
    fixture_main_cf(BASE, "relayhost = [192.168.1.2]",
                    "sender_dependent_relayhost_maps = inline:{ {a@example.jp=[10.1.1.1]}, "
                    "{@other.jp=[10.2.2.2]}, {<>=[10.3.3.3]} }",
                    "sender_dependent_default_transport_maps = inline:{ {b@example.jp=uucp:gw} }",
                    (char *) 0);
    res_from("a@example.jp", "u@example.org",
             (struct want){ DEFAULT, "smtp", "[10.1.1.1]", "u@example.org", 0 });
    res_from("z@other.jp", "u@example.org",
             (struct want){ DEFAULT, "smtp", "[10.2.2.2]", "u@example.org", 0 });
    res_from("", "u@example.org", (struct want){ DEFAULT, "smtp", "[10.3.3.3]", "u@example.org", 0 });
    res_from("c@example.jp", "u@example.org",
             (struct want){ DEFAULT, "smtp", "[192.168.1.2]", "u@example.org", 0 });
    res_from("b@example.jp", "u@example.org",
             (struct want){ DEFAULT, "uucp", "gw", "u@example.org", 0 });
    res_from(0, "u@example.org", (struct want){ DEFAULT, "smtp", "[10.3.3.3]", "u@example.org", 0 });
    setup(0);
}

static void test_relay_class(void **state)
{
    (void) state;
    fixture_main_cf(BASE, "relay_domains = turbolinux.co.jp", (char *) 0);
    res("u@turbolinux.co.jp", (struct want){ RELAY, "relay", "turbolinux.co.jp",
                                             "u@turbolinux.co.jp", 0 });
    /* relay_domains matches subdomains (parent_domain_matches_subdomains) */
    res("u@a.turbolinux.co.jp", (struct want){ RELAY, "relay", "a.turbolinux.co.jp",
                                               "u@a.turbolinux.co.jp", 0 });
    res("u@example.org", (struct want){ DEFAULT, "smtp", "example.org", "u@example.org", 0 });
    /* relayhost applies to the relay class too (postconf(5) relay_transport) */
    fixture_main_cf(BASE, "relay_domains = turbolinux.co.jp", "relayhost = [192.168.1.2]",
                    (char *) 0);
    res("u@turbolinux.co.jp", (struct want){ RELAY, "relay", "[192.168.1.2]",
                                             "u@turbolinux.co.jp", 0 });
    fixture_main_cf(BASE, "relay_domains = turbolinux.co.jp", "relayhost = [192.168.1.2]",
                    "relay_transport = smtp:[mailgw.turbolinux.co.jp]", (char *) 0);
    res("u@turbolinux.co.jp", (struct want){ RELAY, "smtp", "[mailgw.turbolinux.co.jp]",
                                             "u@turbolinux.co.jp", 0 });
    /* a table lookup failure is FAIL, never a bounce */
    fixture_main_cf(BASE, "relay_domains = fail:x", (char *) 0);
    res("u@turbolinux.co.jp", (struct want){ DEFAULT, "smtp", "turbolinux.co.jp",
                                             "u@turbolinux.co.jp", FAIL });
    setup(0);
}

static void test_virtual_classes(void **state)
{
    (void) state;
    fixture_main_cf(BASE, "virtual_alias_domains = valias.example",
                    "virtual_mailbox_domains = vmbox.example, valias.example", (char *) 0);
    res("u@valias.example", (struct want){ RESOLVE_CLASS_ALIAS, "error",
                                           "5.1.1 User unknown in virtual alias table",
                                           "u@valias.example", 0 });
    res("u@vmbox.example", (struct want){ RESOLVE_CLASS_VIRTUAL, "virtual", "vmbox.example",
                                          "u@vmbox.example", 0 });
    fixture_main_cf(BASE, "virtual_mailbox_domains = vmbox.example",
                    "virtual_transport = lmtp:unix:private/dovecot-lmtp", (char *) 0);
    res("u@vmbox.example", (struct want){ RESOLVE_CLASS_VIRTUAL, "lmtp", "unix:private/dovecot-lmtp",
                                          "u@vmbox.example", 0 });
    /* default: virtual_alias_domains = $virtual_alias_maps (a table list) */
    fixture_main_cf(BASE, "virtual_alias_maps = inline:{ {valias.example=x}, {a@valias.example=b} }",
                    (char *) 0);
    res("a@valias.example", (struct want){ RESOLVE_CLASS_ALIAS, "error",
                                           "5.1.1 User unknown in virtual alias table",
                                           "a@valias.example", 0 });
    setup(0);
}

static void test_seed000_transport(void **state)
{
    (void) state;
    /* Seed 000: a send-only server. example.jp is NOT in mydestination. */
    char line[600];
    snprintf(line, sizeof(line), "transport_maps = texthash:%s",
             fixture_write("transport", "root@example.jp local:\n* :\n"));
    fixture_main_cf("myhostname = example.jp", "mydomain = example.jp", "myorigin = $mydomain",
                    "append_at_myorigin = yes", "append_dot_mydomain = yes",
                    "inet_interfaces = localhost", "inet_protocols = ipv4",
                    "mydestination = localhost", "mynetworks = 127.0.0.1", line, (char *) 0);
    /* root@example.jp goes to the local transport; no nexthop in the entry:
     * the recipient domain (transport(5)) */
    res("root@example.jp", (struct want){ DEFAULT, "local", "example.jp", "root@example.jp", 0 });
    /* "* :" changes nothing for everything else */
    res("user@example.org", (struct want){ DEFAULT, "smtp", "example.org", "user@example.org", 0 });
    res("other@example.jp", (struct want){ DEFAULT, "smtp", "example.jp", "other@example.jp", 0 });
    res("user@localhost", (struct want){ LOCAL, "local", "example.jp", "user@localhost", 0 });
    res("user@[127.0.0.1]", (struct want){ LOCAL, "local", "example.jp", "user@[127.0.0.1]", 0 });
    /* a bare "root" is root@$myhostname = root@example.jp: the local transport */
    res("root", (struct want){ DEFAULT, "local", "example.jp", "root@example.jp", 0 });
    /* with relayhost, "* :" keeps the relayhost too */
    fixture_main_cf("myhostname = example.jp", "mydomain = example.jp",
                    "mydestination = localhost", "relayhost = [192.168.1.2]", line, (char *) 0);
    res("user@example.org", (struct want){ DEFAULT, "smtp", "[192.168.1.2]", "user@example.org", 0 });
    res("root@example.jp", (struct want){ DEFAULT, "local", "example.jp", "root@example.jp", 0 });
    setup(0);
}

static void test_seed001_transport(void **state)
{
    (void) state;
    char line[600];
    snprintf(line, sizeof(line), "transport_maps = texthash:%s",
             fixture_write("transport001", "hogehoge.ac.jp smtp:[192.168.1.2]\n"
                                        ".hogehoge.ac.jp smtp:[192.168.1.2]\n"));
    fixture_main_cf(BASE, line, (char *) 0);
    res("u@hogehoge.ac.jp", (struct want){ DEFAULT, "smtp", "[192.168.1.2]", "u@hogehoge.ac.jp", 0 });
    res("u@xxx.hogehoge.ac.jp", (struct want){ DEFAULT, "smtp", "[192.168.1.2]",
                                               "u@xxx.hogehoge.ac.jp", 0 });
    res("u@a.b.hogehoge.ac.jp", (struct want){ DEFAULT, "smtp", "[192.168.1.2]",
                                               "u@a.b.hogehoge.ac.jp", 0 });
    res("u@xhogehoge.ac.jp", (struct want){ DEFAULT, "smtp", "xhogehoge.ac.jp",
                                            "u@xhogehoge.ac.jp", 0 });
    res("u@example.jp", (struct want){ LOCAL, "local", "mail.example.jp", "u@example.jp", 0 });

    /* without the ".domain" line, subdomains are not matched (Postfix default
     * parent_domain_matches_subdomains does not list transport_maps) */
    snprintf(line, sizeof(line), "transport_maps = texthash:%s",
             fixture_write("transport2", "hogehoge.ac.jp smtp:[192.168.1.2]\n"));
    fixture_main_cf(BASE, line, (char *) 0);
    res("u@xxx.hogehoge.ac.jp", (struct want){ DEFAULT, "smtp", "xxx.hogehoge.ac.jp",
                                               "u@xxx.hogehoge.ac.jp", 0 });
    /* ...unless it does */
    fixture_main_cf(BASE, line, "parent_domain_matches_subdomains = transport_maps", (char *) 0);
    res("u@xxx.hogehoge.ac.jp", (struct want){ DEFAULT, "smtp", "[192.168.1.2]",
                                               "u@xxx.hogehoge.ac.jp", 0 });
    setup(0);
}

static void test_transport_result_forms(void **state)
{
    (void) state;
    fixture_main_cf(BASE, "relayhost = [192.168.1.2]",
                    "transport_maps = inline:{ {a.example=:[gw.example]}, {b.example=slow:}, "
                    "{c.example=error:mail for c.example is not deliverable}, {d.example=error:}, "
                    "{e.example=smtp:bar.example:2025}, {f.example=smtp:bar.example, foo.example}, "
                    "{u+x@g.example=lmtp:ext}, {u@g.example=lmtp:base}, {@h.example=nope}, "
                    "{root@example.jp=local:}, {example.jp=smtp:[192.0.2.1]} }",
                    "recipient_delimiter = +", (char *) 0);
    res("u@a.example", (struct want){ DEFAULT, "smtp", "[gw.example]", "u@a.example", 0 });
    res("u@b.example", (struct want){ DEFAULT, "slow", "b.example", "u@b.example", 0 });
    res("u@c.example", (struct want){ DEFAULT, "error", "mail for c.example is not deliverable",
                                      "u@c.example", 0 });
    res("u@d.example", (struct want){ DEFAULT, "error", "Address is undeliverable",
                                      "u@d.example", 0 });
    res("u@e.example", (struct want){ DEFAULT, "smtp", "bar.example:2025", "u@e.example", 0 });
    res("u@f.example", (struct want){ DEFAULT, "smtp", "bar.example, foo.example",
                                      "u@f.example", 0 });
    res("u+x@g.example", (struct want){ DEFAULT, "lmtp", "ext", "u+x@g.example", 0 });
    res("u+y@g.example", (struct want){ DEFAULT, "lmtp", "base", "u+y@g.example", 0 });
    res("u@h.example", (struct want){ DEFAULT, "smtp", "[192.168.1.2]", "u@h.example", 0 });
    /* local class entries: the full address first, then the domain */
    res("root@example.jp", (struct want){ LOCAL, "local", "example.jp", "root@example.jp", 0 });
    res("user@example.jp", (struct want){ LOCAL, "smtp", "[192.0.2.1]", "user@example.jp", 0 });
    /* the null recipient is looked up as MAILER-DAEMON@$myhostname */
    fixture_main_cf(BASE, "transport_maps = inline:{ {mailer-daemon@mail.example.jp=discard:} }",
                    (char *) 0);
    res("", (struct want){ LOCAL, "discard", "mail.example.jp", "MAILER-DAEMON@mail.example.jp", 0 });
    /* failures defer */
    fixture_main_cf(BASE, "transport_maps = fail:x", (char *) 0);
    res("u@example.org", (struct want){ DEFAULT, "smtp", "example.org", "u@example.org", FAIL });
    fixture_main_cf(BASE, "transport_maps = texthash:/nonexistent/transport", (char *) 0);
    res("u@example.org", (struct want){ DEFAULT, "smtp", "example.org", "u@example.org", FAIL });
    fixture_main_cf(BASE, "mydestination = fail:x", (char *) 0);
    res("u@example.org", (struct want){ DEFAULT, "smtp", "example.org", "u@example.org", FAIL });
    setup(0);
}

static void test_routing(void **state)
{
    (void) state;
    /* Seed 001 open-relay test: relaytest%rbl.jp@[our address]. With the
     * percent hack the address leaves for rbl.jp: default class, which
     * reject_unauth_destination refuses. */
    res("relaytest%rbl.jp@[127.0.0.1]", (struct want){ DEFAULT, "smtp", "rbl.jp",
                                                       "relaytest@rbl.jp", 0 });
    res("user%other.org@example.jp", (struct want){ DEFAULT, "smtp", "other.org",
                                                    "user@other.org", 0 });
    res("other.org!user@example.jp", (struct want){ DEFAULT, "smtp", "other.org",
                                                    "user@other.org", 0 });
    res("user%abc.ne.jp@example.jp", (struct want){ LOCAL, "local", "mail.example.jp",
                                                    "user@abc.ne.jp", 0 });
    res("user%other.org", (struct want){ DEFAULT, "smtp", "other.org", "user@other.org", 0 });
    /* a quoted '@' is a route too ("a@b"@example.jp, internal a@b@example.jp) */
    res("a@other.org@example.jp", (struct want){ DEFAULT, "smtp", "other.org", "a@other.org", 0 });
    /* sender-specified routing left in a non-local address: ROUTED */
    res("user%other.org@remote.org", (struct want){ DEFAULT, "smtp", "remote.org",
                                                    "user%other.org@remote.org", ROUTED });
    res("a!b@remote.org", (struct want){ DEFAULT, "smtp", "remote.org", "a!b@remote.org", ROUTED });
    res("a@b@remote.org", (struct want){ DEFAULT, "smtp", "remote.org", "a@b@remote.org", ROUTED });
    fixture_main_cf(BASE, "relay_domains = relay.example", (char *) 0);
    res("victim%elsewhere.org@relay.example",
        (struct want){ RELAY, "relay", "relay.example", "victim%elsewhere.org@relay.example",
                       ROUTED });
    res("victim@relay.example", (struct want){ RELAY, "relay", "relay.example",
                                               "victim@relay.example", 0 });

    /* Without the percent hack, user%host@local stays local (and is not ROUTED:
     * the local agent sees an unknown user). */
    fixture_main_cf(BASE, "allow_percent_hack = no", "swap_bangpath = no", (char *) 0);
    res("relaytest%rbl.jp@[127.0.0.1]", (struct want){ LOCAL, "local", "mail.example.jp",
                                                       "relaytest%rbl.jp@[127.0.0.1]", 0 });
    res("other.org!user@example.jp", (struct want){ LOCAL, "local", "mail.example.jp",
                                                    "other.org!user@example.jp", 0 });
    /* ...and remote ones are still ROUTED */
    res("user%other.org@remote.org", (struct want){ DEFAULT, "smtp", "remote.org",
                                                    "user%other.org@remote.org", ROUTED });
    /* resolve_dequoted_address = no: a quoted local part is opaque */
    fixture_main_cf(BASE, "resolve_dequoted_address = no", (char *) 0);
    res("a@other.org@example.jp", (struct want){ LOCAL, "local", "mail.example.jp",
                                                 "a@other.org@example.jp", 0 });
    res("a b%x@remote.org", (struct want){ DEFAULT, "smtp", "remote.org", "a b%x@remote.org", 0 });
    setup(0);
}

static void test_bad_addresses(void **state)
{
    (void) state;
    res("user@", (struct want){ DEFAULT, "smtp", "", "user@", ERROR });
    fixture_main_cf(BASE, "resolve_null_domain = yes", (char *) 0);
    res("user@", (struct want){ LOCAL, "local", "mail.example.jp", "user@mail.example.jp", 0 });
    setup(0);
    res("user@bad..domain", (struct want){ DEFAULT, "smtp", "bad..domain", "user@bad..domain",
                                           ERROR });
    res("user@-bad.example", (struct want){ DEFAULT, "smtp", "-bad.example",
                                            "user@-bad.example", ERROR });
    res("user@[1.2.3]", (struct want){ DEFAULT, "smtp", "[1.2.3]", "user@[1.2.3]", ERROR });
    res("user@1.2.3.4", (struct want){ DEFAULT, "smtp", "1.2.3.4", "user@1.2.3.4", ERROR });
    fixture_main_cf(BASE, "resolve_numeric_domain = yes", (char *) 0);
    res("user@1.2.3.4", (struct want){ DEFAULT, "smtp", "[1.2.3.4]", "user@[1.2.3.4]", 0 });
    res("user@127.0.0.1", (struct want){ LOCAL, "local", "mail.example.jp", "user@[127.0.0.1]", 0 });
    setup(0);
    /* pathological inputs end, with an error rather than a hang */
    sbuf big = SBUF_INIT;
    sbuf_adds(&big, "u");
    for (int i = 0; i < 200; i++)
        sbuf_adds(&big, "%localhost");
    sbuf_adds(&big, "@localhost");
    struct resolve_reply r;
    resolve_init(&r);
    resolve_address("", sbuf_str(&big), &r);
    assert_true((r.flags & RESOLVE_FLAG_ERROR) || (r.flags & RESOLVE_CLASS_LOCAL));
    resolve_address("", "!@example.jp", &r);
    assert_true(r.flags & RESOLVE_CLASS_MASK);
    resolve_address("", 0, &r);
    assert_true(r.flags & RESOLVE_CLASS_LOCAL);
    resolve_free(&r);
    sbuf_free(&big);
}

static void test_config_reload(void **state)
{
    (void) state;
    res("u@example.org", (struct want){ DEFAULT, "smtp", "example.org", "u@example.org", 0 });
    fixture_main_cf(BASE, "mydestination = example.org", (char *) 0);
    res("u@example.org", (struct want){ LOCAL, "local", "mail.example.jp", "u@example.org", 0 });
    setup(0);
    res("u@example.org", (struct want){ DEFAULT, "smtp", "example.org", "u@example.org", 0 });
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_class),
        cmocka_unit_test(test_local_transport_forms),
        cmocka_unit_test(test_default_class_and_relayhost),
        cmocka_unit_test(test_relay_class),
        cmocka_unit_test(test_virtual_classes),
        cmocka_unit_test(test_seed000_transport),
        cmocka_unit_test(test_seed001_transport),
        cmocka_unit_test(test_transport_result_forms),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_config_reload),
    };
    return cmocka_run_group_tests(tests, setup, 0);
}
