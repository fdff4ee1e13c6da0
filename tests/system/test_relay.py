"""Relays end to end: seeds 002 and 004 on real instances with real peers.

Seed 002, a relay for a private network: the relay server (mynetworks as a
list of addresses and as CIDR) relays for clients inside mynetworks and
answers `554 5.7.1 ... Relay access denied` to one outside (a client bound
to 127.0.0.5); the sending servers use relayhost = [ip]:port without any
DNS (their resolver file names no server at all), and smtp_fallback_relay
takes over while the relayhost refuses connections. The whole chain runs
as two instances: sender -> relay server -> the destination's MX (a sink).

Seed 004, two tiers: a secondary MX that queues mail for the domain
(relay_domains) and forwards it to the primary through transport_maps once
the primary is back; a DMZ gateway forwarding `example.test` and
`.example.test` to the inner server, which sends its outgoing mail through
relayhost = the gateway, delivers to aliases (`foo: ...`, `turbo: a, b`,
built with newaliases) and honours ~/.forward. And MX preference with
fallback to the next MX when the first refuses.

Peers: hk_peers.Sink on 127.0.0.2/127.0.0.3, dnsmasq on 127.0.0.1 (a free
port) for the .test names. The gateway and the inner server sit on
different loopback addresses (127.0.0.1, 127.0.0.6), as two machines would.
"""
import os
import re
import subprocess

import pytest

from hk_e2e import (DELAYS, ID, free_port_on, in_queue, mailq, make_users, more_instances,
                    needs, resolv_conf, sendmail, submit, swaks, wait_for)
from hk_peers import Dnsmasq, Sink


@pytest.fixture
def peers():
    """Sinks and dnsmasq servers made by a test, stopped at its end."""
    made = []

    class P:
        def sink(self, host, port=0, **kw):
            s = Sink(host=host, port=port, **kw)
            made.append(s)
            return s

        def dns(self, records):
            d = Dnsmasq(records)
            made.append(d)
            return d
    yield P()
    for x in made:
        x.stop()


def seed002_relay_server(inst, mynetworks, dns, sink_port):
    """The relay server's main.cf as seed 002 types it (inet_interfaces = all:
    master.cf still pins smtpd to 127.0.0.1). It reaches remote.test by MX."""
    inst.write_main_cf(myhostname="relay.example.jp", mydomain="example.jp",
                       myorigin="$mydomain", append_at_myorigin="yes",
                       append_dot_mydomain="yes", inet_interfaces="all",
                       inet_protocols="ipv4", mydestination="localhost",
                       mynetworks=mynetworks, smtp_tcp_port=str(sink_port))
    resolv_conf(inst, dns)


def seed002_sender(inst, relayhost, fallback=None):
    """A sending server's main.cf as seed 002 types it; no DNS at all."""
    conf = dict(myhostname="example.jp", mydomain="example.jp", myorigin="$mydomain",
                append_at_myorigin="yes", append_dot_mydomain="yes",
                inet_interfaces="localhost", inet_protocols="ipv4", mydestination="localhost",
                mynetworks="127.0.0.1", relayhost=relayhost)
    if fallback:
        conf["smtp_fallback_relay"] = fallback
    inst.write_main_cf(**conf)
    resolv_conf(inst, None)


def remote_mx(peers):
    """remote.test's MX: a sink on 127.0.0.2, served by dnsmasq."""
    sink = peers.sink("127.0.0.2", name="mx.remote.test")
    dns = peers.dns(["--mx-host=remote.test,mx.remote.test,10",
                     "--host-record=mx.remote.test,127.0.0.2"])
    return sink, dns


# ---------------------------------------------------------------- seed 002

@pytest.mark.parametrize("mynetworks,inside,relay_restrictions,reply", [
    # a list of addresses; Postfix 3's default relay restrictions answer 454
    ("127.0.0.1, 127.0.0.3, 127.0.0.4", "127.0.0.4", None, "454 4.7.1"),
    # a range; with reject_unauth_destination (the article's Postfix 2.6
    # had it in smtpd_recipient_restrictions) the answer is 554
    ("127.0.0.0/30", "127.0.0.2", "permit_mynetworks, reject_unauth_destination", "554 5.7.1"),
])
def test_seed002_relay_server_mynetworks(instance, peers, mynetworks, inside, relay_restrictions,
                                         reply):
    needs(instance, "master", "smtpd", "cleanup", "qmgr", "smtp")
    sink, dns = remote_mx(peers)
    seed002_relay_server(instance, mynetworks, dns, sink.port)
    if relay_restrictions:
        instance.write_main_cf(smtpd_relay_restrictions=relay_restrictions)
    instance.postfix("check")
    instance.start()

    # A server inside mynetworks: relayed to the destination's MX.
    s = instance.smtp(source_address="127.0.0.1")
    s.sendmail("user1@example.jp", ["someone@remote.test"],
               "Subject: relayed\n\nfrom a private server\n")
    s.quit()
    qid = instance.wait_log(rf"postfix/smtpd\[\d+\]: ({ID}): client=unknown\[127\.0\.0\.1\]")[0]
    log = instance.log()
    assert re.search(r"postfix/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.1\]", log)
    instance.wait_log(r"(?m)postfix/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.1\] "
                      r"ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5$")
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: from=<user1@example\.jp>, size=\d+, "
                      r"nrcpt=1 \(queue active\)")
    instance.wait_log(rf"postfix/smtp\[\d+\]: {qid}: to=<someone@remote\.test>, "
                      rf"relay=mx\.remote\.test\[127\.0\.0\.2\]:{sink.port}, {DELAYS}, "
                      r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as SINK1\)")
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: removed")

    # Another address inside mynetworks, by swaks.
    rc, out = swaks(instance, "--from", "user2@example.jp", "--to", "other@remote.test",
                    "--header", "Subject: by swaks", source=inside)
    assert rc == 0, out
    assert re.search(r"<-  250 2\.0\.0 Ok: queued as " + ID, out), out
    instance.wait_log(rf"client=unknown\[{re.escape(inside)}\]")
    wait_for(lambda: len(sink.transactions()) == 2, what="second relayed message")
    assert sink.transactions()[1]["rcpts"] == ["other@remote.test"]

    # Outside mynetworks: Relay access denied, nothing queued.
    rc, out = swaks(instance, "--from", "spam@elsewhere.example", "--to", "victim@remote.test",
                    source="127.0.0.5")
    assert rc != 0
    assert f"<** {reply} <victim@remote.test>: Relay access denied" in out, out
    instance.wait_log(r"postfix/smtpd\[\d+\]: NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.5\]: "
                      rf"{re.escape(reply)} <victim@remote\.test>: Relay access denied; "
                      r"from=<spam@elsewhere\.example> to=<victim@remote\.test> proto=ESMTP "
                      r"helo=<client\.example>")
    instance.wait_log(r"disconnect from unknown\[127\.0\.0\.5\] ehlo=1 mail=1 rcpt=0/1 quit=1 "
                      r"commands=3/4")
    assert len(sink.transactions()) == 2
    assert "victim" not in mailq(instance)


def test_seed002_sender_relayhost_without_dns(instance, peers):
    needs(instance, "master", "pickup", "cleanup", "qmgr", "smtp")
    relay = peers.sink("127.0.0.2", name="relay.example.jp")
    seed002_sender(instance, f"[127.0.0.2]:{relay.port}")
    instance.start()

    sendmail(instance, "-f", "user1", "someone@remote.test",
             input="Subject: via the relay\n\nhello\n")
    qid = instance.wait_log(rf"postfix/pickup\[\d+\]: ({ID}): uid=0 from=<user1>")[0]
    instance.wait_log(rf"postfix/cleanup\[\d+\]: {qid}: message-id=<\d{{14}}\.{qid}@example\.jp>")
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: from=<user1@example\.jp>, size=\d+, "
                      r"nrcpt=1 \(queue active\)")
    instance.wait_log(rf"postfix/smtp\[\d+\]: {qid}: to=<someone@remote\.test>, "
                      rf"relay=127\.0\.0\.2\[127\.0\.0\.2\]:{relay.port}, {DELAYS}, "
                      r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as SINK1\)")
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: removed")
    # No MX lookup: the resolver file names no server, any lookup would
    # have failed and deferred the mail.
    assert "Host not found" not in instance.log()
    assert "Name service error" not in instance.log()
    sess = relay.sessions[0]
    assert sess["helo"] == "EHLO example.jp"
    tr = sess["transactions"][0]
    assert tr["mail"].startswith("MAIL FROM:<user1@example.jp>")
    assert tr["rcpts"] == ["someone@remote.test"]


def test_seed002_fallback_relay_when_primary_refuses(instance, peers):
    needs(instance, "master", "smtpd", "cleanup", "qmgr", "smtp")
    primary_port = free_port_on("127.0.0.2")      # nobody listens there (yet)
    backup = peers.sink("127.0.0.3", name="relay2.example.jp")
    seed002_sender(instance, f"[127.0.0.2]:{primary_port}", f"[127.0.0.3]:{backup.port}")
    # A session to the fallback relay is cached under the request's nexthop
    # (as Postfix does); without caching each message tries the primary first.
    instance.write_main_cf(smtp_connection_cache_on_demand="no")
    instance.start()

    qid = submit(instance, "user1@example.jp", ["someone@remote.test"], subject="first")
    instance.wait_log(rf"postfix/smtp\[\d+\]: connect to 127\.0\.0\.2\[127\.0\.0\.2\]:"
                      rf"{primary_port}: Connection refused")
    instance.wait_log(rf"postfix/smtp\[\d+\]: {qid}: to=<someone@remote\.test>, "
                      rf"relay=127\.0\.0\.3\[127\.0\.0\.3\]:{backup.port}, {DELAYS}, "
                      r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as SINK1\)")
    instance.wait_log(rf"{qid}: removed")
    assert backup.transactions()[0]["rcpts"] == ["someone@remote.test"]

    # The primary is back: it gets the next message, the fallback nothing more.
    primary = peers.sink("127.0.0.2", primary_port, name="relay1.example.jp")
    qid2 = submit(instance, "user1@example.jp", ["someone@remote.test"], subject="second")
    instance.wait_log(rf"{qid2}: to=<someone@remote\.test>, "
                      rf"relay=127\.0\.0\.2\[127\.0\.0\.2\]:{primary_port}, .*status=sent")
    assert len(primary.transactions()) == 1 and len(backup.transactions()) == 1
    assert "Host not found" not in instance.log()


@pytest.mark.parametrize("port25", [True, False])
def test_seed002_same_myhostname_on_both_sides(instance, peers, port25):
    """The article gives the relay server the senders' myhostname. On port 25
    that is a mail loop (as with Postfix); a filter or relay on another port
    may answer with our own name."""
    needs(instance, "master", "smtpd", "cleanup", "qmgr", "smtp")
    if port25:
        try:
            relay = peers.sink("127.0.0.2", 25, name="example.jp")
        except OSError as e:
            pytest.skip(f"port 25 on 127.0.0.2 is not free: {e}")
        seed002_sender(instance, "[127.0.0.2]")
    else:
        relay = peers.sink("127.0.0.2", name="example.jp")
        seed002_sender(instance, f"[127.0.0.2]:{relay.port}")
    instance.start()
    qid = submit(instance, "user1@example.jp", ["someone@remote.test"])
    if port25:
        instance.wait_log(r"postfix/smtp\[\d+\]: warning: host 127\.0\.0\.2\[127\.0\.0\.2\] "
                          r"greeted me with my own hostname example\.jp")
        instance.wait_log(rf"{qid}: to=<someone@remote\.test>, relay=127\.0\.0\.2\[127\.0\.0\.2\]:25, "
                          rf"{DELAYS}, dsn=5\.4\.6, status=bounced \(mail for \[127\.0\.0\.2\] "
                          r"loops back to myself\)")
        assert not any("someone@remote.test" in t["rcpts"] for t in relay.transactions())
    else:
        instance.wait_log(rf"{qid}: to=<someone@remote\.test>, relay=127\.0\.0\.2\[127\.0\.0\.2\]:"
                          rf"{relay.port}, .*status=sent")
        assert "my own hostname" not in instance.log()


def test_seed002_sender_through_relay_server(instance, peers, hk_install):
    """Both halves of the article: a sending server -> the relay server -> the MX."""
    needs(instance, "master", "smtpd", "pickup", "cleanup", "qmgr", "smtp")
    sink, dns = remote_mx(peers)
    seed002_relay_server(instance, "127.0.0.1, 127.0.0.4, 127.0.0.5/32", dns, sink.port)
    instance.start()
    with more_instances(hk_install) as make:
        sender = make()
        seed002_sender(sender, f"[127.0.0.1]:{instance.smtp_port}")
        sender.start()
        sendmail(sender, "-f", "user1", "someone@remote.test",
                 input="Subject: two hops\n\nthrough the relay server\n")
        sid = sender.wait_log(rf"postfix/pickup\[\d+\]: ({ID}): uid=0 from=<user1>")[0]
        msgid = sender.wait_log(rf"postfix/cleanup\[\d+\]: {sid}: message-id=(<[^>]+>)")[0]
        rid = sender.wait_log(
            rf"postfix/smtp\[\d+\]: {sid}: to=<someone@remote\.test>, "
            rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{instance.smtp_port}, {DELAYS}, dsn=2\.0\.0, "
            rf"status=sent \(250 2\.0\.0 Ok: queued as ({ID})\)", timeout=30)[0]
        sender.wait_log(rf"{sid}: removed")
    # The relay server's side of the same message, as the article shows it.
    instance.wait_log(rf"postfix/smtpd\[\d+\]: {rid}: client=unknown\[127\.0\.0\.1\]")
    instance.wait_log(rf"postfix/cleanup\[\d+\]: {rid}: message-id={re.escape(msgid)}")
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {rid}: from=<user1@example\.jp>, size=\d+, "
                      r"nrcpt=1 \(queue active\)")
    instance.wait_log(r"postfix/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.1\]")
    instance.wait_log(rf"postfix/smtp\[\d+\]: {rid}: to=<someone@remote\.test>, "
                      rf"relay=mx\.remote\.test\[127\.0\.0\.2\]:{sink.port}, {DELAYS}, "
                      r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as SINK1\)")
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {rid}: removed")
    data = sink.transactions()[0]["data"].decode()
    # Two Received: lines, the relay server's on top, naming the sender's EHLO.
    received = re.findall(r"(?m)^Received: .*", data)
    assert len(received) == 2, data
    assert received[0].startswith("Received: from example.jp (unknown [127.0.0.1])")
    assert received[1].startswith("Received: by example.jp")
    assert f"Message-ID: {msgid}" in data or f"Message-Id: {msgid}" in data


# ---------------------------------------------------------------- MX preference

def test_mx_preference_and_next_mx_when_first_refuses(instance, peers):
    needs(instance, "master", "smtpd", "cleanup", "qmgr", "smtp")
    port = free_port_on("127.0.0.2", "127.0.0.3")
    dns = peers.dns(["--mx-host=remote.test,mx2.remote.test,20",
                     "--mx-host=remote.test,mx1.remote.test,10",
                     "--host-record=mx1.remote.test,127.0.0.2",
                     "--host-record=mx2.remote.test,127.0.0.3"])
    resolv_conf(instance, dns)
    # No session caching: a session to mx2 would be reused for the next
    # message to remote.test (as in Postfix), and this test is about the order.
    instance.write_main_cf(smtp_tcp_port=str(port), smtp_connection_cache_on_demand="no")
    mx2 = peers.sink("127.0.0.3", port, name="mx2.remote.test")
    instance.start()

    # mx1 (preference 10) refuses: the next MX takes the mail.
    qid = submit(instance, "app@example.jp", ["user@remote.test"], subject="one")
    instance.wait_log(rf"postfix/smtp\[\d+\]: connect to mx1\.remote\.test\[127\.0\.0\.2\]:{port}: "
                      r"Connection refused")
    instance.wait_log(rf"{qid}: to=<user@remote\.test>, relay=mx2\.remote\.test\[127\.0\.0\.3\]:"
                      rf"{port}, {DELAYS}, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok")
    # mx1 is up: the better preference wins again.
    mx1 = peers.sink("127.0.0.2", port, name="mx1.remote.test")
    qid2 = submit(instance, "app@example.jp", ["user@remote.test"], subject="two")
    instance.wait_log(rf"{qid2}: to=<user@remote\.test>, relay=mx1\.remote\.test\[127\.0\.0\.2\]:"
                      rf"{port}, .*status=sent")
    assert len(mx1.transactions()) == 1 and len(mx2.transactions()) == 1
    # Both down: deferred with the last MX's reason.
    mx1.stop()
    mx2.stop()
    qid3 = submit(instance, "app@example.jp", ["user@remote.test"], subject="three")
    instance.wait_log(rf"{qid3}: to=<user@remote\.test>, relay=none, {DELAYS}, dsn=4\.4\.1, "
                      rf"status=deferred \(connect to mx2\.remote\.test\[127\.0\.0\.3\]:{port}: "
                      r"Connection refused\)")


# ---------------------------------------------------------------- seed 004

@pytest.mark.parametrize("form", ["literal", "article"])
def test_seed004_secondary_mx(instance, peers, form):
    """mailgwbak queues mail for example.test while the primary is down and
    forwards it (transport_maps, no MX lookup of the domain) once it is back."""
    needs(instance, "master", "smtpd", "cleanup", "qmgr", "smtp", "showq")
    port = free_port_on("127.0.0.2")
    transport = os.path.join(instance.config, "transport")
    if form == "literal":
        nexthop = f"smtp:[127.0.0.2]:{port}"
        resolv_conf(instance, None)
        relay = rf"127\.0\.0\.2\[127\.0\.0\.2\]:{port}"
    else:
        # As the article writes it: the primary's name, looked up without MX
        # records of its own (its A record); the domain's MX records name
        # the primary (10) and this server (20).
        nexthop = f"smtp:mailgw.example.test:{port}"
        dns = peers.dns(["--mx-host=example.test,mailgw.example.test,10",
                         "--mx-host=example.test,mailgwbak.example.test,20",
                         "--host-record=mailgw.example.test,127.0.0.2",
                         "--host-record=mailgwbak.example.test,127.0.0.1"])
        resolv_conf(instance, dns)
        relay = rf"mailgw\.example\.test\[127\.0\.0\.2\]:{port}"
    with open(transport, "w") as f:
        f.write(f"example.test {nexthop}\n")
    instance.cmd("postmap", transport)
    instance.write_main_cf(myhostname="mailgwbak.example.test", mydomain="example.test",
                           mydestination="$myhostname, localhost.$mydomain, localhost",
                           relay_domains="example.test", mynetworks="127.0.0.1",
                           transport_maps="hash:" + transport,
                           minimal_backoff_time="300s", maximal_backoff_time="600s")
    instance.start()

    # From the Internet (outside mynetworks): taken for example.test only.
    qid = submit(instance, "friend@elsewhere.example", ["taro@example.test"],
                 subject="while the primary is down", source="127.0.0.5")
    instance.wait_log(rf"{qid}: to=<taro@example\.test>, relay=none, {DELAYS}, dsn=4\.4\.1, "
                      rf"status=deferred \(connect to {relay}: Connection refused\)")
    wait_for(lambda: in_queue(instance, qid) == "deferred", what="message in deferred/")
    assert "Connection refused" in mailq(instance)
    s = instance.smtp(source_address="127.0.0.5")
    s.ehlo("client.example")
    s.mail("friend@elsewhere.example")
    code, msg = s.rcpt("someone@other.example")
    s.quit()
    assert code == 454 and b"Relay access denied" in msg

    # The primary is back; a flush (or the next retry) forwards the mail.
    primary = peers.sink("127.0.0.2", port, name="mailgw.example.test")
    instance.cmd("postqueue", "-f")
    instance.wait_log(rf"{qid}: to=<taro@example\.test>, relay={relay}, {DELAYS}, dsn=2\.0\.0, "
                      r"status=sent \(250 2\.0\.0 Ok: queued as SINK1\)")
    instance.wait_log(rf"{qid}: removed")
    tr = primary.transactions()[0]
    assert tr["rcpts"] == ["taro@example.test"]
    assert tr["mail"].startswith("MAIL FROM:<friend@elsewhere.example>")
    assert mailq(instance) == "Mail queue is empty\n"


INNER_USERS = ("hktuser1", "hkttaro", "hktjiro", "hktfoo")


def test_seed004_dmz_gateway_and_inner_server(instance, peers, hk_install):
    """mailgw.example.test (127.0.0.1) forwards example.test and .example.test
    to mail.example.test (127.0.0.6), which keeps the mailboxes, expands
    aliases and .forward, and sends everything else through the gateway."""
    needs(instance, "master", "smtpd", "cleanup", "qmgr", "smtp", "local")
    sink = peers.sink("127.0.0.2", name="mx.remote.test")
    with make_users(*INNER_USERS) as users, more_instances(hk_install) as make:
        inner = make("127.0.0.6")
        dns = peers.dns(["--mx-host=example.test,mailgw.example.test,10",
                         "--host-record=mailgw.example.test,127.0.0.1",
                         "--host-record=mail.example.test,127.0.0.6",
                         "--mx-host=remote.test,mx.remote.test,10",
                         "--host-record=mx.remote.test,127.0.0.2"])
        # The gateway: only relays; transport_maps as the article writes it.
        gw = instance
        transport = os.path.join(gw.config, "transport")
        with open(transport, "w") as f:
            f.write(f"example.test smtp:mail.example.test:{inner.smtp_port}\n"
                    f".example.test smtp:mail.example.test:{inner.smtp_port}\n")
        gw.cmd("postmap", transport)
        gw.write_main_cf(myhostname="mailgw.example.test", mydomain="example.test",
                         mydestination="localhost",
                         relay_domains="example.test", mynetworks="127.0.0.1, 127.0.0.6",
                         transport_maps="hash:" + transport, smtp_tcp_port=str(sink.port))
        resolv_conf(gw, dns)
        gw.start()

        # The inner server: the mailboxes; relayhost = the gateway, by name.
        aliases = os.path.join(inner.config, "aliases")
        with open(aliases, "w") as f:
            f.write("# seed 004\npostmaster: root\nfoo: hktuser1\nturbo: hkttaro, hktjiro\n")
        inner.write_main_cf(myhostname="mail.example.test", mydomain="example.test",
                            mydestination="$myhostname, localhost.$mydomain, localhost, "
                                          "$mydomain, sub.example.test",
                            relayhost=f"mailgw.example.test:{gw.smtp_port}",
                            smtp_bind_address="127.0.0.6", mynetworks="127.0.0.0/8")
        resolv_conf(inner, dns)
        newaliases = os.path.join(inner.prefix, "bin", "newaliases")
        r = subprocess.run([newaliases], env=dict(os.environ, MAIL_CONFIG=inner.config),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert os.path.exists(aliases + ".db")
        foo = users["hktfoo"]
        fwd = os.path.join(foo.pw_dir, ".forward")
        with open(fwd, "w") as f:
            f.write("boy@remote.test\n")
        os.chown(fwd, foo.pw_uid, foo.pw_gid)
        inner.start()

        # From the Internet to the gateway: the domain and a subdomain.
        qid = submit(gw, "friend@elsewhere.example",
                     ["foo@example.test", "turbo@example.test", "hktfoo@example.test",
                      "hktjiro@sub.example.test"], subject="from outside", source="127.0.0.5")
        gw.wait_log(rf"{qid}: to=<foo@example\.test>, relay=mail\.example\.test\[127\.0\.0\.6\]:"
                    rf"{inner.smtp_port}, {DELAYS}, dsn=2\.0\.0, status=sent", timeout=30)
        gw.wait_log(rf"{qid}: to=<hktjiro@sub\.example\.test>, relay=mail\.example\.test"
                    rf"\[127\.0\.0\.6\]:{inner.smtp_port}, .*status=sent")
        gw.wait_log(rf"{qid}: removed")
        inner.wait_log(r"postfix/smtpd\[\d+\]: \w+: client=unknown\[127\.0\.0\.1\]")
        inner.wait_log(r"to=<hktuser1@mail\.example\.test>, orig_to=<foo@example\.test>, "
                       rf"relay=local, {DELAYS}, dsn=2\.0\.0, status=sent \(delivered to mailbox\)",
                       timeout=30)
        for who in ("hkttaro", "hktjiro"):
            inner.wait_log(rf"to=<{who}@mail\.example\.test>, orig_to=<turbo@example\.test>, "
                           r"relay=local, .*status=sent \(delivered to mailbox\)")
        inner.wait_log(r"to=<hktjiro@sub\.example\.test>, relay=local, .*"
                       r"status=sent \(delivered to mailbox\)")
        # hktfoo's .forward: out through the gateway to remote.test's MX.
        new = inner.wait_log(rf"to=<boy@remote\.test>, orig_to=<hktfoo@example\.test>, "
                             rf"relay=local, {DELAYS}, dsn=2\.0\.0, "
                             rf"status=sent \(forwarded as ({ID})\)")[0]
        inner.wait_log(rf"{new}: to=<boy@remote\.test>, (orig_to=<hktfoo@example\.test>, )?"
                       rf"relay=mailgw\.example\.test\[127\.0\.0\.1\]:{gw.smtp_port}, "
                       r".*status=sent", timeout=30)
        gw.wait_log(r"client=unknown\[127\.0\.0\.6\]")
        wait_for(lambda: any("boy@remote.test" in t["rcpts"] for t in sink.transactions()),
                 what="forwarded copy at remote.test")
        assert "from outside" in inner.mailbox("hktuser1")
        assert inner.mailbox("hkttaro").count("Subject: from outside") == 1
        # hktjiro got it twice: once through turbo, once at sub.example.test.
        assert inner.mailbox("hktjiro").count("Subject: from outside") == 2
        assert inner.mailbox("hktfoo") == ""

        # Outgoing mail from the inner server goes through the gateway.
        sendmail(inner, "-f", "hkttaro@example.test", "partner@remote.test",
                 input="Subject: outgoing\n\nthrough the DMZ\n")
        oid = inner.wait_log(
            rf"({ID}): to=<partner@remote\.test>, relay=mailgw\.example\.test"
            rf"\[127\.0\.0\.1\]:{gw.smtp_port}, {DELAYS}, dsn=2\.0\.0, status=sent", timeout=30)[0]
        inner.wait_log(rf"{oid}: removed")
        gw.wait_log(rf"to=<partner@remote\.test>, relay=mx\.remote\.test\[127\.0\.0\.2\]:"
                    rf"{sink.port}, .*status=sent")
        wait_for(lambda: any("partner@remote.test" in t["rcpts"] for t in sink.transactions()),
                 what="outgoing mail at remote.test")
        assert "Host not found" not in inner.log() + gw.log()
