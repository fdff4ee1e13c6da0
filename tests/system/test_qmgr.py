"""qmgr, bounce, error and discard in a real instance.

Each test starts an instance (conftest `instance`) with a transport table,
submits mail over SMTP and watches the log, the queue directories and
what scripted delivery agents (hk_agent.FakeAgent, listening on
private/<name>) receive: the error transport bounces with an RFC 3464
report, discard drops, an unreachable agent defers until `postfix flush`,
maximal_queue_lifetime=0 returns mail at once, a qmgr killed with -9 loses
nothing, a corrupt queue file is quarantined. Skipped while the daemons an
instance needs are not built.
"""
import os
import re
import signal
import stat
import time

import pytest

from conftest import poll_until
from hk_agent import FakeAgent

NEEDED = ["master", "smtpd", "cleanup", "qmgr", "bounce", "error", "discard"]

TRANSPORT = """\
nope@example.jp       error:5.1.1 nope
drop@example.jp       discard:silently
dead@example.jp       deadagent:
slow@example.jp       slowagent:
later@example.jp      soonagent:
sender.example        capture:
pm.example            pmcapture:
batch.example         batchagent:
"""


@pytest.fixture
def qi(instance):
    missing = [p for p in NEEDED if not os.path.exists(os.path.join(instance.libexec, p))]
    if missing:
        pytest.fail("missing from the build: " + ", ".join(missing))
    path = os.path.join(instance.config, "transport")
    with open(path, "w") as f:
        f.write(TRANSPORT)
    instance.write_main_cf(transport_maps="texthash:" + path)
    instance.agents = []
    yield instance
    for a in instance.agents:
        a.close()


def agent(inst, name, behave="sent", **kw):
    a = FakeAgent(inst.queue, name, behave, **kw)
    inst.agents.append(a)
    return a


def send(inst, sender, rcpts, subject="test", body="hello\n", rcpt_options=(),
         mail_options=()):
    """Submit over SMTP; returns the queue ID from the 250 reply."""
    s = inst.smtp()
    s.ehlo("client.example")
    if (rcpt_options or mail_options) and not s.has_extn("dsn"):
        s.quit()
        pytest.skip("smtpd does not offer DSN yet")
    code, _ = s.mail(sender, list(mail_options))
    assert code == 250
    for r in rcpts:
        code, msg = s.rcpt(r, list(rcpt_options))
        assert code == 250, msg
    code, msg = s.data(f"From: <{sender}>\nTo: <{rcpts[0]}>\nSubject: {subject}\n\n{body}")
    s.quit()
    assert code == 250, msg
    m = re.search(rb"queued as ([0-9A-Za-z]+)", msg)
    assert m, msg
    return m.group(1).decode()


def qpath(inst, queue, qid):
    return os.path.join(inst.queue, queue, qid)


def wait_for(fn, timeout=20):
    assert poll_until(fn, timeout), "condition not met in time"


def test_error_transport_bounces_with_rfc3464_report(qi):
    qi.start()
    cap = agent(qi, "capture")
    qid = send(qi, "sender@sender.example", ["nope@example.jp"], subject="to nobody")
    qi.wait_log(rf"{qid}: from=<sender@sender\.example>, size=\d+, nrcpt=1 \(queue active\)")
    qi.wait_log(rf"postfix/error\[\d+\]: {qid}: to=<nope@example\.jp>, relay=none, "
                rf"delay=[\d.]+, delays=[\d./]+, dsn=5\.1\.1, status=bounced \(nope\)")
    notice = qi.wait_log(rf"postfix/bounce\[\d+\]: {qid}: sender non-delivery notification: "
                         rf"([0-9A-Za-z]+)")[0]
    qi.wait_log(rf"qmgr\[\d+\]: {qid}: removed")
    qi.wait_log(rf"{notice}: from=<>, size=\d+, nrcpt=1 \(queue active\)")
    wait_for(lambda: cap.requests)
    req = cap.requests[0]
    assert req["sender"] == ""
    assert req["queue_id"] == notice
    assert [r["address"] for r in req["rcpt"]] == ["sender@sender.example"]
    text = req["content"]
    for want in ["From: MAILER-DAEMON@mail.example.jp (Mail Delivery System)",
                 "Subject: Undelivered Mail Returned to Sender",
                 "report-type=delivery-status",
                 "Content-Type: message/delivery-status",
                 "Reporting-MTA: dns; mail.example.jp",
                 f"X-Postfix-Queue-ID: {qid}",
                 "X-Postfix-Sender: rfc822; sender@sender.example",
                 "Final-Recipient: rfc822; nope@example.jp",
                 "Action: failed",
                 "Status: 5.1.1",
                 "Diagnostic-Code: X-Postfix; nope",
                 "Content-Type: message/rfc822",
                 "Subject: to nobody",
                 "<nope@example.jp>: nope"]:
        assert want in text, f"{want!r} missing from the notice:\n{text}"
    # the original message and its logs are gone
    for q in ["incoming", "active", "deferred", "bounce", "defer"]:
        assert not os.path.exists(qpath(qi, q, qid))


def test_bounce_reaches_local_mailbox(qi):
    if not os.path.exists(os.path.join(qi.libexec, "local")):
        pytest.fail("local is missing from the build")
    qi.start()
    qid = send(qi, "nobody@mail.example.jp", ["nope@example.jp"], subject="for a mailbox")
    qi.wait_log(rf"{qid}: sender non-delivery notification: ")
    qi.wait_log(rf"{qid}: removed")
    wait_for(lambda: "Final-Recipient: rfc822; nope@example.jp" in qi.mailbox("nobody"))
    box = qi.mailbox("nobody")
    assert "multipart/report; report-type=delivery-status" in box
    assert "Status: 5.1.1" in box
    assert "Subject: for a mailbox" in box


def test_discard_logs_and_removes(qi):
    qi.start()
    qid = send(qi, "sender@sender.example", ["drop@example.jp"])
    qi.wait_log(rf"postfix/discard\[\d+\]: {qid}: to=<drop@example\.jp>, relay=none, "
                rf"delay=[\d.]+, delays=[\d./]+, dsn=2\.0\.0, status=sent \(silently\)")
    qi.wait_log(rf"{qid}: removed")
    assert "notification" not in qi.log()
    assert not os.path.exists(qpath(qi, "deferred", qid))


def test_unreachable_agent_defers_then_flush(qi):
    qi.start()
    qid = send(qi, "sender@sender.example", ["dead@example.jp"])
    qi.wait_log(rf"{qid}: to=<dead@example\.jp>, relay=none, .*dsn=4\.3\.0, status=deferred "
                rf"\(delivery temporarily suspended: connect to transport private/deadagent: ")
    path = qpath(qi, "deferred", qid)
    wait_for(lambda: os.path.exists(path))
    st = os.stat(path)
    assert st.st_mtime > time.time() + 200, "next attempt should be minimal_backoff_time away"
    assert stat.S_IMODE(st.st_mode) == 0o700
    # mailq's source: the defer log has the reason
    assert os.path.getsize(qpath(qi, "defer", qid)) > 0
    # the agent appears; a flush makes the message due now
    cap = agent(qi, "deadagent", "sent")
    qi.postfix("flush")
    qi.wait_log(rf"{qid}: from=<sender@sender\.example>, size=\d+, nrcpt=1 \(queue active\)",
                count=2)
    qi.wait_log(rf"{qid}: removed")
    assert [r["address"] for r in cap.requests[0]["rcpt"]] == ["dead@example.jp"]
    assert not os.path.exists(qpath(qi, "defer", qid))


def test_deferred_by_agent_then_delivered(qi):
    qi.start()
    soon = agent(qi, "soonagent", ["defer", "sent"])
    qid = send(qi, "sender@sender.example", ["later@example.jp"])
    path = qpath(qi, "deferred", qid)
    wait_for(lambda: os.path.exists(path))
    assert os.stat(path).st_mtime > time.time() + 200
    qi.postfix("flush")
    qi.wait_log(rf"{qid}: removed")
    assert len(soon.requests) == 2


def test_expired_message_returned_at_once(qi):
    qi.write_main_cf(maximal_queue_lifetime="0")
    qi.start()
    cap = agent(qi, "capture")
    qid = send(qi, "sender@sender.example", ["dead@example.jp"], subject="too late")
    qi.wait_log(rf"{qid}: to=<dead@example\.jp>.*status=deferred")
    qi.wait_log(rf"{qid}: from=<sender@sender\.example>, status=expired, returned to sender")
    qi.wait_log(rf"{qid}: sender non-delivery notification: ")
    qi.wait_log(rf"{qid}: removed")
    wait_for(lambda: cap.requests)
    text = cap.requests[0]["content"]
    assert "Final-Recipient: rfc822; dead@example.jp" in text
    assert "Action: failed" in text
    assert "Status: 4.3.0" in text
    assert "delivery temporarily suspended" in text
    assert not os.path.exists(qpath(qi, "deferred", qid))


def test_bounce_of_bounce_is_dropped(qi):
    qi.start()
    qid = send(qi, "", ["nope@example.jp"])
    qi.wait_log(rf"{qid}: to=<nope@example\.jp>.*status=bounced")
    qi.wait_log(rf"{qid}: undeliverable postmaster notification discarded")
    qi.wait_log(rf"{qid}: removed")
    assert "sender non-delivery notification" not in qi.log()


def test_double_bounce_to_postmaster_when_asked(qi):
    qi.write_main_cf(notify_classes="resource, software, 2bounce",
                     **{"2bounce_notice_recipient": "pm@pm.example"})
    qi.start()
    pm = agent(qi, "pmcapture")
    qid = send(qi, "", ["nope@example.jp"])
    qi.wait_log(rf"{qid}: postmaster non-delivery notification: ")
    qi.wait_log(rf"{qid}: removed")
    wait_for(lambda: pm.requests)
    assert [r["address"] for r in pm.requests[0]["rcpt"]] == ["pm@pm.example"]
    assert "Final-Recipient: rfc822; nope@example.jp" in pm.requests[0]["content"]


def test_soft_bounce_defers(qi):
    qi.write_main_cf(soft_bounce="yes")
    qi.start()
    qid = send(qi, "sender@sender.example", ["nope@example.jp"])
    qi.wait_log(rf"{qid}: to=<nope@example\.jp>, relay=none, .*dsn=4\.1\.1, "
                rf"status=deferred \(nope\)")
    wait_for(lambda: os.path.exists(qpath(qi, "deferred", qid)))
    assert "notification" not in qi.log()


def qmgr_pid(inst):
    pids = re.findall(r"postfix/qmgr\[(\d+)\]", inst.log())
    return int(pids[-1]) if pids else None


def test_killed_qmgr_loses_nothing(qi):
    qi.start()
    slow = agent(qi, "slowagent", ["hang", "sent"])
    qid = send(qi, "sender@sender.example", ["slow@example.jp"])
    wait_for(lambda: slow.requests)
    assert os.path.exists(qpath(qi, "active", qid))
    pid = qmgr_pid(qi)
    assert pid
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    # still there, never half-delivered
    assert os.path.exists(qpath(qi, "active", qid))
    # any trigger brings a new qmgr, which starts over with the message
    qi.postfix("flush")
    qi.wait_log(r"moved 1 message from active back to incoming")
    qi.wait_log(rf"{qid}: removed")
    assert len(slow.requests) == 2
    assert qmgr_pid(qi) != pid


def test_done_recipient_not_delivered_again(qi):
    """Two recipients, one delivered, then qmgr dies: only the other is retried."""
    qi.start()
    soon = agent(qi, "soonagent", "sent")
    slow = agent(qi, "slowagent", ["hang", "sent"])
    qid = send(qi, "sender@sender.example", ["later@example.jp", "slow@example.jp"])
    wait_for(lambda: soon.requests and slow.requests)
    qi.wait_log(rf"qmgr\[\d+\]: {qid}: from=")      # still active: slow hangs
    time.sleep(0.5)
    os.kill(qmgr_pid(qi), signal.SIGKILL)
    qi.postfix("flush")
    qi.wait_log(rf"{qid}: removed")
    assert len(soon.requests) == 1, "the done recipient was delivered twice"
    assert len(slow.requests) == 2


def test_corrupt_file_goes_to_corrupt(qi):
    qi.start()
    bad = "ABCDEF12345"
    path = qpath(qi, "incoming", bad)
    with open(path, "wb") as f:
        f.write(b"this is not a queue file\n")
    os.chmod(path, 0o700)
    pw = os.stat(os.path.join(qi.queue, "incoming"))
    os.chown(path, pw.st_uid, pw.st_gid)
    qi.postfix("flush")
    qi.wait_log(rf"warning: {bad}: corrupt queue file .*{bad}")
    wait_for(lambda: os.path.exists(qpath(qi, "corrupt", bad)))
    assert not os.path.exists(path)
    assert not os.path.exists(qpath(qi, "active", bad))


def test_concurrency_and_recipient_limits(qi):
    qi.write_main_cf(batchagent_destination_concurrency_limit="2",
                     batchagent_destination_recipient_limit="2")
    qi.start()
    batch = agent(qi, "batchagent", "hang")
    rcpts = [f"u{i}@batch.example" for i in range(7)]
    send(qi, "sender@sender.example", rcpts)
    wait_for(lambda: len(batch.requests) >= 2)
    time.sleep(1.5)
    # two deliveries in flight for the destination, two recipients each
    assert len(batch.requests) == 2
    assert [len(r["rcpt"]) for r in batch.requests] == [2, 2]
    assert all(r["nexthop"] == "batch.example" for r in batch.requests)


def test_success_notice_on_request(qi):
    qi.start()
    cap = agent(qi, "capture")
    agent(qi, "soonagent", "sent")
    qid = send(qi, "sender@sender.example", ["later@example.jp"],
               rcpt_options=["NOTIFY=SUCCESS"])
    qi.wait_log(rf"{qid}: sender delivery status notification: ")
    qi.wait_log(rf"{qid}: removed")
    wait_for(lambda: cap.requests)
    text = cap.requests[0]["content"]
    assert "Subject: Successful Mail Delivery Report" in text
    assert "Action: delivered" in text
    assert "Final-Recipient: rfc822; later@example.jp" in text


def test_reload_does_not_repeat_deliveries(qi):
    """After a reload the old qmgr collects its results before the new one
    takes over active/: the delivery in flight is not made twice."""
    qi.start()
    slow = agent(qi, "slowagent", "slow")
    qid = send(qi, "sender@sender.example", ["slow@example.jp"])
    wait_for(lambda: slow.requests)
    qi.postfix("reload")
    qi.postfix("flush")         # wake a new qmgr at once
    qi.wait_log(rf"{qid}: removed")
    time.sleep(1)
    assert len(slow.requests) == 1
    assert len(re.findall(rf"{qid}: removed", qi.log())) == 1


def test_ret_hdrs_and_postmaster_copy(qi):
    qi.write_main_cf(notify_classes="resource, software, bounce",
                     bounce_notice_recipient="pm@pm.example")
    qi.start()
    cap = agent(qi, "capture")
    pm = agent(qi, "pmcapture")
    qid = send(qi, "sender@sender.example", ["nope@example.jp"], subject="headers only",
               body="secret body text\n", mail_options=["RET=HDRS", "ENVID=env-77"])
    qi.wait_log(rf"{qid}: sender non-delivery notification: ")
    qi.wait_log(rf"{qid}: postmaster non-delivery notification: ")
    qi.wait_log(rf"{qid}: removed")
    wait_for(lambda: cap.requests and pm.requests)
    text = cap.requests[0]["content"]
    assert "Content-Type: text/rfc822-headers" in text
    assert "Subject: headers only" in text
    assert "secret body text" not in text
    assert "Original-Envelope-Id: env-77" in text
    copy = pm.requests[0]
    assert [r["address"] for r in copy["rcpt"]] == ["pm@pm.example"]
    assert copy["sender"].startswith("double-bounce@")
    assert "Subject: Postmaster Copy: Undelivered Mail" in copy["content"]
    assert "secret body text" not in copy["content"]
