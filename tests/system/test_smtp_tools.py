"""smtp-source and smtp-sink: Hikyaku's load generator and test server.

smtp-source sends straight into smtp-sink on loopback addresses
(127.0.0.x, free ports) or a UNIX socket; the tests assert the sink's
counters (its --count-file and its exit summary), the source's summary
line, the dump files, and what the sink's reject options do to the
source's counts. Nothing here asserts a time.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD_DIR, poll_until

SOURCE = os.path.join(BUILD_DIR, "smtp-source")
SINK = os.path.join(BUILD_DIR, "smtp-sink")

pytestmark = pytest.mark.skipif(not (os.path.exists(SOURCE) and os.path.exists(SINK)),
                                reason="smtp-source/smtp-sink are not built")


def free_port(addr):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def parse_kv(line):
    return dict(kv.split("=", 1) for kv in line.split())


class Sink:
    """A running smtp-sink with a count file."""

    def __init__(self, tmp, *opts, addr="127.0.0.2", unix=None):
        self.count_file = os.path.join(tmp, "count")
        if os.path.exists(self.count_file):
            os.unlink(self.count_file)
        if unix:
            self.endpoint = "unix:" + unix
        else:
            self.port = free_port(addr)
            self.endpoint = f"{addr}:{self.port}"
        self.proc = subprocess.Popen(
            [SINK, "--count-file", self.count_file, "--summary", "--max-time", "120", *opts,
             self.endpoint, "100"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert poll_until(lambda: os.path.exists(self.count_file), 10), "sink did not start"

    def counts(self):
        try:
            with open(self.count_file) as f:
                return {k: float(v) if "." in v else int(v)
                        for k, v in parse_kv(f.read()).items()}
        except (OSError, ValueError):
            return {}

    def wait_messages(self, n, timeout=30):
        poll_until(lambda: self.counts().get("messages", 0) >= n, timeout)
        return self.counts()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        return out, err


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="hk-tools-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def sinks():
    started = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def start_sink(sinks, tmp, *opts, **kw):
    s = Sink(tmp, *opts, **kw)
    sinks.append(s)
    return s


def source(*args, timeout=120):
    return subprocess.run([SOURCE, *args], capture_output=True, text=True, timeout=timeout)


def summary(r):
    lines = [l for l in r.stdout.splitlines() if l.startswith("messages=")]
    assert lines, f"no summary line: {r.stdout!r} {r.stderr!r}"
    return parse_kv(lines[-1])


# ---------------------------------------------------------------- tests

def test_source_into_sink(tmp, sinks):
    sink = start_sink(sinks, tmp)
    r = source("-m", "200", "-s", "10", "-l", "1024", "-M", "client.example.jp",
               "-f", "a@example.jp", "-t", "b@example.jp", "--summary", "--latency",
               sink.endpoint)
    assert r.returncode == 0, r.stderr
    s = summary(r)
    assert s["messages"] == "200"
    assert s["errors"] == "0"
    assert float(s["seconds"]) > 0 and float(s["rate"]) > 0
    assert float(s["p50_ms"]) <= float(s["p99_ms"])
    assert re.search(r"^latency: samples=200 min_ms=\S+ p50_ms=\S+ p90_ms=\S+ p99_ms=\S+ "
                     r"max_ms=\S+$", r.stdout, re.M)
    c = sink.wait_messages(200)
    assert c["messages"] == 200
    assert c["recipients"] == 200
    assert c["sessions"] == 200             # a new connection per message by default
    assert c["bytes"] > 200 * 1024
    assert 0 < c["first"] <= c["last"] <= time.monotonic()
    out, _ = sink.stop()
    assert sink.proc.returncode == 0
    assert parse_kv(out.strip().splitlines()[-1])["messages"] == "200"


def test_reuse_recipients_pipelining(tmp, sinks):
    sink = start_sink(sinks, tmp, addr="127.0.0.3")
    r = source("-d", "-P", "-m", "50", "-s", "5", "-r", "7", "-N", "--summary", sink.endpoint)
    assert r.returncode == 0, r.stderr
    assert summary(r)["messages"] == "50"
    c = sink.wait_messages(50)
    assert c["recipients"] == 350
    assert c["sessions"] == 5               # -d: one connection per session
    # Waits between messages, over the same connection and over new ones.
    for extra in (["-d"], []):
        r = source(*extra, "-w", "0.01", "-R", "0.02", "-m", "6", "-s", "2", "--summary",
                   sink.endpoint)
        assert r.returncode == 0, r.stderr
        assert summary(r)["messages"] == "6"
    assert sink.wait_messages(62)["messages"] == 62


def test_dump_files(tmp, sinks):
    dump = os.path.join(tmp, "dump")
    os.mkdir(dump)
    sink = start_sink(sinks, tmp, "-d", dump, "-h", "sink.example.jp")
    r = source("-m", "3", "-r", "2", "-l", "300", "-S", "hello there", "-M", "client.example.jp",
               "-t", "rcpt@example.jp", "--summary", sink.endpoint)
    assert r.returncode == 0, r.stderr
    sink.wait_messages(3)
    files = sorted(os.listdir(dump))
    assert len(files) == 3
    for name in files:
        text = open(os.path.join(dump, name)).read()
        assert text.startswith("X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\n"
                               "X-Helo-Args: client.example.jp\nX-Mail-Args: FROM:<foo@"
                               "client.example.jp>\n")
        assert "X-Rcpt-Args: TO:<1rcpt@example.jp>\nX-Rcpt-Args: TO:<2rcpt@example.jp>\n" in text
        assert "by sink.example.jp (smtp-sink) with ESMTP id " in text
        assert "\nSubject: hello there\n" in text
        assert "\r" not in text
        body = text.split("\n\n", 1)[1]     # after the message header
        assert len(body.replace("\n", "\r\n")) - 2 == 300   # the trailing empty line


def test_file_message_is_dot_stuffed(tmp, sinks):
    dump = os.path.join(tmp, "dump")
    os.mkdir(dump)
    msg = os.path.join(tmp, "msg")
    with open(msg, "w") as f:
        f.write("Subject: dots\n\n.one\n..two\n.\nend\n")
    sink = start_sink(sinks, tmp, "-d", dump + "/")
    r = source("-F", msg, "-m", "1", sink.endpoint)
    assert r.returncode == 0, r.stderr
    sink.wait_messages(1)
    [name] = os.listdir(dump)
    text = open(os.path.join(dump, name)).read()
    assert text.endswith("Subject: dots\n\n.one\n..two\n.\nend\n\n")


def test_reject_rcpt_hard(tmp, sinks):
    sink = start_sink(sinks, tmp, "-f", "rcpt:550")
    # Without -A the first unexpected reply ends the run.
    r = source("-m", "5", sink.endpoint)
    assert r.returncode == 1
    assert "fatal: RCPT: 550 5.3.0 Error: command failed" in r.stderr
    # With -A every message is counted as an error and the run goes on.
    r = source("-A", "-m", "20", "-s", "4", "--summary", sink.endpoint)
    assert r.returncode == 1
    s = summary(r)
    assert s["messages"] == "0" and s["errors"] == "20"
    assert s["p50_ms"] == "-"
    assert poll_until(lambda: sink.counts().get("sessions") == 21, 10), sink.counts()
    assert sink.counts()["messages"] == 0


def test_defer_data_and_dot(tmp, sinks):
    sink = start_sink(sinks, tmp, "-r", "data:451")
    r = source("-A", "-m", "10", "-s", "2", "--summary", sink.endpoint)
    s = summary(r)
    assert (s["messages"], s["errors"]) == ("0", "10")
    sink.stop()
    sink2 = start_sink(sinks, tmp, "-f", ".", "-B", "554 5.7.1 No thanks")
    r = source("-A", "-d", "-m", "10", "-s", "2", "--summary", "--latency", sink2.endpoint)
    s = summary(r)
    assert (s["messages"], s["errors"]) == ("0", "10")
    assert "latency: samples=10" in r.stdout    # the reply to "." was still timed
    assert sink2.counts()["messages"] == 0


def test_421_and_disconnect(tmp, sinks):
    sink = start_sink(sinks, tmp, "-Q", "mail")
    r = source("-A", "-m", "6", "-s", "3", "--summary", sink.endpoint)
    s = summary(r)
    assert (s["messages"], s["errors"]) == ("0", "6")
    sink.stop()
    sink2 = start_sink(sinks, tmp, "-q", "data")
    r = source("-A", "-m", "4", "--summary", sink2.endpoint)
    s = summary(r)
    assert (s["messages"], s["errors"]) == ("0", "4")


def test_all_recipients_refused(tmp, sinks):
    sink = start_sink(sinks, tmp, "-r", "rcpt")
    r = source("-A", "-m", "2", "-r", "2", "--summary", sink.endpoint)
    s = summary(r)
    assert (s["messages"], s["errors"]) == ("0", "2")
    assert sink.counts()["messages"] == 0     # all refused: no DATA, RSET


def test_lmtp_over_unix_socket(tmp, sinks):
    path = os.path.join(tmp, "lmtp.sock")
    sink = start_sink(sinks, tmp, "-L", unix=path)
    r = source("-L", "-m", "30", "-s", "3", "-r", "4", "-d", "--summary", "unix:" + path)
    assert r.returncode == 0, r.stderr
    assert summary(r)["messages"] == "30"
    c = sink.wait_messages(30)
    assert c["recipients"] == 120
    sink.stop()
    assert not os.path.exists(path)


def test_pipelined_client_gets_pipelined_replies(tmp, sinks):
    sink = start_sink(sinks, tmp, addr="127.0.0.4")
    with socket.create_connection(("127.0.0.4", sink.port), timeout=10) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220 ")
        s.sendall(b"EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n")
        lines = [f.readline() for _ in range(9)]
        assert lines[-1].startswith(b"354 ")
        assert [l[:4] for l in lines[5:8]] == [b"250 "] * 3
        s.sendall(b"Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        assert f.readline().startswith(b"250 2.0.0 Ok: queued as ")
        assert f.readline().startswith(b"221 ")
        assert f.readline() == b""              # closed after QUIT
    c = sink.wait_messages(1)
    assert c["recipients"] == 2


def test_sink_limits_and_signals(tmp, sinks):
    sink = start_sink(sinks, tmp, "-M", "5")
    r = source("-m", "5", "-s", "5", "--summary", sink.endpoint)
    assert summary(r)["messages"] == "5"
    sink.proc.wait(timeout=30)                  # -M: exits by itself
    assert sink.proc.returncode == 0
    assert sink.counts()["messages"] == 5

    sink2 = start_sink(sinks, tmp)
    source("-m", "3", sink2.endpoint)
    sink2.wait_messages(3)
    sink2.proc.send_signal(signal.SIGUSR1)
    line = sink2.proc.stdout.readline()
    assert parse_kv(line)["messages"] == "3"
    sink2.stop()


def test_timeout_ends_the_run(tmp, sinks):
    sink = start_sink(sinks, tmp, "-w", "30")   # sits on DATA
    r = source("-A", "--timeout", "1", "-m", "1", "--summary", sink.endpoint)
    s = summary(r)
    assert (s["messages"], s["errors"]) == ("0", "1")


def test_connection_refused(tmp):
    port = free_port("127.0.0.5")
    r = source("-m", "2", f"127.0.0.5:{port}")
    assert r.returncode == 1 and "connect" in r.stderr
    r = source("-A", "-C", "2", "-m", "3", "--summary", f"127.0.0.5:{port}")
    s = summary(r)
    assert (s["messages"], s["errors"]) == ("0", "3")


def test_usage_errors(tmp):
    for args in (["-m", "0", "127.0.0.1:25"], [], ["-x", "127.0.0.1"]):
        r = source(*args)
        assert r.returncode == 1
        assert "usage: smtp-source" in r.stderr
    for args in (["127.0.0.1:25"], ["-r", "rcpt:550", "127.0.0.1:25", "1"],
                 ["-f", "bogus", "127.0.0.1:25", "1"]):
        r = subprocess.run([SINK, *args], capture_output=True, text=True, timeout=10)
        assert r.returncode == 1
        assert "usage: smtp-sink" in r.stderr
    for prog, name in ((SOURCE, "smtp-source"), (SINK, "smtp-sink")):
        r = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and r.stdout.startswith("usage: " + name)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to change user")
def test_sink_drops_privileges(tmp, sinks):
    os.chmod(tmp, 0o777)                        # nobody keeps the count file there
    sink = start_sink(sinks, tmp, "-u", "nobody")
    with open(f"/proc/{sink.proc.pid}/status") as f:
        uids = re.search(r"^Uid:\s+(.*)$", f.read(), re.M).group(1).split()
    nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True,
                                text=True).stdout)
    assert [int(u) for u in uids] == [nobody] * 4


def test_installed_in_sbin(hk_install):
    for prog in ("smtp-source", "smtp-sink"):
        assert os.access(os.path.join(hk_install, "sbin", prog), os.X_OK)
