"""Shared fixtures for system tests: a real Hikyaku instance per test.

`hk_install` installs the build tree (HK_BUILD_DIR) once per pytest process
into a temporary prefix with `cmake --install`, so tests run the installed
commands and daemons. `instance` gives a fresh configuration, queue, data
directory and maillog_file on loopback ports; nothing touches /etc/postfix,
the system's queue or its DNS resolver. Add area-specific helpers in your
own test module (or a tests/system/hk_*.py module), not here, unless they
are generally useful.
"""
import grp
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

BUILD_DIR = os.environ.get("HK_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE_DIR = os.environ.get("HK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))


def pytest_configure(config):
    # Tests that take minutes (testssl.sh); deselect with -m "not slow".
    config.addinivalue_line("markers", "slow: takes minutes; deselect with -m 'not slow'")


def ensure_accounts():
    """The mail_owner and setgid_group must exist (tests run as root)."""
    if os.geteuid() != 0:
        return
    try:
        grp.getgrnam("postdrop")
    except KeyError:
        subprocess.run(["groupadd", "--system", "postdrop"], check=True)
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                        "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group",
                        "postfix"], check=True)


@pytest.fixture(scope="session")
def hk_install():
    prefix = tempfile.mkdtemp(prefix="hk-inst-")
    os.chmod(prefix, 0o755)
    subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", prefix],
                   check=True, stdout=subprocess.DEVNULL)
    ensure_accounts()
    yield prefix
    shutil.rmtree(prefix, ignore_errors=True)


def free_port(addr="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def poll_until(fn, timeout=15.0, interval=0.05):
    """Call fn until it returns a true value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            return v
        time.sleep(interval)


def make_traversable(path):
    """Let mail_owner reach path: pytest's temporary directories are 0700,
    and unprivileged daemons open the queue by absolute path."""
    p = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.gettempdir() + os.sep
    while p.startswith(tmp):
        os.chmod(p, os.stat(p).st_mode | 0o055)
        p = os.path.dirname(p)


def master_pid(inst):
    """The running master's pid from the pid file, or None."""
    try:
        with open(os.path.join(inst.queue, "pid", "master.pid")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def children_of(pid):
    """Direct child pids of pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return out


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Instance:
    """One Hikyaku instance: config dir, queue, data dir, maillog, ports."""

    def __init__(self, prefix, root):
        self.prefix = prefix
        self.root = root
        self.config = os.path.join(root, "etc")
        self.queue = os.path.join(root, "spool")
        self.data = os.path.join(root, "lib")
        self.maillog = os.path.join(root, "maillog")
        self.mailspool = os.path.join(root, "mail")
        self.sbin = os.path.join(prefix, "sbin")
        self.libexec = os.path.join(prefix, "libexec", "postfix")
        self.smtp_port = free_port()
        self.started = False
        os.makedirs(self.config)
        os.makedirs(self.mailspool)
        os.chmod(self.mailspool, 0o1777)
        os.chmod(root, 0o755)
        self.main_cf = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "command_directory": self.sbin,
            "daemon_directory": self.libexec,
            "maillog_file": self.maillog,
            "myhostname": "mail.example.jp",
            "mydomain": "example.jp",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "hash:" + os.path.join(self.config, "aliases"),
            "alias_database": "hash:" + os.path.join(self.config, "aliases"),
            "mail_spool_directory": self.mailspool,
            "smtpd_banner": "$myhostname ESMTP $mail_name",
            # Tests never ask the machine's resolver (tests about DNS run their
            # own dnsmasq and set dns_resolver_conf).
            "smtpd_peername_lookup": "no",
            # postlogd refuses a maillog_file outside these prefixes, as Postfix does.
            "maillog_file_prefixes": "/var, /dev/stdout, " + root,
        }
        make_traversable(root)
        self.write_main_cf()
        self.write_master_cf()
        with open(os.path.join(self.config, "aliases"), "w") as f:
            f.write("postmaster: root\n")
        if os.path.exists(os.path.join(self.sbin, "postalias")):
            self.cmd("postalias", os.path.join(self.config, "aliases"))

    # ---- configuration ----
    def write_main_cf(self, **extra):
        self.main_cf.update(extra)
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            for k, v in self.main_cf.items():
                f.write(f"{k} = {v}\n")

    def master_cf_text(self, extra_services=""):
        src = os.path.join(SOURCE_DIR, "conf", "master.cf")
        out = []
        for line in open(src):
            if line.startswith("smtp ") and " inet " in line:
                line = line.replace("smtp ", f"127.0.0.1:{self.smtp_port} ", 1)
            out.append(line)
        return "".join(out) + extra_services

    def write_master_cf(self, extra_services=""):
        with open(os.path.join(self.config, "master.cf"), "w") as f:
            f.write(self.master_cf_text(extra_services))

    # ---- commands ----
    def cmd(self, name, *args, input=None, check=True, env=None, user=None):
        e = dict(os.environ)
        e["MAIL_CONFIG"] = self.config
        if env:
            e.update(env)
        path = os.path.join(self.sbin, name)
        r = subprocess.run([path, *args], input=input, capture_output=True, env=e,
                           text=isinstance(input, str) or input is None, timeout=120,
                           user=user)
        if check and r.returncode != 0:
            raise AssertionError(f"{name} {' '.join(args)} exited {r.returncode}: "
                                 f"{r.stdout}\n{r.stderr}")
        return r

    def postconf(self, *args, **kw):
        return self.cmd("postconf", "-c", self.config, *args, **kw)

    def postfix(self, *args, **kw):
        return self.cmd("postfix", "-c", self.config, *args, **kw)

    def start(self):
        self.postfix("start")
        self.started = True
        assert poll_until(lambda: self.port_open(self.smtp_port), 15), "smtpd port not open"

    def stop(self):
        if self.started:
            self.postfix("stop", check=False)
            self.started = False

    def port_open(self, port, addr="127.0.0.1"):
        try:
            with socket.create_connection((addr, port), timeout=1):
                return True
        except OSError:
            return False

    # ---- observing ----
    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=15.0, count=1):
        rx = re.compile(pattern)
        found = poll_until(lambda: len(rx.findall(self.log())) >= count, timeout)
        assert found, f"log line /{pattern}/ not seen within {timeout}s; log:\n{self.log()}"
        return rx.findall(self.log())

    def smtp(self, source_address=None, timeout=15):
        s = smtplib.SMTP(timeout=timeout,
                         source_address=(source_address, 0) if source_address else None)
        s.connect("127.0.0.1", self.smtp_port)
        return s

    def mailbox(self, user):
        p = os.path.join(self.mailspool, user)
        try:
            with open(p, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


@pytest.fixture
def instance(hk_install):
    # Not pytest's tmp_path: its parents are mode 0700, and the unprivileged
    # mail_owner must be able to reach the queue and the test's mailboxes.
    root = tempfile.mkdtemp(prefix="hk-test-")
    os.chmod(root, 0o755)
    inst = Instance(hk_install, os.path.join(root, "hk"))
    yield inst
    inst.stop()
    shutil.rmtree(root, ignore_errors=True)
