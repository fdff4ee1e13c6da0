"""The how-to articles (shared/seeds), typed as written, on a real instance.

Seed 000: a send-only server for applications: myorigin = $mydomain,
`mail -s` through sendmail and pickup, delivery by smtp to the recipient
domain's MX, and the maillog lines the article shows; then root's mail
kept local by transport_maps (`root@example.jp local:`, `* :`) and
forwarded by /etc/aliases (`root: a, b`), logged `forwarded as NEWID`.
Peers are real: dnsmasq serves the MX and A records, a sink receives.
"""
import os
import re
import subprocess

import pytest

from conftest import poll_until
from hk_peers import Dnsmasq, Sink, free_port

ID = r"[0-9A-F]{6,}"
DELAYS = r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+"


def needs(instance, *programs):
    for p in programs:
        if not os.path.exists(os.path.join(instance.libexec, p)):
            pytest.fail(f"{p} is missing from the build")


@pytest.fixture
def remote(instance):
    """remote.test's MX on 127.0.0.2 (a sink), served by dnsmasq."""
    port = free_port("127.0.0.2")
    sink = Sink(host="127.0.0.2", port=port, name="mx.remote.test")
    dns = Dnsmasq(["--mx-host=remote.test,mx.remote.test,10",
                   "--host-record=mx.remote.test,127.0.0.2"])
    conf = os.path.join(instance.root, "resolv.conf")
    with open(conf, "w") as f:
        f.write(f"nameserver 127.0.0.1:{dns.port}\n")
    instance.write_main_cf(dns_resolver_conf=conf, smtp_tcp_port=str(port))
    yield sink
    sink.stop()
    dns.stop()


def seed000_main_cf(instance):
    """The settings article 000 makes in main.cf (loopback-only server)."""
    instance.write_main_cf(myhostname="mail.example.jp", mydomain="example.jp",
                           myorigin="$mydomain", append_at_myorigin="yes",
                           append_dot_mydomain="no", inet_interfaces="localhost",
                           inet_protocols="ipv4", mydestination="localhost",
                           mynetworks="127.0.0.1")


def mail(instance, subject, body, *rcpts):
    """bsd-mailx's `mail -s`, as the article types it, with our sendmail."""
    mailrc = os.path.join(instance.root, "mailrc")
    with open(mailrc, "w") as f:
        f.write(f"set sendmail={instance.sbin}/sendmail\n")
    env = dict(os.environ, MAIL_CONFIG=instance.config, MAILRC=mailrc)
    r = subprocess.run(["mail", "-s", subject, *rcpts], input=body, text=True, env=env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_seed000_send_only_server(instance, remote):
    needs(instance, "master", "pickup", "cleanup", "qmgr", "smtp")
    seed000_main_cf(instance)
    assert "mail_name = Hikyaku" in instance.postconf("-d").stdout
    instance.postfix("check")
    instance.start()
    instance.wait_log(r"postfix/postfix-script\[\d+\]: starting the Postfix mail system")
    instance.wait_log(r"postfix/master\[\d+\]: daemon started -- version [\d.]+, "
                      r"configuration " + re.escape(instance.config))

    mail(instance, "test", "This is Test Mail from example.jp server.\n", "user1@remote.test")

    qid = instance.wait_log(rf"postfix/pickup\[\d+\]: ({ID}): uid=0 from=<root>")[0]
    instance.wait_log(rf"postfix/cleanup\[\d+\]: {qid}: message-id=<\d{{14}}\.{qid}@mail\.example\.jp>")
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: from=<root@example\.jp>, size=\d+, "
                      r"nrcpt=1 \(queue active\)")
    instance.wait_log(rf"postfix/smtp\[\d+\]: {qid}: to=<user1@remote\.test>, "
                      rf"relay=mx\.remote\.test\[127\.0\.0\.2\]:\d+, {DELAYS}, dsn=2\.0\.0, "
                      r"status=sent \(250 2\.0\.0 Ok: queued as SINK1\)")
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: removed")

    t = remote.transactions()
    assert len(t) == 1
    assert t[0]["mail"].startswith("MAIL FROM:<root@example.jp>")
    assert t[0]["rcpts"] == ["user1@remote.test"]
    data = t[0]["data"].decode()
    assert re.search(r"(?m)^Subject: test\r$", data)
    assert re.search(r"(?m)^From: .*root@example\.jp", data)
    assert "This is Test Mail from example.jp server." in data


def test_seed000_root_forwarded_by_aliases(instance, remote):
    needs(instance, "master", "pickup", "cleanup", "qmgr", "smtp", "local")
    seed000_main_cf(instance)
    transport = os.path.join(instance.config, "transport")
    with open(transport, "w") as f:
        f.write("root@example.jp local:\n* :\n")
    instance.cmd("postmap", transport)
    assert os.path.exists(transport + ".db")
    aliases = os.path.join(instance.config, "aliases")
    with open(aliases, "w") as f:
        f.write("postmaster: root\nroot:       admin1@remote.test,admin2@remote.test\n")
    instance.write_main_cf(transport_maps="hash:" + transport)
    newaliases = os.path.join(instance.prefix, "bin", "newaliases")
    r = subprocess.run([newaliases], env=dict(os.environ, MAIL_CONFIG=instance.config),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    instance.start()

    mail(instance, "test", "This is Test Mail from example.jp server.\n", "root")

    qid = instance.wait_log(rf"postfix/pickup\[\d+\]: ({ID}): uid=0 from=<root>")[0]
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: from=<root@example\.jp>, size=\d+, "
                      r"nrcpt=1 \(queue active\)")
    fwd = instance.wait_log(rf"postfix/local\[\d+\]: {qid}: to=<admin1@remote\.test>, "
                            rf"orig_to=<root>, relay=local, {DELAYS}, dsn=2\.0\.0, "
                            rf"status=sent \(forwarded as ({ID})\)")[0]
    instance.wait_log(rf"postfix/local\[\d+\]: {qid}: to=<admin2@remote\.test>, "
                      rf"orig_to=<root>, relay=local, {DELAYS}, dsn=2\.0\.0, "
                      rf"status=sent \(forwarded as {fwd}\)")
    instance.wait_log(rf"postfix/cleanup\[\d+\]: {fwd}: message-id=<\d{{14}}\.{qid}@mail\.example\.jp>")
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: removed")
    for who in ("admin1", "admin2"):
        instance.wait_log(rf"postfix/smtp\[\d+\]: {fwd}: to=<{who}@remote\.test>, "
                          rf"orig_to=<root>, relay=mx\.remote\.test\[127\.0\.0\.2\]:\d+, "
                          rf"{DELAYS}, dsn=2\.0\.0, status=sent \(250 ")
    instance.wait_log(rf"postfix/qmgr\[\d+\]: {fwd}: removed")
    assert poll_until(lambda: sorted(r for t in remote.transactions() for r in t["rcpts"])
                      == ["admin1@remote.test", "admin2@remote.test"])
