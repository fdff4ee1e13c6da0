"""Helpers for testing the local delivery agent on its own (tests/system/test_local.py).

- an encoder/decoder for the attribute protocol (docs/ipc.md),
- a writer for queue files (src/mail/qfile.h record format),
- a fake qmgr: runs `local -S` on one end of a socketpair, sends a
  delivery request and reads the statuses,
- a fake cleanup service on $queue_directory/public/cleanup that records
  forwarded messages,
- a fake delivery agent on $queue_directory/private/<name> (fallback_transport).
"""
import os
import socket
import struct
import subprocess
import threading
import time


# ---- attribute codec ----

class Int(int):
    pass


class Long(int):
    pass


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode(attrs):
    """attrs: list of (name, value); value Int/Long/str/bytes/list-of-pairs."""
    out = bytearray()
    for name, value in attrs:
        nb = name.encode()
        if isinstance(value, Long):
            t, vb = b"L", struct.pack(">q", value)
        elif isinstance(value, (Int, int)) and not isinstance(value, bool):
            t, vb = b"I", struct.pack(">i", value)
        elif isinstance(value, list):
            t, vb = b"N", encode(value)
        else:
            t, vb = b"S", value if isinstance(value, bytes) else str(value).encode()
        out += t + _varint(len(nb)) + nb + _varint(len(vb)) + vb
    out.append(0)
    return bytes(out)


class Reader:
    def __init__(self, sock):
        self.f = sock.makefile("rb")

    def _byte(self):
        b = self.f.read(1)
        if not b:
            raise EOFError
        return b[0]

    def _varint(self):
        n, shift = 0, 0
        while True:
            b = self._byte()
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    def message(self):
        """One message as a dict (first value wins); None at a clean EOF."""
        try:
            first = self._byte()
        except EOFError:
            return None
        return self._attrs(first)

    def _attrs(self, t):
        out = {}
        while t != 0:
            name = self.f.read(self._varint()).decode()
            data = self.f.read(self._varint())
            if t == ord("I"):
                v = struct.unpack(">i", data)[0]
            elif t == ord("L"):
                v = struct.unpack(">q", data)[0]
            elif t == ord("N"):
                v = decode(data)
            else:
                v = data
            if name in out and isinstance(out[name], list) and t == ord("N"):
                out[name].append(v)
            elif name not in out:
                out[name] = [v] if t == ord("N") else v
            t = self._byte()
        return out


def decode(buf):
    """Decode one message from bytes into a dict."""
    class _S:
        def __init__(self, b):
            self.b, self.i = b, 0

        def read(self, n):
            r = self.b[self.i:self.i + n]
            self.i += n
            return r
    r = Reader.__new__(Reader)
    r.f = _S(buf)
    return r._attrs(r._byte())


def text(v):
    return v.decode(errors="replace") if isinstance(v, bytes) else v


# ---- queue files ----

def _rec(t, data):
    if isinstance(data, str):
        data = data.encode()
    return t.encode() + struct.pack(">I", len(data)) + data


def write_queue_file(queue_dir, queue_id, sender, rcpts, headers, body):
    """Write active/<queue_id>; returns (content_offset, content_size).

    rcpts: list of addresses; headers: list of header lines (no LF);
    body: text (LF line ends)."""
    now = time.time()
    recs_head = [_rec("V", "HKQ1")]
    size_off = len(recs_head[0])
    placeholder = _rec("S", b" " * 81)
    env = [_rec("T", "%d.%06d" % (int(now), int((now % 1) * 1e6))), _rec("F", sender)]
    for r in rcpts:
        env.append(_rec("O", r))
        env.append(_rec("R", r))
    head = b"".join(recs_head) + placeholder + b"".join(env)
    content_offset = len(head)
    content = [_rec("M", "")]
    size = 0
    for h in headers:
        content.append(_rec("H", h + "\n"))
        size += len(h) + 1
    size += 1
    body_b = body.encode() if isinstance(body, str) else body
    # Split the body into small records so lines span records.
    for i in range(0, len(body_b), 7):
        content.append(_rec("B", body_b[i:i + 7]))
    size += len(body_b)
    content_b = b"".join(content)
    extracted = content_offset + len(content_b)
    tail = _rec("X", "") + _rec("E", "")
    sizes = ("%019d %019d %019d %010d %010d"
             % (content_offset, size, extracted, len(rcpts), 0)).encode()
    data = (head[:size_off] + _rec("S", sizes) + head[size_off + len(placeholder):]
            + content_b + tail)
    d = os.path.join(queue_dir, "active")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, queue_id)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, 0o700)
    return content_offset, size


def deliver_request(queue_id, sender, rcpts, content_offset, content_size, nexthop="example.jp",
                    flags=0, transport="local"):
    now = time.time()
    rl = []
    for r in rcpts:
        addr, orig = (r if isinstance(r, tuple) else (r, r))
        rl.append(("rcpt", [("address", addr), ("orig_address", orig), ("dsn_orcpt", ""),
                            ("notify", Int(0)), ("offset", Long(0))]))
    attrs = [("request", "deliver"), ("queue_name", "active"), ("queue_id", queue_id),
             ("transport", transport), ("nexthop", nexthop), ("sender", sender),
             ("dsn_envid", ""), ("dsn_ret", Int(0)), ("flags", Int(flags)),
             ("content_offset", Long(content_offset)), ("content_size", Long(content_size)),
             ("arrival_sec", Long(int(now) - 1)), ("arrival_usec", Int(0)),
             ("active_sec", Long(int(now))), ("active_usec", Int(0)),
             ("handed_sec", Long(int(now))), ("handed_usec", Int(0)),
             ("client_name", "client.example"), ("client_addr", "192.0.2.1")]
    return encode(attrs + rl)


def run_local(program, config_dir, request_bytes, timeout=60, extra_args=()):
    """Run `local -S`, send request_bytes, return (statuses, done, stderr)."""
    a, b = socket.socketpair()
    env = dict(os.environ)
    env["MAIL_CONFIG"] = config_dir
    p = subprocess.Popen([program, "-S", *extra_args], stdin=b.fileno(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env, close_fds=True)
    b.close()
    statuses, done = [], None
    try:
        a.settimeout(timeout)
        a.sendall(request_bytes)
        a.shutdown(socket.SHUT_WR)      # nothing more: a short request is seen as such
        r = Reader(a)
        while True:
            m = r.message()
            if m is None:
                break
            req = text(m.get("request"))
            if req == "status":
                statuses.append({k: text(v) for k, v in m.items()})
            elif req == "done":
                done = m
                break
    finally:
        a.close()
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
    return statuses, done, err.decode(errors="replace")


# ---- fake services ----

class FakeCleanup:
    """Answers the cleanup protocol on public/cleanup and records messages."""

    def __init__(self, queue_dir, status=0, reason=""):
        self.path = os.path.join(queue_dir, "public", "cleanup")
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.messages = []
        self.status, self.reason = status, reason
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(8)
        self.counter = 0
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        r = Reader(c)
        msg = {"sender": None, "rcpts": [], "data": b"", "attrs": {}, "flags": None}
        try:
            while True:
                m = r.message()
                if m is None:
                    return
                req = text(m.get("request"))
                if req == "open":
                    self.counter += 1
                    msg["queue_id"] = "FWD%04d" % self.counter
                    msg["flags"] = m.get("flags")
                    c.sendall(encode([("status", Int(0)), ("queue_id", msg["queue_id"]),
                                      ("reason", "")]))
                elif req == "sender":
                    msg["sender"] = text(m["address"])
                elif req == "attr":
                    msg["attrs"][text(m["name"])] = text(m["value"])
                elif req == "rcpt":
                    msg["rcpts"].append((text(m["address"]), text(m.get("orig", b""))))
                elif req == "data":
                    msg["data"] += m["data"]
                elif req == "finish":
                    self.messages.append(msg)
                    c.sendall(encode([("status", Int(self.status)), ("reason", self.reason)]))
                    return
                elif req == "abort":
                    return
        except (EOFError, OSError):
            return
        finally:
            c.close()

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class FakeAgent:
    """A delivery agent on private/<name> that answers every recipient."""

    def __init__(self, queue_dir, name, outcome=0, dsn="2.0.0", reason="delivered by fake"):
        self.path = os.path.join(queue_dir, "private", name)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.requests = []
        self.outcome, self.dsn, self.reason = outcome, dsn, reason
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                m = Reader(c).message()
                self.requests.append(m)
                for i, _ in enumerate(m.get("rcpt", [])):
                    c.sendall(encode([("request", "status"), ("index", Int(i)),
                                      ("outcome", Int(self.outcome)), ("dsn", self.dsn),
                                      ("relay", "fake"), ("reason", self.reason),
                                      ("conn_usec", Long(0)), ("xfer_usec", Long(0))]))
                c.sendall(encode([("request", "done"), ("status", Int(0))]))
            except (EOFError, OSError):
                pass
            finally:
                c.close()

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
