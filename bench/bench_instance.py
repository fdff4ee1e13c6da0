"""bench_instance.py - one MTA instance for the benchmark, Postfix or Hikyaku.

Each instance lives under its own directory: etc/ (main.cf, master.cf,
aliases), spool/ (queue_directory), lib/ (data_directory), maillog
(maillog_file) and mail/ (mail_spool_directory, ending in "/" so local
delivery writes Maildirs). It listens only on 127.0.0.1 (its own port)
and relays to its own sink on 127.0.0.x; it is started and stopped with
its own `postfix -c DIR`, so the reference Postfix never acts as the
system's mail server and never reads /etc/postfix/main.cf.

Both instances get the same main.cf apart from the paths that say where
each one's programs are. Neither is told to skip an fsync: durability is
each one's default (Postfix fsyncs a queue file before it answers 250,
and so does Hikyaku).
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import bench_proc

LOCAL_DOMAIN = "local.bench.example"
RELAY_DOMAIN = "relay.bench.example"
LOCAL_USER = "hkbench"

POSTFIX_SBIN = "/usr/sbin"
POSTFIX_DAEMONS = "/usr/lib/postfix/sbin"
POSTFIX_MASTER_CF = "/usr/share/postfix/master.cf.dist"


def free_port(addr="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def port_open(addr, port):
    try:
        with socket.create_connection((addr, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(fn, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def ensure_local_user():
    """The Maildir recipient: a system account without a home or a shell."""
    try:
        import pwd
        pwd.getpwnam(LOCAL_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", LOCAL_USER], check=True)


class Instance:
    """kind: "postfix" or "hikyaku"; prefix: Hikyaku's install prefix."""

    def __init__(self, kind, root, prefix, sink_addr):
        self.kind = kind
        self.name = "Postfix" if kind == "postfix" else "Hikyaku"
        self.root = root
        self.config = os.path.join(root, "etc")
        self.queue = os.path.join(root, "spool")
        self.data = os.path.join(root, "lib")
        self.maillog = os.path.join(root, "maillog")
        self.mailspool = os.path.join(root, "mail")
        self.sink_addr = sink_addr
        self.sink_port = free_port(sink_addr)
        self.smtp_port = free_port()
        if kind == "postfix":
            self.sbin, self.daemons = POSTFIX_SBIN, POSTFIX_DAEMONS
        else:
            self.sbin = os.path.join(prefix, "sbin")
            self.daemons = os.path.join(prefix, "libexec", "postfix")
        self.started = False

    # ---- configuration ----
    def main_cf(self):
        return {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "command_directory": self.sbin,
            "daemon_directory": self.daemons,
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.root,
            "myhostname": "mta.bench.example",
            "mydomain": "bench.example",
            "myorigin": "$myhostname",
            "mydestination": LOCAL_DOMAIN,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relayhost": f"[{self.sink_addr}]:{self.sink_port}",
            "alias_maps": "hash:" + os.path.join(self.config, "aliases"),
            "alias_database": "hash:" + os.path.join(self.config, "aliases"),
            "mail_spool_directory": self.mailspool + "/",
            "smtpd_peername_lookup": "no",
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtpd_banner": "$myhostname ESMTP",
        }

    def master_cf(self):
        if self.kind == "postfix":
            src = POSTFIX_MASTER_CF
        else:
            src = os.path.join(self.daemons, "conf", "master.cf")
        out = []
        for line in open(src):
            f = line.split()
            if f and not line[0].isspace() and not line.startswith("#") and len(f) >= 8:
                if f[0] == "smtp" and f[1] == "inet":
                    f[0] = f"127.0.0.1:{self.smtp_port}"
                f[4] = "n"          # no chroot: the instance's paths are absolute
                line = "  ".join(f[:8]) + (" " + " ".join(f[8:]) if len(f) > 8 else "") + "\n"
            out.append(line)
        return "".join(out)

    def setup(self):
        for d in (self.config, self.mailspool):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.root, 0o755)
        os.chmod(self.mailspool, 0o1777)
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            for k, v in self.main_cf().items():
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.config, "master.cf"), "w") as f:
            f.write(self.master_cf())
        with open(os.path.join(self.config, "aliases"), "w") as f:
            f.write("postmaster: root\n")
        self.cmd("postalias", "-c", self.config, os.path.join(self.config, "aliases"))
        if self.kind == "postfix":
            # Postfix wants the two top directories; `postfix check` then
            # creates the queue's subdirectories with their owners and modes.
            import pwd
            pw = pwd.getpwnam("postfix")
            os.makedirs(self.queue, mode=0o755, exist_ok=True)
            os.makedirs(self.data, mode=0o700, exist_ok=True)
            os.chown(self.data, pw.pw_uid, pw.pw_gid)
            self.cmd("postfix", "-c", self.config, "check")

    # ---- commands ----
    def env(self):
        e = dict(os.environ)
        e["MAIL_CONFIG"] = self.config
        return e

    def cmd(self, name, *args, check=True, timeout=600, **kw):
        r = subprocess.run([os.path.join(self.sbin, name), *args], capture_output=True,
                           text=True, env=self.env(), timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.name}: {name} {' '.join(args)}: exit {r.returncode}: "
                               f"{r.stdout}{r.stderr}")
        return r

    def start(self, timeout=60):
        self.cmd("postfix", "-c", self.config, "start")
        self.started = True
        if not wait_for(lambda: self.master_pid() and port_open("127.0.0.1", self.smtp_port),
                        timeout):
            raise RuntimeError(f"{self.name}: smtpd port {self.smtp_port} not open after "
                               f"{timeout}s; log:\n{self.log_tail()}")

    def stop(self, timeout=60):
        if not self.started:
            return
        pid = self.master_pid()
        self.cmd("postfix", "-c", self.config, "stop", check=False)
        self.started = False
        if pid and not wait_for(lambda: not bench_proc.tree(pid), timeout):
            for p in bench_proc.tree(pid):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if os.path.exists(f"/proc/{pid}") else None

    def log_tail(self, n=4000):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    # ---- observing ----
    def cpu(self):
        pid = self.master_pid()
        return bench_proc.cpu_seconds(pid) if pid else 0.0

    def memory(self):
        pid = self.master_pid()
        return bench_proc.memory_kb(pid) if pid else (0, 0, 0)

    def sendmail_path(self):
        """Postfix's sendmail may have been diverted (bench_setup.divert_system_paths)."""
        path = os.path.join(self.sbin, "sendmail")
        if self.kind == "postfix" and os.path.exists(path + ".postfix-bench"):
            return path + ".postfix-bench"
        return path

    def maildir_new(self):
        return os.path.join(self.mailspool, LOCAL_USER, "new")

    def clear_mail(self):
        shutil.rmtree(os.path.join(self.mailspool, LOCAL_USER), ignore_errors=True)

    def queue_count(self, *subdirs):
        n = 0
        for sub in subdirs:
            for _, _, files in os.walk(os.path.join(self.queue, sub)):
                n += len(files)
        return n

    def purge_queue(self):
        self.cmd("postsuper", "-c", self.config, "-d", "ALL", check=False)

    def version(self):
        r = self.cmd("postconf", "-c", self.config, "-h", "mail_version", check=False)
        return r.stdout.strip() or "?"
