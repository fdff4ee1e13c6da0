"""Local submission and cleanup, end to end: sendmail -> postdrop -> maildrop/ ->
pickup -> cleanup -> incoming/ (-> qmgr -> local).

Most tests run an instance whose master.cf has no qmgr, so the committed queue
file stays in incoming/ and is read back with the small record reader below
(docs/queue-format.md). One test runs the whole system and reads the mailbox;
one submits with bsd-mailx's mail(1); one goes through smtpd (skipped when
smtpd is not installed).
"""
import glob
import os
import pwd
import re
import shutil
import smtplib
import stat
import struct
import subprocess
import time

import pytest

from conftest import poll_until

# ---- a reader of the queue file format (docs/queue-format.md) ----

def read_records(path):
    """[(type, bytes, offset)] of a queue file; raises on a damaged file."""
    recs = []
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off < len(data):
        if off + 5 > len(data):
            raise ValueError("truncated record header at %d" % off)
        t = chr(data[off])
        (n,) = struct.unpack(">I", data[off + 1:off + 5])
        if off + 5 + n > len(data):
            raise ValueError("truncated record at %d" % off)
        recs.append((t, data[off + 5:off + 5 + n], off))
        off += 5 + n
    return recs


def sizes(recs):
    s = [r for r in recs if r[0] == "S"][0][1].decode()
    a, b, c, d, e = s.split()
    return {"content_offset": int(a), "content_size": int(b), "extracted_offset": int(c),
            "nrcpt": int(d), "flags": int(e)}


def of(recs, t):
    return [r[1].decode(errors="replace") for r in recs if r[0] == t]


def message_text(recs):
    """Headers, the empty line, the body: the message as delivered."""
    return "".join(of(recs, "H")) + "\n" + "".join(of(recs, "B"))


# ---- fixtures ----

def master_cf_without(inst, service):
    lines = []
    skipping = False
    for line in inst.master_cf_text().splitlines(keepends=True):
        if skipping and line[:1] in (" ", "\t"):
            continue
        skipping = line.split()[:1] == [service]
        if not skipping:
            lines.append(line)
    with open(os.path.join(inst.config, "master.cf"), "w") as f:
        f.write("".join(lines))


def open_path_for_others(path, undo):
    """Let other users reach path (pytest's base temp dir is 0700)."""
    p = os.path.abspath(path)
    while p != "/":
        st = os.stat(p)
        if not st.st_mode & stat.S_IXOTH:
            undo.append((p, stat.S_IMODE(st.st_mode)))
            os.chmod(p, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        p = os.path.dirname(p)


def ensure_setgid_postdrop(inst):
    """cmake --install sets it when the group exists; make sure of it."""
    pd = os.path.join(inst.sbin, "postdrop")
    st = os.stat(pd)
    if not st.st_mode & stat.S_ISGID:
        shutil.chown(pd, group="postdrop")
        os.chmod(pd, 0o2755)


@pytest.fixture
def inst(instance):
    """A running instance without qmgr: queue files stay in incoming/."""
    undo = []
    master_cf_without(instance, "qmgr")
    open_path_for_others(instance.root, undo)
    open_path_for_others(instance.prefix, undo)
    ensure_setgid_postdrop(instance)
    instance.cmd("sendmail", "-bi")                 # aliases.db, for smtpd's recipient check
    instance.start()
    yield instance
    instance.stop()
    for p, mode in reversed(undo):
        os.chmod(p, mode)


def sendmail(inst, *args, input="Subject: test\n\nbody\n", user=None, env=None, check=True):
    return inst.cmd("sendmail", *args, input=input, user=user, env=env, check=check)


def wait_queued(inst, count=1):
    """Queue IDs of the last count messages cleanup wrote, once pickup logged them."""
    ids = inst.wait_log(r"pickup\[\d+\]: ([0-9A-F]+): uid=", count=count)
    inst.wait_log(r"cleanup\[\d+\]: %s: message-id=" % ids[-1])
    path = os.path.join(inst.queue, "incoming", ids[-1])
    assert poll_until(lambda: os.path.exists(path) and os.stat(path).st_mode & 0o100), \
        "queue file %s not committed; log:\n%s" % (path, inst.log())
    return ids[-count:]


def queue_file(inst, qid):
    return read_records(os.path.join(inst.queue, "incoming", qid))


def maildrop_empty(inst):
    return not [f for f in os.listdir(os.path.join(inst.queue, "maildrop"))
                if not f.startswith(".")]


# ---- tests ----

def test_recipients_as_arguments(inst):
    r = sendmail(inst, "-F", "Charlie Root", "alice", "bob@example.org, Carol <carol@example.org>")
    assert r.stdout == "" and r.stderr == ""
    (qid,) = wait_queued(inst)
    assert re.search(r"pickup\[\d+\]: %s: uid=0 from=<root>" % qid, inst.log())
    mid = re.search(r"cleanup\[\d+\]: %s: message-id=<(\d{14})\.%s@mail\.example\.jp>"
                    % (qid, qid), inst.log())
    assert mid
    assert poll_until(lambda: maildrop_empty(inst))
    path = os.path.join(inst.queue, "incoming", qid)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    recs = queue_file(inst, qid)
    types = "".join(r[0] for r in recs)
    assert re.fullmatch(r"VSTFA+(OR)+MH+B+XE", types), types
    assert of(recs, "V") == ["HKQ1"]
    assert of(recs, "F") == ["root@mail.example.jp"]
    assert "rewrite_context=local" in of(recs, "A")
    assert "full_name=Charlie Root" in of(recs, "A")
    assert of(recs, "R") == ["alice@mail.example.jp", "bob@example.org", "carol@example.org"]
    assert of(recs, "O") == ["alice", "bob@example.org", "carol@example.org"]
    sz = sizes(recs)
    assert sz["nrcpt"] == 3
    assert sz["content_offset"] == [r[2] for r in recs if r[0] == "M"][0]
    assert sz["extracted_offset"] == [r[2] for r in recs if r[0] == "X"][0]
    assert sz["content_size"] == len(message_text(recs).encode())
    hdrs = of(recs, "H")
    assert hdrs[0].startswith("Received: by mail.example.jp (Hikyaku, from userid 0)\n\tid %s; "
                              % qid)
    assert "Subject: test\n" in hdrs
    assert "Message-Id: <%s.%s@mail.example.jp>\n" % (mid.group(1), qid) in hdrs
    assert any(re.fullmatch(r"Date: \w{3}, \d+ \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}( \(\w+\))?\n",
                            h) for h in hdrs)
    assert "From: Charlie Root <root@mail.example.jp>\n" in hdrs
    assert not any(h.startswith("To:") for h in hdrs)   # undisclosed_recipients_header = ""
    assert of(recs, "B") == ["body\n"]


def test_extract_recipients(inst):
    msg = ("From: Root <root>\nTo: Alice <alice>, bob@example.org\n"
           "Cc: team: carol@example.org;\nBcc: secret@example.org\n"
           "Return-Path: <forged@example.org>\nSubject: -t\n\nbody\n")
    sendmail(inst, "-t", "extra@example.org", input=msg)
    (qid,) = wait_queued(inst)
    recs = queue_file(inst, qid)
    assert of(recs, "R") == ["extra@example.org", "alice@mail.example.jp", "bob@example.org",
                             "carol@example.org", "secret@example.org"]
    xoff = sizes(recs)["extracted_offset"]
    assert [r[1].decode() for r in recs if r[0] == "R" and r[2] > xoff][0] == \
        "alice@mail.example.jp"
    hdrs = of(recs, "H")
    assert not any(h.startswith(("Bcc:", "Return-Path:")) for h in hdrs)
    assert "From: Root <root@mail.example.jp>\n" in hdrs       # header addresses completed
    assert "To: Alice <alice@mail.example.jp>, bob@example.org\n" in hdrs


def test_extract_without_recipients_is_refused(inst):
    r = sendmail(inst, "-t", input="Subject: nobody to send to\n\nbody\n", check=False)
    assert r.returncode == 64
    assert "sendmail: fatal: No recipient addresses found in message header" in r.stderr
    r = sendmail(inst, input="Subject: x\n\nbody\n", check=False)
    assert r.returncode == 64
    assert "Recipient addresses must be specified" in r.stderr
    time.sleep(0.5)
    assert maildrop_empty(inst)
    assert "uid=" not in inst.log()


def test_sender_and_dots(inst):
    body = "Subject: dots\n\nline one\n.\nafter the dot\n"
    sendmail(inst, "-f", "<owner@example.org>", "root", input=body)
    sendmail(inst, "-oi", "-r", "list@example.org", "root", input=body)
    sendmail(inst, "-i", "root", input=body.replace("\n", "\r\n"))
    ids = wait_queued(inst, count=3)
    first, second, third = (queue_file(inst, i) for i in ids)
    assert of(first, "F") == ["owner@example.org"]
    assert of(first, "B") == ["line one\n"]                    # the lone dot ends input
    assert re.search(r"%s: uid=0 from=<owner@example.org>" % ids[0], inst.log())
    assert of(second, "F") == ["list@example.org"]
    assert of(second, "B") == ["line one\n.\nafter the dot\n"]
    assert of(third, "B") == ["line one\n.\nafter the dot\n"]  # CR LF -> LF


def test_config_directory_selection(inst, tmp_path):
    # MAIL_CONFIG names the instance (the fixture sets it); -C wins over it.
    other = tmp_path / "other"
    other.mkdir()
    (other / "main.cf").write_text("queue_directory = %s/nonexistent\ncommand_directory = %s\n"
                                   % (tmp_path, inst.sbin))
    r = sendmail(inst, "root", env={"MAIL_CONFIG": str(other)}, check=False)
    assert r.returncode == 75, r.stderr                        # that queue is not there
    assert "postdrop: fatal:" in r.stderr
    sendmail(inst, "-C", inst.config, "root", env={"MAIL_CONFIG": str(other)})
    sendmail(inst, "-C", os.path.join(inst.config, "main.cf"), "root",
             env={"MAIL_CONFIG": str(other)})
    wait_queued(inst, count=2)


def test_unprivileged_user(inst):
    r = sendmail(inst, "-F", "Nobody", "root", user="nobody")
    assert r.returncode == 0, r.stderr
    (qid,) = wait_queued(inst)
    uid = pwd.getpwnam("nobody").pw_uid
    assert re.search(r"%s: uid=%d from=<nobody>" % (qid, uid), inst.log())
    recs = queue_file(inst, qid)
    assert of(recs, "F") == ["nobody@mail.example.jp"]
    assert "From: Nobody <nobody@mail.example.jp>\n" in of(recs, "H")
    # runuser, as an administrator would type it
    runuser = shutil.which("runuser")
    if runuser:
        e = dict(os.environ, MAIL_CONFIG=inst.config)
        r = subprocess.run([runuser, "-u", "nobody", "--", os.path.join(inst.sbin, "sendmail"),
                            "root"], input="Subject: runuser\n\nx\n", text=True,
                           capture_output=True, env=e, timeout=60)
        assert r.returncode == 0, r.stderr
        wait_queued(inst, count=2)
    # a user's own configuration directory is refused by the set-gid postdrop
    own = "/tmp/hk-nobody-conf-%d" % os.getpid()
    os.makedirs(own, exist_ok=True)
    try:
        with open(os.path.join(own, "main.cf"), "w") as f:
            f.write("queue_directory = %s\ncommand_directory = %s\n" % (inst.queue, inst.sbin))
        os.chown(own, uid, -1)
        os.chown(os.path.join(own, "main.cf"), uid, -1)
        r = sendmail(inst, "root", user="nobody", env={"MAIL_CONFIG": own}, check=False)
        assert r.returncode == 78, r.stderr
        assert "not authorized for postdrop" in r.stderr
    finally:
        shutil.rmtree(own, ignore_errors=True)


def test_corrupt_maildrop_file(inst):
    # A file that is complete (0744) but not a maildrop file: moved, logged, not lost.
    bad = os.path.join(inst.queue, "maildrop", "ABCDEF123")
    with open(bad, "wb") as f:
        f.write(b"V\0\0\0\x04HKQ1" + b"R\0\0\0\x01x" + b"E\0\0\0\0")
    os.chmod(bad, 0o744)
    sendmail(inst, "root")                          # wakes pickup
    inst.wait_log(r"maildrop/ABCDEF123: .* -- moved to corrupt/ABCDEF123")
    assert os.path.exists(os.path.join(inst.queue, "corrupt", "ABCDEF123"))
    assert not os.path.exists(bad)


def test_hard_linked_maildrop_files(inst):
    # A complete file with a second name (a hard link someone made) is moved
    # aside; one still being written (0600) may have two names for a moment
    # (the writer links its temporary name to the final one) and is left alone.
    maildrop = os.path.join(inst.queue, "maildrop")
    complete = os.path.join(maildrop, "ABCDEF456")
    busy = os.path.join(maildrop, "ABCDEF789")
    for path, mode in ((complete, 0o744), (busy, 0o600)):
        with open(path, "wb") as f:
            f.write(b"V\0\0\0\x04HKQ1")
        os.chmod(path, mode)
        os.link(path, os.path.join(inst.queue, os.path.basename(path) + ".other-name"))
    sendmail(inst, "root")                          # wakes pickup
    inst.wait_log(r"maildrop/ABCDEF456: not a regular file with one link -- moved to "
                  r"corrupt/ABCDEF456")
    inst.wait_log(r"pickup\[\d+\]: \w+: uid=0 from=<root>")
    assert os.path.exists(busy)
    assert "ABCDEF789" not in inst.log()


def test_mailq_and_newaliases_names(inst):
    bindir = os.path.join(inst.prefix, "bin")
    for name in ("mailq", "newaliases"):
        link = os.path.join(bindir, name)
        assert os.path.islink(link) and os.readlink(link) == "../sbin/sendmail"
    e = dict(os.environ, MAIL_CONFIG=inst.config)
    r = subprocess.run([os.path.join(bindir, "newaliases")], env=e, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(inst.config, "aliases.db"))
    r = sendmail(inst, "-bi", check=False)
    assert r.returncode == 0, r.stderr
    r = sendmail(inst, "-bv", "root", check=False)
    assert r.returncode == 69 and "sendmail: fatal:" in r.stderr
    r = sendmail(inst, "-N", "bogus", "root", check=False)
    assert r.returncode == 64 and "Invalid -N option argument" in r.stderr


def test_smtp_to_cleanup(inst):
    if not os.path.exists(os.path.join(inst.libexec, "smtpd")):
        pytest.fail("smtpd is not installed")
    with inst.smtp() as s:
        s.ehlo("client.example.org")
        s.mail("sender@example.org")
        s.rcpt("root@mail.example.jp")
        code, resp = s.data(b"Subject: via smtp\r\nMessage-ID: <given@example.org>\r\n\r\nhi\r\n")
    assert code == 250, resp
    m = re.search(rb"queued as ([0-9A-F]+)", resp)
    assert m, resp
    qid = m.group(1).decode()
    inst.wait_log(r"cleanup\[\d+\]: %s: message-id=<given@example.org>" % qid)
    path = os.path.join(inst.queue, "incoming", qid)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700       # committed before the 250
    recs = read_records(path)
    assert of(recs, "F") == ["sender@example.org"]
    assert of(recs, "R") == ["root@mail.example.jp"]
    assert of(recs, "H")[0].startswith("Received: from ")


def test_sendmail_bs(inst):
    if not os.path.exists(os.path.join(inst.libexec, "smtpd")):
        pytest.fail("smtpd is not installed")
    e = dict(os.environ, MAIL_CONFIG=inst.config)
    p = subprocess.Popen([os.path.join(inst.sbin, "sendmail"), "-bs"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env=e)

    def reply():
        lines = []
        while True:
            line = p.stdout.readline().decode()
            assert line, "smtpd closed the session: %s" % lines
            lines.append(line)
            if line[3:4] == " ":
                return lines

    def say(cmd):
        p.stdin.write(cmd.encode() + b"\r\n")
        p.stdin.flush()
        return reply()

    try:
        assert reply()[0].startswith("220 ")
        assert say("HELO localhost")[0].startswith("250")
        assert say("MAIL FROM:<root@mail.example.jp>")[0].startswith("250")
        assert say("RCPT TO:<root@mail.example.jp>")[0].startswith("250")
        assert say("DATA")[0].startswith("354")
        last = say("Subject: -bs\r\n\r\nhello\r\n.")
        assert last[0].startswith("250"), last
        say("QUIT")
    finally:
        p.stdin.close()
        assert p.wait(timeout=30) == 0
    qid = re.search(r"queued as ([0-9A-F]+)", last[0]).group(1)
    inst.wait_log(r"cleanup\[\d+\]: %s: message-id=" % qid)


# ---- the whole system ----

@pytest.fixture
def full(instance):
    instance.cmd("sendmail", "-bi")
    instance.start()
    yield instance
    instance.stop()


def test_delivered_to_mailbox(full):
    if not os.path.exists(os.path.join(full.libexec, "local")):
        pytest.fail("local is not installed")
    sendmail(full, "-F", "Charlie Root", "root",
             input="Subject: to the mailbox\nBcc: hidden@example.org\n\nhello\n")
    full.wait_log(r"to=<root@mail\.example\.jp>.*status=sent", timeout=30)
    box = full.mailbox("root")
    assert "Subject: to the mailbox" in box
    assert "From: Charlie Root <root@mail.example.jp>" in box
    assert re.search(r"Message-Id: <\d{14}\.[0-9A-F]+@mail\.example\.jp>", box)
    assert "Bcc:" not in box


def test_bsd_mailx(full, tmp_path):
    mail = shutil.which("bsd-mailx")
    if not mail:
        pytest.skip("bsd-mailx is not installed")
    if not os.path.exists(os.path.join(full.libexec, "local")):
        pytest.fail("local is not installed")
    rc = tmp_path / "mailrc"
    rc.write_text("set sendmail=%s\n" % os.path.join(full.sbin, "sendmail"))
    e = dict(os.environ, MAIL_CONFIG=full.config, MAILRC=str(rc))
    r = subprocess.run([mail, "-s", "subj", "root"], input="body\n", text=True,
                       capture_output=True, env=e, timeout=60)
    assert r.returncode == 0, r.stderr
    full.wait_log(r"to=<root@mail\.example\.jp>.*status=sent", timeout=30)
    box = full.mailbox("root")
    assert "Subject: subj" in box
    assert "body" in box
