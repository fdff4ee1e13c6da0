"""After-queue content filter (FILTER_README's simple setup) in a whole
running instance: content_filter = smtp:[127.0.0.1]:<filter port> sends
every message to a filter written here (a small SMTP server that adds a
header and re-injects the message), which hands it back to a second smtpd
listener with -o content_filter= and -o receive_override_options=... . The
mail arrives in the mailbox once, with the filter's header. Also: the
FILTER action of header_checks, receive_override_options on the
re-injection listener (no header checks, no unknown-recipient checks),
local submissions through the filter, and the filter record in the queue
file (postcat). Ports are free ones, not 10024/10025, so test runs do not
collide.
"""
import os
import re
import shutil
import smtplib
import socket
import stat
import threading

import pytest

from conftest import free_port, poll_until

NEEDED = ["master", "smtpd", "cleanup", "qmgr", "local", "smtp", "pickup"]


class FilterServer:
    """An SMTP server on 127.0.0.1:port that adds a header to each message
    and re-injects it to 127.0.0.1:reinject; it answers 250 to the client
    only after the re-injection was accepted, as a real filter must."""

    def __init__(self, port, reinject, header="X-Filtered: by the test filter"):
        self.port, self.reinject, self.header = port, reinject, header
        self.messages = []          # (sender, [rcpts], data) as received
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.closing = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def close(self):
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)

    def serve(self):
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn):
        f = conn.makefile("rb")
        say = lambda text: conn.sendall(text.encode() + b"\r\n")
        say("220 filter.example ESMTP test filter")
        sender, rcpts = None, []
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode(errors="replace").strip()
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    say("250-filter.example\r\n250 8BITMIME")
                elif verb == "HELO":
                    say("250 filter.example")
                elif verb == "MAIL":
                    sender, rcpts = re.search(r"<(.*?)>", cmd).group(1), []
                    say("250 2.1.0 Ok")
                elif verb == "RCPT":
                    rcpts.append(re.search(r"<(.*?)>", cmd).group(1))
                    say("250 2.1.5 Ok")
                elif verb == "DATA":
                    say("354 go ahead")
                    data = bytearray()
                    while True:
                        l = f.readline()
                        if not l or l in (b".\r\n", b".\n"):
                            break
                        data += l[1:] if l.startswith(b".") else l
                    data = bytes(data).replace(b"\r\n", b"\n")
                    self.messages.append((sender, list(rcpts), data))
                    out = self.header.encode() + b"\n" + data
                    try:
                        with smtplib.SMTP("127.0.0.1", self.reinject, timeout=30) as s:
                            s.sendmail(sender, rcpts, out)
                        say("250 2.0.0 Ok: re-injected")
                    except (smtplib.SMTPException, OSError) as e:
                        say("451 4.3.0 re-injection failed: %s" % str(e).replace("\n", " "))
                elif verb == "RSET":
                    sender, rcpts = None, []
                    say("250 2.0.0 Ok")
                elif verb == "NOOP":
                    say("250 2.0.0 Ok")
                elif verb == "QUIT":
                    say("221 2.0.0 Bye")
                    return
                else:
                    say("502 5.5.2 Error: command not recognized")
        except OSError:
            pass
        finally:
            conn.close()


def open_for_others(path, undo):
    p = os.path.abspath(path)
    while p != "/":
        st = os.stat(p)
        if not st.st_mode & stat.S_IXOTH:
            undo.append((p, stat.S_IMODE(st.st_mode)))
            os.chmod(p, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        p = os.path.dirname(p)


@pytest.fixture
def fi(instance):
    """An instance with a re-injection listener and a running test filter."""
    missing = [p for p in NEEDED if not os.path.exists(os.path.join(instance.libexec, p))]
    if missing:
        pytest.fail("missing from the build: " + ", ".join(missing))
    undo = []
    open_for_others(instance.root, undo)
    open_for_others(instance.prefix, undo)
    pd = os.path.join(instance.sbin, "postdrop")
    if not os.stat(pd).st_mode & stat.S_ISGID:
        shutil.chown(pd, group="postdrop")
        os.chmod(pd, 0o2755)
    instance.filter_port = free_port()
    instance.reinject_port = free_port()
    # FILTER_README: the listener that takes mail back from the filter.
    instance.write_master_cf(
        "127.0.0.1:%d inet n - n - - smtpd\n"
        "  -o content_filter=\n"
        "  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,"
        "no_milters\n"
        "  -o smtpd_recipient_restrictions=permit_mynetworks,reject\n" % instance.reinject_port)
    path = os.path.join(instance.config, "header_checks")
    with open(path, "w") as f:
        f.write("/^Subject: scan me/ FILTER smtp:[127.0.0.1]:%d\n"
                "/^Subject: park me/ HOLD\n"
                "/^Subject: (.*)/ WARN checked $1\n" % instance.filter_port)
    instance.write_main_cf(header_checks="regexp:" + path)
    instance.cmd("sendmail", "-bi")
    instance.filter = FilterServer(instance.filter_port, instance.reinject_port)
    yield instance
    instance.stop()
    instance.filter.close()
    for p, mode in reversed(undo):
        os.chmod(p, mode)


def send(inst, subject, rcpt="root@mail.example.jp", port=None):
    s = smtplib.SMTP("127.0.0.1", port or inst.smtp_port, timeout=30)
    s.ehlo("client.example")
    s.sendmail("a@example.org", [rcpt], "From: <a@example.org>\nSubject: %s\n\n%s body\n"
               % (subject, subject))
    s.quit()


def delivered(inst, user, needle, timeout=40):
    return poll_until(lambda: needle in inst.mailbox(user), timeout)


def test_content_filter_round_trip(fi):
    fi.write_main_cf(content_filter="smtp:[127.0.0.1]:%d" % fi.filter_port)
    fi.start()
    assert poll_until(lambda: fi.port_open(fi.reinject_port), 15)
    send(fi, "round trip")
    assert delivered(fi, "root", "round trip body")
    box = fi.mailbox("root")
    # Once, with the filter's header.
    assert box.count("Subject: round trip") == 1, box
    assert box.count("X-Filtered: by the test filter") == 1, box
    assert len(fi.filter.messages) == 1
    sender, rcpts, data = fi.filter.messages[0]
    assert (sender, rcpts) == ("a@example.org", ["root@mail.example.jp"])
    assert b"Subject: round trip" in data
    # To the filter over smtp, unresolved; back in through the second listener.
    # (Log lines travel through postlogd: poll for them, the mailbox may be first.)
    fi.wait_log(r"smtp\[\d+\]: [0-9A-F]+: to=<root@mail\.example\.jp>, "
                r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*status=sent \(250 2\.0\.0 Ok: "
                r"re-injected\)" % fi.filter_port)
    fi.wait_log(r"local\[\d+\]: [0-9A-F]+: to=<root@mail\.example\.jp>, relay=local, "
                r".*status=sent")
    log = fi.log()
    # header_checks ran on the way in, not again on the way back
    # (receive_override_options = no_header_body_checks).
    assert len(re.findall(r"warning: header Subject: round trip from", log)) == 1, log


def test_filter_action_and_overrides(fi):
    fi.start()
    assert poll_until(lambda: fi.port_open(fi.reinject_port), 15)
    send(fi, "scan me")
    send(fi, "plain")
    assert delivered(fi, "root", "scan me body")
    assert delivered(fi, "root", "plain body")
    box = fi.mailbox("root")
    msgs = {("scan" if "scan me body" in m else "plain"): m for m in re.split(r"\n(?=From )", box)}
    assert "X-Filtered: by the test filter" in msgs["scan"], box
    assert "X-Filtered:" not in msgs["plain"], box
    assert len(fi.filter.messages) == 1
    assert re.search(r"cleanup\[\d+\]: [0-9A-F]+: filter: header Subject: scan me from "
                     r"unknown\[127\.0\.0\.1\]; from=<a@example\.org> to=<root@mail\.example\.jp> "
                     r"proto=ESMTP helo=<client\.example>: smtp:\[127\.0\.0\.1\]:%d"
                     % fi.filter_port, fi.log())

    # no_unknown_recipient_checks on the re-injection listener only.
    main = smtplib.SMTP("127.0.0.1", fi.smtp_port, timeout=30)
    main.ehlo("client.example")
    main.mail("a@example.org")
    code, msg = main.rcpt("no-such-user@mail.example.jp")
    main.quit()
    assert code == 550 and b"User unknown" in msg, (code, msg)
    back = smtplib.SMTP("127.0.0.1", fi.reinject_port, timeout=30)
    back.ehlo("filter.example")
    back.mail("a@example.org")
    code, msg = back.rcpt("no-such-user@mail.example.jp")
    back.rset()
    back.quit()
    assert code == 250, (code, msg)


def test_local_submission_and_queue_record(fi):
    fi.write_main_cf(content_filter="smtp:[127.0.0.1]:%d" % fi.filter_port)
    fi.start()
    assert poll_until(lambda: fi.port_open(fi.reinject_port), 15)
    # pickup applies content_filter too.
    fi.cmd("sendmail", "root", input="Subject: from sendmail\n\nsendmail body\n")
    assert delivered(fi, "root", "sendmail body")
    assert fi.mailbox("root").count("X-Filtered: by the test filter") == 1
    # The filter is a record of the queue file: postcat shows it.
    send(fi, "park me")
    ids = fi.wait_log(r"cleanup\[\d+\]: ([0-9A-F]+): hold: header Subject: park me")
    path = os.path.join(fi.queue, "hold", ids[-1])
    assert poll_until(lambda: os.path.exists(path))
    r = fi.cmd("postcat", "-c", fi.config, "-q", ids[-1])
    assert "content_filter: smtp:[127.0.0.1]:%d" % fi.filter_port in r.stdout, r.stdout
