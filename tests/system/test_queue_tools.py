"""The queue tools: postqueue (-p -j -f -i -s), mailq, postsuper, postcat, showq.

Queue files and defer logs are written directly (hk_queue.py) in deferred/,
active/, hold/ ..., so most tests need no daemon: postqueue run by root
reads the queue itself when showq does not answer. The tests that need
the mail system (showq for a user who is not root, flushing) start an
instance and are skipped while master or the daemons are not built.
Times are shown in UTC (TZ=UTC): arrival 1606065246 is Sun Nov 22 17:14:06.
"""
import grp
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import Instance, poll_until
from hk_queue import QueueFile, chown, defer_record, write_log

UTC = {"TZ": "UTC"}
REASON = "connect to mx.example.net[192.0.2.1]:25: Connection refused"
ID_A = "4F3F62E0A5"     # deferred
ID_B = "B1C2D3E4F6"     # active
ID_C = "C0FFEE1234"     # hold
ID_D = "D00D1E5"        # deferred, second one


def prepare(inst):
    """Queue directories with the right owners, without starting anything."""
    inst.write_main_cf(maillog_file_prefixes="/var, /dev/stdout, /tmp")
    inst.postfix("check", check=False)
    for q in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt", "defer",
              "bounce", "trace", "public", "private", "saved"):
        p = os.path.join(inst.queue, q)
        if not os.path.isdir(p):
            os.makedirs(p)
            chown(p)
            os.chmod(p, 0o700)
    return inst


@pytest.fixture
def qt(instance):
    return prepare(instance)


def msg_a():
    return QueueFile("sender@example.com",
                     ["a@example.net", "b@example.net", ("c@example.org", "C@Example.org")],
                     headers=["From: <sender@example.com>", "Subject: test"],
                     body="hello\nworld\n")


def populate(inst):
    """Three messages: deferred with reasons, active, held with the null sender."""
    a = msg_a()
    a.write(inst.queue, "deferred", ID_A)
    write_log(inst.queue, "defer", ID_A, [
        defer_record("a@example.net", REASON, a.rcpt_offsets["a@example.net"]),
        defer_record("b@example.net", REASON, a.rcpt_offsets["b@example.net"]),
    ])
    b = QueueFile("app@example.jp", ["user@example.com"], headers=["Subject: b"],
                  body="x" * 2000 + "\n")
    b.write(inst.queue, "active", ID_B)
    c = QueueFile("", ["x y@example.com"], headers=["Subject: bounce"], body="y\n")
    c.write(inst.queue, "hold", ID_C)
    return a, b, c


def expected_listing(a, b, c):
    total = (a.size + b.size + c.size) // 1024
    pad = " " * (76 - len(REASON))
    return (
        "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
        f"{ID_B}* {b.size:7d} Sun Nov 22 17:14:06  app@example.jp\n"
        "                                         user@example.com\n"
        "\n"
        f"{ID_A}  {a.size:7d} Sun Nov 22 17:14:06  sender@example.com\n"
        f"{pad}({REASON})\n"
        "                                         a@example.net\n"
        "                                         b@example.net\n"
        f"{' ' * 58}(reason unavailable)\n"
        "                                         c@example.org\n"
        "\n"
        f"{ID_C}! {c.size:7d} Sun Nov 22 17:14:06  MAILER-DAEMON\n"
        '                                         "x y"@example.com\n'
        "\n"
        f"-- {total} Kbytes in 3 Requests.\n")


def qpath(inst, queue, qid):
    return os.path.join(inst.queue, queue, qid)


# ---- listings ----

def test_empty_queue(qt):
    r = qt.cmd("postqueue", "-p", env=UTC)
    assert r.stdout == "Mail queue is empty\n"
    assert qt.cmd("postqueue", "-j").stdout == ""


def test_postqueue_p_exact(qt):
    a, b, c = populate(qt)
    r = qt.cmd("postqueue", "-p", env=UTC)
    assert r.stdout == expected_listing(a, b, c)
    assert r.stderr == ""


def test_one_request_is_singular(qt):
    QueueFile("s@example.com", ["r@example.net"], body="z\n").write(qt.queue, "deferred", ID_D)
    out = qt.cmd("postqueue", "-p", env=UTC).stdout
    assert out.endswith("\n-- 0 Kbytes in 1 Request.\n")


def test_mailq_and_sendmail_bp(qt):
    a, b, c = populate(qt)
    want = expected_listing(a, b, c)
    assert qt.cmd("sendmail", "-bp", env=UTC).stdout == want
    mailq = os.path.join(qt.prefix, "bin", "mailq")
    if not os.path.exists(mailq):
        pytest.fail("no mailq link installed")
    r = subprocess.run([mailq], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MAIL_CONFIG=qt.config, TZ="UTC"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == want


def test_postqueue_j(qt):
    a, b, c = populate(qt)
    r = qt.cmd("postqueue", "-j", env=UTC)
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    objs = [json.loads(line) for line in lines]
    assert [o["queue_id"] for o in objs] == [ID_B, ID_A, ID_C]
    assert objs[1] == {
        "queue_name": "deferred", "queue_id": ID_A, "arrival_time": 1606065246,
        "message_size": a.size, "forced_expire": False, "sender": "sender@example.com",
        "recipients": [{"address": "a@example.net", "delay_reason": REASON},
                       {"address": "b@example.net", "delay_reason": REASON},
                       {"address": "c@example.org"}]}
    assert objs[2]["sender"] == "MAILER-DAEMON"
    assert objs[2]["recipients"] == [{"address": '"x y"@example.com'}]
    # Postfix's exact layout: ", " and ": " separators, one object per line.
    assert lines[0] == (
        '{"queue_name": "active", "queue_id": "%s", "arrival_time": 1606065246, '
        '"message_size": %d, "forced_expire": false, "sender": "app@example.jp", '
        '"recipients": [{"address": "user@example.com"}]}' % (ID_B, b.size))


def test_listing_escapes_and_skips(qt):
    """Control characters never reach the terminal; done recipients and files
    still being written are not shown; extracted recipients are."""
    q = QueueFile("evil\x1b[31m@example.com", ["r\x07@example.net"], done=["gone@example.net"],
                  extracted=["to-header@example.org"], headers=["To: x"], body="b\n")
    q.write(qt.queue, "deferred", ID_D)
    QueueFile("busy@example.com", ["r@example.net"]).write(qt.queue, "incoming", "E1", mode=0o600)
    out = qt.cmd("postqueue", "-p", env=UTC).stdout
    assert "\x1b" not in out and "\x07" not in out
    assert '"evil?[31m"@example.com' in out       # quoted, as the local part needs
    assert '"r?"@example.net' in out
    assert "gone@example.net" not in out
    assert "to-header@example.org" in out
    assert "busy@example.com" not in out
    assert "1 Request." in out


def test_long_queue_ids_layout(qt):
    QueueFile("s@example.com", ["r@example.net"], body="z\n").write(qt.queue, "hold", ID_D)
    qt.write_main_cf(enable_long_queue_ids="yes")
    out = qt.cmd("postqueue", "-p", env=UTC).stdout.splitlines()
    assert out[0] == "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------"
    assert out[1] == f"{ID_D + '!':17s} {2:8d} Sun Nov 22 17:14:06 s@example.com"
    assert out[2] == " " * 47 + "r@example.net"


def test_postqueue_usage(qt):
    r = qt.cmd("postqueue", check=False)
    assert r.returncode == 64 and "usage: postqueue" in r.stderr
    r = qt.cmd("postqueue", "-p", "-j", check=False)
    assert r.returncode == 64
    r = qt.cmd("postqueue", "-i", "../etc", check=False)
    assert r.returncode == 64 and 'Invalid request: "../etc"' in r.stderr
    r = qt.cmd("postqueue", "-s", "bad site!", check=False)
    assert r.returncode == 64


def test_flush_when_down(qt):
    r = qt.cmd("postqueue", "-f", check=False)
    assert r.returncode == 69
    assert r.stderr.strip() == "postqueue: fatal: Cannot flush mail queue - mail system is down"


# ---- postsuper ----

def test_postsuper_delete_one(qt):
    populate(qt)
    r = qt.cmd("postsuper", "-d", ID_A)
    assert f"postsuper: {ID_A}: removed\n" in r.stderr
    assert "postsuper: Deleted: 1 message\n" in r.stderr
    assert not os.path.exists(qpath(qt, "deferred", ID_A))
    assert not os.path.exists(qpath(qt, "defer", ID_A))
    assert os.path.exists(qpath(qt, "active", ID_B))
    # Not there any more: nothing to report, not an error.
    r = qt.cmd("postsuper", "-d", ID_A)
    assert "Deleted" not in r.stderr


def test_postsuper_delete_from_stdin_and_bad_id(qt):
    populate(qt)
    r = qt.cmd("postsuper", "-d", "-", input=f"{ID_A}\n{ID_C}\nno/such\n")
    assert "postsuper: Deleted: 2 messages\n" in r.stderr
    assert "invalid mail queue id: no/such" in r.stderr
    assert os.listdir(os.path.join(qt.queue, "hold")) == []


def test_postsuper_delete_all(qt):
    populate(qt)
    r = qt.cmd("postsuper", "-d", "ALL")
    assert "postsuper: Deleted: 3 messages\n" in r.stderr
    for q in ("deferred", "active", "hold", "defer"):
        assert os.listdir(os.path.join(qt.queue, q)) == []
    assert qt.cmd("postqueue", "-p").stdout == "Mail queue is empty\n"


def test_postsuper_delete_all_deferred(qt):
    populate(qt)
    QueueFile("s@example.com", ["r@example.net"]).write(qt.queue, "deferred", ID_D)
    r = qt.cmd("postsuper", "-d", "ALL", "deferred")
    assert "postsuper: Deleted: 2 messages\n" in r.stderr
    assert os.listdir(os.path.join(qt.queue, "deferred")) == []
    assert not os.path.exists(qpath(qt, "defer", ID_A))
    assert os.path.exists(qpath(qt, "active", ID_B))
    assert os.path.exists(qpath(qt, "hold", ID_C))


def test_postsuper_bad_queue_and_not_root(qt):
    r = qt.cmd("postsuper", "-d", "ALL", "nosuchqueue", check=False)
    assert r.returncode == 1 and "invalid directory name: nosuchqueue" in r.stderr
    r = qt.cmd("postsuper", "-d", "ALL", check=False, user="nobody")
    assert r.returncode == 1
    assert "use of this command is reserved for the superuser" in r.stderr


def test_postsuper_hold_and_release(qt):
    populate(qt)
    r = qt.cmd("postsuper", "-h", ID_A)
    assert f"postsuper: {ID_A}: placed on hold\n" in r.stderr
    assert "postsuper: Placed on hold: 1 message\n" in r.stderr
    assert os.path.exists(qpath(qt, "hold", ID_A))
    assert not os.path.exists(qpath(qt, "deferred", ID_A))
    assert f"{ID_A}!" in qt.cmd("postqueue", "-p").stdout
    r = qt.cmd("postsuper", "-H", "ALL")
    assert "postsuper: Released from hold: 2 messages\n" in r.stderr
    assert sorted(os.listdir(os.path.join(qt.queue, "deferred"))) == [ID_A, ID_C]
    assert os.listdir(os.path.join(qt.queue, "hold")) == []
    r = qt.cmd("postsuper", "-h", "ALL")
    assert "postsuper: Placed on hold: 3 messages\n" in r.stderr
    r = qt.cmd("postsuper", "-H", ID_B)
    assert f"postsuper: {ID_B}: released from hold\n" in r.stderr
    assert os.path.exists(qpath(qt, "deferred", ID_B))


def test_postsuper_requeue(qt):
    populate(qt)
    r = qt.cmd("postsuper", "-r", ID_A)
    assert f"postsuper: {ID_A}: requeued\n" in r.stderr
    assert "postsuper: Requeued: 1 message\n" in r.stderr
    assert os.path.exists(qpath(qt, "incoming", ID_A))
    assert not os.path.exists(qpath(qt, "defer", ID_A))      # stale reasons dropped
    r = qt.cmd("postsuper", "-r", "ALL")
    assert "postsuper: Requeued: 3 messages\n" in r.stderr
    assert sorted(os.listdir(os.path.join(qt.queue, "incoming"))) == sorted([ID_A, ID_B, ID_C])
    assert os.stat(qpath(qt, "incoming", ID_C)).st_mode & 0o777 == 0o700


def test_postsuper_structure_check(qt):
    populate(qt)
    damaged = msg_a().data[:-5]                 # no end record
    p = os.path.join(qt.queue, "deferred", ID_D)
    with open(p, "wb") as f:
        f.write(damaged)
    chown(p)
    os.chmod(p, 0o700)
    orphan = write_log(qt.queue, "defer", "0RPHAN1", [defer_record("z@example.net", "x")])
    bounce_orphan = write_log(qt.queue, "bounce", "0RPHAN2", [defer_record("z@example.net", "x")])
    r = qt.cmd("postsuper", "-s")
    assert re.search(rf"postsuper: warning: {ID_D}: damaged queue file deferred/{ID_D} moved to "
                     r"corrupt \(no end record", r.stderr), r.stderr
    assert os.path.exists(qpath(qt, "corrupt", ID_D))
    assert not os.path.exists(p)
    assert not os.path.exists(orphan) and not os.path.exists(bounce_orphan)
    assert "0RPHAN1: removed defer log" in r.stderr
    # Valid files and their logs stay.
    for q, i in (("deferred", ID_A), ("defer", ID_A), ("active", ID_B), ("hold", ID_C)):
        assert os.path.exists(qpath(qt, q, i)), (q, i)
    # A damaged file is never listed as mail, but postcat can read it.
    assert ID_D not in qt.cmd("postqueue", "-p").stdout
    assert f"*** ENVELOPE RECORDS corrupt/{ID_D} ***" in qt.cmd("postcat", "-q", ID_D).stdout
    # ... and postsuper -d can remove it from corrupt/ when asked.
    r = qt.cmd("postsuper", "-d", ID_D, "corrupt")
    assert "Deleted: 1 message" in r.stderr


def test_postsuper_purge(qt):
    dead = os.path.join(qt.queue, "incoming", ".2147483000.1700000000.123456")
    live = os.path.join(qt.queue, "incoming", ".%d.1700000000.1" % os.getpid())
    for p in (dead, live):
        with open(p, "w") as f:
            f.write("partial")
        chown(p)
    r = qt.cmd("postsuper", "-p")
    assert not os.path.exists(dead)
    assert os.path.exists(live)
    assert "removed leftover temporary file" in r.stderr
    # Old enough: gone whoever made it.
    old = time.time() - 2 * 86400
    os.utime(live, (old, old))
    qt.cmd("postsuper", "-p")
    assert not os.path.exists(live)


def test_postsuper_default_is_check_and_purge(qt):
    dead = os.path.join(qt.queue, "maildrop", ".2147483000.1700000000.7")
    with open(dead, "w") as f:
        f.write("x")
    orphan = write_log(qt.queue, "defer", "0RPHAN3", [defer_record("z@example.net", "x")])
    qt.cmd("postsuper")
    assert not os.path.exists(dead) and not os.path.exists(orphan)


# ---- postcat ----

def test_postcat_sections(qt):
    a, _, _ = populate(qt)
    r = qt.cmd("postcat", "-q", ID_A, env=UTC)
    lab = f"deferred/{ID_A}"
    assert r.stdout == (
        f"*** ENVELOPE RECORDS {lab} ***\n"
        f"message_size: {a.size:15d} {a.data.index(b'M' + bytes(4)):15d} {3:15d} {0:15d} "
        f"{a.data.index(b'X' + bytes(4)):15d}\n"
        "message_arrival_time: Sun Nov 22 17:14:06 2020\n"
        "sender: sender@example.com\n"
        "named_attribute: rewrite_context=local\n"
        "original_recipient: a@example.net\n"
        "recipient: a@example.net\n"
        "original_recipient: b@example.net\n"
        "recipient: b@example.net\n"
        "original_recipient: C@Example.org\n"
        "recipient: c@example.org\n"
        f"*** MESSAGE CONTENTS {lab} ***\n"
        "From: <sender@example.com>\n"
        "Subject: test\n"
        "\n"
        "hello\n"
        "world\n"
        f"*** HEADER EXTRACTED {lab} ***\n"
        f"*** MESSAGE FILE END {lab} ***\n")


def test_postcat_options(qt):
    populate(qt)
    env = qt.cmd("postcat", "-e", "-q", ID_A, env=UTC).stdout
    assert "recipient: a@example.net" in env and "hello" not in env
    assert "*** MESSAGE CONTENTS" in env and "*** MESSAGE FILE END" in env
    assert qt.cmd("postcat", "-h", "-q", ID_A).stdout == (
        "From: <sender@example.com>\nSubject: test\n")
    assert qt.cmd("postcat", "-b", "-q", ID_A).stdout == "\nhello\nworld\n"
    assert qt.cmd("postcat", "-bh", "-q", ID_A).stdout == (
        "From: <sender@example.com>\nSubject: test\n\nhello\nworld\n")
    off = qt.cmd("postcat", "-o", "-e", "-q", ID_A).stdout.splitlines()
    assert off[1].startswith("        9 message_size: ")
    # A file name works as well as -q, and the label is the name given.
    path = qpath(qt, "deferred", ID_A)
    assert qt.cmd("postcat", path).stdout.startswith(f"*** ENVELOPE RECORDS {path} ***\n")
    with open(path, "rb") as f:
        assert qt.cmd("postcat", "-h", input=f.read()).stdout == (
            b"From: <sender@example.com>\nSubject: test\n")


def test_postcat_errors(qt):
    r = qt.cmd("postcat", "-q", "NOSUCHID", check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == ("postcat: fatal: open queue file NOSUCHID: "
                                "No such file or directory")
    bogus = os.path.join(qt.root, "bogus")
    with open(bogus, "w") as f:
        f.write("not a queue file\n")
    r = qt.cmd("postcat", bogus, check=False)
    assert r.returncode == 1 and "input is not a valid queue file" in r.stderr
    assert r.stdout == ""
    populate(qt)
    truncated = os.path.join(qt.root, "truncated")
    with open(truncated, "wb") as f:
        f.write(msg_a().data[:-9])
    r = qt.cmd("postcat", truncated, check=False)
    assert r.returncode == 1 and "damaged or truncated record" in r.stderr
    assert "hello" in r.stdout


# ---- with the mail system running ----

NEEDED = ["master", "showq", "qmgr", "cleanup", "smtpd", "discard", "pickup", "postlogd"]


def needs_daemons(inst):
    missing = [p for p in NEEDED if not os.path.exists(os.path.join(inst.libexec, p))]
    if missing:
        pytest.fail("missing from the build: " + ", ".join(missing))


@pytest.fixture
def public_inst(hk_install):
    """An instance under a directory every user may traverse (for nobody)."""
    base = tempfile.mkdtemp(prefix="hk-qtools-")
    os.chmod(base, 0o755)
    inst = Instance(hk_install, os.path.join(base, "hk"))
    needs_daemons(inst)
    transport = os.path.join(inst.config, "transport")
    with open(transport, "w") as f:
        # Everything the tests deliver is discarded: no smtp, no DNS.
        f.write("discard.example discard:\nsite.example discard:\n"
                "elsewhere.example discard:\n* discard:\n")
    inst.write_main_cf(transport_maps="texthash:" + transport,
                       maillog_file_prefixes="/var, /dev/stdout, /tmp")
    prepare(inst)
    # postqueue must be set-group-ID postdrop to reach public/ (install does
    # this when the group exists; the group may have been made afterwards).
    pq = os.path.join(inst.sbin, "postqueue")
    st = os.stat(pq)
    gid = grp.getgrnam("postdrop").gr_gid
    if st.st_gid != gid or not st.st_mode & stat.S_ISGID:
        os.chown(pq, 0, gid)
        os.chmod(pq, 0o2755)
    yield inst
    inst.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_showq_for_root_and_nobody(public_inst):
    inst = public_inst
    r = inst.cmd("postqueue", "-p", check=False, user="nobody")
    assert r.returncode == 69
    assert r.stderr.strip() == ("postqueue: fatal: Queue report unavailable - "
                                "mail system is down")
    a = msg_a()
    a.write(inst.queue, "hold", ID_A)
    future = time.time() + 3600
    b = QueueFile("app@example.jp", ["user@example.com"], body="b\n")
    p = b.write(inst.queue, "deferred", ID_D)
    os.utime(p, (future, future))
    write_log(inst.queue, "defer", ID_D, [defer_record("user@example.com", REASON,
                                                       b.rcpt_offsets["user@example.com"])])
    direct = inst.cmd("postqueue", "-p", env=UTC).stdout
    inst.start()
    assert poll_until(lambda: os.path.exists(os.path.join(inst.queue, "public", "showq")), 15)
    via_root = inst.cmd("postqueue", "-p", env=UTC).stdout
    r = inst.cmd("postqueue", "-p", env=UTC, user="nobody")
    assert r.returncode == 0, r.stderr
    assert r.stdout == via_root == direct
    assert f"{ID_A}!" in r.stdout and f"({REASON})" in r.stdout
    assert "-- 0 Kbytes in 2 Requests." in r.stdout
    j = inst.cmd("postqueue", "-j", user="nobody").stdout.splitlines()
    assert [json.loads(x)["queue_id"] for x in j] == [ID_D, ID_A]
    # Nobody may not read the queue files themselves.
    r = inst.cmd("postcat", "-q", ID_A, check=False, user="nobody")
    assert r.returncode == 1
    # Not authorized: refused, for users only.
    inst.write_main_cf(authorized_mailq_users="root")
    r = inst.cmd("postqueue", "-p", check=False, user="nobody")
    assert r.returncode == 77 and "is not allowed to view the mail queue" in r.stderr
    assert inst.cmd("postqueue", "-p").returncode == 0


def test_flush_one_and_site(public_inst):
    inst = public_inst
    future = time.time() + 3600
    ids = {"F1A": "someone@discard.example", "F2B": "someone@site.example",
           "F3C": "someone@elsewhere.example"}
    for qid, rcpt in ids.items():
        p = QueueFile("s@example.com", [rcpt], body="x\n").write(inst.queue, "deferred", qid)
        os.utime(p, (future, future))
        write_log(inst.queue, "defer", qid, [defer_record(rcpt, "later")])
    inst.start()
    inst.cmd("postqueue", "-i", "F1A")
    inst.wait_log(r"F1A: removed", timeout=30)
    inst.cmd("postqueue", "-s", "SITE.example")
    inst.wait_log(r"F2B: removed", timeout=30)
    # The others were left alone: still deferred, with their reasons.
    assert os.path.exists(qpath(inst, "deferred", "F3C"))
    assert os.path.exists(qpath(inst, "defer", "F3C"))
    out = inst.cmd("postqueue", "-p").stdout
    assert "F3C" in out and "F1A" not in out and "F2B" not in out
    assert inst.cmd("postqueue", "-f", user="nobody").returncode == 0
    inst.wait_log(r"F3C: removed", timeout=30)
    # sendmail -q and postfix flush are the same request.
    assert inst.cmd("sendmail", "-q").returncode == 0
    assert inst.postfix("flush").returncode == 0
    assert inst.cmd("postqueue", "-p").stdout == "Mail queue is empty\n"
