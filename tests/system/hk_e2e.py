"""Helpers for the end-to-end system tests (test_relay.py, test_queue_behaviour.py).

- `more_instances`: further instances next to conftest's `instance`, each
  optionally on its own loopback address (127.0.0.x), as separate machines
  would be (each one's inet_interfaces is then only its own address);
- `make_users`: system users named hkt... (created with a home in a
  temporary directory and removed afterwards; runs from other build trees
  take turns through a lock file, as test_local.py does);
- small things every test needs: skipping while a daemon is not built,
  submitting over SMTP, swaks, sendmail, reading mailq.

Nothing here listens outside 127.0.0.0/8 or asks the machine's resolver.
"""
import contextlib
import fcntl
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import tempfile
import time

import pytest

from conftest import Instance, poll_until

ID = r"[0-9A-F]{6,}"
DELAYS = r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+"
DAEMONS = ("master", "smtpd", "cleanup", "qmgr", "smtp", "local", "bounce", "pickup", "showq")


def needs(inst, *programs):
    """Fail when a daemon the test needs is missing from the installed build."""
    missing = [p for p in programs or DAEMONS
               if not os.path.exists(os.path.join(inst.libexec, p))]
    if missing:
        pytest.fail("missing from the build: " + ", ".join(missing))


class HostInstance(Instance):
    """An Instance whose smtpd listens on another loopback address."""

    def __init__(self, prefix, root, host="127.0.0.1"):
        self.host = host
        super().__init__(prefix, root)
        if host != "127.0.0.1":
            self.write_main_cf(inet_interfaces=host)

    def master_cf_text(self, extra_services=""):
        text = super().master_cf_text(extra_services)
        return text.replace(f"127.0.0.1:{self.smtp_port} ", f"{self.host}:{self.smtp_port} ", 1)

    def start(self):
        self.postfix("start")
        self.started = True
        assert poll_until(lambda: self.port_open(self.smtp_port, self.host), 15), \
            "smtpd port not open"

    def smtp(self, source_address=None, timeout=15):
        s = smtplib.SMTP(timeout=timeout,
                         source_address=(source_address, 0) if source_address else None)
        s.connect(self.host, self.smtp_port)
        return s


@contextlib.contextmanager
def more_instances(hk_install):
    """Yields make(host="127.0.0.1") -> a started-later HostInstance; all are
    stopped and removed at the end."""
    made = []

    def make(host="127.0.0.1"):
        root = tempfile.mkdtemp(prefix="hk-e2e-")
        os.chmod(root, 0o755)
        inst = HostInstance(hk_install, os.path.join(root, "hk"), host)
        if host != "127.0.0.1":
            # smtpd_port must be free on this address too
            inst.smtp_port = free_port_on(host)
            inst.write_master_cf()
        made.append((inst, root))
        return inst
    try:
        yield make
    finally:
        for inst, root in made:
            inst.stop()
        for inst, root in made:
            shutil.rmtree(root, ignore_errors=True)


def free_port_on(*addrs):
    """A TCP port that is free on every one of addrs."""
    import socket
    for _ in range(50):
        with socket.socket() as s:
            s.bind((addrs[0], 0))
            port = s.getsockname()[1]
        ok = True
        for a in addrs[1:]:
            with socket.socket() as t:
                try:
                    t.bind((a, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no common free port")


def resolv_conf(inst, dns=None):
    """Point dns_resolver_conf at dnsmasq (or at a file with no server at
    all: then every DNS lookup fails, which proves none was made)."""
    path = os.path.join(inst.root, "resolv.conf")
    with open(path, "w") as f:
        if dns:
            f.write(f"nameserver 127.0.0.1:{dns.port}\noptions timeout:1 attempts:1\n")
        else:
            f.write("# no nameserver: the mail system must not need DNS\n")
    inst.write_main_cf(dns_resolver_conf=path)
    return path


def submit(inst, sender, rcpts, subject="test", body="hello\n", source=None, headers=""):
    """One message over SMTP; returns the queue ID from `250 ... queued as ID`."""
    s = inst.smtp(source_address=source)
    s.ehlo("client.example")
    code, msg = s.mail(sender)
    assert code == 250, msg
    for r in rcpts:
        code, msg = s.rcpt(r)
        assert code == 250, msg
    code, msg = s.data(f"From: <{sender}>\nTo: <{rcpts[0]}>\nSubject: {subject}\n"
                       f"{headers}\n{body}")
    s.quit()
    assert code == 250, msg
    m = re.search(rb"queued as ([0-9A-Za-z]+)", msg)
    assert m, msg
    return m.group(1).decode()


def swaks(inst, *args, source=None):
    """Run swaks against inst's smtpd; returns (exit status, transcript)."""
    if not shutil.which("swaks"):
        pytest.skip("swaks is not installed")
    host = getattr(inst, "host", "127.0.0.1")
    cmd = ["swaks", "--server", host, "--port", str(inst.smtp_port), "--helo", "client.example",
           "--timeout", "15"]
    if source:
        cmd += ["--local-interface", source]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def sendmail(inst, *args, input):
    """The sendmail command of inst, as an application runs it."""
    return inst.cmd("sendmail", *args, input=input)


def mailq(inst):
    """The mailq command as installed (a link to sendmail in $prefix/bin)."""
    path = os.path.join(inst.prefix, "bin", "mailq")
    r = subprocess.run([path], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MAIL_CONFIG=inst.config))
    assert r.returncode == 0, r.stderr
    return r.stdout


def queue_file(inst, queue, qid):
    return os.path.join(inst.queue, queue, qid)


def in_queue(inst, qid):
    """The queue directory that holds qid, or None."""
    for q in ("incoming", "active", "deferred", "hold", "corrupt"):
        if os.path.exists(queue_file(inst, q, qid)):
            return q
    return None


def wait_for(fn, timeout=20, what="condition"):
    v = poll_until(fn, timeout)
    assert v, f"{what} not met within {timeout}s"
    return v


# ---- test users ----

@contextlib.contextmanager
def make_users(*names, lock_name="hk-e2e-test-users"):
    """Create system users (names must start with hkt); yields {name: pwd entry}.
    Runs from other build trees that use the same names take turns through
    /tmp/LOCK_NAME.lock (one lock name per set of user names)."""
    assert all(n.startswith("hkt") for n in names)
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("creating test users needs root and useradd")
    lock = open(f"/tmp/{lock_name}.lock", "w")
    deadline = time.monotonic() + 400
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            if time.monotonic() > deadline:
                lock.close()
                # Not a skip: the plain and sanitized runs of a test take
                # turns here, and a skip would pass one that never ran.
                pytest.fail(f"another run held /tmp/{lock_name}.lock for 400 s")
            time.sleep(0.5)
    base = tempfile.mkdtemp(prefix="hk-e2e-homes-", dir="/tmp")
    os.chmod(base, 0o755)
    made = []
    try:
        for u in names:
            try:
                pwd.getpwnam(u)         # left over from a run that was killed
                subprocess.run(["userdel", "-r", "-f", u], capture_output=True)
            except KeyError:
                pass
            subprocess.run(["useradd", "-m", "-d", os.path.join(base, u), "-s", "/bin/sh", u],
                           check=True, capture_output=True)
            made.append(u)
        yield {u: pwd.getpwnam(u) for u in names}
    finally:
        for u in made:
            subprocess.run(["userdel", "-r", "-f", u], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        lock.close()
