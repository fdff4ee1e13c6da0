"""Mail filters (milters) end to end: smtpd_milters and non_smtpd_milters.

A milter written here (TestMilter: the Sendmail milter protocol, version 6,
from the protocol description) answers each command as the test says and
records what it was sent. OpenDKIM (Debian opendkim, key from
opendkim-genkey) signs mail, and python3-dkim verifies the signature. A dead
milter (nothing listening) and a hanging one (accepts, never answers) get
each milter_default_action, and the session never waits beyond the
configured timeouts.

The instance runs without qmgr, so a message that was accepted stays in
incoming/ (or hold/) and is read back with the queue file reader below
(docs/queue-format.md).
"""
import os
import shutil
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading

import pytest

from conftest import free_port, poll_until

# ---- the queue file (docs/queue-format.md) ----


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    recs, off = [], 0
    while off < len(data):
        t = chr(data[off])
        (n,) = struct.unpack(">I", data[off + 1:off + 5])
        recs.append((t, data[off + 5:off + 5 + n]))
        off += 5 + n
    return recs


def of(recs, t):
    return [r[1].decode(errors="replace") for r in recs if r[0] == t]


def message_text(recs):
    return "".join(of(recs, "H")) + "\n" + "".join(of(recs, "B"))


def queue_file(inst, queue_id, queue="incoming"):
    """The records of a committed queue file (the END record is there)."""
    path = os.path.join(inst.queue, queue, queue_id)

    def complete():
        try:
            recs = read_records(path)
        except (OSError, struct.error):
            return None
        return recs if recs and recs[-1][0] == "E" else None
    recs = poll_until(complete, 10)
    assert recs, f"no complete {queue}/{queue_id}; log:\n{inst.log()[-3000:]}"
    return recs


def queue_ids(inst, queue):
    d = os.path.join(inst.queue, queue)
    return sorted(n for n in os.listdir(d) if not n.startswith(".")) if os.path.isdir(d) else []


# ---- a milter, speaking the protocol ----

SMFIF_ALL = 0x1FF
SMFIP_NR_HDR = 0x80


def z(s):
    return (s if isinstance(s, bytes) else s.encode()) + b"\0"


CONTINUE, ACCEPT, REJECT, TEMPFAIL, DISCARD = b"c", b"a", b"r", b"t", b"d"


def replycode(text):
    return b"y" + z(text)


def quarantine(reason):
    return b"q" + z(reason)


def addheader(name, value):
    return b"h" + z(name) + z(value)


def insheader(index, name, value):
    return b"i" + struct.pack(">I", index) + z(name) + z(value)


def chgheader(index, name, value):
    return b"m" + struct.pack(">I", index) + z(name) + z(value)


def addrcpt(addr):
    return b"+" + z(addr)


def delrcpt(addr):
    return b"-" + z(addr)


def chgfrom(addr):
    return b"e" + z(addr)


def replbody(data):
    return b"b" + data


class TestMilter:
    """Listens on unix:path or inet:127.0.0.1:port. rules maps a command
    letter to a list of reply packets, "hang" (never answer) or "close";
    anything else gets SMFIR_CONTINUE. events records what arrived."""

    __test__ = False

    def __init__(self, unix_dir=None, protocol=0, rules=None):
        self.rules = dict(rules or {})
        self.protocol = protocol
        self.sessions = []              # per connection: [(command, data)]
        self.connections = 0
        self.stop = threading.Event()
        if unix_dir:
            self.path = os.path.join(unix_dir, "milter.sock")
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(self.path)
            os.chmod(self.path, 0o666)
            self.name = "unix:" + self.path
        else:
            port = free_port()
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", port))
            self.name = f"inet:127.0.0.1:{port}"
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.stop.set()
        self.sock.close()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _recv(self, conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _send(self, conn, pkt):
        conn.sendall(struct.pack(">I", len(pkt)) + pkt)

    def _serve(self, conn):
        conn.settimeout(60)
        events = []
        self.sessions.append(events)
        try:
            while True:
                (n,) = struct.unpack(">I", self._recv(conn, 4))
                data = self._recv(conn, n)
                cmd, arg = chr(data[0]), data[1:]
                events.append((cmd, arg))
                if cmd == "D":
                    continue
                if cmd in "AK":
                    continue
                if cmd == "Q":
                    break
                rule = self.rules.get(cmd)
                if rule == "hang":
                    self.stop.wait(120)
                    break
                if rule == "close":
                    break
                if cmd == "O":
                    self._send(conn, b"O" + struct.pack(">III", 6, SMFIF_ALL, self.protocol))
                    continue
                if cmd == "L" and self.protocol & SMFIP_NR_HDR:
                    continue
                for pkt in rule or [CONTINUE]:
                    self._send(conn, pkt)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    # What arrived in the last session that had a MAIL event (the probe
    # that checks that smtpd is up makes sessions without one).
    @property
    def events(self):
        with_mail = [e for e in self.sessions if any(c == "M" for c, _ in e)]
        return with_mail[-1] if with_mail else []

    @property
    def macros(self):
        out = {}
        for c, a in self.events:
            if c == "D":
                parts = a[1:].split(b"\0")
                out.setdefault(chr(a[0]), {}).update(
                    {parts[i].decode(): parts[i + 1].decode()
                     for i in range(0, len(parts) - 1, 2)})
        return out

    def args(self, cmd):
        return [a.split(b"\0")[:-1] for c, a in self.events if c == cmd]

    def headers(self):
        return [(n.decode(), v.decode()) for n, v in self.args("L")]

    def body(self):
        return b"".join(a for c, a in self.events if c == "B")


# ---- fixtures ----

def master_cf_without_qmgr(inst):
    lines, skipping = [], False
    for line in inst.master_cf_text().splitlines(keepends=True):
        if skipping and line[:1] in (" ", "\t"):
            continue
        skipping = line.split()[:1] == ["qmgr"]
        if not skipping:
            lines.append(line)
    with open(os.path.join(inst.config, "master.cf"), "w") as f:
        f.write("".join(lines))


@pytest.fixture
def inst(instance):
    if not os.path.exists(os.path.join(instance.libexec, "smtpd")):
        pytest.fail("smtpd is not installed")
    master_cf_without_qmgr(instance)
    instance.write_main_cf(milter_connect_timeout="2s", milter_command_timeout="2s",
                           milter_content_timeout="2s")
    yield instance


@pytest.fixture
def sockdir():
    d = tempfile.mkdtemp(prefix="hk-milter-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def milters():
    made = []

    def make(*args, **kw):
        m = TestMilter(*args, **kw)
        made.append(m)
        return m
    yield make
    for m in made:
        m.close()


MESSAGE = ("From: Sender <sender@example.jp>\r\n"
           "To: Alice <alice@remote.example>\r\n"
           "Subject: original subject\r\n"
           "X-Remove: this goes\r\n"
           "Message-ID: <milter-test@example.jp>\r\n"
           "\r\n"
           "first body line\r\n"
           "second body line\r\n")


def send(inst, rcpts=("alice@remote.example",), sender="sender@example.jp", msg=MESSAGE):
    """One message over SMTP: (queue ID or None, the replies along the way)."""
    s = inst.smtp()
    try:
        replies = {"greeting": None}
        replies["ehlo"] = s.ehlo("client.example.jp")
        replies["mail"] = s.mail(sender)
        if replies["mail"][0] != 250:
            return None, replies
        ok = False
        for r in rcpts:
            replies["rcpt"] = s.rcpt(r)
            ok = ok or replies["rcpt"][0] == 250
        if not ok:
            return None, replies
        try:
            replies["data"] = s.data(msg)
        except smtplib.SMTPDataError as e:      # DATA itself refused
            replies["data"] = (e.smtp_code, e.smtp_error)
        code, text = replies["data"]
        qid = None
        if code == 250 and b"queued as " in text:
            qid = text.split(b"queued as ")[1].strip().decode()
        return qid, replies
    finally:
        try:
            s.quit()
        except Exception:
            pass


def start(inst, **params):
    inst.write_main_cf(**params)
    inst.start()


# ---- SMTP events ----

def test_events_and_macros(inst, milters, sockdir):
    m = milters(unix_dir=sockdir)
    start(inst, smtpd_milters=m.name,
          milter_macro_daemon_name="mx-test",
          milter_rcpt_macros="i {rcpt_addr} {rcpt_mailer}")
    qid, _ = send(inst, rcpts=("alice@remote.example", "bob@remote.example"))
    assert qid
    def cmds():
        return "".join(c for c, _ in m.events if c != "D")
    # Envelope in smtpd, content in cleanup, then ABORT and QUIT from smtpd.
    assert poll_until(lambda: cmds().endswith("Q"), 5)
    assert cmds().startswith("OCHMRRTL") and cmds().endswith("NBEAQ")
    conn = m.args("C")[0]
    assert conn[0] == b"unknown"            # smtpd_peername_lookup = no
    assert conn[1][:1] == b"4" and conn[1][3:] == b"127.0.0.1"
    assert m.args("H")[0] == [b"client.example.jp"]
    assert m.args("M")[0] == [b"<sender@example.jp>"]
    assert [a[0] for a in m.args("R")] == [b"<alice@remote.example>", b"<bob@remote.example>"]
    assert m.macros["C"]["j"] == "mail.example.jp"
    assert m.macros["C"]["{daemon_name}"] == "mx-test"
    assert m.macros["C"]["_"] == "unknown [127.0.0.1]"
    assert m.macros["M"]["{mail_addr}"] == "sender@example.jp"
    assert m.macros["R"]["{rcpt_addr}"] == "bob@remote.example"
    assert m.macros["R"]["{rcpt_mailer}"] == "smtp"
    assert m.macros["T"]["i"] == qid
    assert m.macros["E"]["i"] == qid
    assert m.macros["N"]["i"] == qid
    # The headers as queued, without our own Received: line.
    names = [n for n, _ in m.headers()]
    assert names[0] == "From" and "Received" not in names
    assert ("Subject", "original subject") in m.headers()
    assert m.body() == b"first body line\r\nsecond body line\r\n"


def test_reject_and_tempfail_at_envelope(inst, milters):
    m = milters(rules={"R": [REJECT], "M": [CONTINUE]})
    start(inst, smtpd_milters=m.name)
    qid, r = send(inst)
    assert qid is None
    assert r["rcpt"] == (550, b"5.7.1 Command rejected")
    inst.wait_log(r"NOQUEUE: milter-reject: RCPT from unknown\[127\.0\.0\.1\]: 550 5\.7\.1 "
                  r"Command rejected; from=<sender@example\.jp> to=<alice@remote\.example> "
                  r"proto=ESMTP helo=<client\.example\.jp>")
    m.rules = {"M": [TEMPFAIL]}
    qid, r = send(inst)
    assert r["mail"] == (451, b"4.7.1 Service unavailable - try again later")
    m.rules = {"T": [replycode("554 5.7.0 No DATA today")]}
    qid, r = send(inst)
    assert qid is None and r["data"] == (554, b"5.7.0 No DATA today")
    inst.wait_log(r"milter-reject: DATA from unknown\[127\.0\.0\.1\]: 554 5\.7\.0 No DATA today")


def test_connect_reject_and_shutdown(inst, milters):
    m = milters(rules={"C": [REJECT]})
    start(inst, smtpd_milters=m.name)
    s = inst.smtp()
    code, text = s.ehlo("client.example.jp")
    assert code == 250                      # HELO is not refused (Sendmail)
    assert s.mail("sender@example.jp")[0] == 550
    s.quit()
    m.rules = {"M": [b"4"]}                 # SMFIR_SHUTDOWN
    s = inst.smtp()
    s.ehlo("client.example.jp")
    assert s.mail("sender@example.jp") == (421, b"4.7.0 Server closing connection")
    s.close()
    inst.wait_log(r"milter-reject: MAIL from unknown\[127\.0\.0\.1\]: 421 4\.7\.0 Server "
                  r"closing connection")


# ---- content and modifications ----

def test_header_envelope_and_body_changes(inst, milters, sockdir):
    new_body = b"replaced body\r\nwith two lines\r\n"
    m = milters(unix_dir=sockdir, rules={"E": [
        addheader("X-Milter", "checked"),
        insheader(0, "X-Top", "inserted first"),
        chgheader(1, "Subject", "changed subject"),
        chgheader(1, "X-Remove", ""),
        addheader("X-Folded", "line one\r\n\tline two"),
        chgfrom("<new-sender@example.jp>"),
        addrcpt("<carol@remote.example>"),
        delrcpt("<alice@remote.example>"),
        replbody(new_body[:10]), replbody(new_body[10:]),
        CONTINUE]})
    start(inst, smtpd_milters=m.name)
    qid, r = send(inst, rcpts=("alice@remote.example", "bob@remote.example"))
    assert qid, r
    recs = queue_file(inst, qid)
    assert of(recs, "F") == ["new-sender@example.jp"], [(t, d[:60]) for t, d in recs]
    assert of(recs, "R") == ["bob@remote.example", "carol@remote.example"]
    assert of(recs, "D") == ["alice@remote.example"]
    headers = of(recs, "H")
    assert headers[0] == "X-Top: inserted first\n"
    assert headers[1].startswith("Received: from client.example.jp")
    assert "Subject: changed subject\n" in headers
    assert not [h for h in headers if h.startswith("X-Remove")]
    assert headers[-2:] == ["X-Milter: checked\n", "X-Folded: line one\n\tline two\n"]
    assert "".join(of(recs, "B")) == "replaced body\nwith two lines\n"
    # The size record tells the truth about the rewritten file.
    sz = of(recs, "S")[0].split()
    assert int(sz[1]) == len(message_text(recs).encode())
    assert int(sz[3]) == 2


def test_reject_tempfail_discard_at_end_of_message(inst, milters):
    m = milters(rules={"E": [REJECT]})
    start(inst, smtpd_milters=m.name)
    qid, r = send(inst)
    assert qid is None and r["data"] == (550, b"5.7.1 Command rejected")
    inst.wait_log(r"[0-9A-F]+: milter-reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: "
                  r"5\.7\.1 Command rejected; from=<sender@example\.jp> "
                  r"to=<alice@remote\.example> proto=ESMTP helo=<client\.example\.jp>")
    m.rules = {"E": [TEMPFAIL]}
    qid, r = send(inst)
    assert r["data"] == (451, b"4.7.1 Service unavailable - try again later")
    m.rules = {"E": [replycode("552 5.3.0 Too much %% spam")]}
    qid, r = send(inst)
    assert r["data"] == (552, b"5.3.0 Too much % spam")
    m.rules = {"E": [DISCARD]}
    qid, r = send(inst)
    assert r["data"][0] == 250
    inst.wait_log(r"milter-discard: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: milter "
                  r"triggers DISCARD action")
    assert queue_ids(inst, "incoming") == []


def test_quarantine_holds(inst, milters):
    m = milters(rules={"E": [quarantine("suspicious"), ACCEPT]})
    start(inst, smtpd_milters=m.name)
    qid, r = send(inst)
    assert qid
    queue_file(inst, qid, "hold")
    inst.wait_log(rf"{qid}: milter-hold: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: "
                  r"milter triggers HOLD action")


def test_two_milters_see_each_others_changes(inst, milters):
    first = milters(rules={"E": [addheader("X-First", "yes"), CONTINUE]})
    second = milters(rules={"E": [addheader("X-Second", "yes"), ACCEPT]})
    start(inst, smtpd_milters=f"{first.name}, {second.name}")
    qid, _ = send(inst)
    assert qid
    assert ("X-First", "yes") in second.headers()
    headers = of(queue_file(inst, qid), "H")
    assert headers[-2:] == ["X-First: yes\n", "X-Second: yes\n"]


def test_no_milters_override(inst, milters):
    m = milters(rules={"C": [REJECT]})
    start(inst, smtpd_milters=m.name, receive_override_options="no_milters")
    qid, _ = send(inst)
    assert qid
    assert m.sessions == []


# ---- local submission: non_smtpd_milters in cleanup ----

def test_non_smtpd_milters(inst, milters):
    m = milters(rules={"E": [addheader("X-Local-Milter", "seen"), CONTINUE]})
    start(inst, non_smtpd_milters=m.name)
    inst.cmd("sendmail", "-f", "sender@example.jp", "alice@remote.example",
             input="Subject: local\n\nlocal body\n")
    ids = inst.wait_log(r"([0-9A-F]+): uid=0 from=<sender@example\.jp>")
    recs = queue_file(inst, ids[-1])
    assert "X-Local-Milter: seen\n" in of(recs, "H")
    raw = [a for c, a in m.events if c == "C"][0]
    assert raw == b"localhost\x004\x00\x00127.0.0.1\x00"    # port 0
    assert m.args("H")[0] == [b"localhost"]
    assert m.args("R")[0] == [b"<alice@remote.example>"]
    assert m.body() == b"local body\r\n"
    # A reject is the sender's bounce, not a kept maildrop file.
    m.rules = {"E": [REJECT]}
    inst.cmd("sendmail", "-f", "sender@example.jp", "alice@remote.example",
             input="Subject: local 2\n\nbody\n")
    inst.wait_log(r"milter-reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 5\.7\.1 "
                  r"Command rejected; from=<sender@example\.jp>")
    assert poll_until(lambda: queue_ids(inst, "maildrop") == [], 10)


# ---- failures: each milter_default_action ----

DEAD_CASES = {
    # action: (greeting, MAIL reply, queued where)
    "accept": (220, 250, "incoming"),
    "tempfail": (220, 451, None),
    "reject": (554, 550, None),
    "quarantine": (220, 250, "hold"),
}


@pytest.mark.parametrize("action", sorted(DEAD_CASES))
def test_dead_milter(inst, sockdir, action):
    greeting, mail_code, where = DEAD_CASES[action]
    name = "unix:" + os.path.join(sockdir, "nobody-listens")
    start(inst, smtpd_milters=name, milter_default_action=action)
    s = inst.smtp()
    s.ehlo("client.example.jp")
    code, _ = s.mail("sender@example.jp")
    assert code == mail_code
    s.quit()
    qid, _ = send(inst)
    if where:
        assert qid
        queue_file(inst, qid, where)
    else:
        assert qid is None
    inst.wait_log(r"warning: connect to Milter service unix:\S+/nobody-listens: "
                  r"No such file or directory")
    if action == "tempfail":
        inst.wait_log(r"NOQUEUE: milter-reject: CONNECT from unknown\[127\.0\.0\.1\]: 451 "
                      r"4\.7\.1 Service unavailable - try again later; proto=SMTP")
    if action == "reject":
        s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=10)
        assert s.recv(200).startswith(b"554 mail.example.jp ESMTP not accepting connections")
        s.close()


@pytest.mark.parametrize("action", sorted(DEAD_CASES))
def test_hanging_milter(inst, milters, action):
    _, mail_code, where = DEAD_CASES[action]
    m = milters(rules={"O": "hang"})
    start(inst, smtpd_milters=m.name, milter_default_action=action)
    qid, r = send(inst)     # the client's own timeout bounds any hang
    if where:
        assert qid
        queue_file(inst, qid, where)
    else:
        assert r["mail"][0] == mail_code
    inst.wait_log(r"warning: milter inet:127\.0\.0\.1:\d+: can't read SMFIC_OPTNEG reply packet "
                  r"header: Connection timed out")


@pytest.mark.parametrize("action", ["tempfail", "accept"])
def test_milter_hangs_at_end_of_message(inst, milters, action):
    m = milters(rules={"E": "hang"})
    start(inst, smtpd_milters=m.name, milter_default_action=action)
    qid, r = send(inst)
    if action == "tempfail":
        assert r["data"] == (451, b"4.7.1 Service unavailable - try again later")
    else:
        assert qid
    inst.wait_log(r"warning: milter inet:127\.0\.0\.1:\d+: can't read SMFIC_BODYEOB reply "
                  r"packet header: Connection timed out")
    # The next session starts afresh.
    m.rules = {}
    qid, _ = send(inst)
    assert qid


# ---- OpenDKIM ----

def need(cmd):
    path = shutil.which(cmd) or (os.path.exists("/usr/sbin/" + cmd) and "/usr/sbin/" + cmd)
    if not path:
        pytest.skip(f"{cmd} is not installed (apt-get install opendkim opendkim-tools)")
    return path


@pytest.mark.parametrize("canon", ["relaxed/simple", "simple/simple"])
def test_opendkim_signs(inst, sockdir, canon):
    opendkim = need("opendkim")
    genkey = need("opendkim-genkey")
    dkim = pytest.importorskip("dkim")
    subprocess.run([genkey, "-b", "1024", "-d", "example.jp", "-s", "hk", "-D", sockdir],
                   check=True)
    port = free_port()
    conf = os.path.join(sockdir, "opendkim.conf")
    with open(conf, "w") as f:
        f.write(f"""Syslog no
Socket inet:{port}@127.0.0.1
Domain example.jp
Selector hk
KeyFile {sockdir}/hk.private
Mode sv
Canonicalization {canon}
InternalHosts 127.0.0.1
RequireSafeKeys false
PidFile {sockdir}/opendkim.pid
""")
    proc = subprocess.Popen([opendkim, "-f", "-x", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        assert poll_until(lambda: inst.port_open(port), 15), "opendkim did not start"
        start(inst, smtpd_milters=f"inet:127.0.0.1:{port}")
        msg = ("From: Sender <sender@example.jp>\r\n"
               "To: Alice <alice@remote.example>\r\n"
               "Subject: a signed message with a long subject that is folded\r\n"
               " onto a second line\r\n"
               "Date: Sat, 22 Nov 2025 10:00:00 +0000\r\n"
               "Message-ID: <dkim-test@example.jp>\r\n"
               "\r\n"
               "Signed body.\r\n\r\nTrailing text.\r\n")
        qid, r = send(inst, msg=msg)
        assert qid, r
        recs = queue_file(inst, qid)
        text = message_text(recs)
        assert "DKIM-Signature:" in text
        with open(os.path.join(sockdir, "hk.txt")) as f:
            txt = f.read()
        record = "".join(part for part in txt.split('"')[1::2])
        wire = text.replace("\n", "\r\n").encode()

        def dnsfunc(name, timeout=5):
            assert name.startswith(b"hk._domainkey.example.jp") or \
                name.startswith("hk._domainkey.example.jp")
            return record.encode()
        assert dkim.verify(wire, dnsfunc=dnsfunc), text
        # Any change breaks it: the check is real.
        assert not dkim.verify(wire.replace(b"Signed body.", b"Signed b0dy."), dnsfunc=dnsfunc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
