"""Queue fixtures for the queue tool tests (tests/system/test_queue_tools.py).

Writes queue files in the record format of src/mail/qfile.h (type byte,
4-byte big-endian length, data) and defer logs in the format of
src/mail/dsn_log.h (one attribute-codec message per record), directly,
so the tools can be tested without the daemons that normally make them.
"""
import os
import pwd
import struct


# ---- attribute codec (docs/ipc.md), just what defer logs need ----

class Int(int):
    pass


class Long(int):
    pass


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if not n:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def encode(attrs):
    """attrs: (name, value) pairs; value Int, Long, str or bytes."""
    out = bytearray()
    for name, value in attrs:
        nb = name.encode()
        if isinstance(value, Long):
            t, vb = b"L", struct.pack(">q", value)
        elif isinstance(value, Int):
            t, vb = b"I", struct.pack(">i", value)
        else:
            t, vb = b"S", value if isinstance(value, bytes) else value.encode()
        out += t + _varint(len(nb)) + nb + _varint(len(vb)) + vb
    out.append(0)
    return bytes(out)


def rec(t, data):
    if isinstance(data, str):
        data = data.encode()
    return t.encode() + struct.pack(">I", len(data)) + data


class QueueFile:
    """A queue file built in memory; offsets of recipient records are kept."""

    def __init__(self, sender, rcpts, headers=(), body="", arrival=1606065246,
                 attrs=("rewrite_context=local",), done=(), extracted=(), warn=None):
        """rcpts: addresses, or (address, orig) pairs; done: addresses already
        delivered (written as done records); extracted: recipients after the
        content (as "sendmail -t" leaves them)."""
        self.rcpt_offsets = {}
        out = bytearray(rec("V", "HKQ1"))
        size_at = len(out)
        out += rec("S", b" " * 81)
        out += rec("T", "%d.000000" % arrival)
        if warn is not None:
            out += rec("W", "%020d" % warn)
        out += rec("F", sender)
        for a in attrs:
            out += rec("A", a)
        nrcpt = 0
        for r in rcpts:
            addr, orig = (r, r) if isinstance(r, str) else r
            if orig:
                out += rec("O", orig)
            self.rcpt_offsets[addr] = len(out)
            out += rec("R", addr)
            nrcpt += 1
        for addr in done:
            out += rec("O", addr)
            out += rec("D", addr)
        content_offset = len(out)
        out += rec("M", "")
        size = 0
        for h in headers:
            out += rec("H", h + "\n")
            size += len(h) + 1
        body_b = body.encode() if isinstance(body, str) else body
        for i in range(0, len(body_b), 10):
            out += rec("B", body_b[i:i + 10])
        size += len(body_b)
        extracted_offset = len(out)
        out += rec("X", "")
        for addr in extracted:
            self.rcpt_offsets[addr] = len(out)
            out += rec("R", addr)
            nrcpt += 1
        out += rec("E", "")
        sizes = "%019d %019d %019d %010d %010d" % (content_offset, size, extracted_offset, nrcpt, 0)
        out[size_at:size_at + 5 + 81] = rec("S", sizes)
        self.data = bytes(out)
        self.size = size

    def write(self, queue_dir, queue, qid, mode=0o700, owner="postfix"):
        d = os.path.join(queue_dir, queue)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, qid)
        with open(p, "wb") as f:
            f.write(self.data)
        chown(p, owner)
        os.chmod(p, mode)
        return p


def chown(path, owner="postfix"):
    if os.geteuid() == 0 and owner:
        pw = pwd.getpwnam(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def defer_record(recipient, reason, offset=0, status="4.4.1", when=1606065300, orig=""):
    return encode([("recipient", recipient), ("orig_recipient", orig), ("dsn_orcpt", ""),
                   ("notify", Int(0)), ("offset", Long(offset)), ("status", status),
                   ("action", "delayed"), ("reason", reason), ("relay", "none"),
                   ("diag_type", ""), ("diag_text", ""), ("time", Long(when))])


def write_log(queue_dir, log, qid, records):
    """records: list of defer_record() results (bytes)."""
    d = os.path.join(queue_dir, log)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, qid)
    with open(p, "wb") as f:
        f.write(b"".join(records))
    chown(p)
    os.chmod(p, 0o600)
    return p
