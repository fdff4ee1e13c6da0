"""Real peers for system tests: an SMTP/LMTP sink and a dnsmasq DNS server.

Sink records every session, transaction and message it receives and can
answer 4xx/5xx per command on request; Dnsmasq serves MX/A/AAAA/TXT records
for .test names on 127.0.0.1 and a free port (point dns_resolver_conf at
it with `nameserver 127.0.0.1:PORT`). Only 127.0.0.0/8 is ever used.
"""
import os
import re
import select
import shutil
import socket
import subprocess
import threading
import time

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_port(addr="127.0.0.1", family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


class LineConn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.closed = False

    def fill(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        try:
            chunk = self.sock.recv(65536)
        except OSError:         # reset by a client that was killed
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def readline(self, timeout=30):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.closed or time.monotonic() > deadline:
                return None
            self.fill(0.2)
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def pending(self, wait):
        """Input already here, or arriving within wait seconds."""
        if self.buf:
            return True
        return self.fill(wait)

    def send(self, text):
        try:
            self.sock.sendall(text.encode() if isinstance(text, str) else text)
        except OSError:
            self.closed = True


class Sink:
    """A small SMTP/LMTP server that records envelopes and content.

    Options: name (in the greeting and EHLO), greeting (whole reply line),
    features (EHLO keywords), ehlo_reply (replaces the EHLO answer, e.g.
    "502 5.5.2 Error"), mail_reply, rcpt_replies {address: reply},
    eod_reply (SMTP), lmtp_replies {address: reply} (LMTP), lmtp,
    close_at ("connect": drop the connection at once), silent (never
    greet)."""

    DEFAULT_FEATURES = ["PIPELINING", "SIZE 10240000", "8BITMIME", "DSN", "ENHANCEDSTATUSCODES"]

    def __init__(self, host="127.0.0.2", port=0, unix_path=None, **opts):
        self.opts = opts
        self.name = opts.get("name", "sink.test")
        self.sessions = []
        self.lock = threading.Lock()
        self.counter = 0
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.address = unix_path
        else:
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.sock = socket.socket(fam, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, port))
            self.port = self.sock.getsockname()[1]
            self.host = host
        self.sock.listen(16)
        self.stopping = False
        self.threads = []
        t = threading.Thread(target=self.accept_loop, daemon=True)
        t.start()
        self.acceptor = t

    def accept_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def reply_for(self, table, addr, default):
        table = table or {}
        return table.get(addr, default)

    def serve(self, conn):
        o = self.opts
        sess = {"commands": [], "transactions": [], "helo": None}
        with self.lock:
            self.sessions.append(sess)
        c = LineConn(conn)
        try:
            if o.get("close_at") == "connect":
                return
            if o.get("silent"):
                c.readline(timeout=30)
                return
            c.send((o.get("greeting") or "220 %s ESMTP sink" % self.name) + "\r\n")
            tr = None
            while True:
                raw = c.readline()
                if raw is None:
                    return
                line = raw.decode(errors="replace").rstrip("\r\n")
                sess["commands"].append(line)
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "LHLO"):
                    sess["helo"] = line
                    if o.get("ehlo_reply"):
                        c.send(o["ehlo_reply"] + "\r\n")
                        continue
                    feats = o.get("features", self.DEFAULT_FEATURES)
                    lines = [self.name] + list(feats)
                    out = "".join("250-%s\r\n" % l for l in lines[:-1]) + "250 %s\r\n" % lines[-1]
                    c.send(out)
                elif verb == "HELO":
                    sess["helo"] = line
                    c.send("250 %s\r\n" % self.name)
                elif line.upper().startswith("MAIL FROM:"):
                    tr = {"mail": line, "rcpts": [], "rcpt_lines": [], "accepted": [],
                          "data": None, "pipelined": c.pending(0.3)}
                    sess["transactions"].append(tr)
                    c.send(o.get("mail_reply", "250 2.1.0 Ok") + "\r\n")
                elif line.upper().startswith("RCPT TO:"):
                    m = re.search(r"<([^>]*)>", line)
                    addr = m.group(1) if m else ""
                    tr["rcpts"].append(addr)
                    tr["rcpt_lines"].append(line)
                    rep = self.reply_for(o.get("rcpt_replies"), addr, "250 2.1.5 Ok")
                    if rep.startswith("2"):
                        tr["accepted"].append(addr)
                    c.send(rep + "\r\n")
                elif verb == "DATA":
                    if tr is None or not tr["accepted"]:
                        c.send("554 5.5.1 Error: no valid recipients\r\n")
                        continue
                    c.send(o.get("data_reply", "354 End data with <CR><LF>.<CR><LF>") + "\r\n")
                    data = b""
                    while True:
                        l = c.readline()
                        if l is None:
                            return
                        if l == b".\r\n":
                            break
                        data += l
                    tr["data"] = data
                    with self.lock:
                        self.counter += 1
                        n = self.counter
                    if o.get("lmtp"):
                        for a in tr["accepted"]:
                            rep = self.reply_for(o.get("lmtp_replies"), a,
                                                 "250 2.0.0 <%s> delivered" % a)
                            c.send(rep + "\r\n")
                    else:
                        c.send(o.get("eod_reply", "250 2.0.0 Ok: queued as SINK%d" % n) + "\r\n")
                    tr = None
                elif verb == "RSET":
                    tr = None
                    c.send("250 2.0.0 Ok\r\n")
                elif verb == "NOOP":
                    c.send("250 2.0.0 Ok\r\n")
                elif verb == "QUIT":
                    c.send("221 2.0.0 Bye\r\n")
                    return
                else:
                    c.send("502 5.5.2 Error: command not recognized\r\n")
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def wait_sessions(self, n=1, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.sessions) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.sessions

    def wait_quit(self, index=0, timeout=10):
        """The commands of session index once the client said QUIT (the
        client does not wait for our reply, so we may still be reading it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.sessions) > index and "QUIT" in self.sessions[index]["commands"]:
                break
            time.sleep(0.02)
        return self.sessions[index]["commands"]

    def transactions(self):
        return [t for s in self.sessions for t in s["transactions"]]


class Dnsmasq:
    """dnsmasq on 127.0.0.1:port answering for .test only (NXDOMAIN else)."""

    def __init__(self, records, listen="127.0.0.1"):
        self.port = free_port(listen, socket.AF_INET6 if ":" in listen else socket.AF_INET)
        self.listen = listen
        args = [DNSMASQ, "--no-daemon", "--conf-file=/dev/null", "--port=%d" % self.port,
                "--listen-address=" + listen, "--bind-interfaces", "--no-resolv",
                "--no-hosts", "--local=/test/", "--pid-file=", "--cache-size=0"] + records
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Ready when it answers on TCP.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq failed: %s" % self.proc.stderr.read().decode())
            try:
                with socket.create_connection((listen, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dnsmasq did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
