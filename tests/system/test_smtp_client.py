"""smtp and lmtp: the SMTP/LMTP client delivery agent, driven directly.

Each test runs `smtp -S` (or `lmtp -S`) on one end of a socketpair and
plays qmgr on the other: it writes a queue file into a private queue
directory, sends a delivery request in the attribute wire format of
docs/ipc.md, and reads one status per recipient and the final reply. The
other side of the delivery is real: SMTP/LMTP sinks written here (threads
on 127.0.0.2, 127.0.0.3, ... or a UNIX socket) that record what they are
sent and answer 4xx/5xx on request, and dnsmasq on 127.0.0.1 (a free port)
serving the MX, A and AAAA records, reached through dns_resolver_conf.
Nothing here uses the machine's resolver or a network beyond 127.0.0.0/8.
Tests that need dnsmasq are skipped when it is not installed.
"""
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from hk_peers import LineConn, Sink, Dnsmasq  # noqa: F401  (shared test peers)

BUILD_DIR = os.environ.get("HK_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SMTP = os.path.join(BUILD_DIR, "smtp")
LMTP = os.path.join(BUILD_DIR, "lmtp")
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
MYHOST = "client.example.jp"

QUEUE_SUBDIRS = ["incoming", "active", "deferred", "hold", "corrupt", "maildrop", "bounce",
                 "defer", "trace", "saved", "private", "public", "pid"]

pytestmark = pytest.mark.skipif(not os.path.exists(SMTP), reason="smtp is not built")


# ---------------------------------------------------------------- helpers

def free_port(addr="127.0.0.1", family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def free_port_everywhere(addrs):
    """A TCP port that is free on every address in addrs."""
    for _ in range(50):
        port = free_port(addrs[0])
        ok = True
        for a in addrs[1:]:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((a, port))
            except OSError:
                ok = False
                break
        if ok:
            return port
    raise RuntimeError("no common free port")


# ---- attribute codec (docs/ipc.md) ----

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def attr_encode(items):
    """items: list of (name, value); int -> I (or L when the name says so),
    bytes/str -> S, list -> N."""
    out = bytearray()
    for name, value in items:
        n = name.encode()
        if isinstance(value, list):
            t, v = b"N", attr_encode(value)
        elif isinstance(value, tuple) and value[0] == "L":
            t, v = b"L", struct.pack(">q", value[1])
        elif isinstance(value, int):
            t, v = b"I", struct.pack(">i", value)
        else:
            t, v = b"S", value.encode() if isinstance(value, str) else value
        out += t + varint(len(n)) + n + varint(len(v)) + v
    out.append(0)
    return bytes(out)


class AttrReader:
    def __init__(self, sock, timeout=60):
        self.sock = sock
        self.buf = b""
        self.timeout = timeout

    def _need(self, n):
        deadline = time.monotonic() + self.timeout
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("agent said nothing")
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("agent closed the stream")
            self.buf += chunk

    def _byte(self):
        self._need(1)
        b = self.buf[0]
        self.buf = self.buf[1:]
        return b

    def _bytes(self, n):
        self._need(n)
        b = self.buf[:n]
        self.buf = self.buf[n:]
        return b

    def _varint(self):
        v, shift = 0, 0
        while True:
            b = self._byte()
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    def read(self):
        out = {}
        while True:
            t = self._byte()
            if t == 0:
                return out
            name = self._bytes(self._varint()).decode()
            val = self._bytes(self._varint())
            if t == ord("I"):
                val = struct.unpack(">i", val)[0]
            elif t == ord("L"):
                val = struct.unpack(">q", val)[0]
            elif t == ord("S"):
                val = val.decode(errors="replace")
            out[name] = val


# ---- queue files (src/mail/qfile.h) ----

def record(t, data=b""):
    if isinstance(data, str):
        data = data.encode()
    return struct.pack(">BI", ord(t), len(data)) + data


def build_queue_file(sender, rcpts, headers, body, flags=0):
    """Returns (bytes, content_offset, content_size)."""
    head = record("V", "HKQ1")
    size_off = len(head)
    head += record("S", b" " * 81)
    head += record("T", "%d.000000" % int(time.time()))
    head += record("F", sender)
    for r in rcpts:
        head += record("R", r)
    content_offset = len(head)
    content = record("M")
    size = 0
    for h in headers:
        if not h.endswith("\n"):
            h += "\n"
        content += record("H", h)
        size += len(h.encode())
    size += 1
    b = body.encode() if isinstance(body, str) else body
    # Body records of uneven sizes: lines may span records.
    pos, step = 0, 7
    while pos < len(b):
        content += record("B", b[pos:pos + step])
        pos += step
        step = step * 3 % 1000 + 5
    size += len(b)
    extracted = content_offset + len(content)
    tail = record("X") + record("E")
    sizes = b"%019d %019d %019d %010d %010d" % (content_offset, size, extracted, len(rcpts), flags)
    data = bytearray(head + content + tail)
    data[size_off + 5:size_off + 5 + 81] = sizes
    return bytes(data), content_offset, size


# ---------------------------------------------------------------- servers

# ---------------------------------------------------------------- the agent

class Env:
    def __init__(self, root):
        self.root = str(root)
        self.config = os.path.join(self.root, "etc")
        self.queue = os.path.join(self.root, "spool")
        self.maillog = os.path.join(self.root, "maillog")
        self.resolv = os.path.join(self.root, "resolv.conf")
        os.makedirs(self.config)
        for d in QUEUE_SUBDIRS:
            os.makedirs(os.path.join(self.queue, d))
        # No DNS server unless a test starts one: lookups fail fast.
        self.set_resolver(free_port())
        self.conf = {
            "queue_directory": self.queue,
            "data_directory": os.path.join(self.root, "lib"),
            "maillog_file": self.maillog,
            "myhostname": MYHOST,
            "mydomain": "example.jp",
            "mydestination": "$myhostname, localhost",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "dns_resolver_conf": self.resolv,
            "smtp_connect_timeout": "5s",
            "smtp_helo_timeout": "10s",
            "smtp_mail_timeout": "10s",
            "smtp_rcpt_timeout": "10s",
            "smtp_data_done_timeout": "10s",
            "ipc_timeout": "60s",
        }
        self.write()
        self.n = 0

    def set_resolver(self, port, extra=""):
        with open(self.resolv, "w") as f:
            f.write("# test resolver\nnameserver 127.0.0.1:%d\noptions timeout:1 attempts:1\n%s"
                    % (port, extra))

    def write(self, **extra):
        self.conf.update(extra)
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            for k, v in self.conf.items():
                f.write("%s = %s\n" % (k, v))

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def message(self, sender="sender@example.jp", rcpts=("user@example.net",), headers=None,
                body="Hello.\n", flags=0):
        self.n += 1
        qid = "ABCDEF%04d" % self.n
        if headers is None:
            headers = ["From: <%s>" % sender, "To: <%s>" % rcpts[0], "Subject: test %d" % self.n]
        data, off, size = build_queue_file(sender, list(rcpts), headers, body, flags)
        with open(os.path.join(self.queue, "active", qid), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(self.queue, "active", qid), 0o700)
        return {"qid": qid, "offset": off, "size": size, "sender": sender, "rcpts": list(rcpts)}

    def request(self, msg, nexthop, transport="smtp", rcpts=None, dsn_envid="", dsn_ret=0,
                flags=0):
        now = int(time.time())
        rlist = []
        for r in (rcpts or [{"address": a} for a in msg["rcpts"]]):
            rlist.append(("rcpt", [("address", r["address"]),
                                   ("orig_address", r.get("orig", r["address"])),
                                   ("dsn_orcpt", r.get("orcpt", "")),
                                   ("notify", r.get("notify", 0)),
                                   ("offset", ("L", 0))]))
        return attr_encode([
            ("request", "deliver"), ("queue_name", "active"), ("queue_id", msg["qid"]),
            ("transport", transport), ("nexthop", nexthop), ("sender", msg["sender"]),
            ("dsn_envid", dsn_envid), ("dsn_ret", dsn_ret), ("flags", flags),
            ("content_offset", ("L", msg["offset"])), ("content_size", ("L", msg["size"])),
            ("arrival_sec", ("L", now)), ("arrival_usec", 0),
            ("active_sec", ("L", now)), ("active_usec", 0),
            ("handed_sec", ("L", now)), ("handed_usec", 0),
            ("client_name", "localhost"), ("client_addr", "127.0.0.1"),
        ] + rlist)

    def run(self, requests, program="smtp", service=None, timeout=90):
        """Send each request in turn on one connection; returns, per request,
        the statuses indexed by recipient."""
        exe = SMTP if program == "smtp" else LMTP
        if not os.path.exists(exe):
            pytest.fail("%s is missing from the build" % program)
        env = dict(os.environ)
        env["MAIL_CONFIG"] = self.config
        ours, theirs = socket.socketpair()
        p = subprocess.Popen([program, "-S", "-n", service or program], executable=exe,
                             stdin=theirs, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=env)
        theirs.close()
        reader = AttrReader(ours, timeout)
        results = []
        try:
            for req, nrcpt in requests:
                ours.sendall(req)
                got = {}
                while True:
                    a = reader.read()
                    if a.get("request") == "done":
                        break
                    assert a.get("request") == "status", a
                    assert a["index"] not in got, "two statuses for one recipient"
                    got[a["index"]] = a
                assert sorted(got) == list(range(nrcpt)), got
                results.append(got)
        finally:
            ours.close()
            try:
                _, err = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
        assert p.returncode == 0, err.decode(errors="replace")
        return results

    def deliver(self, msg, nexthop, program="smtp", **kw):
        req = self.request(msg, nexthop, **kw)
        n = len(kw.get("rcpts") or msg["rcpts"])
        return self.run([(req, n)], program=program)[0]

    def status_lines(self, qid):
        return [l for l in self.log().splitlines() if "%s: to=<" % qid in l]


@pytest.fixture
def env(tmp_path):
    return Env(tmp_path)


@pytest.fixture
def sinks():
    made = []

    def make(*args, **kw):
        s = Sink(*args, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


@pytest.fixture
def dns(env):
    if not os.path.exists(DNSMASQ):
        pytest.skip("dnsmasq is not installed")
    started = []

    def start(records):
        d = Dnsmasq(records)
        started.append(d)
        env.set_resolver(d.port)
        return d
    yield start
    for d in started:
        d.stop()


LOG_RX = (r"postfix/(smtp|lmtp)\[\d+\]: {qid}: to=<{to}>, relay={relay}, delay=[\d.]+, "
          r"delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn={dsn}, status={status} \((?P<reason>.*)\)$")


def assert_logged(env, qid, to, relay, dsn, status, reason=None):
    rx = re.compile(LOG_RX.format(qid=qid, to=re.escape(to), relay=re.escape(relay),
                                  dsn=re.escape(dsn), status=status))
    for line in env.status_lines(qid):
        m = rx.search(line)
        if m and (reason is None or m.group("reason") == reason
                  or (hasattr(reason, "search") and reason.search(m.group("reason")))):
            return m.group("reason")
    raise AssertionError("no log line for %s to=<%s> relay=%s dsn=%s status=%s reason=%r; log:\n%s"
                         % (qid, to, relay, dsn, status, reason, env.log()))


# ---------------------------------------------------------------- tests: routing

def test_literal_relay_no_mx(env, sinks):
    s = sinks("127.0.0.2")
    msg = env.message(body="line one\n.dot line\n..two dots\nlast line without newline")
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert st[0]["outcome"] == 0 and st[0]["dsn"] == "2.0.0"
    relay = "127.0.0.2[127.0.0.2]:%d" % s.port
    assert st[0]["relay"] == relay
    assert st[0]["reason"] == "250 2.0.0 Ok: queued as SINK1"
    assert_logged(env, msg["qid"], "user@example.net", relay, "2.0.0", "sent",
                  "250 2.0.0 Ok: queued as SINK1")
    sess = s.sessions[0]
    assert sess["helo"] == "EHLO " + MYHOST
    tr = sess["transactions"][0]
    assert tr["mail"].startswith("MAIL FROM:<sender@example.jp> SIZE=%d" % msg["size"])
    assert tr["rcpts"] == ["user@example.net"]
    data = tr["data"]
    assert data.startswith(b"From: <sender@example.jp>\r\nTo: <user@example.net>\r\n")
    assert b"\r\n\r\nline one\r\n..dot line\r\n...two dots\r\nlast line without newline\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert s.wait_quit()[-1] == "QUIT"


def test_mx_preference_order(env, sinks, dns):
    port = free_port_everywhere(["127.0.0.2", "127.0.0.3"])
    s1 = sinks("127.0.0.2", port, name="mx1.example.test")
    s2 = sinks("127.0.0.3", port, name="mx2.example.test")
    dns(["--mx-host=example.test,mx2.example.test,20", "--mx-host=example.test,mx1.example.test,10",
         "--host-record=mx1.example.test,127.0.0.2", "--host-record=mx2.example.test,127.0.0.3"])
    msg = env.message(rcpts=["user@example.test"])
    st = env.deliver(msg, "example.test:%d" % port)
    assert st[0]["outcome"] == 0
    assert st[0]["relay"] == "mx1.example.test[127.0.0.2]:%d" % port
    assert len(s1.transactions()) == 1 and len(s2.transactions()) == 0


def test_second_mx_when_first_refuses(env, sinks, dns):
    port = free_port_everywhere(["127.0.0.2", "127.0.0.3"])
    s2 = sinks("127.0.0.3", port, name="mx2.example.test")
    dns(["--mx-host=example.test,mx1.example.test,10", "--mx-host=example.test,mx2.example.test,20",
         "--host-record=mx1.example.test,127.0.0.2", "--host-record=mx2.example.test,127.0.0.3"])
    msg = env.message(rcpts=["user@example.test"])
    st = env.deliver(msg, "example.test:%d" % port)
    assert st[0]["outcome"] == 0
    relay = "mx2.example.test[127.0.0.3]:%d" % port
    assert_logged(env, msg["qid"], "user@example.test", relay, "2.0.0", "sent")
    assert "connect to mx1.example.test[127.0.0.2]:%d: Connection refused" % port in env.log()
    assert len(s2.transactions()) == 1


def test_a_record_when_no_mx(env, sinks, dns):
    s = sinks("127.0.0.4", name="plain.test")
    dns(["--host-record=plain.test,127.0.0.4"])
    msg = env.message(rcpts=["user@plain.test"])
    st = env.deliver(msg, "plain.test:%d" % s.port)
    assert st[0]["outcome"] == 0
    assert st[0]["relay"] == "plain.test[127.0.0.4]:%d" % s.port


def test_nxdomain_bounces(env, dns):
    dns(["--host-record=other.test,127.0.0.9"])
    msg = env.message(rcpts=["user@nowhere.test"])
    st = env.deliver(msg, "nowhere.test")
    assert st[0]["outcome"] == 5 and st[0]["dsn"] == "5.4.4"
    reason = ("Host or domain name not found. Name service error for name=nowhere.test "
              "type=MX: Host not found")
    assert st[0]["reason"] == reason
    assert_logged(env, msg["qid"], "user@nowhere.test", "none", "5.4.4", "bounced", reason)


def test_null_mx_bounces(env, dns):
    dns(["--mx-host=nullmx.test,.,0"])
    msg = env.message(rcpts=["user@nullmx.test"])
    st = env.deliver(msg, "nullmx.test")
    assert st[0]["outcome"] == 5 and st[0]["dsn"] == "5.1.0"
    assert_logged(env, msg["qid"], "user@nullmx.test", "none", "5.1.0", "bounced",
                  "Domain nullmx.test does not accept mail (nullMX)")


def test_dns_failure_defers(env):
    # The resolver of dns_resolver_conf does not answer: try again later.
    msg = env.message(rcpts=["user@example.test"])
    st = env.deliver(msg, "example.test")
    assert st[0]["outcome"] == 4 and st[0]["dsn"] == "4.4.3"
    assert_logged(env, msg["qid"], "user@example.test", "none", "4.4.3", "deferred",
                  "Host or domain name not found. Name service error for name=example.test "
                  "type=MX: Host not found, try again")


def test_unreadable_resolver_conf_defers(env):
    env.write(dns_resolver_conf=os.path.join(env.root, "missing.conf"))
    msg = env.message(rcpts=["user@example.test"])
    st = env.deliver(msg, "example.test")
    assert st[0]["outcome"] == 4 and st[0]["dsn"] == "4.4.3"
    assert re.search(r"warning: dns_resolver_conf: cannot read .*missing.conf", env.log())


def test_resolver_over_ipv6(env, sinks):
    if not os.path.exists(DNSMASQ):
        pytest.skip("dnsmasq is not installed")
    s = sinks("127.0.0.2", name="mx.six.test")
    try:
        d = Dnsmasq(["--mx-host=six.test,mx.six.test,10", "--host-record=mx.six.test,127.0.0.2"],
                    listen="::1")
    except (OSError, RuntimeError):
        pytest.skip("no IPv6 loopback for dnsmasq")
    try:
        with open(env.resolv, "w") as f:
            f.write("nameserver [::1]:%d\noptions timeout:1 attempts:1\n" % d.port)
        msg = env.message(rcpts=["user@six.test"])
        st = env.deliver(msg, "six.test:%d" % s.port)
        assert st[0]["outcome"] == 0, st[0]
        assert st[0]["relay"] == "mx.six.test[127.0.0.2]:%d" % s.port
    finally:
        d.stop()


def test_mx_host_without_address(env, dns):
    dns(["--mx-host=broken.test,gone.broken.test,10"])
    msg = env.message(rcpts=["user@broken.test"])
    st = env.deliver(msg, "broken.test")
    assert st[0]["outcome"] == 5 and st[0]["dsn"] == "5.4.4"
    assert "name=gone.broken.test type=A: Host not found" in st[0]["reason"]


def test_connection_refused_defers(env):
    port = free_port("127.0.0.2")
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.2]:%d" % port)
    reason = "connect to 127.0.0.2[127.0.0.2]:%d: Connection refused" % port
    assert st[0]["outcome"] == 4 and st[0]["dsn"] == "4.4.1"
    assert_logged(env, msg["qid"], "user@example.net", "none", "4.4.1", "deferred", reason)


def test_fallback_relay(env, sinks):
    down = free_port("127.0.0.5")
    s = sinks("127.0.0.6")
    env.write(smtp_fallback_relay="[127.0.0.6]:%d" % s.port)
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.5]:%d" % down)
    assert st[0]["outcome"] == 0
    assert st[0]["relay"] == "127.0.0.6[127.0.0.6]:%d" % s.port
    assert "connect to 127.0.0.5[127.0.0.5]:%d: Connection refused" % down in env.log()


def test_relayhost_list_second_host(env, sinks):
    down = free_port("127.0.0.5")
    s = sinks("127.0.0.7")
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.5]:%d, [127.0.0.7]:%d" % (down, s.port))
    assert st[0]["outcome"] == 0
    assert st[0]["relay"] == "127.0.0.7[127.0.0.7]:%d" % s.port


def test_dns_disabled_uses_native_lookup(env, sinks):
    # No MX lookup, even without brackets; the host comes from /etc/hosts.
    s = sinks("127.0.0.1")
    env.write(smtp_dns_support_level="disabled")
    msg = env.message()
    st = env.deliver(msg, "localhost:%d" % s.port)
    assert st[0]["outcome"] == 0, st[0]
    assert st[0]["relay"] == "localhost[127.0.0.1]:%d" % s.port


def test_fallback_relay_for_unknown_domain(env, sinks, dns):
    dns(["--host-record=other.test,127.0.0.9"])
    s = sinks("127.0.0.6")
    env.write(smtp_fallback_relay="[127.0.0.6]:%d" % s.port)
    msg = env.message(rcpts=["user@nowhere.test"])
    st = env.deliver(msg, "nowhere.test")
    assert st[0]["outcome"] == 0


# ---------------------------------------------------------------- tests: loops
# As Postfix, the client looks for loops only when it talks SMTP to port 25:
# a content filter or another instance on this host (another port) may well
# greet with our own name. These tests need port 25 on 127.0.0.2/3.

def sink25(sinks, host, **kw):
    try:
        return sinks(host, 25, **kw)
    except OSError as e:
        pytest.skip("port 25 on %s is not free: %s" % (host, e))


def test_greeting_with_my_name_loops(env, sinks):
    s = sink25(sinks, "127.0.0.2", name=MYHOST)
    msg = env.message()
    nexthop = "[127.0.0.2]"
    st = env.deliver(msg, nexthop)
    assert st[0]["outcome"] == 5 and st[0]["dsn"] == "5.4.6"
    assert st[0]["reason"] == "mail for %s loops back to myself" % nexthop
    assert "greeted me with my own hostname %s" % MYHOST in env.log()
    assert s.transactions() == []


def test_ehlo_reply_with_my_name_loops(env, sinks):
    s = sink25(sinks, "127.0.0.2", name=MYHOST, greeting="220 other.test ESMTP")
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.2]:25")
    assert st[0]["outcome"] == 5 and st[0]["dsn"] == "5.4.6"
    assert "replied to HELO/EHLO with my own hostname %s" % MYHOST in env.log()


def test_my_name_on_another_port_is_no_loop(env, sinks):
    """A filter on port 10024-style ports answering with our name is fine."""
    s = sinks("127.0.0.2", name=MYHOST)
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert st[0]["outcome"] == 0 and st[0]["dsn"] == "2.0.0"
    assert "my own hostname" not in env.log()
    assert len(s.transactions()) == 1


def test_mx_pointing_at_myself_loops(env, dns):
    dns(["--mx-host=self.test,mx.self.test,10", "--host-record=mx.self.test,127.0.0.1"])
    msg = env.message(rcpts=["user@self.test"])
    st = env.deliver(msg, "self.test")
    assert st[0]["outcome"] == 5 and st[0]["dsn"] == "5.4.6"
    assert st[0]["reason"] == "mail for self.test loops back to myself"


def test_worse_mx_than_myself_is_not_used(env, sinks, dns):
    port = 25
    s1 = sink25(sinks, "127.0.0.2", name="mx1.backup.test")
    s3 = sink25(sinks, "127.0.0.3", name="mx3.backup.test")
    dns(["--mx-host=backup.test,mx1.backup.test,10", "--mx-host=backup.test,me.backup.test,20",
         "--mx-host=backup.test,mx3.backup.test,30", "--host-record=mx1.backup.test,127.0.0.2",
         "--host-record=me.backup.test,127.0.0.1", "--host-record=mx3.backup.test,127.0.0.3"])
    s1.opts["rcpt_replies"] = {"user@backup.test": "450 4.2.0 try later"}
    msg = env.message(rcpts=["user@backup.test"])
    st = env.deliver(msg, "backup.test:%d" % port)
    assert st[0]["outcome"] == 4
    assert "450 4.2.0 try later" in st[0]["reason"]
    assert s3.sessions == []


# ---------------------------------------------------------------- tests: the session

def test_per_recipient_results_in_one_pipelined_transaction(env, sinks):
    s = sinks("127.0.0.2", rcpt_replies={
        "bad@example.net": "550 5.1.1 <bad@example.net>: Recipient address rejected: User unknown",
        "later@example.net": "450 4.2.0 <later@example.net>: Recipient address rejected: Greylisted"})
    msg = env.message(rcpts=["good@example.net", "bad@example.net", "later@example.net"])
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert [st[i]["outcome"] for i in range(3)] == [0, 5, 4]
    relay = "127.0.0.2[127.0.0.2]:%d" % s.port
    assert_logged(env, msg["qid"], "bad@example.net", relay, "5.1.1", "bounced",
                  "host 127.0.0.2[127.0.0.2] said: 550 5.1.1 <bad@example.net>: Recipient "
                  "address rejected: User unknown (in reply to RCPT TO command)")
    assert_logged(env, msg["qid"], "later@example.net", relay, "4.2.0", "deferred",
                  "host 127.0.0.2[127.0.0.2] said: 450 4.2.0 <later@example.net>: Recipient "
                  "address rejected: Greylisted (in reply to RCPT TO command)")
    assert st[1]["diag_type"] == "smtp" and st[1]["diag_text"].startswith("550 5.1.1")
    trs = s.transactions()
    assert len(trs) == 1 and len(s.sessions) == 1
    assert trs[0]["rcpts"] == ["good@example.net", "bad@example.net", "later@example.net"]
    assert trs[0]["pipelined"]


def test_no_pipelining_lock_step(env, sinks):
    s = sinks("127.0.0.2", features=["SIZE 10240000", "8BITMIME"])
    msg = env.message(rcpts=["a@example.net", "b@example.net"])
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert [st[i]["outcome"] for i in range(2)] == [0, 0]
    tr = s.transactions()[0]
    assert not tr["pipelined"]
    assert tr["rcpts"] == ["a@example.net", "b@example.net"]


def test_recipient_limit_splits_transactions(env, sinks):
    s = sinks("127.0.0.2")
    env.write(smtp_destination_recipient_limit="2")
    rc = ["r%d@example.net" % i for i in range(5)]
    msg = env.message(rcpts=rc)
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert all(st[i]["outcome"] == 0 for i in range(5))
    assert len(s.sessions) == 1
    assert [t["rcpts"] for t in s.transactions()] == [rc[0:2], rc[2:4], rc[4:5]]


def test_mail_from_rejected_bounces_all(env, sinks):
    s = sinks("127.0.0.2", mail_reply="553 5.7.1 <sender@example.jp>: Sender address rejected")
    msg = env.message(rcpts=["a@example.net", "b@example.net"])
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    for i in range(2):
        assert st[i]["outcome"] == 5 and st[i]["dsn"] == "5.7.1"
        assert st[i]["reason"].endswith("(in reply to MAIL FROM command)")


def test_end_of_data_rejected(env, sinks):
    s = sinks("127.0.0.2", eod_reply="554 5.7.1 Message rejected: spam")
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert st[0]["outcome"] == 5
    assert st[0]["reason"] == ("host 127.0.0.2[127.0.0.2] said: 554 5.7.1 Message rejected: spam "
                               "(in reply to end of DATA command)")


def test_5xx_greeting_tries_next_host_then_defers(env, sinks):
    s1 = sinks("127.0.0.2", greeting="554 5.3.2 go away")
    s2 = sinks("127.0.0.3")
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.2]:%d, [127.0.0.3]:%d" % (s1.port, s2.port))
    assert st[0]["outcome"] == 0 and len(s2.transactions()) == 1
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.2]:%d" % s1.port)
    assert st[0]["outcome"] == 4 and st[0]["dsn"] == "4.3.2"
    assert st[0]["reason"] == "host 127.0.0.2[127.0.0.2] refused to talk to me: 554 5.3.2 go away"
    env.write(smtp_skip_5xx_greeting="no")
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.2]:%d" % s1.port)
    assert st[0]["outcome"] == 5 and st[0]["dsn"] == "5.3.2"


def test_ehlo_rejected_falls_back_to_helo(env, sinks):
    s = sinks("127.0.0.2", ehlo_reply="502 5.5.2 Error: command not recognized")
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert st[0]["outcome"] == 0
    assert s.sessions[0]["commands"][:2] == ["EHLO " + MYHOST, "HELO " + MYHOST]
    assert s.transactions()[0]["mail"] == "MAIL FROM:<sender@example.jp>"


def test_size_refused_before_mail(env, sinks):
    s = sinks("127.0.0.2", features=["PIPELINING", "SIZE 100"])
    msg = env.message(body="x" * 500 + "\n")
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert st[0]["outcome"] == 5 and st[0]["dsn"] == "5.3.4"
    assert st[0]["reason"] == ("message size %d exceeds size limit 100 of server "
                               "127.0.0.2[127.0.0.2]" % msg["size"])
    assert s.transactions() == []


def test_dsn_and_8bitmime_parameters(env, sinks):
    s = sinks("127.0.0.2")
    msg = env.message(flags=2, body="caf\xe9\n")
    req = env.request(msg, "[127.0.0.2]:%d" % s.port, dsn_envid="env id+1", dsn_ret=2, rcpts=[
        {"address": "user@example.net", "notify": 2 | 4, "orcpt": "rfc822;Orig@example.net"},
        {"address": "two@example.net", "orig": "alias@example.jp", "notify": 1}])
    st = env.run([(req, 2)])[0]
    assert st[0]["outcome"] == 0 and st[1]["outcome"] == 0
    tr = s.transactions()[0]
    assert " BODY=8BITMIME" in tr["mail"]
    assert " RET=HDRS" in tr["mail"] and " ENVID=env+20id+2B1" in tr["mail"]
    assert tr["rcpt_lines"][0] == ("RCPT TO:<user@example.net> NOTIFY=SUCCESS,FAILURE "
                                   "ORCPT=rfc822;Orig@example.net")
    assert tr["rcpt_lines"][1] == ("RCPT TO:<two@example.net> NOTIFY=NEVER "
                                   "ORCPT=rfc822;alias@example.jp")


def test_no_dsn_parameters_without_dsn(env, sinks):
    s = sinks("127.0.0.2", features=["PIPELINING"])
    msg = env.message(flags=2)
    req = env.request(msg, "[127.0.0.2]:%d" % s.port, dsn_envid="x", dsn_ret=1,
                      rcpts=[{"address": "user@example.net", "notify": 2}])
    env.run([(req, 1)])
    tr = s.transactions()[0]
    assert tr["mail"] == "MAIL FROM:<sender@example.jp>"
    assert tr["rcpt_lines"] == ["RCPT TO:<user@example.net>"]


def test_null_sender_and_quoting(env, sinks):
    s = sinks("127.0.0.2")
    msg = env.message(sender="", rcpts=["john doe@example.net"])
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert st[0]["outcome"] == 0
    tr = s.transactions()[0]
    assert tr["mail"].startswith("MAIL FROM:<> ")
    assert tr["rcpt_lines"] == ['RCPT TO:<"john doe"@example.net> '
                                'ORCPT=rfc822;"john+20doe"@example.net']


def test_long_lines_are_folded(env, sinks):
    s = sinks("127.0.0.2")
    env.write(smtp_line_length_limit="50")
    long = "a" * 120
    msg = env.message(body=long + "\n")
    env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    data = s.transactions()[0]["data"]
    body = data.split(b"\r\n\r\n", 1)[1]
    assert body == b"a" * 50 + b"\r\n " + b"a" * 49 + b"\r\n " + b"a" * 21 + b"\r\n"


def test_lost_connection_at_greeting(env, sinks):
    s1 = sinks("127.0.0.2", close_at="connect")
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.2]:%d" % s1.port)
    assert st[0]["outcome"] == 4 and st[0]["dsn"] == "4.4.2"
    relay = "127.0.0.2[127.0.0.2]:%d" % s1.port
    assert_logged(env, msg["qid"], "user@example.net", relay, "4.4.2", "deferred",
                  "lost connection with 127.0.0.2[127.0.0.2] while receiving the initial "
                  "server greeting")


def test_greeting_timeout(env, sinks):
    s = sinks("127.0.0.2", silent=True)
    env.write(smtp_helo_timeout="1s")
    msg = env.message()
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert st[0]["outcome"] == 4
    assert st[0]["reason"] == ("conversation with 127.0.0.2[127.0.0.2] timed out while "
                               "receiving the initial server greeting")


def test_connection_reuse(env, sinks):
    s = sinks("127.0.0.2")
    nexthop = "[127.0.0.2]:%d" % s.port
    m1, m2 = env.message(), env.message()
    res = env.run([(env.request(m1, nexthop), 1), (env.request(m2, nexthop), 1)])
    assert res[0][0]["outcome"] == 0 and res[1][0]["outcome"] == 0
    assert len(s.sessions) == 1
    cmds = s.wait_quit()
    assert "RSET" in cmds and cmds.count("DATA") == 2 and cmds[-1] == "QUIT"


def test_no_reuse_when_disabled(env, sinks):
    s = sinks("127.0.0.2")
    env.write(smtp_connection_cache_on_demand="no")
    nexthop = "[127.0.0.2]:%d" % s.port
    m1, m2 = env.message(), env.message()
    env.run([(env.request(m1, nexthop), 1), (env.request(m2, nexthop), 1)])
    assert len(s.wait_sessions(2)) == 2


def test_cached_connection_closed_when_idle(env, sinks):
    s = sinks("127.0.0.2")
    env.write(smtp_connection_cache_time_limit="1s")
    nexthop = "[127.0.0.2]:%d" % s.port
    m1 = env.message()
    req1 = env.request(m1, nexthop)
    exe_env = dict(os.environ, MAIL_CONFIG=env.config)
    ours, theirs = socket.socketpair()
    p = subprocess.Popen(["smtp", "-S"], executable=SMTP, stdin=theirs, env=exe_env,
                         stderr=subprocess.PIPE)
    theirs.close()
    r = AttrReader(ours)
    ours.sendall(req1)
    while r.read().get("request") != "done":
        pass
    time.sleep(2.5)         # the idle limit passes: the agent drops the session
    m2 = env.message()
    ours.sendall(env.request(m2, nexthop))
    a = r.read()
    assert a["outcome"] == 0, a
    r.read()
    ours.close()
    p.communicate(timeout=30)
    assert len(s.wait_sessions(2)) == 2


def test_transport_specific_recipient_limit(env, sinks):
    s = sinks("127.0.0.2")
    env.write(relay_destination_recipient_limit="1")
    msg = env.message(rcpts=["a@example.net", "b@example.net"])
    req = env.request(msg, "[127.0.0.2]:%d" % s.port, transport="relay")
    env.run([(req, 2)], service="relay")
    assert [t["rcpts"] for t in s.transactions()] == [["a@example.net"], ["b@example.net"]]


# ---------------------------------------------------------------- tests: IPv6

def test_aaaa_record(env, sinks, dns):
    try:
        s = sinks("::1", name="v6.test")
    except OSError:
        pytest.skip("no IPv6 loopback")
    dns(["--host-record=v6.test,::1"])
    env.write(inet_protocols="all")
    msg = env.message(rcpts=["user@v6.test"])
    st = env.deliver(msg, "v6.test:%d" % s.port)
    assert st[0]["outcome"] == 0
    assert st[0]["relay"] == "v6.test[::1]:%d" % s.port


# ---------------------------------------------------------------- tests: LMTP

def test_lmtp_unix_per_recipient_replies(env, sinks):
    path = os.path.join(env.root, "lmtp.sock")
    s = sinks(unix_path=path, lmtp=True, lmtp_replies={
        "bad@example.jp": "550 5.1.1 <bad@example.jp> User unknown",
        "full@example.jp": "452 4.2.2 <full@example.jp> Mailbox full"})
    msg = env.message(rcpts=["good@example.jp", "bad@example.jp", "full@example.jp"])
    st = env.deliver(msg, "unix:" + path, program="lmtp")
    assert [st[i]["outcome"] for i in range(3)] == [0, 5, 4]
    relay = "%s[%s]" % (MYHOST, path)
    assert st[0]["relay"] == relay
    assert st[0]["reason"] == "250 2.0.0 <good@example.jp> delivered"
    assert_logged(env, msg["qid"], "bad@example.jp", relay, "5.1.1", "bounced",
                  "host %s[%s] said: 550 5.1.1 <bad@example.jp> User unknown "
                  "(in reply to end of DATA command)" % (MYHOST, path))
    assert re.search(r"postfix/lmtp\[\d+\]: %s: to=<full@example.jp>.*status=deferred"
                     % msg["qid"], env.log())
    assert s.sessions[0]["helo"] == "LHLO " + MYHOST
    assert len(s.transactions()) == 1


def test_lmtp_relative_path_under_queue_directory(env, sinks):
    s = sinks(unix_path=os.path.join(env.queue, "private", "lmtp-test"), lmtp=True)
    msg = env.message(rcpts=["a@example.jp"])
    st = env.deliver(msg, "unix:private/lmtp-test", program="lmtp")
    assert st[0]["outcome"] == 0
    assert st[0]["relay"] == "%s[private/lmtp-test]" % MYHOST
    assert len(s.transactions()) == 1


def test_lmtp_inet(env, sinks):
    s = sinks("127.0.0.2", lmtp=True)
    msg = env.message(rcpts=["a@example.jp", "b@example.jp"])
    st = env.deliver(msg, "inet:127.0.0.2:%d" % s.port, program="lmtp")
    assert st[0]["outcome"] == 0 and st[1]["outcome"] == 0
    assert st[1]["reason"] == "250 2.0.0 <b@example.jp> delivered"
    assert s.sessions[0]["helo"] == "LHLO " + MYHOST


def test_lmtp_no_loop_check(env, sinks):
    path = os.path.join(env.root, "lmtp2.sock")
    s = sinks(unix_path=path, lmtp=True, name=MYHOST)
    msg = env.message(rcpts=["a@example.jp"])
    st = env.deliver(msg, "unix:" + path, program="lmtp")
    assert st[0]["outcome"] == 0


def test_lmtp_socket_missing(env):
    path = os.path.join(env.root, "nothing.sock")
    msg = env.message(rcpts=["a@example.jp"])
    st = env.deliver(msg, "unix:" + path, program="lmtp")
    assert st[0]["outcome"] == 4
    assert st[0]["reason"] == "connect to %s[%s]: No such file or directory" % (MYHOST, path)


# ---------------------------------------------------------------- tests: bad input

def test_bad_nexthop_defers(env):
    msg = env.message()
    st = env.deliver(msg, "[unclosed")
    assert st[0]["outcome"] == 4 and st[0]["dsn"] == "4.3.5"


def test_missing_queue_file_defers(env, sinks):
    s = sinks("127.0.0.2")
    msg = env.message()
    os.unlink(os.path.join(env.queue, "active", msg["qid"]))
    st = env.deliver(msg, "[127.0.0.2]:%d" % s.port)
    assert st[0]["outcome"] == 4 and st[0]["dsn"] == "4.3.0"
    assert s.sessions == []


# ---------------------------------------------------------------- a whole instance

def have_daemons(instance):
    return all(os.path.exists(os.path.join(instance.libexec, d))
               for d in ("master", "smtpd", "cleanup", "qmgr", "smtp"))


@pytest.fixture
def inst(request):
    from conftest import Instance
    try:
        hk_install = request.getfixturevalue("hk_install")
    except subprocess.CalledProcessError:
        pytest.fail("the build tree does not install")
    root = tempfile.mkdtemp(prefix="hk-smtp-inst-", dir="/tmp")
    os.chmod(root, 0o755)
    i = Instance(hk_install, os.path.join(root, "hk"))
    if not have_daemons(i):
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail("master, smtpd, cleanup, qmgr or smtp is not installed")
    yield i
    i.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_instance_relayhost(inst, sinks):
    """smtpd -> cleanup -> qmgr -> smtp -> a sink, as the send-only relay seed does."""
    s = sinks("127.0.0.2")
    inst.write_main_cf(relayhost="[127.0.0.2]:%d" % s.port)
    inst.start()
    c = inst.smtp()
    c.sendmail("app@example.jp", ["someone@example.net"], "Subject: relayed\n\nhello\n")
    c.quit()
    inst.wait_log(r"postfix/smtp\[\d+\]: \w+: to=<someone@example\.net>, "
                  r"relay=127\.0\.0\.2\[127\.0\.0\.2\]:%d, delay=[\d.]+, "
                  r"delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
                  r"status=sent \(250 2\.0\.0 Ok: queued as SINK1\)" % s.port, timeout=30)
    tr = s.transactions()[0]
    assert tr["rcpts"] == ["someone@example.net"]
    assert b"Subject: relayed\r\n" in tr["data"]


def test_instance_mx_lookup(inst, sinks):
    if not os.path.exists(DNSMASQ):
        pytest.skip("dnsmasq is not installed")
    s = sinks("127.0.0.3", name="mx.remote.test")
    d = Dnsmasq(["--mx-host=remote.test,mx.remote.test,10",
                 "--host-record=mx.remote.test,127.0.0.3"])
    try:
        conf = os.path.join(inst.root, "resolv.conf")
        with open(conf, "w") as f:
            f.write("nameserver 127.0.0.1:%d\noptions timeout:1 attempts:1\n" % d.port)
        inst.write_main_cf(dns_resolver_conf=conf, smtp_tcp_port=str(s.port))
        inst.start()
        c = inst.smtp()
        c.sendmail("app@example.jp", ["someone@remote.test"], "Subject: by mx\n\nhello\n")
        c.quit()
        inst.wait_log(r"to=<someone@remote\.test>, relay=mx\.remote\.test\[127\.0\.0\.3\]:%d, "
                      r".*status=sent" % s.port, timeout=30)
    finally:
        d.stop()
