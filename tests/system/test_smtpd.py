"""smtpd: the SMTP server, driven with raw bytes.

Most tests run `smtpd -S` (stand-alone: one session on fd 0) on one end of
a socketpair, with MAIL_CONFIG pointing at a temporary configuration, so
the protocol is covered without master. The client address of such a
session is set with HK_TEST_CLIENT_ADDR (test only; smtpd honours it only
in stand-alone mode). When the cleanup daemon is built, the harness also
serves $queue_directory/public/cleanup inetd-style (one `cleanup -S` per
connection), so DATA reaches a real queue file; otherwise RCPT answers
"451 4.3.0 Error: queue file write error" and the DATA tests are skipped.

The last tests use the conftest `instance` fixture (a real instance
started with `postfix start`); they are skipped while master, cleanup or
qmgr are not built yet.
"""
import os
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import poll_until

BUILD_DIR = os.environ.get("HK_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SMTPD = os.path.join(BUILD_DIR, "smtpd")
CLEANUP = os.path.join(BUILD_DIR, "cleanup")
HOST = "mail.example.jp"

QUEUE_SUBDIRS = ["incoming", "active", "deferred", "hold", "corrupt", "maildrop", "bounce",
                 "defer", "trace", "saved", "private", "public", "pid"]


class CleanupServer:
    """Serve public/cleanup by running `cleanup -S` per connection."""

    def __init__(self, queue, env):
        self.env = env
        self.path = os.path.join(queue, "public", "cleanup")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.procs = []
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            p = subprocess.Popen([CLEANUP, "-S"], stdin=conn, env=self.env)
            conn.close()
            self.procs.append(p)

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


class Env:
    """A configuration and queue for stand-alone smtpd sessions."""

    def __init__(self, root):
        self.root = str(root)
        self.config = os.path.join(self.root, "etc")
        self.queue = os.path.join(self.root, "spool")
        self.maillog = os.path.join(self.root, "maillog")
        os.makedirs(self.config)
        for d in QUEUE_SUBDIRS:
            os.makedirs(os.path.join(self.queue, d))
        self.aliases = os.path.join(self.config, "aliases")
        # texthash (postmap format) stands in for an aliases database: smtpd
        # only needs the keys.
        with open(self.aliases, "w") as f:
            f.write("postmaster root\nsales root\n")
        self.conf = {
            "queue_directory": self.queue,
            "data_directory": os.path.join(self.root, "lib"),
            "maillog_file": self.maillog,
            "myhostname": HOST,
            "mydomain": "example.jp",
            "mynetworks": "127.0.0.1/32",
            "alias_maps": "texthash:" + self.aliases,
            "smtpd_error_sleep_time": "0",
            "smtpd_peername_lookup": "no",
        }
        self.cleanup = None
        self.write()

    def write(self, **extra):
        self.conf.update(extra)
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            for k, v in self.conf.items():
                f.write(f"{k} = {v}\n")

    def environ(self, client):
        e = dict(os.environ)
        e["MAIL_CONFIG"] = self.config
        e["HK_TEST_CLIENT_ADDR"] = client
        return e

    def start_cleanup(self):
        if not os.path.exists(CLEANUP):
            pytest.fail("cleanup is missing from the build")
        if not self.cleanup:
            self.cleanup = CleanupServer(self.queue, self.environ("127.0.0.1"))

    def session(self, client="192.0.2.1", early=b""):
        return Session(self, client, early)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if rx.search(self.log()):
                return
            time.sleep(0.05)
        raise AssertionError(f"log line /{pattern}/ not seen; log:\n{self.log()}")

    def queue_file(self, queue_id):
        for d in ("incoming", "active", "deferred", "hold"):
            p = os.path.join(self.queue, d, queue_id)
            if os.path.exists(p):
                return p
        return None

    def close(self):
        if self.cleanup:
            self.cleanup.stop()


class Session:
    """One smtpd -S process and the client end of its socket."""

    def __init__(self, env, client, early=b""):
        self.sock, theirs = socket.socketpair()
        if early:       # bytes the client sends before the greeting
            self.sock.sendall(early)
        self.proc = subprocess.Popen([SMTPD, "-S"], stdin=theirs, env=env.environ(client))
        theirs.close()
        self.sock.settimeout(10)
        self.buf = b""
        self.closed = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
                raise EOFError("connection closed; buffered: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def reply(self):
        """One (possibly multi-line) reply: (code, [texts])."""
        lines = []
        while True:
            line = self._line()
            assert re.match(r"^\d{3}[ -]", line), f"bad reply line {line!r}"
            lines.append(line)
            if line[3] == " ":
                return int(line[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def expect(self, code, text=None):
        c, lines = self.reply()
        assert c == code, f"expected {code}, got {lines}"
        if text is not None:
            assert lines[-1] == f"{code} {text}", f"got {lines}"
        return lines

    def at_eof(self, timeout=10):
        """True when smtpd has closed the connection (no further replies)."""
        self.sock.settimeout(timeout)
        try:
            rest = self.sock.recv(65536)
        except socket.timeout:
            return False
        return rest == b"" and self.buf == b""

    def finish(self):
        """Close our end; smtpd must exit cleanly (0: no crash, and no
        sanitizer report in an HK_SANITIZE build)."""
        self.sock.close()
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        assert rc == 0, f"smtpd exited with status {rc}"
        return rc


@pytest.fixture
def env(tmp_path):
    if not os.path.exists(SMTPD):
        pytest.fail("smtpd is missing from the build")
    e = Env(tmp_path / "sa")
    yield e
    e.close()


def greet(s, ehlo=True):
    s.expect(220, f"{HOST} ESMTP Hikyaku")
    if ehlo:
        s.send("EHLO client.example.com\r\n")
        return s.reply()
    return None


def read_records(path):
    """Queue file records as (type, bytes) (docs/queue-format.md)."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i + 5 <= len(data):
        t = chr(data[i])
        n = struct.unpack(">I", data[i + 1:i + 5])[0]
        out.append((t, data[i + 5:i + 5 + n]))
        i += 5 + n
    return out


def content_of(path):
    return b"".join(d for t, d in read_records(path) if t in "HB").decode(errors="replace")


# ---------------------------------------------------------------- greeting, EHLO

def test_greeting_ehlo_helo(env):
    s = env.session()
    code, lines = greet(s)
    assert code == 250
    assert lines == [f"250-{HOST}", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY",
                     "250-ETRN", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN",
                     "250 SMTPUTF8"]
    assert s.cmd("HELO other.example.com") == (250, [f"250 {HOST}"])
    s.send("QUIT\r\n")
    s.expect(221, "2.0.0 Bye")
    assert s.at_eof()
    assert s.finish() == 0
    env.wait_log(r"connect from unknown\[192\.0\.2\.1\]")
    env.wait_log(r"disconnect from unknown\[192\.0\.2\.1\] helo=1 ehlo=1 quit=1 commands=3$")


def test_ehlo_options(env):
    env.write(message_size_limit="0", disable_vrfy_command="yes", smtputf8_enable="no",
              smtpd_discard_ehlo_keywords="dsn, etrn")
    s = env.session()
    code, lines = greet(s)
    assert lines == [f"250-{HOST}", "250-PIPELINING", "250-SIZE", "250-ENHANCEDSTATUSCODES",
                     "250 8BITMIME"]
    assert s.cmd("VRFY root") == (502, ["502 5.5.1 VRFY command is disabled"])
    s.cmd("QUIT")
    s.finish()
    env.wait_log(r"discarding EHLO keywords: ETRN DSN")


def test_helo_syntax(env):
    s = env.session()
    greet(s, ehlo=False)
    assert s.cmd("HELO") == (501, ["501 5.5.4 Syntax: HELO hostname"])
    assert s.cmd("EHLO") == (501, ["501 5.5.4 Syntax: EHLO hostname"])
    assert s.cmd("HELO client.example.com") == (250, [f"250 {HOST}"])
    s.cmd("QUIT")
    s.finish()


# ---------------------------------------------------------------- errors and limits

def test_bad_commands(env):
    env.write(smtpd_hard_error_limit="100")
    s = env.session()
    greet(s)
    assert s.cmd("FOO bar") == (502, ["502 5.5.2 Error: command not recognized"])
    assert s.cmd("RCPT TO:<root@mail.example.jp>") == (503, ["503 5.5.1 Error: need MAIL command"])
    assert s.cmd("DATA") == (503, ["503 5.5.1 Error: need RCPT command"])
    assert s.cmd("MAIL") == (501, ["501 5.5.4 Syntax: MAIL FROM:<address>"])
    assert s.cmd("MAIL TO:<a@b.example>") == (501, ["501 5.5.4 Syntax: MAIL FROM:<address>"])
    assert s.cmd("MAIL FROM:<a@b.example") == (501, ["501 5.1.7 Bad sender address syntax"])
    assert s.cmd("MAIL FROM:<a@b.example> FOO=1") == (555, ["555 5.5.4 Unsupported option: FOO=1"])
    assert s.cmd("MAIL FROM:<a@b.example> BODY=BINARYMIME")[0] == 501
    assert s.cmd("MAIL FROM:<a@b.example> RET=SOME") == (501, ["501 5.5.4 Bad RET parameter syntax"])
    assert s.cmd("MAIL FROM:<a@b.example> ENVID=a+2") == (501, ["501 5.5.4 Bad ENVID parameter syntax"])
    assert s.cmd("MAIL FROM:<a@b.example> RET=HDRS ENVID=x+2By BODY=8BITMIME") == \
        (250, ["250 2.1.0 Ok"])
    assert s.cmd("MAIL FROM:<c@d.example>") == (503, ["503 5.5.1 Error: nested MAIL command"])
    assert s.cmd("RCPT TO:<>") == (501, ["501 5.1.3 Bad recipient address syntax"])
    assert s.cmd("RCPT") == (501, ["501 5.5.4 Syntax: RCPT TO:<address>"])
    assert s.cmd("RCPT TO:<root@mail.example.jp> NOTIFY=SOMETIMES") == \
        (501, ["501 5.5.4 Error: Bad NOTIFY parameter syntax"])
    assert s.cmd("RCPT TO:<root@mail.example.jp> NOTIFY=NEVER,DELAY") == \
        (501, ["501 5.5.4 Error: Bad NOTIFY parameter syntax"])
    assert s.cmd("RCPT TO:<root@mail.example.jp> ORCPT=rfc822") == \
        (501, ["501 5.5.4 Error: Bad ORCPT parameter syntax"])
    assert s.cmd("RCPT TO:<root@mail.example.jp> XYZ") == (555, ["555 5.5.4 Unsupported option: XYZ"])
    assert s.cmd("RSET now") == (501, ["501 5.5.4 Syntax: RSET"])
    assert s.cmd("DATA now") == (501, ["501 5.5.4 Syntax: DATA"])
    assert s.cmd("RSET") == (250, ["250 2.0.0 Ok"])
    assert s.cmd("NOOP anything") == (250, ["250 2.0.0 Ok"])
    assert s.cmd("QUIT") == (221, ["221 2.0.0 Bye"])
    s.finish()
    env.wait_log(r"disconnect from unknown\[192\.0\.2\.1\] ehlo=1 mail=1/9 rcpt=0/7 data=0/2 "
                 r"rset=1/2 noop=1 quit=1 unknown=0/1 commands=5/24")


def test_hard_error_limit(env):
    env.write(smtpd_hard_error_limit="3")
    s = env.session()
    greet(s)
    for _ in range(3):
        assert s.cmd("BOGUS")[0] == 502
    s.expect(421, f"4.7.0 {HOST} Error: too many errors")
    assert s.at_eof()
    s.finish()
    env.wait_log(r"too many errors after UNKNOWN from unknown\[192\.0\.2\.1\]")


def test_line_too_long(env):
    s = env.session()
    greet(s)
    s.send("NOOP " + "x" * 5000 + "\r\n")
    s.expect(500, "5.5.0 Error: line too long")
    assert s.cmd("NOOP") == (250, ["250 2.0.0 Ok"])
    s.cmd("QUIT")
    s.finish()


def test_timeout(env):
    env.write(smtpd_timeout="1s")
    s = env.session()
    greet(s)
    s.expect(421, f"4.4.2 {HOST} Error: timeout exceeded")
    assert s.at_eof()
    s.finish()
    env.wait_log(r"timeout after EHLO from unknown\[192\.0\.2\.1\]")


def test_lost_connection(env):
    s = env.session()
    greet(s)
    s.send("MAIL FROM:<a@b.example>\r\n")
    s.expect(250)
    s.finish()
    env.wait_log(r"lost connection after MAIL from unknown\[192\.0\.2\.1\]")
    env.wait_log(r"disconnect from unknown\[192\.0\.2\.1\] ehlo=1 mail=1 commands=2$")


def test_size_refused_early(env):
    env.write(message_size_limit="1000")
    s = env.session()
    code, lines = greet(s)
    assert "250-SIZE 1000" in lines
    assert s.cmd("MAIL FROM:<a@b.example> SIZE=1001") == \
        (552, ["552 5.3.4 Message size exceeds fixed limit"])
    assert s.cmd("MAIL FROM:<a@b.example> SIZE=12x") == (501, ["501 5.5.4 Bad message size syntax"])
    assert s.cmd("MAIL FROM:<a@b.example> SIZE=99999999999999999999999") == \
        (501, ["501 5.5.4 Bad message size syntax"])
    assert s.cmd("MAIL FROM:<a@b.example> SIZE=1000") == (250, ["250 2.1.0 Ok"])
    s.cmd("QUIT")
    s.finish()


def test_helo_required(env):
    env.write(smtpd_helo_required="yes")
    s = env.session()
    greet(s, ehlo=False)
    assert s.cmd("MAIL FROM:<a@b.example>") == (503, ["503 5.5.1 Error: send HELO/EHLO first"])
    assert s.cmd("HELO c.example.com")[0] == 250
    assert s.cmd("MAIL FROM:<a@b.example>") == (250, ["250 2.1.0 Ok"])
    s.cmd("QUIT")
    s.finish()


def test_strict_rfc821_envelopes(env):
    s = env.session()
    greet(s)
    assert s.cmd("MAIL FROM:a@b.example") == (250, ["250 2.1.0 Ok"])
    s.cmd("QUIT")
    s.finish()
    env.write(strict_rfc821_envelopes="yes")
    s = env.session()
    greet(s)
    assert s.cmd("MAIL FROM:a@b.example") == (501, ["501 5.1.7 Bad sender address syntax"])
    assert s.cmd("MAIL FROM:<a@b.example>") == (250, ["250 2.1.0 Ok"])
    s.cmd("QUIT")
    s.finish()


def test_forbidden_command(env):
    s = env.session()
    greet(s, ehlo=False)
    s.send("GET / HTTP/1.1\r\n")
    s.expect(221, "2.7.0 Error: I can break rules, too. Goodbye.")
    assert s.at_eof()
    s.finish()
    env.wait_log(r"warning: non-SMTP command from unknown\[192\.0\.2\.1\]: GET / HTTP/1\.1")


def test_noop_commands(env):
    env.write(smtpd_noop_commands="XYZZY")
    s = env.session()
    greet(s)
    assert s.cmd("XYZZY plugh") == (250, ["250 2.0.0 Ok"])
    s.cmd("QUIT")
    s.finish()


# ---------------------------------------------------------------- pipelining

def test_pipelining_replies_in_order(env):
    s = env.session()
    greet(s)
    s.send("MAIL FROM:<a@b.example>\r\n"
           "RCPT TO:<x@elsewhere.example>\r\n"
           "RCPT TO:<nosuchuser@mail.example.jp>\r\n"
           "RSET\r\n"
           "MAIL FROM:<c@d.example> SIZE=10\r\n"
           "RCPT TO:<y@elsewhere.example>\r\n"
           "NOOP\r\n")
    assert s.reply() == (250, ["250 2.1.0 Ok"])
    assert s.reply() == (454, ["454 4.7.1 <x@elsewhere.example>: Relay access denied"])
    assert s.reply() == (550, ["550 5.1.1 <nosuchuser@mail.example.jp>: Recipient address "
                               "rejected: User unknown in local recipient table"])
    assert s.reply() == (250, ["250 2.0.0 Ok"])
    assert s.reply() == (250, ["250 2.1.0 Ok"])
    assert s.reply() == (454, ["454 4.7.1 <y@elsewhere.example>: Relay access denied"])
    assert s.reply() == (250, ["250 2.0.0 Ok"])
    assert s.cmd("QUIT")[0] == 221
    s.finish()


def test_commands_before_greeting(env):
    s = env.session(early=b"EHLO early.example.com\r\nMAIL FROM:<a@b.example>\r\n")
    s.expect(220)
    s.expect(554, "5.5.0 Error: SMTP protocol synchronization")
    assert s.at_eof()
    s.finish()
    env.wait_log(r"improper command pipelining after CONNECT from unknown\[192\.0\.2\.1\]: "
                 r"EHLO early\.example\.com\\r\\nMAIL FROM:<a@b\.example>\\r\\n")
    # Even a single line that is not a command.
    s = env.session(client="192.0.2.3", early=b"hello?\r\n")
    s.expect(220)
    s.expect(554, "5.5.0 Error: SMTP protocol synchronization")
    s.finish()
    env.wait_log(r"improper command pipelining after CONNECT from unknown\[192\.0\.2\.3\]: "
                 r"hello\?\\r\\n")


def test_pipelining_without_ehlo(env):
    s = env.session()
    greet(s, ehlo=False)
    s.cmd("HELO client.example.com")
    s.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<root@mail.example.jp>\r\n")
    s.expect(554, "5.5.0 Error: SMTP protocol synchronization")
    assert s.at_eof()
    s.finish()
    env.wait_log(r"improper command pipelining after MAIL from unknown\[192\.0\.2\.1\]: "
                 r"RCPT TO:<root@mail\.example\.jp>\\r\\n")


def test_pipelining_after_last_command(env):
    s = env.session()
    greet(s)
    s.send("NOOP\r\nNOOP\r\n")
    s.expect(554, "5.5.0 Error: SMTP protocol synchronization")
    s.finish()
    env.wait_log(r"improper command pipelining after NOOP from")


def test_pipelining_allowed_when_not_forbidden(env):
    env.write(smtpd_forbid_unauth_pipelining="no")
    s = env.session(early=b"HELO early.example.com\r\n")
    s.expect(220)
    s.expect(250, HOST)
    s.send("NOOP\r\nNOOP\r\n")
    assert s.reply()[0] == 250
    assert s.reply()[0] == 250
    s.cmd("QUIT")
    s.finish()


def test_quit_then_more_input(env):
    """Anything after QUIT is ignored, not executed."""
    s = env.session()
    greet(s)
    s.send("QUIT\r\nMAIL FROM:<a@b.example>\r\n")
    s.expect(221, "2.0.0 Bye")
    assert s.at_eof()
    s.finish()


# ---------------------------------------------------------------- relay control, recipients

def test_relay_denied_outside_mynetworks(env):
    s = env.session(client="127.0.0.2")
    greet(s)
    assert s.cmd("MAIL FROM:<sender@example.com>") == (250, ["250 2.1.0 Ok"])
    assert s.cmd("RCPT TO:<x@y.example>") == (454, ["454 4.7.1 <x@y.example>: Relay access denied"])
    s.cmd("QUIT")
    s.finish()
    env.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 454 4\.7\.1 <x@y\.example>: "
                 r"Relay access denied; from=<sender@example\.com> to=<x@y\.example> "
                 r"proto=ESMTP helo=<client\.example\.com>")


def test_reject_unauth_destination(env):
    env.write(smtpd_relay_restrictions="",
              smtpd_recipient_restrictions="permit_mynetworks, reject_unauth_destination")
    s = env.session(client="127.0.0.2")
    greet(s)
    s.cmd("MAIL FROM:<sender@example.com>")
    assert s.cmd("RCPT TO:<x@y.example>") == (554, ["554 5.7.1 <x@y.example>: Relay access denied"])
    s.cmd("QUIT")
    s.finish()


def test_mynetworks_may_relay(env):
    """127.0.0.1 is in mynetworks: the relay check passes; without a cleanup
    service the RCPT then fails to start a queue file."""
    s = env.session(client="127.0.0.1")
    greet(s)
    s.cmd("MAIL FROM:<sender@example.com>")
    code, lines = s.cmd("RCPT TO:<x@y.example>")
    if os.path.exists(os.path.join(env.queue, "public", "cleanup")):
        assert code == 250
    else:
        assert lines == ["451 4.3.0 Error: queue file write error"]
    s.cmd("QUIT")
    s.finish()


def test_mynetworks_style_and_cidr(env):
    env.write(mynetworks="10.0.0.0/8, [2001:db8::]/32")
    for client, allowed in (("10.1.2.3", True), ("11.0.0.1", False),
                            ("2001:db8::5", True), ("2001:db9::5", False)):
        s = env.session(client=client)
        greet(s)
        s.cmd("MAIL FROM:<sender@example.com>")
        code, lines = s.cmd("RCPT TO:<x@y.example>")
        assert (code != 454) == allowed, (client, lines)
        s.cmd("QUIT")
        s.finish()


def test_mynetworks_style_host(env):
    del env.conf["mynetworks"]
    env.write(mynetworks_style="host")
    for client, allowed in (("127.0.0.1", True), ("192.0.2.77", False)):
        s = env.session(client=client)
        greet(s)
        s.cmd("MAIL FROM:<sender@example.com>")
        code, lines = s.cmd("RCPT TO:<x@y.example>")
        assert (code != 454) == allowed, (client, lines)
        s.cmd("QUIT")
        s.finish()


def test_relay_domains(env):
    env.write(relay_domains="relay.example")
    s = env.session(client="192.0.2.50")
    greet(s)
    s.cmd("MAIL FROM:<sender@example.com>")
    assert s.cmd("RCPT TO:<x@relay.example>")[0] != 454
    assert s.cmd("RCPT TO:<x@sub.relay.example>")[0] != 454   # parent_domain_matches_subdomains
    assert s.cmd("RCPT TO:<x@other.example>")[0] == 454
    s.cmd("QUIT")
    s.finish()


def test_unknown_local_user(env):
    s = env.session()
    greet(s)
    s.cmd("MAIL FROM:<sender@example.com>")
    assert s.cmd("RCPT TO:<nosuchuser@mail.example.jp>") == \
        (550, ["550 5.1.1 <nosuchuser@mail.example.jp>: Recipient address rejected: "
               "User unknown in local recipient table"])
    # An alias and a passwd user are known (then 451 without cleanup).
    assert s.cmd("RCPT TO:<sales@mail.example.jp>")[0] != 550
    assert s.cmd("RCPT TO:<root@mail.example.jp>")[0] != 550
    assert s.cmd("RCPT TO:<postmaster>")[0] != 550
    s.cmd("QUIT")
    s.finish()
    env.wait_log(r"NOQUEUE: reject: RCPT from unknown\[192\.0\.2\.1\]: 550 5\.1\.1 "
                 r"<nosuchuser@mail\.example\.jp>: Recipient address rejected: User unknown in "
                 r"local recipient table; from=<sender@example\.com> "
                 r"to=<nosuchuser@mail\.example\.jp> proto=ESMTP helo=<client\.example\.com>")


def test_local_recipient_code_and_empty_maps(env):
    env.write(unknown_local_recipient_reject_code="450")
    s = env.session()
    greet(s)
    s.cmd("MAIL FROM:<sender@example.com>")
    assert s.cmd("RCPT TO:<nosuchuser@mail.example.jp>")[0] == 450
    s.cmd("QUIT")
    s.finish()
    env.write(local_recipient_maps="")
    s = env.session()
    greet(s)
    s.cmd("MAIL FROM:<sender@example.com>")
    assert s.cmd("RCPT TO:<nosuchuser@mail.example.jp>")[0] not in (450, 550)
    s.cmd("QUIT")
    s.finish()


def test_local_recipient_table_failure(env):
    env.write(local_recipient_maps="fail:broken")
    s = env.session()
    greet(s)
    s.cmd("MAIL FROM:<sender@example.com>")
    assert s.cmd("RCPT TO:<nosuchuser@mail.example.jp>") == \
        (451, ["451 4.3.0 <nosuchuser@mail.example.jp>: Temporary lookup failure"])
    s.cmd("QUIT")
    s.finish()


def test_unknown_restriction(env):
    env.write(smtpd_recipient_restrictions="permit_mynetworks, frobnicate_client")
    s = env.session()
    greet(s)
    s.cmd("MAIL FROM:<sender@example.com>")
    assert s.cmd("RCPT TO:<root@mail.example.jp>") == (451, ["451 4.3.5 Server configuration error"])
    s.cmd("QUIT")
    s.finish()
    env.wait_log(r'warning: unknown smtpd restriction: "frobnicate_client"')


def test_helo_restrictions_at_rcpt(env):
    env.write(smtpd_helo_restrictions="reject_non_fqdn_helo_hostname")
    s = env.session()
    greet(s, ehlo=False)
    assert s.cmd("EHLO localhost")[0] == 250        # smtpd_delay_reject: not yet
    s.cmd("MAIL FROM:<sender@example.com>")
    assert s.cmd("RCPT TO:<root@mail.example.jp>") == \
        (504, ["504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"])
    s.cmd("QUIT")
    s.finish()
    env.write(smtpd_delay_reject="no")
    s = env.session()
    greet(s, ehlo=False)
    assert s.cmd("EHLO localhost") == \
        (504, ["504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"])
    s.cmd("QUIT")
    s.finish()


def test_vrfy(env):
    s = env.session()
    greet(s)
    assert s.cmd("VRFY root") == (252, ["252 2.0.0 root"])
    assert s.cmd("VRFY <postmaster@mail.example.jp>") == \
        (252, ["252 2.0.0 <postmaster@mail.example.jp>"])
    assert s.cmd("VRFY nosuchuser@mail.example.jp") == \
        (550, ["550 5.1.1 <nosuchuser@mail.example.jp>: Recipient address rejected: "
               "User unknown in local recipient table"])
    assert s.cmd("VRFY") == (501, ["501 5.5.4 Syntax: VRFY address"])
    s.cmd("QUIT")
    s.finish()


def test_etrn(env):
    s = env.session()
    greet(s)
    assert s.cmd("ETRN") == (501, ["501 5.5.4 Syntax: ETRN domain"])
    assert s.cmd("ETRN example.org") == (459, ["459 4.3.0 <example.org>: service unavailable"])
    s.cmd("MAIL FROM:<a@b.example>")
    assert s.cmd("ETRN example.org") == (503, ["503 5.5.1 Error: MAIL transaction in progress"])
    s.cmd("QUIT")
    s.finish()


def test_bare_lf_command_reject_mode(env):
    env.write(smtpd_forbid_bare_newline="reject", smtpd_forbid_bare_newline_exclusions="")
    s = env.session()
    greet(s)
    s.send("NOOP\n")
    s.expect(550, "5.5.2 Error: bare <LF> received")
    assert s.cmd("NOOP") == (250, ["250 2.0.0 Ok"])
    s.cmd("QUIT")
    s.finish()


def test_bare_lf_commands_normalized(env):
    s = env.session()
    s.expect(220)
    s.send("EHLO client.example.com\n")
    assert s.reply()[0] == 250
    s.send("NOOP\n")
    assert s.reply() == (250, ["250 2.0.0 Ok"])
    s.send("QUIT\n")
    assert s.reply()[0] == 221
    s.finish()


# ---------------------------------------------------------------- DATA (needs cleanup)

def transaction(s, rcpts=("root@mail.example.jp",), sender="sender@example.com"):
    assert s.cmd(f"MAIL FROM:<{sender}>") == (250, ["250 2.1.0 Ok"])
    for r in rcpts:
        assert s.cmd(f"RCPT TO:<{r}>") == (250, ["250 2.1.5 Ok"])
    assert s.cmd("DATA") == (354, ["354 End data with <CR><LF>.<CR><LF>"])


def queued_id(s):
    code, lines = s.reply()
    assert code == 250, lines
    m = re.match(r"^250 2\.0\.0 Ok: queued as (\S+)$", lines[-1])
    assert m, lines
    return m.group(1)


def test_data_queued(env):
    env.start_cleanup()
    s = env.session(client="127.0.0.1")
    greet(s)
    transaction(s)
    s.send("Subject: test\r\n\r\n..dot line\r\nbody\r\n.\r\n")
    qid = queued_id(s)
    assert s.cmd("QUIT")[0] == 221
    s.finish()
    env.wait_log(rf"{qid}: client=localhost\[127\.0\.0\.1\]|{qid}: client=unknown\[127\.0\.0\.1\]")
    path = env.queue_file(qid)
    assert path, f"no queue file for {qid}"
    text = content_of(path)
    assert re.search(r"^Received: from client\.example\.com \(unknown \[127\.0\.0\.1\]\)\n"
                     rf"\tby {re.escape(HOST)} \(Hikyaku\) with ESMTP id {qid}\n"
                     r"\tfor <root@mail\.example\.jp>; \w{3}, [ \d]\d \w{3} \d{4} ", text, re.M), text
    assert "\n.dot line\n" in text
    env.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=1 quit=1 "
                 r"commands=5$")


def test_data_two_recipients_received_header(env):
    env.start_cleanup()
    s = env.session(client="127.0.0.1")
    greet(s)
    transaction(s, rcpts=("root@mail.example.jp", "postmaster@mail.example.jp"))
    s.send("Subject: two\r\n\r\nx\r\n.\r\n")
    qid = queued_id(s)
    s.cmd("QUIT")
    s.finish()
    text = content_of(env.queue_file(qid))
    assert re.search(rf"\tby {re.escape(HOST)} \(Hikyaku\) with ESMTP id {qid};\n\t\w{{3}}, ",
                     text), text
    assert "\tfor <" not in text


@pytest.mark.parametrize("smuggle", [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r"])
def test_smuggling_never_ends_data(env, smuggle):
    env.start_cleanup()
    s = env.session(client="192.0.2.9")
    greet(s)
    transaction(s)
    s.send(b"Subject: smuggle\r\n\r\nfirst" + smuggle +
           b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@mail.example.jp>\r\n"
           b"DATA\r\n\r\nsmuggled\r\n.\r\n")
    qid = queued_id(s)
    # The next reply belongs to our own command: nothing else was executed.
    assert s.cmd("NOOP") == (250, ["250 2.0.0 Ok"])
    s.cmd("QUIT")
    s.finish()
    text = content_of(env.queue_file(qid))
    assert "MAIL FROM:<evil@example.com>" in text
    assert "smuggled" in text
    assert env.log().count("client=") == 1


def test_bare_newline_exclusions_get_old_behaviour(env):
    """smtpd_forbid_bare_newline_exclusions ($mynetworks) clients are
    treated as smtpd_forbid_bare_newline = no, as in Postfix: for them
    <LF>.<LF> does end the data."""
    env.start_cleanup()
    s = env.session(client="127.0.0.1")
    greet(s)
    transaction(s)
    s.send(b"Subject: old\r\n\r\nfirst\n.\nNOOP\r\n")
    queued_id(s)
    assert s.reply() == (250, ["250 2.0.0 Ok"])
    s.cmd("QUIT")
    s.finish()


def test_message_size_limit_data(env):
    env.start_cleanup()
    env.write(message_size_limit="2000")
    s = env.session(client="127.0.0.1")
    greet(s)
    transaction(s)
    s.send("Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 100 + ".\r\n")
    s.expect(552, "5.3.4 Error: message file too big")
    assert s.cmd("NOOP")[0] == 250
    s.cmd("QUIT")
    s.finish()
    # cleanup removes the abandoned file after smtpd has replied: poll.
    incoming = os.path.join(env.queue, "incoming")
    assert poll_until(lambda: os.listdir(incoming) == [], 10), os.listdir(incoming)


def test_delay_open_until_valid_rcpt_no(env):
    env.start_cleanup()
    env.write(smtpd_delay_open_until_valid_rcpt="no")
    s = env.session(client="127.0.0.1")
    greet(s)
    assert s.cmd("MAIL FROM:<a@b.example>") == (250, ["250 2.1.0 Ok"])
    env.wait_log(r": client=unknown\[127\.0\.0\.1\]")
    assert s.cmd("RSET")[0] == 250
    s.cmd("QUIT")
    s.finish()


def test_recipient_limit(env):
    env.start_cleanup()
    env.write(smtpd_recipient_limit="2")
    s = env.session(client="127.0.0.1")
    greet(s)
    s.cmd("MAIL FROM:<a@b.example>")
    assert s.cmd("RCPT TO:<root@mail.example.jp>")[0] == 250
    assert s.cmd("RCPT TO:<postmaster@mail.example.jp>")[0] == 250
    assert s.cmd("RCPT TO:<sales@mail.example.jp>") == \
        (452, ["452 4.5.3 Error: too many recipients"])
    s.cmd("QUIT")
    s.finish()


def test_data_bare_lf_reject_mode(env):
    env.start_cleanup()
    env.write(smtpd_forbid_bare_newline="reject", smtpd_forbid_bare_newline_exclusions="")
    s = env.session(client="127.0.0.2")
    greet(s)
    transaction(s)
    s.send("Subject: x\r\n\r\nbare\nlf\r\n.\r\n")
    s.expect(550, "5.5.2 Error: bare <LF> received")
    s.cmd("QUIT")
    s.finish()


def test_data_timeout(env):
    env.start_cleanup()
    env.write(smtpd_timeout="1s")
    s = env.session(client="127.0.0.1")
    greet(s)
    transaction(s)
    s.send("Subject: slow\r\n\r\npartial")
    s.expect(421, f"4.4.2 {HOST} Error: timeout exceeded")
    s.finish()
    env.wait_log(r"timeout after DATA \(\d+ bytes\) from unknown\[127\.0\.0\.1\]")
    assert os.listdir(os.path.join(env.queue, "incoming")) == []


# ---------------------------------------------------------------- a real instance

def prepare(instance, *daemons, **conf):
    """Skip unless the daemons are built; make the instance usable by the
    mail_owner (traversable directories, maillog_file allowed, a built
    aliases database) and apply conf."""
    for n in ("master", "smtpd") + daemons:
        if not os.path.exists(os.path.join(instance.libexec, n)):
            pytest.fail(f"{n} is missing from the build")
    p = instance.root
    while p.startswith(tempfile.gettempdir() + os.sep):
        os.chmod(p, os.stat(p).st_mode | 0o055)
        p = os.path.dirname(p)
    instance.write_main_cf(smtpd_peername_lookup="no",
                           maillog_file_prefixes="/var, /dev/stdout, " + instance.root, **conf)
    instance.cmd("postalias", os.path.join(instance.config, "aliases"))


def test_instance_session(instance):
    prepare(instance, "cleanup", "qmgr")
    instance.start()
    s = instance.smtp()
    code, banner = s.ehlo("client.example.com")
    assert code == 250
    assert b"PIPELINING" in banner and b"SIZE 10240000" in banner
    s.mail("sender@example.com")
    code, msg = s.rcpt("root@mail.example.jp")
    assert code == 250, msg
    code, msg = s.data(b"Subject: hello\r\n\r\nhi there\r\n")
    assert code == 250 and msg.startswith(b"2.0.0 Ok: queued as "), msg
    qid = msg.decode().split()[-1]
    s.quit()
    instance.wait_log(rf"postfix/smtpd\[\d+\]: {qid}: client=unknown\[127\.0\.0\.1\]")
    instance.wait_log(r"postfix/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.1\] ehlo=1 "
                      r"mail=1 rcpt=1 data=1 quit=1 commands=5")


def test_instance_relay_denied(instance):
    prepare(instance, mynetworks="127.0.0.1/32")
    instance.start()
    s = instance.smtp(source_address="127.0.0.2")
    s.ehlo("client.example.com")
    s.mail("sender@example.com")
    code, msg = s.rcpt("x@y.example")
    assert (code, msg) == (454, b"4.7.1 <x@y.example>: Relay access denied")
    s.quit()
    instance.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 454 4\.7\.1 "
                      r"<x@y\.example>: Relay access denied; from=<sender@example\.com> "
                      r"to=<x@y\.example> proto=ESMTP helo=<client\.example\.com>")


def test_instance_smuggling(instance):
    """Through master: a smuggled second message stays content of the first.
    The client is outside mynetworks (smtpd_forbid_bare_newline_exclusions
    defaults to $mynetworks, whose clients get the old behaviour)."""
    prepare(instance, "cleanup", "qmgr", mynetworks="127.0.0.1/32")
    instance.start()
    with socket.create_connection(("127.0.0.1", instance.smtp_port), timeout=15,
                                  source_address=("127.0.0.2", 0)) as c:
        f = c.makefile("rb")

        def reply():
            lines = []
            while True:
                line = f.readline().decode().rstrip("\r\n")
                lines.append(line)
                if len(line) < 4 or line[3] != "-":
                    return lines

        assert reply()[0].startswith("220 ")
        for cmd, code in (("EHLO client.example.com", "250"),
                          ("MAIL FROM:<sender@example.com>", "250"),
                          ("RCPT TO:<root@mail.example.jp>", "250"), ("DATA", "354")):
            c.sendall(cmd.encode() + b"\r\n")
            assert reply()[-1].startswith(code)
        c.sendall(b"Subject: one\r\n\r\nfirst\n.\nMAIL FROM:<evil@example.com>\r\n"
                  b"RCPT TO:<root@mail.example.jp>\r\nDATA\r\n\r\nsmuggled\r\n.\r\n")
        assert re.match(r"^250 2\.0\.0 Ok: queued as \S+$", reply()[-1])
        c.sendall(b"QUIT\r\n")
        assert reply()[-1].startswith("221")
    instance.wait_log(r"disconnect from unknown\[127\.0\.0\.2\] ehlo=1 mail=1 rcpt=1 data=1 "
                      r"quit=1 commands=5")
    assert len(re.findall(r"postfix/smtpd\[\d+\]: \w+: client=", instance.log())) == 1
