"""The queue end to end: deferral, retries, expiry, notices, hold, corrupt files,
dead destinations.

Each test runs a real instance whose mail for other domains goes to
relayhost = [127.0.0.2]:PORT, a port where nobody listens until the test
starts a sink there (hk_peers.Sink), so the destination is "down" and then
"back". Nothing needs DNS (the resolver file names no server). What is
checked is what an administrator sees: the maillog lines, `mailq` with the
reason in parentheses, `postcat -q`, `postqueue -f`, `postsuper -d/-h/-H`,
the notices that reach the sender's local mailbox (RFC 3464 reports: a
returned message after maximal_queue_lifetime, one "Delayed Mail" notice
after delay_warning_time), soft_bounce, the corrupt queue, and pflogsumm's
counts over the instance's maillog.

Dead destinations (the last section): a sink that answers every connection
with a 421 greeting counts the connections qmgr lets through; after a
bounded number the destination is dead and the rest of its mail is
deferred with "delivery temporarily suspended: ..." without a connection,
while mail for a working destination still goes out.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import poll_until
from hk_e2e import (DELAYS, ID, free_port_on, in_queue, mailq, needs, queue_file, resolv_conf,
                    submit, swaks, wait_for)
from hk_peers import Sink

SENDER = "root@mail.example.jp"      # local: notices land in the instance's mail spool


class Down:
    """The destination: relayhost [127.0.0.2]:port; up() starts a sink there."""

    def __init__(self):
        self.port = free_port_on("127.0.0.2")
        self.sink = None
        self.relay = rf"127\.0\.0\.2\[127\.0\.0\.2\]:{self.port}"
        self.refused = rf"connect to {self.relay}: Connection refused"

    def up(self, **kw):
        self.sink = Sink(host="127.0.0.2", port=self.port, name="relay.example.net", **kw)
        return self.sink

    def stop(self):
        if self.sink:
            self.sink.stop()


@pytest.fixture
def q(instance):
    """An instance whose remote mail goes to a destination that is down."""
    needs(instance)
    dest = Down()
    resolv_conf(instance, None)
    instance.write_main_cf(relayhost=f"[127.0.0.2]:{dest.port}",
                           # no session kept: each delivery connects anew
                           smtp_connection_cache_on_demand="no")
    instance.dest = dest
    yield instance
    dest.stop()


def deferred_line(qid, rcpt, reason):
    return (rf"postfix/smtp\[\d+\]: {qid}: to=<{re.escape(rcpt)}>, relay=none, {DELAYS}, "
            rf"dsn=4\.4\.1, status=deferred \({reason}\)")


def unfold(text):
    """Join folded header lines (the DSN part may fold long fields)."""
    return re.sub(r"\r?\n[ \t]+", " ", text)


# ---------------------------------------------------------------- down, then back

def test_deferred_listed_read_flushed_and_deleted(q):
    q.start()
    qid = submit(q, "app@example.jp", ["someone@remote.test"], subject="wait for me")
    other = submit(q, "app@example.jp", ["another@remote.test"], subject="never mind")
    q.wait_log(deferred_line(qid, "someone@remote.test", q.dest.refused))
    q.wait_log(deferred_line(other, "another@remote.test", q.dest.refused))
    wait_for(lambda: in_queue(q, qid) == "deferred" and in_queue(q, other) == "deferred",
             what="both messages in deferred/")

    # mailq: the reason in parentheses above the recipient.
    out = mailq(q)
    reason = f"(connect to 127.0.0.2[127.0.0.2]:{q.dest.port}: Connection refused)"
    assert out.startswith("-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n")
    assert re.search(rf"(?m)^{qid}\s+\d+ \w{{3}} \w{{3}} [ \d]\d \d\d:\d\d:\d\d  app@example\.jp$",
                     out), out
    block = out.split(qid, 1)[1].split("\n\n", 1)[0]
    assert re.search(rf"(?m)^ +{re.escape(reason)}\n +someone@remote\.test$", block), out
    assert out.rstrip("\n").endswith("in 2 Requests.")

    # postcat -q: envelope, content, end.
    cat = q.cmd("postcat", "-q", qid).stdout
    assert f"*** ENVELOPE RECORDS deferred/{qid} ***" in cat
    assert "sender: app@example.jp\n" in cat
    assert "recipient: someone@remote.test\n" in cat
    assert f"*** MESSAGE CONTENTS deferred/{qid} ***" in cat
    assert "Subject: wait for me\n" in cat
    assert f"*** MESSAGE FILE END deferred/{qid} ***" in cat

    # postsuper -d: gone, from the queue and from mailq.
    r = q.cmd("postsuper", "-d", other)
    assert f"postsuper: {other}: removed\n" in r.stderr
    assert "postsuper: Deleted: 1 message\n" in r.stderr
    assert in_queue(q, other) is None
    assert other not in mailq(q)

    # The destination is back: postqueue -f delivers what is left.
    sink = q.dest.up()
    q.cmd("postqueue", "-f")
    q.wait_log(rf"postfix/smtp\[\d+\]: {qid}: to=<someone@remote\.test>, relay={q.dest.relay}, "
               rf"{DELAYS}, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as SINK1\)")
    q.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: removed")
    assert [t["rcpts"] for t in sink.transactions()] == [["someone@remote.test"]]
    assert mailq(q) == "Mail queue is empty\n"


def test_hold_and_release(q):
    q.start()
    held = submit(q, "app@example.jp", ["held@remote.test"], subject="held")
    free = submit(q, "app@example.jp", ["free@remote.test"], subject="free")
    for qid in (held, free):
        wait_for(lambda: in_queue(q, qid) == "deferred", what=f"{qid} in deferred/")
    r = q.cmd("postsuper", "-h", held)
    assert f"postsuper: {held}: placed on hold\n" in r.stderr
    assert in_queue(q, held) == "hold"
    out = mailq(q)
    assert re.search(rf"(?m)^{held}!\s+\d+ ", out), out
    assert re.search(rf"(?m)^{free}\s+\d+ ", out), out

    # A flush delivers the other one, never the held one.
    sink = q.dest.up()
    q.cmd("postqueue", "-f")
    q.wait_log(rf"{free}: to=<free@remote\.test>, relay={q.dest.relay}, .*status=sent")
    q.wait_log(rf"{free}: removed")
    assert in_queue(q, held) == "hold"
    assert not any("held@remote.test" in t["rcpts"] for t in sink.transactions())
    assert f"{held}: to=" not in q.log().split(f"{held}: placed on hold")[-1]

    r = q.cmd("postsuper", "-H", held)
    assert f"postsuper: {held}: released from hold\n" in r.stderr
    assert in_queue(q, held) == "deferred"
    assert re.search(rf"(?m)^{held}\s+\d+ ", mailq(q))
    q.cmd("postqueue", "-f")
    q.wait_log(rf"{held}: to=<held@remote\.test>, relay={q.dest.relay}, .*status=sent")
    q.wait_log(rf"{held}: removed")
    assert mailq(q) == "Mail queue is empty\n"


# ---------------------------------------------------------------- notices

@pytest.mark.parametrize("lifetime", ["0", "2s"])
def test_expired_mail_returned_to_sender(q, lifetime):
    q.write_main_cf(maximal_queue_lifetime=lifetime, bounce_queue_lifetime=lifetime,
                    minimal_backoff_time="1s", maximal_backoff_time="1s", queue_run_delay="1s")
    q.start()
    qid = submit(q, SENDER, ["far@remote.test"], subject="too late")
    q.wait_log(deferred_line(qid, "far@remote.test", q.dest.refused))
    q.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: from=<{re.escape(SENDER)}>, "
               r"status=expired, returned to sender", timeout=30)
    notice = q.wait_log(rf"postfix/bounce\[\d+\]: {qid}: sender non-delivery notification: "
                        rf"({ID})")[0]
    q.wait_log(rf"{qid}: removed")
    q.wait_log(rf"postfix/local\[\d+\]: {notice}: to=<{re.escape(SENDER)}>, relay=local, "
               rf"{DELAYS}, dsn=2\.0\.0, status=sent \(delivered to mailbox\)")
    box = q.mailbox("root")
    assert box.startswith("From MAILER-DAEMON ")
    assert "Subject: Undelivered Mail Returned to Sender" in box
    assert re.search(r"Content-Type: multipart/report; report-type=delivery-status;", box)
    text = unfold(box)
    # The text part says why: the last error.
    assert (f"<far@remote.test>: connect to 127.0.0.2[127.0.0.2]:{q.dest.port}: "
            "Connection refused") in text
    # The RFC 3464 part.
    for want in ["Content-Type: message/delivery-status",
                 "Reporting-MTA: dns; mail.example.jp",
                 f"X-Postfix-Queue-ID: {qid}",
                 f"X-Postfix-Sender: rfc822; {SENDER}",
                 "Final-Recipient: rfc822; far@remote.test",
                 "Action: failed",
                 "Status: 4.4.1",
                 f"Diagnostic-Code: X-Postfix; connect to 127.0.0.2[127.0.0.2]:{q.dest.port}: "
                 "Connection refused",
                 "Content-Type: message/rfc822",
                 "Subject: too late"]:
        assert want in text, f"{want!r} missing from the notice:\n{box}"
    assert in_queue(q, qid) is None
    assert box.count("Subject: Undelivered Mail Returned to Sender") == 1


def test_delay_warning_sent_once(q):
    q.write_main_cf(delay_warning_time="1s", minimal_backoff_time="1s",
                    maximal_backoff_time="1s", queue_run_delay="1s")
    q.start()
    qid = submit(q, SENDER, ["slow@remote.test"], subject="still trying")
    # The queue file carries the warning time (cleanup writes it).
    cat = poll_until(lambda: q.cmd("postcat", "-e", "-q", qid, check=False).stdout)
    assert re.search(r"(?m)^warning_message_time: \w{3} \w{3} ", cat), cat
    notice = q.wait_log(rf"postfix/bounce\[\d+\]: {qid}: sender delay notification: ({ID})",
                        timeout=30)[0]
    q.wait_log(rf"postfix/local\[\d+\]: {notice}: to=<{re.escape(SENDER)}>, relay=local, "
               r".*status=sent \(delivered to mailbox\)")
    # Two more attempts after the warning: still one notice.
    n = len(re.findall(rf"{qid}: to=<slow@remote\.test>, .*status=deferred", q.log()))
    q.wait_log(rf"{qid}: to=<slow@remote\.test>, .*status=deferred", count=n + 2, timeout=30)
    assert len(re.findall(rf"{qid}: sender delay notification", q.log())) == 1
    box = q.mailbox("root")
    assert box.count("Subject: Delayed Mail (still being retried)") == 1, box
    text = unfold(box)
    for want in ["Content-Type: message/delivery-status",
                 "Final-Recipient: rfc822; slow@remote.test",
                 "Action: delayed",
                 "Status: 4.4.1",
                 "Will-Retry-Until: ",
                 "Content-Type: text/rfc822-headers",
                 "Subject: still trying"]:
        assert want in text, f"{want!r} missing from the delay notice:\n{box}"
    assert "Undelivered Mail Returned to Sender" not in box
    assert in_queue(q, qid) in ("deferred", "active")
    q.cmd("postsuper", "-d", qid)


def test_soft_bounce_turns_5xx_into_deferral(q):
    q.write_main_cf(soft_bounce="yes")
    sink = q.dest.up(rcpt_replies={
        "nobody@remote.test": "550 5.1.1 <nobody@remote.test>: Recipient address rejected: "
                              "User unknown"})
    q.start()
    qid = submit(q, SENDER, ["nobody@remote.test", "somebody@remote.test"], subject="soft")
    q.wait_log(rf"{qid}: to=<somebody@remote\.test>, relay={q.dest.relay}, .*status=sent")
    q.wait_log(rf"{qid}: to=<nobody@remote\.test>, relay={q.dest.relay}, {DELAYS}, dsn=4\.1\.1, "
               rf"status=deferred \(host 127\.0\.0\.2\[127\.0\.0\.2\] said: 550 5\.1\.1 "
               r"<nobody@remote\.test>: Recipient address rejected: User unknown "
               r"\(in reply to RCPT TO command\)\)")
    wait_for(lambda: in_queue(q, qid) == "deferred", what="message in deferred/")
    out = mailq(q)
    assert "said: 550 5.1.1" in out and "nobody@remote.test" in out
    assert "somebody@remote.test" not in out
    assert "notification" not in q.log()
    assert len(sink.transactions()) == 1
    # Without soft_bounce the same reply bounces.
    q.write_main_cf(soft_bounce="no")
    q.postfix("reload")
    q.wait_log(r"reload -- version|reload configuration")
    q.cmd("postqueue", "-f")
    q.wait_log(rf"{qid}: to=<nobody@remote\.test>, relay={q.dest.relay}, {DELAYS}, dsn=5\.1\.1, "
               r"status=bounced \(host 127\.0\.0\.2", timeout=30)
    q.wait_log(rf"{qid}: sender non-delivery notification: {ID}")
    q.wait_log(rf"{qid}: removed")


# ---------------------------------------------------------------- the corrupt queue

def test_corrupt_file_quarantined_never_delivered(q):
    q.start()
    good = submit(q, "app@example.jp", ["good@remote.test"], subject="good")
    wait_for(lambda: in_queue(q, good) == "deferred", what="message in deferred/")
    data = open(queue_file(q, "deferred", good), "rb").read()
    incoming = os.path.join(q.queue, "incoming")
    st = os.stat(incoming)
    bad = {"BADEND0001": data[:-5],                                  # no end record
           "BADLEN0002": data[:40] + b"R\xff\xff\xff\xff" + data[40:],  # impossible length
           "BADTYP0003": data.replace(b"Subject: good", b"Subject: evil")[:-5]
           + b"Z\0\0\0\0" + data[-5:]}                                 # unknown record
    for name, content in bad.items():
        p = os.path.join(incoming, name)
        with open(p, "wb") as f:
            f.write(content)
        os.chown(p, st.st_uid, st.st_gid)
        os.chmod(p, 0o700)
    q.cmd("postqueue", "-f")
    for name in bad:
        q.wait_log(rf"postfix/qmgr\[\d+\]: warning: {name}: corrupt queue file .*{name}")
        wait_for(lambda: in_queue(q, name) == "corrupt", what=f"{name} in corrupt/")
    # The destination comes back: the good one is delivered, the others never.
    sink = q.dest.up()
    q.cmd("postqueue", "-f")
    q.wait_log(rf"{good}: to=<good@remote\.test>, relay={q.dest.relay}, .*status=sent")
    q.wait_log(rf"{good}: removed")
    for name in bad:
        assert f"{name}: to=" not in q.log()
        assert f"{name}: from=" not in q.log()
        assert in_queue(q, name) == "corrupt"
    assert len(sink.transactions()) == 1
    assert b"Subject: evil" not in sink.transactions()[0]["data"]


# ---------------------------------------------------------------- pflogsumm

def test_pflogsumm_counts(q):
    if not shutil.which("pflogsumm"):
        pytest.skip("pflogsumm is not installed (Debian package pflogsumm)")
    sink = q.dest.up(rcpt_replies={
        "bad@remote.test": "550 5.1.1 <bad@remote.test>: Recipient address rejected: "
                           "User unknown"})
    down_port = free_port_on("127.0.0.3")
    transport = os.path.join(q.config, "transport")
    with open(transport, "w") as f:
        f.write(f"down.test smtp:[127.0.0.3]:{down_port}\n")
    q.write_main_cf(transport_maps="texthash:" + transport, mynetworks="127.0.0.1")
    q.start()
    one = submit(q, SENDER, ["a@remote.test"], subject="one")
    two = submit(q, SENDER, ["b@remote.test", "bad@remote.test"], subject="two")
    rc, out = swaks(q, "--from", SENDER, "--to", "c@down.test", "--header", "Subject: three")
    assert rc == 0, out
    three = re.search(r"queued as (" + ID + ")", out).group(1)
    rc, out = swaks(q, "--from", "x@elsewhere.example", "--to", "d@remote.test",
                    source="127.0.0.5")
    assert rc != 0 and "Relay access denied" in out
    q.wait_log(rf"{one}: removed")
    notice = q.wait_log(rf"{two}: sender non-delivery notification: ({ID})")[0]
    q.wait_log(rf"{notice}: to=<{re.escape(SENDER)}>, relay=local, .*status=sent")
    q.wait_log(rf"{two}: removed")
    q.wait_log(rf"{three}: to=<c@down\.test>, relay=none, .*status=deferred "
               rf"\(connect to 127\.0\.0\.3\[127\.0\.0\.3\]:{down_port}: Connection refused\)")
    q.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.5\]")

    r = subprocess.run(["pflogsumm", "--problems-first", q.maillog], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rep = r.stdout

    def count(label):
        m = re.search(rf"(?m)^\s+(\d+)\s+{label}\b", rep)
        assert m, f"no {label!r} line in pflogsumm's report:\n{rep}"
        return int(m.group(1))
    # Received: three by SMTP (client= lines). Delivered: a, b, and the
    # notice to the sender's mailbox. Deferred: one message, one deferral.
    assert count("received") == 3, rep
    assert count("delivered") == 3, rep
    assert count("forwarded") == 0, rep
    assert count("deferred") == 1, rep
    assert re.search(r"(?m)^\s+1\s+deferred\s+\(1\s+deferrals\)", rep), rep
    assert count("bounced") == 1, rep
    assert count("rejected") == 1, rep
    assert re.search(r"(?m)^\s+1\s+rejected \(25%\)", rep), rep
    # The details name the deferral and the bounce as the log says them.
    assert "Connection refused" in rep and "User unknown" in rep, rep
    assert len(sink.transactions()) == 2


# ---------------------------------------------------------------- dead destinations

DEAD_GREETING = "421 4.3.2 dead.test Service not available, closing transmission channel"


class Routes:
    """dead.test -> [127.0.0.3]:port (a 421 sink, later a working one);
    live.test -> [127.0.0.2]:port (a working sink)."""

    def __init__(self, inst):
        self.dead_port = free_port_on("127.0.0.3")
        self.live = Sink(host="127.0.0.2", port=free_port_on("127.0.0.2"), name="live.test")
        self.dead = Sink(host="127.0.0.3", port=self.dead_port, name="dead.test",
                         greeting=DEAD_GREETING)
        transport = os.path.join(inst.config, "transport")
        with open(transport, "w") as f:
            f.write(f"dead.test smtp:[127.0.0.3]:{self.dead_port}\n"
                    f"live.test smtp:[127.0.0.2]:{self.live.port}\n")
        inst.write_main_cf(transport_maps="texthash:" + transport)

    def connections(self):
        return len(self.dead.sessions)

    def revive(self):
        self.dead.stop()
        self.dead = Sink(host="127.0.0.3", port=self.dead_port, name="dead.test")

    def stop(self):
        self.live.stop()
        self.dead.stop()


@pytest.fixture
def dq(instance):
    """An instance with a dead and a live destination; no retry happens by
    itself during a test (minimal_backoff_time is an hour), only flushes."""
    needs(instance)
    resolv_conf(instance, None)
    instance.write_main_cf(smtp_connection_cache_on_demand="no",
                           minimal_backoff_time="3600s", maximal_backoff_time="4000s",
                           queue_run_delay="3600s")
    instance.routes = Routes(instance)
    yield instance
    instance.routes.stop()


def deferrals(inst, qid):
    return re.findall(rf"{qid}: to=<[^>]*@dead\.test>, relay=\S+, {DELAYS}, dsn=4\.\d+\.\d+, "
                      r"status=deferred \(([^\n]*)\)", inst.log())


def queue_dead(inst, n):
    """Submit n messages for dead.test and wait until each is in deferred/."""
    ids = [submit(inst, "app@example.jp", [f"user{i}@dead.test"], subject=f"dead {i}")
           for i in range(n)]
    # The log reaches the file through postlogd, a little after the queue
    # file moves: wait for both, or a late line of this first round would be
    # taken for one of the next.
    wait_for(lambda: all(in_queue(inst, i) == "deferred" and deferrals(inst, i) for i in ids),
             timeout=60, what="every message for dead.test in deferred/ and its deferral logged")
    return ids


def flush_round(inst, ids):
    """postqueue -f, then wait until every message was tried once more.
    Returns the new deferral reasons, one per message."""
    before = {i: len(deferrals(inst, i)) for i in ids}
    inst.cmd("postqueue", "-f")
    wait_for(lambda: all(len(deferrals(inst, i)) > before[i] for i in ids)
             and all(in_queue(inst, i) == "deferred" for i in ids),
             timeout=60, what="every message tried again and deferred")
    return [deferrals(inst, i)[before[i]] for i in ids]


SUSPENDED = (r"delivery temporarily suspended: host 127\.0\.0\.3\[127\.0\.0\.3\] refused to "
             r"talk to me: " + re.escape(DEAD_GREETING))
REFUSED = (r"host 127\.0\.0\.3\[127\.0\.0\.3\] refused to talk to me: "
           + re.escape(DEAD_GREETING))


def test_dead_destination_is_suspended_and_others_still_flow(dq):
    r = dq.routes
    dq.write_main_cf(destination_concurrency_feedback_debug="yes")
    dq.start()
    ids = queue_dead(dq, 20)

    # All 20 are active at once after a flush: about one pseudo-cohort
    # (initial_destination_concurrency = 5) of connections, then the
    # destination is dead and the rest are deferred without one.
    before = r.connections()
    reasons = flush_round(dq, ids)
    tried = r.connections() - before
    refused = [x for x in reasons if re.fullmatch(REFUSED, x)]
    suspended = [x for x in reasons if re.fullmatch(SUSPENDED, x)]
    assert 1 <= tried <= 6, (tried, reasons)
    assert len(refused) == tried, reasons
    assert len(suspended) == len(ids) - tried, reasons
    dq.wait_log(r"postfix/qmgr\[\d+\]: queue smtp/\[127\.0\.0\.3\]:\d+: destination marked dead")
    # The suspended ones are logged by qmgr, relay=none, with the site's dsn.
    assert re.search(rf"postfix/qmgr\[\d+\]: {ID}: to=<user\d+@dead\.test>, relay=none, "
                     rf"{DELAYS}, dsn=4\.3\.2, status=deferred \({SUSPENDED}\)", dq.log())
    # mailq shows the reason.
    out = mailq(dq)
    assert "(delivery temporarily suspended: host 127.0.0.3[127.0.0.3] refused to talk" in out

    # While it is dead: new mail for it is deferred at once, no connection;
    # mail for the live destination is delivered.
    before = r.connections()
    late = submit(dq, "app@example.jp", ["late@dead.test"], subject="late")
    live = [submit(dq, "app@example.jp", [f"u{i}@live.test"], subject=f"live {i}")
            for i in range(5)]
    for qid in live:
        dq.wait_log(rf"{qid}: to=<u\d@live\.test>, relay=127\.0\.0\.2\[127\.0\.0\.2\]:\d+, "
                    rf"{DELAYS}, dsn=2\.0\.0, status=sent")
        dq.wait_log(rf"{qid}: removed")
    wait_for(lambda: deferrals(dq, late), what="the late message deferred")
    assert re.fullmatch(SUSPENDED, deferrals(dq, late)[0]), deferrals(dq, late)
    assert r.connections() == before
    assert len(r.live.transactions()) == 5

    # The destination is back: a flush revives it and delivers everything.
    r.revive()
    dq.cmd("postqueue", "-f")
    for qid in ids + [late]:
        dq.wait_log(rf"{qid}: to=<[^>]*@dead\.test>, relay=127\.0\.0\.3\[127\.0\.0\.3\]:\d+, "
                    rf"{DELAYS}, dsn=2\.0\.0, status=sent", timeout=60)
        dq.wait_log(rf"{qid}: removed")
    assert len(r.dead.transactions()) == len(ids) + 1
    assert mailq(dq) == "Mail queue is empty\n"


def test_failed_cohort_limit_zero_never_suspends(dq):
    """smtp_destination_concurrency_failed_cohort_limit = 0 (the transport's
    own setting) turns dead-destination detection off: every message gets
    its own connection."""
    r = dq.routes
    dq.write_main_cf(smtp_destination_concurrency_failed_cohort_limit="0")
    dq.start()
    ids = queue_dead(dq, 8)
    before = r.connections()
    reasons = flush_round(dq, ids)
    assert r.connections() - before == len(ids)
    assert all(re.fullmatch(REFUSED, x) for x in reasons), reasons
    assert "delivery temporarily suspended" not in dq.log()


def test_recipient_4xx_does_not_kill_a_destination(dq):
    """A 450 for a recipient says nothing about the site: every message is
    tried, none is suspended."""
    r = dq.routes
    r.dead.stop()
    r.dead = Sink(host="127.0.0.3", port=r.dead_port, name="dead.test",
                  rcpt_replies={f"user{i}@dead.test": "450 4.2.1 Mailbox busy, try later"
                                for i in range(10)})
    dq.start()
    ids = queue_dead(dq, 10)
    before = len(r.dead.transactions())
    reasons = flush_round(dq, ids)
    assert len(r.dead.transactions()) - before == len(ids)
    assert all("said: 450 4.2.1 Mailbox busy" in x for x in reasons), reasons
    assert "delivery temporarily suspended" not in dq.log()


def test_dead_destination_revives_after_minimal_backoff_time(dq):
    """Without a flush: the destination is dead for minimal_backoff_time,
    then mail goes again (messages retry on their own every second here)."""
    r = dq.routes
    dq.write_main_cf(minimal_backoff_time="2s", maximal_backoff_time="2s",
                     queue_run_delay="1s")
    dq.start()
    ids = [submit(dq, "app@example.jp", [f"user{i}@dead.test"], subject=f"dead {i}")
           for i in range(10)]
    wait_for(lambda: all(deferrals(dq, i) for i in ids), timeout=60,
             what="every message tried once")
    dq.cmd("postqueue", "-f")           # all at once: enough failures to kill it
    dq.wait_log(SUSPENDED, timeout=60)
    r.revive()
    for qid in ids:
        dq.wait_log(rf"{qid}: to=<[^>]*@dead\.test>, relay=127\.0\.0\.3\[127\.0\.0\.3\]:\d+, "
                    rf"{DELAYS}, dsn=2\.0\.0, status=sent", timeout=60)
    assert len(r.dead.transactions()) == len(ids)


# ---------------------------------------------------------------- defer_transports

def test_defer_transports_wait_for_a_flush(q):
    # Dial-up style: mail for the smtp transport waits until someone flushes.
    sink = q.dest.up()
    q.write_main_cf(defer_transports="smtp")
    q.start()
    qid = submit(q, "app@example.jp", ["someone@remote.test"], subject="wait for the flush")
    q.wait_log(rf"postfix/qmgr\[\d+\]: {qid}: to=<someone@remote\.test>, relay=none, {DELAYS}, "
               rf"dsn=4\.3\.2, status=deferred \(deferred transport\)")
    wait_for(lambda: in_queue(q, qid) == "deferred", what="the message in deferred/")
    assert "(deferred transport)" in mailq(q)
    # Local mail is not held.
    local = submit(q, "app@example.jp", [SENDER], subject="local goes on")
    q.wait_log(rf"postfix/local\[\d+\]: {local}: to=<{re.escape(SENDER)}>, relay=local, "
               r".*status=sent")
    assert sink.transactions() == []
    q.cmd("postqueue", "-f")
    q.wait_log(rf"postfix/smtp\[\d+\]: {qid}: to=<someone@remote\.test>, relay={q.dest.relay}, "
               rf"{DELAYS}, dsn=2\.0\.0, status=sent")
    assert [t["rcpts"] for t in sink.transactions()] == [["someone@remote.test"]]


def test_active_limit_scans_go_on_where_they_stopped(dq):
    """qmgr_message_active_limit = 3: incoming/ and deferred/ are taken in
    batches as room appears (each scan goes on through its listing), and
    every message is still tried and then delivered."""
    r = dq.routes
    dq.write_main_cf(qmgr_message_active_limit="3")
    dq.start()
    ids = queue_dead(dq, 12)
    r.revive()
    dq.cmd("postqueue", "-f")
    for qid in ids:
        dq.wait_log(rf"{qid}: to=<[^>]*@dead\.test>, relay=127\.0\.0\.3\[127\.0\.0\.3\]:\d+, "
                    rf"{DELAYS}, dsn=2\.0\.0, status=sent", timeout=60)
        dq.wait_log(rf"{qid}: removed")
    assert len(r.dead.transactions()) == len(ids)
    assert mailq(dq) == "Mail queue is empty\n"
