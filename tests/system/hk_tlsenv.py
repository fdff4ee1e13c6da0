"""Helpers for the TLS and SASL system tests (test_tls.py, test_sasl.py).

make_pki() makes a small PKI with the openssl command: a CA, server
certificates for mail.example.jp (RSA and ECDSA), a client certificate
signed by the CA and a self-signed one. SmtpdEnv is a configuration, queue
and data directory for smtpd run stand-alone: listen() opens a TCP port on
127.0.0.1 and runs one `smtpd -S` per connection (inetd style) with the
given -o overrides, the way master would run a master.cf service, so real
clients (smtplib, swaks, openssl s_client) talk to the real server without
master. When cleanup is built, public/cleanup is served the same way so
DATA reaches a real queue file.
"""
import os
import re
import shutil
import socket
import subprocess
import threading
import time

BUILD_DIR = os.environ.get("HK_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SMTPD = os.path.join(BUILD_DIR, "smtpd")
CLEANUP = os.path.join(BUILD_DIR, "cleanup")
HOST = "mail.example.jp"
QUEUE_SUBDIRS = ["incoming", "active", "deferred", "hold", "corrupt", "maildrop", "bounce",
                 "defer", "trace", "saved", "private", "public", "pid"]


def run(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)


def make_pki(d):
    """CA + server (RSA, ECDSA) + client certificates in directory d."""
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"),
        "-out", p("ca.pem"), "-days", "300", "-subj", "/CN=Hikyaku Test CA")
    ext = p("server.ext")
    with open(ext, "w") as f:
        # A CRL location so certificate checkers (testssl.sh) see a revocation
        # method; nothing fetches it.
        f.write("subjectAltName=DNS:mail.example.jp,DNS:localhost,IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth\n"
                "crlDistributionPoints=URI:http://ca.example.jp/ca.crl\n")
    cext = p("client.ext")
    with open(cext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")

    def signed(name, keyargs, subj, extfile):
        run("openssl", "req", "-new", "-newkey", *keyargs, "-nodes", "-keyout", p(name + ".key"),
            "-out", p(name + ".csr"), "-subj", subj)
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey",
            p("ca.key"), "-CAcreateserial", "-out", p(name + ".pem"), "-days", "300",
            "-extfile", extfile)
        os.chmod(p(name + ".key"), 0o600)

    signed("server", ["rsa:2048"], "/CN=mail.example.jp", ext)
    signed("server-ec", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "/CN=mail.example.jp", ext)
    signed("client", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "/CN=client.example.jp", cext)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", p("rogue.key"), "-out", p("rogue.pem"), "-days", "300",
        "-subj", "/CN=rogue.example")
    for k in ("ca.key", "rogue.key"):
        os.chmod(p(k), 0o600)
    return d


def fingerprint(pem, digest="sha256"):
    out = run("openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-" + digest).stdout
    return out.strip().split("=", 1)[1]


class InetdServer:
    """Accept on a socket and run argv per connection with the socket as fd 0."""

    def __init__(self, sock, argv, env):
        self.sock = sock
        self.argv = argv
        self.env = env
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
            try:
                p = subprocess.Popen(self.argv, stdin=conn, env=self.env)
                self.procs.append(p)
            except OSError:
                pass            # e.g. the program is being rebuilt: drop this client
            conn.close()

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

    def exit_codes(self):
        return [p.wait(timeout=15) for p in self.procs]


class SmtpdEnv:
    def __init__(self, root):
        self.root = str(root)
        self.config = os.path.join(self.root, "etc")
        self.queue = os.path.join(self.root, "spool")
        self.data = os.path.join(self.root, "lib")
        self.maillog = os.path.join(self.root, "maillog")
        os.makedirs(self.config)
        os.makedirs(self.data)
        for d in QUEUE_SUBDIRS:
            os.makedirs(os.path.join(self.queue, d))
        self.aliases = os.path.join(self.config, "aliases")
        with open(self.aliases, "w") as f:
            f.write("postmaster root\nuser root\n")
        self.conf = {
            "queue_directory": self.queue,
            "data_directory": self.data,
            "maillog_file": self.maillog,
            "myhostname": HOST,
            "mydomain": "example.jp",
            "mynetworks": "127.0.0.1/32",
            "alias_maps": "texthash:" + self.aliases,
            "smtpd_error_sleep_time": "0",
            "smtpd_peername_lookup": "no",
        }
        self.servers = []
        self.cleanup = None
        self.write()

    def write(self, **extra):
        self.conf.update(extra)
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            for k, v in self.conf.items():
                f.write(f"{k} = {v}\n")

    def environ(self):
        e = dict(os.environ)
        e["MAIL_CONFIG"] = self.config
        e.pop("HK_TEST_CLIENT_ADDR", None)
        return e

    def listen(self, *overrides, service="smtp", addr="127.0.0.1"):
        """A TCP port served by `smtpd -S -n service -o ...`; returns the port."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, 0))
        s.listen(16)
        argv = [SMTPD, "-S", "-n", service]
        for o in overrides:
            argv += ["-o", o]
        self.servers.append(InetdServer(s, argv, self.environ()))
        return s.getsockname()[1]

    def start_cleanup(self):
        if not os.path.exists(CLEANUP):
            return False
        if not self.cleanup:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(os.path.join(self.queue, "public", "cleanup"))
            s.listen(8)
            self.cleanup = InetdServer(s, [CLEANUP, "-S"], self.environ())
        return True

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10):
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if rx.search(self.log()):
                return rx.findall(self.log())
            time.sleep(0.05)
        raise AssertionError(f"log line /{pattern}/ not seen; log:\n{self.log()}")

    def queue_files(self):
        out = []
        for d in ("incoming", "active", "deferred", "hold"):
            p = os.path.join(self.queue, d)
            out += [os.path.join(p, f) for f in os.listdir(p)]
        return out

    def close(self):
        for s in self.servers:
            s.stop()
        if self.cleanup:
            self.cleanup.stop()

    def smtpd_exit_codes(self):
        codes = []
        for s in self.servers:
            codes += s.exit_codes()
        return codes


def queue_text(path):
    """The header and body text of a queue file (docs/queue-format.md records)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    out, i = [], 0
    while i + 5 <= len(data):
        t = chr(data[i])
        n = struct.unpack(">I", data[i + 1:i + 5])[0]
        if t in "HB":
            out.append(data[i + 5:i + 5 + n])
        i += 5 + n
    return b"".join(out).decode(errors="replace")


def have(cmd):
    return shutil.which(cmd) is not None


def make_sasldb(config_dir, users, realm=HOST, mechs="PLAIN LOGIN CRAM-MD5"):
    """A Cyrus sasldb with users {name: password} and the smtpd.conf that
    points at it (cyrus_sasl_config_path = config_dir)."""
    db = os.path.join(config_dir, "sasldb2")
    for user, password in users.items():
        subprocess.run(["saslpasswd2", "-f", db, "-c", "-p", "-u", realm, user],
                       input=password + "\n", text=True, check=True, capture_output=True)
    with open(os.path.join(config_dir, "smtpd.conf"), "w") as f:
        f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                f"sasldb_path: {db}\nmech_list: {mechs}\n")
    return db


def sasl_conf(env, **extra):
    """main.cf settings for AUTH against make_sasldb()'s database. The realm
    is the default one ($myhostname), so logins are plain "user"; with
    smtpd_sasl_local_domain set, Cyrus reports "user@realm"."""
    conf = {"smtpd_sasl_auth_enable": "yes", "cyrus_sasl_config_path": env.config}
    conf.update(extra)
    return conf
