"""A scriptable delivery agent for system tests of qmgr and bounce.

FakeAgent listens on $queue_directory/private/<name> (a transport that
master.cf does not run), speaks the delivery protocol of
src/mail/deliver_request.h over the attribute codec (docs/ipc.md), and
records every request it gets together with the message content read from
the queue file. What it answers is chosen per connection by `behave`:
  "sent" / "bounce" / "defer"   a status per recipient, then the final reply
  "slow"                        like "sent", after two seconds
  "hang"                        read the request and never answer
  "close"                       read the request and hang up
A list of behaviours is used in order (the last one repeats).
"""
import os
import socket
import struct
import threading
import time


# ---- attribute codec (docs/ipc.md) ----

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
    """attrs: list of (name, value); int -> I, str/bytes -> S, list -> N."""
    out = bytearray()
    for name, value in attrs:
        nb = name.encode()
        if isinstance(value, bool) or isinstance(value, int):
            out += b"I" + _varint(len(nb)) + nb + _varint(4) + struct.pack(">i", value)
        elif isinstance(value, list):
            inner = encode(value)
            out += b"N" + _varint(len(nb)) + nb + _varint(len(inner)) + inner
        else:
            vb = value if isinstance(value, bytes) else value.encode()
            out += b"S" + _varint(len(nb)) + nb + _varint(len(vb)) + vb
    return bytes(out + b"\0")


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def byte(self):
        if not self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.buf = data
        b, self.buf = self.buf[0], self.buf[1:]
        return b

    def exact(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def varint(self):
        n, shift = 0, 0
        while True:
            b = self.byte()
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n


def decode_bytes(data):
    """Decode one message held in data: list of (name, value)."""
    class B:
        def __init__(self, d):
            self.buf = d

        def byte(self):
            b, self.buf = self.buf[0], self.buf[1:]
            return b

        def exact(self, n):
            out, self.buf = self.buf[:n], self.buf[n:]
            return out
    return _read_message(B(data))


def _read_message(r):
    attrs = []
    while True:
        t = r.byte()
        if t == 0:
            return attrs
        name = r.exact(_varint_read(r)).decode()
        value = r.exact(_varint_read(r))
        if t == ord("I"):
            attrs.append((name, struct.unpack(">i", value)[0]))
        elif t == ord("L"):
            attrs.append((name, struct.unpack(">q", value)[0]))
        elif t == ord("N"):
            attrs.append((name, decode_bytes(value)))
        else:
            attrs.append((name, value.decode(errors="replace")))


def _varint_read(r):
    n, shift = 0, 0
    while True:
        b = r.byte()
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n


def read_message(sock_reader):
    return _read_message(sock_reader)


def get(attrs, name, default=None):
    for n, v in attrs:
        if n == name:
            return v
    return default


def get_all(attrs, name):
    return [v for n, v in attrs if n == name]


# ---- queue files (src/mail/qfile.h) ----

def read_records(path):
    """List of (type_char, offset, data bytes) of a queue file."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off + 5 <= len(data):
        t = chr(data[off])
        n = struct.unpack(">I", data[off + 1:off + 5])[0]
        out.append((t, off, data[off + 5:off + 5 + n]))
        off += 5 + n
    return out


def message_content(path, content_offset):
    """Headers, the empty line, the body: the message as delivered."""
    headers, body, in_content = b"", b"", False
    for t, off, data in read_records(path):
        if off == content_offset:
            in_content = True
            continue
        if not in_content:
            continue
        if t == "H":
            headers += data
        elif t == "B":
            body += data
        else:
            break
    return (headers + b"\n" + body).decode(errors="replace")


# ---- the agent ----

class FakeAgent:
    def __init__(self, queue_dir, name, behave="sent", dsn=None, reason=None):
        self.queue_dir = queue_dir
        self.name = name
        self.path = os.path.join(queue_dir, "private", name)
        self.behave = behave if isinstance(behave, list) else [behave]
        self.dsn = dsn
        self.reason = reason
        self.requests = []          # dicts: request attrs + "content"
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.hung = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                n = self.connections
                self.connections += 1
            mode = self.behave[min(n, len(self.behave) - 1)]
            threading.Thread(target=self._serve, args=(conn, mode), daemon=True).start()

    def _serve(self, conn, mode):
        try:
            conn.settimeout(30)
            req = read_message(_Reader(conn))
            rcpts = get_all(req, "rcpt")
            qpath = os.path.join(self.queue_dir, get(req, "queue_name"), get(req, "queue_id"))
            try:
                content = message_content(qpath, get(req, "content_offset"))
            except OSError:
                content = None
            entry = {name: value for name, value in req if name != "rcpt"}
            entry["rcpt"] = [dict(r) for r in rcpts]
            entry["content"] = content
            with self.lock:
                self.requests.append(entry)
            if mode == "hang":
                self.hung.append(conn)
                return
            if mode == "close":
                conn.close()
                return
            if mode == "slow":
                time.sleep(2)
                mode = "sent"
            outcome = {"sent": 0, "defer": 4, "bounce": 5}[mode]
            dsn = self.dsn or {"sent": "2.0.0", "defer": "4.2.0", "bounce": "5.1.1"}[mode]
            reason = self.reason or {"sent": "delivered to the test agent",
                                     "defer": "test agent says later",
                                     "bounce": "test agent says no"}[mode]
            for i, _ in enumerate(rcpts):
                conn.sendall(encode([("request", "status"), ("index", i), ("outcome", outcome),
                                     ("dsn", dsn), ("relay", self.name), ("reason", reason)]))
            conn.sendall(encode([("request", "done"), ("status", 0)]))
            conn.close()
        except (EOFError, OSError):
            conn.close()

    def close(self):
        self.stopping = True
        for c in self.hung:
            try:
                c.close()
            except OSError:
                pass
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.unlink(self.path)
        except OSError:
            pass
