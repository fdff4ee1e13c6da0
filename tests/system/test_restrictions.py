"""smtpd restrictions: access tables, DNS checks, DNSBLs, the policy service,
restriction classes, warn_if_reject, smtpd_delay_reject, the open-relay
battery and the anvil connection limits.

Most tests run `smtpd -S` sessions (test_smtpd.py's harness: one session on a
socketpair, the client address from HK_TEST_CLIENT_ADDR); DATA reaches a real
queue file through `cleanup -S`. DNS answers come from dnsmasq on 127.0.0.1
(hk_peers.Dnsmasq) through dns_resolver_conf; the policy servers are small
Python socket servers. The anvil limits and the "never relayed" half of the
open-relay battery use a real instance (postfix start) with a sink.
"""
import os
import re
import shutil
import smtplib
import socket
import ssl
import threading
import time

import pytest

from hk_peers import DNSMASQ, Dnsmasq, Sink
from hk_tlsenv import make_pki
from test_smtpd import CLEANUP, HOST, SMTPD, Env, content_of, read_records

SENDER = "sender@example.com"
LOCAL = "root@" + HOST


@pytest.fixture
def env(tmp_path):
    if not os.path.exists(SMTPD):
        pytest.fail("smtpd is missing from the build")
    e = Env(tmp_path / "sa")
    yield e
    e.close()


def write_table(env, name, text):
    path = os.path.join(env.config, name)
    with open(path, "w") as f:
        f.write(text)
    return "texthash:" + path


def session(env, client="192.0.2.1", helo="client.example.com"):
    s = env.session(client)
    s.expect(220)
    if helo:
        s.send("EHLO %s\r\n" % helo)
        s.reply()
    return s


def rcpt(env, to=LOCAL, sender=SENDER, client="192.0.2.1", helo="client.example.com"):
    """One transaction up to RCPT; the RCPT reply line (or the MAIL one when
    MAIL was refused). An accepted RCPT opens a queue file: cleanup runs."""
    env.start_cleanup()
    s = session(env, client, helo)
    code, lines = s.cmd("MAIL FROM:<%s>" % sender)
    if code != 250:
        s.cmd("QUIT")
        s.finish()
        return lines[-1]
    code, lines = s.cmd("RCPT TO:<%s>" % to)
    if not s.closed:
        try:
            s.cmd("QUIT")
        except EOFError:
            pass
    s.finish()
    return lines[-1]


def deliver(env, to=(LOCAL,), sender=SENDER, client="192.0.2.1", body="Subject: t\r\n\r\nhi\r\n"):
    """A whole message; (final reply, queue id or None)."""
    env.start_cleanup()
    s = session(env, client)
    assert s.cmd("MAIL FROM:<%s>" % sender)[0] == 250
    for r in to:
        c, lines = s.cmd("RCPT TO:<%s>" % r)
        assert c == 250, lines
    assert s.cmd("DATA")[0] == 354
    s.send(body + ".\r\n")
    code, lines = s.reply()
    s.cmd("QUIT")
    s.finish()
    m = re.search(r"queued as (\w+)", lines[-1])
    return lines[-1], m.group(1) if m else None


# ---------------------------------------------------------------- access(5) results

ACCESS = """\
ok@x.test          OK
num@x.test         1234567
rej@x.test         REJECT
rejtext@x.test     REJECT go away
rejdsn@x.test      REJECT 5.7.0 not you
defer@x.test       DEFER
code4@x.test       450 try later
code5@x.test       550 5.1.1 no such sender
code421@x.test     421 closing now
dunno@x.test       DUNNO
permit@x.test      PERMIT
dip@x.test         DEFER_IF_PERMIT greylisted for now
dir@x.test         DEFER_IF_REJECT backend down
class@x.test       strict
hold@x.test        HOLD
holdtext@x.test    HOLD please look
discard@x.test     DISCARD
filter@x.test      FILTER smtp:[127.0.0.1]:10025
redirect@x.test    REDIRECT postmaster@%s
bcc@x.test         BCC sales@%s
prepend@x.test     PREPEND X-Access: seen
warn@x.test        WARN careful with this one
info@x.test        INFO noted
badfilter@x.test   FILTER nocolon
lookup@x.test      check_client_access texthash:/etc/x
""" % (HOST, HOST)


def access_env(env, tail="reject"):
    table = write_table(env, "access", ACCESS)
    env.write(smtpd_restriction_classes="strict", strict="reject_unauth_destination, reject",
              smtpd_recipient_restrictions="check_sender_access %s, %s" % (table, tail))
    return table


def test_access_accept_and_reject_results(env):
    access_env(env)
    assert rcpt(env, sender="ok@x.test").startswith("250 ")
    assert rcpt(env, sender="num@x.test").startswith("250 ")
    assert rcpt(env, sender="permit@x.test").startswith("250 ")
    assert rcpt(env, sender="rej@x.test") == \
        "554 5.7.1 <rej@x.test>: Sender address rejected: Access denied"
    assert rcpt(env, sender="rejtext@x.test") == \
        "554 5.7.1 <rejtext@x.test>: Sender address rejected: go away"
    assert rcpt(env, sender="rejdsn@x.test") == \
        "554 5.7.0 <rejdsn@x.test>: Sender address rejected: not you"
    assert rcpt(env, sender="defer@x.test") == \
        "450 4.7.1 <defer@x.test>: Sender address rejected: Access denied"
    assert rcpt(env, sender="code4@x.test") == \
        "450 4.7.1 <code4@x.test>: Sender address rejected: try later"
    # A recipient status is turned into the sender one (RFC 3463).
    assert rcpt(env, sender="code5@x.test") == \
        "550 5.1.0 <code5@x.test>: Sender address rejected: no such sender"
    # DUNNO: not found, the list goes on to "reject".
    assert rcpt(env, sender="dunno@x.test") == \
        "554 5.7.1 <%s>: Recipient address rejected: Access denied" % LOCAL
    assert rcpt(env, sender="nothere@x.test") == \
        "554 5.7.1 <%s>: Recipient address rejected: Access denied" % LOCAL
    # A restriction class named as the result, in the sender's context.
    assert rcpt(env, sender="class@x.test") == \
        "554 5.7.1 <class@x.test>: Sender address rejected: Access denied"
    env.wait_log(r"NOQUEUE: reject: RCPT from unknown\[192\.0\.2\.1\]: 554 5\.7\.1 <rej@x\.test>: "
                 r"Sender address rejected: Access denied; from=<rej@x\.test> to=<%s> "
                 r"proto=ESMTP helo=<client\.example\.com>" % re.escape(LOCAL))


def test_access_deferrals(env):
    access_env(env, tail="permit")
    # DEFER_IF_PERMIT: the list ends in a permit, so the deferral is the answer.
    assert rcpt(env, sender="dip@x.test") == \
        "450 4.7.1 <dip@x.test>: Sender address rejected: greylisted for now"
    # DEFER_IF_REJECT: nothing rejects, so the mail is accepted.
    assert rcpt(env, sender="dir@x.test").startswith("250 ")
    access_env(env, tail="reject")
    # ... and a later permanent reject becomes the deferral.
    assert rcpt(env, sender="dir@x.test") == \
        "450 4.7.1 <dir@x.test>: Sender address rejected: backend down"
    # DEFER_IF_PERMIT followed by a reject: the reject wins.
    assert rcpt(env, sender="dip@x.test") == \
        "554 5.7.1 <%s>: Recipient address rejected: Access denied" % LOCAL


def test_access_421_disconnects(env):
    access_env(env)
    s = session(env)
    s.cmd("MAIL FROM:<code421@x.test>")
    assert s.cmd("RCPT TO:<%s>" % LOCAL) == \
        (421, ["421 4.7.1 <code421@x.test>: Sender address rejected: closing now"])
    assert s.at_eof()
    s.finish()


def test_access_logging_actions(env):
    access_env(env, tail="permit")
    assert rcpt(env, sender="warn@x.test").startswith("250 ")
    env.wait_log(r"NOQUEUE: warn: RCPT from unknown\[192\.0\.2\.1\]: careful with this one; "
                 r"from=<warn@x\.test> to=<%s> proto=ESMTP helo=<client\.example\.com>"
                 % re.escape(LOCAL))
    assert rcpt(env, sender="info@x.test").startswith("250 ")
    env.wait_log(r"NOQUEUE: info: RCPT from unknown\[192\.0\.2\.1\]: noted; from=<info@x\.test>")
    # A FILTER without transport:destination is ignored with a warning.
    assert rcpt(env, sender="badfilter@x.test").startswith("250 ")
    env.wait_log(r"warning: access table texthash:\S+ entry \"FILTER nocolon\" requires "
                 r"transport:destination")
    # Tables inside results cannot be opened before privileges are dropped.
    assert rcpt(env, sender="lookup@x.test") == "451 4.3.5 Server configuration error"
    env.wait_log(r"warning: do not specify lookup tables inside SMTPD access maps")


def test_access_hold_discard_to_the_queue(env):
    access_env(env, tail="permit")
    if not os.path.exists(CLEANUP):
        pytest.fail("cleanup is missing from the build")
    reply, qid = deliver(env, sender="hold@x.test")
    assert reply.startswith("250 2.0.0 Ok: queued as")
    env.wait_log(r"NOQUEUE: hold: RCPT from unknown\[192\.0\.2\.1\]: <hold@x\.test>: Sender "
                 r"address triggers HOLD action; from=<hold@x\.test> to=<%s>" % re.escape(LOCAL))
    assert os.path.exists(os.path.join(env.queue, "hold", qid))
    reply, qid = deliver(env, sender="holdtext@x.test")
    env.wait_log(r"hold: RCPT from unknown\[192\.0\.2\.1\]: <holdtext@x\.test>: Sender address "
                 r"please look;")
    # HOLD decided by a later recipient, after the queue file was opened.
    rcpts = write_table(env, "rcpt_access", "sales@%s HOLD\n" % HOST)
    env.write(smtpd_recipient_restrictions="check_recipient_access %s, permit" % rcpts)
    reply, qid = deliver(env, to=(LOCAL, "sales@" + HOST))
    env.wait_log(r"\w+: hold: RCPT from unknown\[192\.0\.2\.1\]: <sales@%s>: Recipient address "
                 r"triggers HOLD action" % re.escape(HOST))
    assert os.path.exists(os.path.join(env.queue, "hold", qid))
    access_env(env, tail="permit")
    # DISCARD: every recipient is taken, "queued", and nothing is kept.
    env.start_cleanup()
    s = session(env)
    assert s.cmd("MAIL FROM:<discard@x.test>")[0] == 250
    assert s.cmd("RCPT TO:<%s>" % LOCAL)[0] == 250
    assert s.cmd("RCPT TO:<someone@elsewhere.example>")[0] == 250   # not even relay checks
    assert s.cmd("DATA")[0] == 354
    s.send("Subject: t\r\n\r\nbye\r\n.\r\n")
    code, lines = s.reply()
    assert code == 250 and "queued as" in lines[-1]
    qid = lines[-1].split()[-1]
    s.cmd("QUIT")
    s.finish()
    env.wait_log(r"NOQUEUE: discard: RCPT from unknown\[192\.0\.2\.1\]: <discard@x\.test>: "
                 r"Sender address triggers DISCARD action")
    time.sleep(0.2)
    assert env.queue_file(qid) is None


def test_access_message_actions_reach_cleanup(env):
    access_env(env, tail="permit")
    if not os.path.exists(CLEANUP):
        pytest.fail("cleanup is missing from the build")
    # PREPEND: before our Received: header.
    reply, qid = deliver(env, sender="prepend@x.test")
    path = env.queue_file(qid)
    text = content_of(path)
    assert text.startswith("X-Access: seen\n"), text
    assert text.index("X-Access: seen") < text.index("Received:")
    # BCC: one more recipient, with NOTIFY=NEVER.
    reply, qid = deliver(env, sender="bcc@x.test")
    env.wait_log(r"NOQUEUE: bcc: RCPT from unknown\[192\.0\.2\.1\]: <bcc@x\.test>: Sender address "
                 r"triggers BCC sales@%s" % re.escape(HOST))
    recs = read_records(env.queue_file(qid))
    rcpts = [d.decode() for t, d in recs if t == "R"]
    assert any(r.startswith("sales@") or r.startswith("root@") for r in rcpts)
    assert len(rcpts) == 2, rcpts
    # FILTER and REDIRECT travel as attributes of the queue file.
    reply, qid = deliver(env, sender="filter@x.test")
    env.wait_log(r"NOQUEUE: filter: RCPT from unknown\[192\.0\.2\.1\]: <filter@x\.test>: Sender "
                 r"address triggers FILTER smtp:\[127\.0\.0\.1\]:10025")
    # cleanup turns the content_filter attribute into the FILTER record (L).
    recs = read_records(env.queue_file(qid))
    assert ("L", b"smtp:[127.0.0.1]:10025") in recs, recs
    reply, qid = deliver(env, sender="redirect@x.test")
    env.wait_log(r"redirect: RCPT from unknown\[192\.0\.2\.1\]: <redirect@x\.test>: Sender "
                 r"address triggers REDIRECT postmaster@%s" % re.escape(HOST))
    # ... and the redirect attribute into the only pending recipient.
    recs = read_records(env.queue_file(qid))
    assert [d.decode() for t, d in recs if t == "R"] == ["postmaster@" + HOST], recs
    assert [d.decode() for t, d in recs if t == "D"] == [LOCAL], recs


def test_access_actions_need_a_transaction(env):
    table = write_table(env, "access", "192.0.2.1 HOLD\n")
    env.write(smtpd_delay_reject="no", smtpd_client_restrictions="check_client_access " + table)
    assert rcpt(env).startswith("250 ")
    env.wait_log(r"warning: access table texthash:\S+: with smtpd_delay_reject=no, action HOLD "
                 r"is always skipped in Client host or Helo command restrictions")


# ---------------------------------------------------------------- access(5) search orders

def test_check_client_access(env):
    table = write_table(env, "clients", "192.0.2 REJECT\n192.0.2.9 OK\n198.51.100.7 DUNNO\n"
                        "198.51.100 REJECT net\n")
    env.write(smtpd_client_restrictions="check_client_access " + table)
    assert rcpt(env, client="192.0.2.1") == \
        "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied"
    assert rcpt(env, client="192.0.2.9").startswith("250 ")
    # DUNNO stops the search: the /24 entry is not tried.
    assert rcpt(env, client="198.51.100.7").startswith("250 ")
    assert rcpt(env, client="198.51.100.8") == \
        "554 5.7.1 <unknown[198.51.100.8]>: Client host rejected: net"
    assert rcpt(env, client="203.0.113.1").startswith("250 ")


def test_check_client_access_cidr(env):
    path = os.path.join(env.config, "clients.cidr")
    with open(path, "w") as f:
        f.write("192.0.2.0/25 REJECT cidr says no\n")
    env.write(smtpd_client_restrictions="check_client_access cidr:" + path)
    assert rcpt(env, client="192.0.2.100") == \
        "554 5.7.1 <unknown[192.0.2.100]>: Client host rejected: cidr says no"
    assert rcpt(env, client="192.0.2.200").startswith("250 ")


def test_check_helo_and_recipient_access(env):
    helo = write_table(env, "helo", "example.net REJECT no helo from there\n")
    rcpts = write_table(env, "rcpts", "sales@ REJECT no sales\n%s DUNNO\n" % LOCAL)
    env.write(smtpd_helo_restrictions="check_helo_access " + helo,
              smtpd_recipient_restrictions="check_recipient_access %s, permit" % rcpts)
    # Parent domains match (smtpd_access_maps is in parent_domain_matches_subdomains).
    assert rcpt(env, helo="mx.sub.example.net") == \
        "554 5.7.1 <mx.sub.example.net>: Helo command rejected: no helo from there"
    assert rcpt(env, helo="example.org").startswith("250 ")
    assert rcpt(env, to="sales@" + HOST) == \
        "554 5.7.1 <sales@%s>: Recipient address rejected: no sales" % HOST
    assert rcpt(env, to=LOCAL).startswith("250 ")
    # Without smtpd_access_maps there, parents need a leading dot.
    write_table(env, "helo", ".example.net REJECT dotted\n")
    env.write(parent_domain_matches_subdomains="")
    assert rcpt(env, helo="mx.example.net") == \
        "554 5.7.1 <mx.example.net>: Helo command rejected: dotted"


def test_null_sender_access_key(env):
    table = write_table(env, "senders", "<> REJECT no bounces here\n")
    env.write(smtpd_sender_restrictions="check_sender_access " + table)
    assert rcpt(env, sender="") == "554 5.7.1 <>: Sender address rejected: no bounces here"
    assert rcpt(env).startswith("250 ")


# ---------------------------------------------------------------- generic restrictions

def test_restriction_class_from_table(env):
    table = write_table(env, "rcpts", "%s friends\n" % LOCAL)
    env.write(smtpd_restriction_classes="friends", friends="permit",
              smtpd_recipient_restrictions="check_recipient_access %s, reject" % table)
    assert rcpt(env).startswith("250 ")
    assert rcpt(env, to="postmaster@" + HOST) == \
        "554 5.7.1 <postmaster@%s>: Recipient address rejected: Access denied" % HOST


def test_warn_if_reject_logs_only(env):
    env.write(smtpd_sender_restrictions="warn_if_reject, reject_non_fqdn_sender")
    assert rcpt(env, sender="user").startswith("250 ")
    env.wait_log(r"NOQUEUE: reject_warning: RCPT from unknown\[192\.0\.2\.1\]: 504 5\.5\.2 <user>: "
                 r"Sender address rejected: need fully-qualified address; from=<user>")
    assert "NOQUEUE: reject: " not in env.log()


def test_soft_bounce(env):
    env.write(soft_bounce="yes", smtpd_sender_restrictions="reject_non_fqdn_sender")
    assert rcpt(env, sender="user") == \
        "404 4.5.2 <user>: Sender address rejected: need fully-qualified address"


def test_delay_reject_timing(env):
    env.write(smtpd_client_restrictions="reject")
    # Default: the client list is evaluated at RCPT time.
    s = session(env)
    assert s.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
    assert s.cmd("RCPT TO:<%s>" % LOCAL) == \
        (554, ["554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied"])
    s.cmd("QUIT")
    s.finish()
    # smtpd_delay_reject = no: decided at connect, answered at MAIL.
    env.write(smtpd_delay_reject="no")
    s = session(env)
    assert s.cmd("MAIL FROM:<%s>" % SENDER) == \
        (554, ["554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied"])
    s.cmd("QUIT")
    s.finish()
    env.wait_log(r"NOQUEUE: reject: CONNECT from unknown\[192\.0\.2\.1\]: 554 5\.7\.1")
    # ... and the HELO list at HELO.
    env.write(smtpd_client_restrictions="", smtpd_helo_restrictions="reject_non_fqdn_helo_hostname")
    s = session(env, helo=None)
    assert s.cmd("HELO localhost") == \
        (504, ["504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"])
    assert s.cmd("HELO client.example.com")[0] == 250
    s.cmd("QUIT")
    s.finish()


def test_defer_if_permit_restriction(env):
    env.write(smtpd_recipient_restrictions="defer_if_permit, permit")
    assert rcpt(env) == "451 4.7.0 <%s>: Recipient address rejected: " \
                        "defer_if_permit requested" % LOCAL
    env.write(smtpd_recipient_restrictions="defer_if_reject, reject")
    assert rcpt(env) == "451 4.7.0 <%s>: Recipient address rejected: " \
                        "defer_if_reject requested" % LOCAL


def test_reject_unauth_pipelining(env):
    env.write(smtpd_forbid_unauth_pipelining="no", smtpd_data_restrictions="reject_unauth_pipelining")
    env.start_cleanup()
    s = session(env)
    s.cmd("MAIL FROM:<%s>" % SENDER)
    s.cmd("RCPT TO:<%s>" % LOCAL)
    # The message right behind DATA, without waiting for 354.
    s.send("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n")
    code, lines = s.reply()
    assert lines == ["503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command "
                     "pipelining"]
    s.finish()
    # A well-behaved client passes.
    reply, qid = deliver(env)
    assert reply.startswith("250 2.0.0 Ok: queued as")


def test_reject_multi_recipient_bounce(env):
    env.write(smtpd_data_restrictions="reject_multi_recipient_bounce")
    env.start_cleanup()
    s = session(env)
    s.cmd("MAIL FROM:<>")
    s.cmd("RCPT TO:<%s>" % LOCAL)
    s.cmd("RCPT TO:<postmaster@%s>" % HOST)
    assert s.cmd("DATA") == (550, ["550 5.5.3 <DATA>: Data command rejected: Multi-recipient "
                                   "bounce"])
    s.cmd("QUIT")
    s.finish()
    reply, qid = deliver(env, sender="")
    assert reply.startswith("250 2.0.0 Ok: queued as")


def test_end_of_data_restrictions(env):
    table = write_table(env, "senders", "big@x.test REJECT too much\n")
    env.write(smtpd_end_of_data_restrictions="check_sender_access " + table)
    env.start_cleanup()
    s = session(env)
    s.cmd("MAIL FROM:<big@x.test>")
    s.cmd("RCPT TO:<%s>" % LOCAL)
    assert s.cmd("DATA")[0] == 354
    s.send("Subject: x\r\n\r\nbody\r\n.\r\n")
    assert s.reply() == (554, ["554 5.7.1 <big@x.test>: Sender address rejected: too much"])
    s.cmd("QUIT")
    s.finish()
    env.wait_log(r"NOQUEUE: reject: END-OF-MESSAGE from unknown\[192\.0\.2\.1\]|"
                 r"\w+: reject: END-OF-MESSAGE from unknown\[192\.0\.2\.1\]")
    reply, qid = deliver(env)
    assert reply.startswith("250 2.0.0 Ok: queued as")


def test_reject_unlisted_sender_and_recipient(env):
    env.write(smtpd_reject_unlisted_sender="yes")
    assert rcpt(env, to="nosuchuser@" + HOST) == \
        "550 5.1.1 <nosuchuser@%s>: Recipient address rejected: User unknown in local " \
        "recipient table" % HOST
    assert rcpt(env, sender="ghost@" + HOST) == \
        "550 5.1.0 <ghost@%s>: Sender address rejected: User unknown in local recipient " \
        "table" % HOST
    assert rcpt(env, sender="postmaster@" + HOST).startswith("250 ")


def test_fqdn_and_helo_syntax(env):
    env.write(smtpd_helo_restrictions="reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname",
              smtpd_sender_restrictions="reject_non_fqdn_sender",
              smtpd_recipient_restrictions="reject_non_fqdn_recipient")
    assert rcpt(env, helo="bad_host!") == \
        "501 5.5.2 <bad_host!>: Helo command rejected: Invalid name"
    assert rcpt(env, helo="localhost") == \
        "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"
    assert rcpt(env, sender="user@localhost") == \
        "504 5.5.2 <user@localhost>: Sender address rejected: need fully-qualified address"
    assert rcpt(env, to="root@localhost") == \
        "504 5.5.2 <root@localhost>: Recipient address rejected: need fully-qualified address"
    assert rcpt(env).startswith("250 ")


# ---------------------------------------------------------------- DNS

@pytest.fixture
def dns(env):
    if not os.path.exists(DNSMASQ):
        pytest.skip("dnsmasq is not installed")
    d = Dnsmasq([
        "--local=/127.in-addr.arpa/",
        # DNSBL: 127.0.0.2 is listed, with a reason
        "--address=/2.0.0.127.zen.test/127.0.0.2",
        "--txt-record=2.0.0.127.zen.test,Listed in the test list",
        "--address=/2.0.0.127.wl.test/127.0.0.2",
        # RHSBL: bad.test is listed
        "--address=/bad.test.dbl.test/127.0.1.2",
        "--address=/good.test.dbl.test/127.0.1.3",
        # names for domain checks
        "--mx-host=exists.test,mx.exists.test,10",
        "--address=/mx.exists.test/127.0.0.10",
        "--host-record=aonly.test,127.0.0.11",
        "--mx-host=nullmx.test,.,0",
        "--mx-host=badmx.test,mx.bad.test,10",
        "--address=/mx.bad.test/127.0.0.66",
        # client names: 127.0.0.2 forward-confirmed, 127.0.0.3 not
        "--ptr-record=2.0.0.127.in-addr.arpa,good.test",
        "--address=/good.test/127.0.0.2",
        "--ptr-record=3.0.0.127.in-addr.arpa,liar.test",
        "--address=/liar.test/127.0.0.99",
    ])
    conf = os.path.join(env.config, "resolv.conf")
    with open(conf, "w") as f:
        f.write("nameserver 127.0.0.1:%d\noptions timeout:2 attempts:1\n" % d.port)
    env.write(dns_resolver_conf=conf)
    yield d
    d.stop()


def test_reject_rbl_client(env, dns):
    env.write(smtpd_recipient_restrictions="reject_rbl_client zen.test, permit")
    assert rcpt(env, client="127.0.0.3").startswith("250 ")
    assert rcpt(env, client="127.0.0.2") == \
        "554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using zen.test; " \
        "Listed in the test list"
    env.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 Service "
                 r"unavailable; Client host \[127\.0\.0\.2\] blocked using zen\.test; Listed in "
                 r"the test list; from=<sender@example\.com> to=<%s> proto=ESMTP "
                 r"helo=<client\.example\.com>" % re.escape(LOCAL))


def test_rbl_filters_and_reply_maps(env, dns):
    env.write(smtpd_recipient_restrictions="reject_rbl_client zen.test=127.0.0.[3..9], "
              "reject_rbl_client zen.test=127.0.0.2, permit")
    assert rcpt(env, client="127.0.0.2").startswith("554 5.7.1 Service unavailable; Client host "
                                                     "[127.0.0.2] blocked using zen.test")
    env.write(smtpd_recipient_restrictions="reject_rbl_client zen.test=127.0.0.[3..9], permit")
    assert rcpt(env, client="127.0.0.2").startswith("250 ")
    replies = write_table(env, "rbl_replies",
                          "zen.test 450 4.7.1 ${client_address} is on $rbl_domain "
                          "(${rbl_reason?yes}${rbl_reason:no}) for <$sender_domain>\n")
    env.write(rbl_reply_maps=replies, smtpd_recipient_restrictions="reject_rbl_client zen.test")
    assert rcpt(env, client="127.0.0.2") == \
        "450 4.7.1 127.0.0.2 is on zen.test (yes) for <example.com>"
    # A template without a reply code gets the generic answer.
    write_table(env, "rbl_replies", "zen.test blocked\n")
    assert rcpt(env, client="127.0.0.2") == "450 4.7.1 Service unavailable"
    env.wait_log(r"warning: rbl response code configuration error: blocked")
    # The obsolete form.
    env.write(rbl_reply_maps="", maps_rbl_domains="zen.test",
              smtpd_recipient_restrictions="reject_maps_rbl, permit")
    assert rcpt(env, client="127.0.0.2").startswith("554 5.7.1 Service unavailable; Client host")
    env.wait_log(r"warning: support for restriction \"reject_maps_rbl\" will be removed")


def test_rhsbl_and_dnswl(env, dns):
    env.write(smtpd_recipient_restrictions="reject_rhsbl_sender dbl.test, reject_rhsbl_helo "
              "dbl.test, permit")
    assert rcpt(env, client="127.0.0.3", sender="spammer@bad.test") == \
        "554 5.7.1 Service unavailable; Sender address [spammer@bad.test] blocked using dbl.test"
    assert rcpt(env, client="127.0.0.3", helo="bad.test") == \
        "554 5.7.1 Service unavailable; Helo command [bad.test] blocked using dbl.test"
    assert rcpt(env, client="127.0.0.3", sender="friend@exists.test").startswith("250 ")
    env.write(smtpd_relay_restrictions="reject_rhsbl_recipient dbl.test, permit_mynetworks, "
              "permit_auth_destination, reject")
    assert rcpt(env, client="127.0.0.1", to="someone@exists.test").startswith("250 ")
    assert rcpt(env, client="127.0.0.1", to="someone@bad.test") == \
        "554 5.7.1 Service unavailable; Recipient address [someone@bad.test] blocked using " \
        "dbl.test"
    # By client name: only a verified name is looked up.
    env.write(smtpd_peername_lookup="yes", smtpd_relay_restrictions="permit_mynetworks, "
              "permit_sasl_authenticated, defer_unauth_destination",
              smtpd_recipient_restrictions="reject_rhsbl_client dbl.test=127.0.1.3, "
              "reject_rhsbl_reverse_client dbl.test=127.0.1.3, permit")
    assert rcpt(env, client="127.0.0.2") == \
        "554 5.7.1 Service unavailable; Client host [good.test] blocked using dbl.test"
    assert rcpt(env, client="127.0.0.4").startswith("250 ")     # no name at all
    # An allow list in front of a deny list.
    env.write(smtpd_recipient_restrictions="permit_dnswl_client wl.test, "
              "reject_rbl_client zen.test, permit")
    assert rcpt(env, client="127.0.0.2").startswith("250 ")
    # ... but never for a destination we do not serve.
    assert rcpt(env, client="127.0.0.2", to="x@elsewhere.example") == \
        "454 4.7.1 <x@elsewhere.example>: Relay access denied"


def test_unknown_sender_and_recipient_domain(env, dns):
    env.write(smtpd_sender_restrictions="reject_unknown_sender_domain",
              smtpd_relay_restrictions="reject_unknown_recipient_domain, "
              "reject_unauth_destination")
    assert rcpt(env, sender="a@exists.test").startswith("250 ")
    assert rcpt(env, sender="a@aonly.test").startswith("250 ")
    assert rcpt(env, sender="a@missing.test") == \
        "450 4.1.8 <a@missing.test>: Sender address rejected: Domain not found"
    assert rcpt(env, sender="a@nullmx.test") == \
        "550 5.7.27 <a@nullmx.test>: Sender address rejected: Domain nullmx.test does not " \
        "accept mail (nullMX)"
    assert rcpt(env, to="b@missing.test") == \
        "450 4.1.2 <b@missing.test>: Recipient address rejected: Domain not found"
    assert rcpt(env, to="b@nullmx.test") == \
        "556 5.1.10 <b@nullmx.test>: Recipient address rejected: Domain nullmx.test does not " \
        "accept mail (nullMX)"
    # Our own domains are never looked up.
    assert rcpt(env, to=LOCAL, sender="a@exists.test").startswith("250 ")
    env.write(unknown_address_reject_code="550")
    assert rcpt(env, sender="a@missing.test") == \
        "550 5.1.8 <a@missing.test>: Sender address rejected: Domain not found"


def test_unknown_helo_hostname(env, dns):
    env.write(smtpd_helo_restrictions="reject_unknown_helo_hostname")
    assert rcpt(env, helo="exists.test").startswith("250 ")
    assert rcpt(env, helo="aonly.test").startswith("250 ")
    assert rcpt(env, helo="[192.0.2.1]").startswith("250 ")
    assert rcpt(env, helo="missing.test") == \
        "450 4.7.1 <missing.test>: Helo command rejected: Host not found"


def test_unknown_client_hostname(env, dns):
    env.write(smtpd_peername_lookup="yes",
              smtpd_client_restrictions="reject_unknown_reverse_client_hostname, "
              "reject_unknown_client_hostname")
    # 127.0.0.2 <-> good.test both ways.
    assert rcpt(env, client="127.0.0.2").startswith("250 ")
    env.wait_log(r"connect from good\.test\[127\.0\.0\.2\]")
    # 127.0.0.3 has a PTR name that points elsewhere.
    assert rcpt(env, client="127.0.0.3") == \
        "450 4.7.1 Client host rejected: cannot find your hostname, [127.0.0.3]"
    env.wait_log(r"warning: hostname liar\.test does not resolve to address 127\.0\.0\.3")
    # 127.0.0.4 has no PTR record at all.
    assert rcpt(env, client="127.0.0.4") == \
        "450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.4]"
    env.write(unknown_client_reject_code="550",
              smtpd_client_restrictions="reject_unknown_client_hostname")
    assert rcpt(env, client="127.0.0.4") == \
        "550 5.7.1 Client host rejected: cannot find your hostname, [127.0.0.4]"


def test_check_mx_access(env, dns):
    table = write_table(env, "mx", "127.0.0.66 REJECT bad mail server\nmx.exists.test OK\n")
    env.write(smtpd_sender_restrictions="check_sender_mx_access " + table)
    assert rcpt(env, sender="a@badmx.test") == \
        "554 5.7.1 <a@badmx.test>: Sender address rejected: bad mail server"
    # OK is not allowed here: it only stops the search.
    assert rcpt(env, sender="a@exists.test").startswith("250 ")
    env.wait_log(r"warning: access table texthash:\S+: action OK is not allowed")
    assert rcpt(env, sender="a@aonly.test").startswith("250 ")


# ---------------------------------------------------------------- policy service

class PolicyServer:
    """A policy server: answers by recipient local part; remembers requests."""

    def __init__(self, path=None):
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(path)
            self.endpoint = "unix:" + path
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            self.endpoint = "inet:127.0.0.1:%d" % self.sock.getsockname()[1]
        self.sock.listen(8)
        self.requests = []
        self.connections = 0
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def answer(self, req):
        user = req.get("recipient", "").split("@")[0]
        return {"reject": "REJECT not today",
                "grey": "DEFER_IF_PERMIT greylisted, try again",
                "dunno": "DUNNO",
                "hold": "HOLD policy says wait"}.get(user, "DUNNO")

    def loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        f = conn.makefile("rwb")
        req = {}
        for line in f:
            line = line.decode().rstrip("\n")
            if line:
                k, _, v = line.partition("=")
                req[k] = v
                continue
            self.requests.append(req)
            f.write(("action=%s\n\n" % self.answer(req)).encode())
            f.flush()
            req = {}
        conn.close()

    def stop(self):
        self.sock.close()


def test_policy_service(env):
    p = PolicyServer()
    try:
        env.write(smtpd_recipient_restrictions="check_policy_service %s, permit" % p.endpoint,
                  local_recipient_maps="")
        env.start_cleanup()
        s = session(env)
        s.cmd("MAIL FROM:<%s>" % SENDER)
        assert s.cmd("RCPT TO:<dunno@%s>" % HOST)[0] == 250
        assert s.cmd("RCPT TO:<reject@%s>" % HOST) == \
            (554, ["554 5.7.1 <reject@%s>: Recipient address rejected: not today" % HOST])
        assert s.cmd("RCPT TO:<grey@%s>" % HOST) == \
            (450, ["450 4.7.1 <grey@%s>: Recipient address rejected: greylisted, try again"
                   % HOST])
        s.cmd("QUIT")
        s.finish()
        assert len(p.requests) == 3
        r = p.requests[1]
        assert r["request"] == "smtpd_access_policy"
        assert r["protocol_state"] == "RCPT"
        assert r["protocol_name"] == "ESMTP"
        assert r["client_address"] == "192.0.2.1"
        assert r["client_name"] == "unknown"
        assert r["helo_name"] == "client.example.com"
        assert r["sender"] == SENDER
        assert r["recipient"] == "reject@" + HOST
        # One message, one instance; one connection for all three.
        assert p.requests[0]["instance"] == p.requests[2]["instance"] != ""
        assert p.connections == 1
    finally:
        p.stop()


def test_policy_service_unix_and_failures(env, tmp_path):
    p = PolicyServer(str(tmp_path / "policy"))
    try:
        env.write(smtpd_recipient_restrictions="check_policy_service %s, permit" % p.endpoint)
        assert rcpt(env, to="reject@" + HOST) == \
            "554 5.7.1 <reject@%s>: Recipient address rejected: not today" % HOST
    finally:
        p.stop()
    # Nobody listening: the default action, after the retries.
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    dead = "inet:127.0.0.1:%d" % port.getsockname()[1]
    port.close()
    env.write(smtpd_recipient_restrictions="check_policy_service %s, permit" % dead,
              smtpd_policy_service_try_limit="2", smtpd_policy_service_retry_delay="1s")
    assert rcpt(env) == \
        "451 4.3.5 <%s>: Recipient address rejected: Server configuration problem" % LOCAL
    env.wait_log(r"warning: problem talking to server %s: connect to " % re.escape(dead))
    # A per-service default_action.
    env.write(smtpd_recipient_restrictions="check_policy_service { %s, default_action=DUNNO, "
              "try_limit=1 }, permit" % dead)
    assert rcpt(env).startswith("250 ")


# ---------------------------------------------------------------- open relay battery

BATTERY = [
    "user@remote.test",
    "user%remote.test@[127.0.0.1]",
    "user%%remote.test@%s" % HOST,
    '"user@remote.test"@%s' % HOST,
    "@%s:user@remote.test" % HOST,
    "remote.test!user@%s" % HOST,
    "user@remote.test@%s" % HOST,
    "user@[127.0.0.3]",
]


@pytest.mark.parametrize("percent,bang", [("yes", "yes"), ("no", "no"), ("yes", "no"),
                                          ("no", "yes")])
def test_open_relay_battery_refused(env, percent, bang):
    # The default relay restrictions, and the classic explicit ones.
    env.write(allow_percent_hack=percent, swap_bangpath=bang, inet_interfaces="127.0.0.1")
    for addr in BATTERY:
        reply = rcpt(env, to=addr, client="127.0.0.2")
        assert reply[0] in "45", (addr, reply)
    env.write(smtpd_relay_restrictions="",
              smtpd_recipient_restrictions="permit_mynetworks, reject_unauth_destination")
    for addr in BATTERY:
        reply = rcpt(env, to=addr, client="127.0.0.2")
        assert reply[0] in "45", (addr, reply)
    # The same client from inside mynetworks may relay.
    assert rcpt(env, to="user@remote.test", client="127.0.0.1").startswith("250 ")


def prepare(instance, **conf):
    for n in ("cleanup", "qmgr", "anvil", "local", "smtp"):
        if not os.path.exists(os.path.join(instance.libexec, n)):
            pytest.fail("%s is missing from the build" % n)
    p = instance.root
    while p != "/":
        os.chmod(p, os.stat(p).st_mode | 0o055)
        p = os.path.dirname(p)
    instance.write_main_cf(**conf)
    instance.cmd("postalias", os.path.join(instance.config, "aliases"))


@pytest.mark.parametrize("percent,bang", [("yes", "yes"), ("no", "no")])
def test_open_relay_battery_never_relayed(instance, percent, bang):
    sink = Sink("127.0.0.1")
    try:
        # Anything the server would relay goes to the sink; local mail to
        # unknown users bounces locally (no local recipient check at RCPT).
        prepare(instance, mynetworks="127.0.0.1/32", relayhost="[127.0.0.1]:%d" % sink.port,
                allow_percent_hack=percent, swap_bangpath=bang, local_recipient_maps="",
                smtpd_reject_unlisted_recipient="no", mydestination="$myhostname, localhost")
        instance.start()
        accepted = []
        for addr in BATTERY:
            s = instance.smtp(source_address="127.0.0.2")
            s.ehlo("client.example.com")
            s.mail("relaytest@" + HOST)     # bounces stay local too
            code, msg = s.rcpt(addr)
            if code == 250:
                accepted.append(addr)
                s.data("Subject: relay test\r\n\r\nrelay test\r\n")
            s.quit()
        # Whatever was accepted was taken as local mail (and bounced as an
        # unknown user), never handed to the relay.
        if accepted:
            instance.wait_log(r"postfix/local\[\d+\]: \w+: to=<", timeout=20,
                              count=len(accepted))
        time.sleep(1)
        print("accepted as local:", accepted)
        assert sink.transactions() == [], sink.transactions()
        assert not re.search(r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d" % sink.port, instance.log())
    finally:
        sink.stop()


# ---------------------------------------------------------------- anvil

def test_anvil_connection_count_limit(instance):
    prepare(instance, mynetworks="127.0.0.1/32", smtpd_client_connection_count_limit="1")
    instance.start()
    first = instance.smtp(source_address="127.0.0.2")
    first.ehlo("client.example.com")
    with socket.create_connection(("127.0.0.1", instance.smtp_port), timeout=15,
                                  source_address=("127.0.0.2", 0)) as c:
        data = b""
        while b"\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.decode().startswith("421 4.7.0 mail.example.jp Error: too many connections "
                                        "from 127.0.0.2")
    instance.wait_log(r"warning: Connection concurrency limit exceeded: 2 from "
                      r"unknown\[127\.0\.0\.2\] for service 127\.0\.0\.1:%d" % instance.smtp_port)
    first.quit()
    # Clients in smtpd_client_event_limit_exceptions ($mynetworks) are exempt.
    a = instance.smtp()
    b = instance.smtp()
    assert a.ehlo()[0] == 250 and b.ehlo()[0] == 250
    a.quit()
    b.quit()
    # The first connection is gone: a new one is welcome again.
    time.sleep(0.5)
    c = instance.smtp(source_address="127.0.0.2")
    assert c.ehlo()[0] == 250
    c.quit()


def test_anvil_rate_limits(instance):
    prepare(instance, mynetworks="127.0.0.1/32", smtpd_client_message_rate_limit="2",
            smtpd_client_connection_rate_limit="3", smtpd_client_recipient_rate_limit="1")
    instance.start()
    s = instance.smtp(source_address="127.0.0.2")
    s.ehlo("client.example.com")
    for i in range(2):
        assert s.mail(SENDER)[0] == 250
        if i == 0:
            assert s.rcpt("postmaster@" + HOST)[0] == 250
            assert s.rcpt("postmaster@" + HOST) == \
                (452, b"4.7.1 Error: too many recipients from 127.0.0.2")
        s.rset()
    assert s.mail(SENDER) == (450, b"4.7.1 Error: too much mail from 127.0.0.2")
    s.quit()
    instance.wait_log(r"warning: Recipient address rate limit exceeded: 2 from "
                      r"unknown\[127\.0\.0\.2\] for service")
    instance.wait_log(r"warning: Message delivery request rate limit exceeded: 3 from "
                      r"unknown\[127\.0\.0\.2\] for service")
    for i in range(2):
        c = instance.smtp(source_address="127.0.0.2")
        c.quit()
    # smtplib's constructor raises when the greeting is not 220.
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtplib.SMTP("127.0.0.1", instance.smtp_port, source_address=("127.0.0.2", 0), timeout=15)
    assert e.value.smtp_code == 421
    assert e.value.smtp_error == b"4.7.0 mail.example.jp Error: too many connections from " \
                                 b"127.0.0.2"
    instance.wait_log(r"warning: Connection rate limit exceeded: 4 from unknown\[127\.0\.0\.2\]")


def test_anvil_new_tls_session_rate_limit(instance, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl command not installed")
    pki = make_pki(str(tmp_path / "pki"))
    prepare(instance, mynetworks="127.0.0.1/32", smtpd_client_new_tls_session_rate_limit="1",
            smtpd_tls_security_level="may",
            smtpd_tls_cert_file=os.path.join(pki, "server.pem"),
            smtpd_tls_key_file=os.path.join(pki, "server.key"))
    instance.start()
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))

    def client(source):
        return smtplib.SMTP("127.0.0.1", instance.smtp_port, source_address=(source, 0),
                            timeout=15)

    s = client("127.0.0.2")
    s.ehlo("client.example.com")
    assert s.starttls(context=ctx)[0] == 220          # the first new session: allowed
    assert s.ehlo("client.example.com")[0] == 250
    s.quit()
    s = client("127.0.0.2")
    s.ehlo("client.example.com")
    assert s.docmd("STARTTLS") == (454, b"4.7.0 Error: too many new TLS sessions from "
                                        b"unknown[127.0.0.2]")
    assert s.mail(SENDER)[0] == 250                    # the session goes on in plaintext
    s.quit()
    instance.wait_log(r"warning: New TLS session rate limit exceeded: 1 from "
                      r"unknown\[127\.0\.0\.2\] for service")
    # Clients in smtpd_client_event_limit_exceptions ($mynetworks) are not counted.
    for _ in range(2):
        s = client("127.0.0.1")
        s.ehlo("client.example.com")
        assert s.starttls(context=ctx)[0] == 220
        s.quit()
