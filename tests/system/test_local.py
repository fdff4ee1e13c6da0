"""System tests for the local delivery agent (src/local/, docs/local.md).

Most tests run `local -S` from the build tree on its own: the test plays
qmgr (it writes a queue file and sends a delivery request over a
socketpair), and fake cleanup / fake transport services stand in where
local talks to other daemons. So local is tested even before qmgr exists.
The last tests run a whole instance (skipped until master, smtpd,
cleanup and qmgr are installed).

Test users hktalice and hktbob are created with homes in a temporary
directory and removed at the end. Everything lives under a directory in
/tmp whose parents other users can traverse (pytest's tmp_path is private
to root, which would hide the mail spool from the recipients).
"""
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile

import pytest

import hk_local as hk
from hk_e2e import make_users

BUILD_DIR = os.environ.get("HK_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
LOCAL = os.path.join(BUILD_DIR, "local")
POSTALIAS = os.path.join(BUILD_DIR, "postalias")
USERS = ("hktalice", "hktbob")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="local delivery tests need root")


# ---- fixtures ----

@pytest.fixture(scope="module")
def users():
    """hktalice and hktbob, for this module only (hk_e2e.make_users)."""
    if not os.path.exists(LOCAL) or not os.path.exists(POSTALIAS):
        pytest.fail("local or postalias is missing from the build")
    with make_users(*USERS, lock_name="hk-local-test-users") as made:
        yield made


class Env:
    """A configuration and queue for running `local -S`."""

    def __init__(self, root, users):
        self.root = root
        self.users = users
        self.config = os.path.join(root, "etc")
        self.queue = os.path.join(root, "spool")
        self.spool = os.path.join(root, "mail")
        self.maillog = os.path.join(root, "maillog")
        self.shared = os.path.join(root, "shared")     # writable by everyone (nobody's output)
        for d in (self.config, self.queue, self.spool, self.shared):
            os.makedirs(d)
        os.chmod(self.spool, 0o1777)
        os.chmod(self.shared, 0o1777)
        self.aliases = os.path.join(self.config, "aliases")
        self.main_cf = {
            "queue_directory": self.queue,
            "maillog_file": self.maillog,
            "myhostname": "mail.example.jp",
            "mydomain": "example.jp",
            "myorigin": "example.jp",
            "mydestination": "example.jp, $myhostname, localhost",
            "alias_maps": "hash:" + self.aliases,
            "mail_spool_directory": self.spool,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
        }
        self.write_main_cf()
        self.write_aliases("postmaster: root\n")
        self.counter = 0
        self.cleanup = None

    def write_main_cf(self, **extra):
        self.main_cf.update(extra)
        with open(os.path.join(self.config, "main.cf"), "w") as f:
            for k, v in self.main_cf.items():
                f.write(f"{k} = {v}\n")

    def write_aliases(self, text):
        with open(self.aliases, "w") as f:
            f.write(text)
        subprocess.run([POSTALIAS, "-c", self.config, "hash:" + self.aliases], check=True,
                       capture_output=True)

    def fake_cleanup(self, **kw):
        self.cleanup = hk.FakeCleanup(self.queue, **kw)
        return self.cleanup

    def deliver(self, rcpts, sender="sender@example.com", headers=None, body=None, flags=0,
                args=()):
        """Queue a message for rcpts and run local on it. Returns the statuses."""
        self.counter += 1
        qid = "ABC%03d" % self.counter
        if headers is None:
            headers = ["From: Sender <sender@example.com>", "To: you@example.jp",
                       "Subject: test %d" % self.counter]
        if body is None:
            body = "line one\nFrom the start\n>From quoted\nFromage\n"
        addrs = [r[0] if isinstance(r, tuple) else r for r in rcpts]
        off, size = hk.write_queue_file(self.queue, qid, sender, addrs, headers, body)
        req = hk.deliver_request(qid, sender, rcpts, off, size, flags=flags)
        statuses, done, err = hk.run_local(LOCAL, self.config, req, extra_args=args)
        self.last_stderr = err
        for bad in ("Sanitizer", "runtime error:", "panic:"):
            assert bad not in err, err       # an ASan/UBSan build reports memory errors here
        assert done is not None, f"no final reply from local; stderr:\n{err}\nlog:\n{self.log()}"
        assert len(statuses) == len(rcpts), statuses
        self.qid = qid
        return statuses

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def mailbox(self, user):
        p = os.path.join(self.spool, user)
        try:
            with open(p, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def reset_homes(users):
    """Put the test users' homes back as useradd made them (.forward, Maildir ... go)."""
    for u, pw in users.items():
        skel = set(os.listdir("/etc/skel")) if os.path.isdir("/etc/skel") else set()
        if not os.path.isdir(pw.pw_dir):
            continue
        for name in os.listdir(pw.pw_dir):
            if name in skel:
                continue
            p = os.path.join(pw.pw_dir, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)


@pytest.fixture
def env(users):
    root = tempfile.mkdtemp(prefix="hk-local-", dir="/tmp")
    os.chmod(root, 0o755)
    e = Env(root, users)
    yield e
    if e.cleanup:
        e.cleanup.close()
    shutil.rmtree(root, ignore_errors=True)
    reset_homes(users)


def status_of(s):
    return {0: "sent", 4: "deferred", 5: "bounced"}[s["outcome"]]


# ---- mailbox delivery ----

def test_mbox_delivery(env, users):
    st = env.deliver(["hktalice@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert st[0]["dsn"] == "2.0.0"
    box = env.mailbox("hktalice")
    lines = box.split("\n")
    assert re.match(r"^From sender@example\.com  \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$",
                    lines[0]), lines[0]
    assert lines[1] == "Return-Path: <sender@example.com>"
    assert lines[2] == "X-Original-To: hktalice@example.jp"
    assert lines[3] == "Delivered-To: hktalice@example.jp"
    assert "Subject: test 1\n\nline one\n>From the start\n>From quoted\nFromage\n\n" in box
    assert box.endswith("Fromage\n\n")
    p = os.path.join(env.spool, "hktalice")
    s = os.stat(p)
    assert s.st_uid == users["hktalice"].pw_uid
    assert stat.S_IMODE(s.st_mode) == 0o600
    assert not os.path.exists(p + ".lock")
    log = env.log()
    assert re.search(r"postfix/local\[\d+\]: ABC001: to=<hktalice@example\.jp>, relay=local, "
                     r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
                     r"status=sent \(delivered to mailbox\)", log), log

    # A second message is appended after an empty line.
    env.deliver(["hktalice@example.jp"], sender="")
    box = env.mailbox("hktalice")
    assert box.count("\nFrom ") == 1 and box.startswith("From ")
    assert "\n\nFrom MAILER-DAEMON  " in box
    assert "Return-Path: <>" in box


def test_mbox_case_and_extension(env, users):
    env.write_main_cf(recipient_delimiter="+")
    st = env.deliver(["HKTAlice+Tag@Example.JP"])
    assert status_of(st[0]) == "sent", st
    box = env.mailbox("hktalice")
    assert "Delivered-To: hktalice+tag@example.jp" in box


def test_maildir_delivery(env, users):
    env.write_main_cf(home_mailbox="Maildir/")
    st = env.deliver(["hktbob@example.jp"])
    assert status_of(st[0]) == "sent", st
    home = users["hktbob"].pw_dir
    new = os.path.join(home, "Maildir", "new")
    files = os.listdir(new)
    assert len(files) == 1
    assert os.listdir(os.path.join(home, "Maildir", "tmp")) == []
    assert os.path.isdir(os.path.join(home, "Maildir", "cur"))
    name = files[0]
    assert re.match(r"^\d+\.V[0-9a-f]+I[0-9a-f]+M\d+\.mail\.example\.jp$", name), name
    p = os.path.join(new, name)
    s = os.stat(p)
    assert s.st_uid == users["hktbob"].pw_uid
    assert stat.S_IMODE(s.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(home, "Maildir")).st_mode) == 0o700
    data = open(p).read()
    assert data.startswith("Return-Path: <sender@example.com>\nX-Original-To: hktbob@example.jp\n"
                           "Delivered-To: hktbob@example.jp\nFrom: Sender")
    assert "\n\nline one\nFrom the start\n" in data       # no quoting in Maildir
    assert "status=sent (delivered to maildir)" in env.log()
    # Two more deliveries get distinct names.
    env.deliver(["hktbob@example.jp"])
    env.deliver(["hktbob@example.jp"])
    assert len(os.listdir(new)) == 3


def test_home_mailbox_file(env, users):
    env.write_main_cf(home_mailbox="Mailbox")
    st = env.deliver(["hktbob@example.jp"])
    assert status_of(st[0]) == "sent", st
    p = os.path.join(users["hktbob"].pw_dir, "Mailbox")
    assert open(p).read().startswith("From sender@example.com  ")
    assert os.stat(p).st_uid == users["hktbob"].pw_uid


# ---- rights of mailbox steps (run in the local process with the user's ids) ----

def _assert_users_file(path, pw, mode):
    s = os.stat(path)
    assert (s.st_uid, s.st_gid) == (pw.pw_uid, pw.pw_gid), path
    assert stat.S_IMODE(s.st_mode) == mode, (path, oct(s.st_mode))


def test_maildir_per_user_in_spool(env, users):
    """mail_spool_directory ending in "/" (the benchmark's layout): one request,
    two users; each Maildir is made by its user (0700) and each message file is
    the user's (0600), with nothing left in tmp/."""
    env.write_main_cf(mail_spool_directory=env.spool + "/")
    st = env.deliver(["hktalice@example.jp", "hktbob@example.jp"])
    assert [status_of(s) for s in st] == ["sent", "sent"], st
    for u in ("hktalice", "hktbob"):
        pw = users[u]
        md = os.path.join(env.spool, u)
        for sub in ("", "tmp", "new", "cur"):
            _assert_users_file(os.path.join(md, sub), pw, 0o700)
        files = os.listdir(os.path.join(md, "new"))
        assert len(files) == 1
        _assert_users_file(os.path.join(md, "new", files[0]), pw, 0o600)
        assert os.listdir(os.path.join(md, "tmp")) == []
        assert "Delivered-To: %s@example.jp" % u in open(os.path.join(md, "new", files[0])).read()


def test_mailbox_steps_give_root_back(env, users):
    """A spool directory only root may write: after each user's .forward search
    (run as that user) the process is root again, creates the mailbox and gives
    it to the user."""
    os.chmod(env.spool, 0o755)
    st = env.deliver(["hktalice@example.jp", "hktbob@example.jp"])
    assert [status_of(s) for s in st] == ["sent", "sent"], st
    for u in ("hktalice", "hktbob"):
        _assert_users_file(os.path.join(env.spool, u), users[u], 0o600)
        assert "Subject: test 1" in env.mailbox(u)


def test_maildir_written_with_the_users_rights(env, users):
    """A Maildir only root may write fails for its user (not written as root);
    the next recipient of the same request is delivered as before."""
    env.write_main_cf(home_mailbox="Maildir/")
    alice, bob = users["hktalice"], users["hktbob"]
    md = os.path.join(alice.pw_dir, "Maildir")
    for sub in ("", "tmp", "new", "cur"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
        os.chmod(os.path.join(md, sub), 0o755)         # root's
    st = env.deliver(["hktalice@example.jp", "hktbob@example.jp"])
    assert status_of(st[0]) == "bounced", st
    assert st[0]["dsn"] == "5.2.0"
    assert st[0]["reason"].startswith("maildir delivery failed: create %s/tmp/" % md)
    assert st[0]["reason"].endswith("Permission denied")
    assert os.listdir(os.path.join(md, "new")) == [] and os.listdir(os.path.join(md, "tmp")) == []
    assert "maildir access problem for UID/GID=%d/%d" % (alice.pw_uid, alice.pw_gid) in env.log()
    assert status_of(st[1]) == "sent", st
    new = os.path.join(bob.pw_dir, "Maildir", "new")
    assert len(os.listdir(new)) == 1
    _assert_users_file(os.path.join(new, os.listdir(new)[0]), bob, 0o600)


def test_mbox_written_with_the_users_rights(env, users):
    env.write_main_cf(home_mailbox="Mailbox")
    alice, bob = users["hktalice"], users["hktbob"]
    box = os.path.join(alice.pw_dir, "Mailbox")
    open(box, "w").close()
    os.chmod(box, 0o644)                                # root's: the user may not write
    st = env.deliver(["hktalice@example.jp", "hktbob@example.jp"])
    assert status_of(st[0]) == "bounced", st
    assert "cannot open file %s: Permission denied" % box in st[0]["reason"]
    assert os.path.getsize(box) == 0
    assert not os.path.exists(box + ".lock")
    assert status_of(st[1]) == "sent", st
    _assert_users_file(os.path.join(bob.pw_dir, "Mailbox"), bob, 0o600)


def test_dotforward_read_with_the_users_rights(env, users):
    """A .forward the user cannot read (root's, mode 0600) is not read as root:
    it is ignored with a warning and the mail goes to the mailbox."""
    bob = users["hktbob"]
    fwd = os.path.join(bob.pw_dir, ".forward")
    with open(fwd, "w") as f:
        f.write("far@remote.example\n")
    os.chmod(fwd, 0o600)
    st = env.deliver(["hktbob@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert "Subject: test 1" in env.mailbox("hktbob")
    assert "cannot open file %s: Permission denied" % fwd in env.log()


def test_command_after_mailbox_steps(env, users):
    """A command in the same request as mailbox steps still runs in a child
    with default_privs only: uid, gid and groups of nobody, nothing of the user's."""
    out = os.path.join(env.shared, "ids")
    env.write_aliases('pipe: "|id -u > %s; id -G >> %s; cat > /dev/null"\n' % (out, out))
    st = env.deliver(["hktalice@example.jp", "pipe@example.jp", "hktbob@example.jp"])
    assert [status_of(s) for s in st] == ["sent", "sent", "sent"], st
    nobody = pwd.getpwnam("nobody")
    uid, groups = open(out).read().split("\n")[:2]
    assert int(uid) == nobody.pw_uid
    assert groups.split() == [str(nobody.pw_gid)]


def test_unknown_user_bounces(env):
    st = env.deliver(["nosuchuser@example.jp"])
    assert status_of(st[0]) == "bounced", st
    assert st[0]["dsn"] == "5.1.1"
    assert st[0]["reason"] == 'unknown user: "nosuchuser"'
    assert re.search(r"to=<nosuchuser@example\.jp>, relay=local, .*dsn=5\.1\.1, "
                     r"status=bounced \(unknown user: \"nosuchuser\"\)", env.log())


def test_mailbox_size_limit(env, users):
    env.write_main_cf(mailbox_size_limit="3000", message_size_limit="2000")
    p = os.path.join(env.spool, "hktalice")
    with open(p, "w") as f:
        f.write("From old  Thu Jan  1 00:00:00 2020\n" + "x" * 2800 + "\n\n")
    os.chown(p, users["hktalice"].pw_uid, users["hktalice"].pw_gid)
    os.chmod(p, 0o600)
    before = os.path.getsize(p)
    st = env.deliver(["hktalice@example.jp"])
    assert status_of(st[0]) == "bounced", st
    assert st[0]["dsn"] == "5.2.2"
    assert "cannot update mailbox %s for user hktalice" % p in st[0]["reason"]
    assert "File too large" in st[0]["reason"]
    assert os.path.getsize(p) == before             # truncated back


def test_mailbox_symlink_and_hardlink_refused(env, users):
    target = os.path.join(env.shared, "elsewhere")
    with open(target, "w") as f:
        f.write("")
    os.symlink(target, os.path.join(env.spool, "hktalice"))
    st = env.deliver(["hktalice@example.jp"])
    assert status_of(st[0]) == "bounced", st
    assert "symbolic link" in st[0]["reason"]
    assert open(target).read() == ""

    other = os.path.join(env.shared, "linked")
    with open(other, "w") as f:
        f.write("")
    os.chown(other, users["hktbob"].pw_uid, users["hktbob"].pw_gid)
    os.link(other, os.path.join(env.spool, "hktbob"))
    st = env.deliver(["hktbob@example.jp"])
    assert status_of(st[0]) == "bounced", st
    assert "hard links" in st[0]["reason"]
    assert open(other).read() == ""


def test_mailbox_wrong_owner_defers(env, users):
    p = os.path.join(env.spool, "hktalice")
    with open(p, "w") as f:
        f.write("")
    os.chown(p, users["hktbob"].pw_uid, users["hktbob"].pw_gid)
    os.chmod(p, 0o666)
    st = env.deliver(["hktalice@example.jp"])
    assert status_of(st[0]) == "deferred", st
    assert "is not owned by recipient" in st[0]["reason"]
    assert 'specify "strict_mailbox_ownership = no"' in env.log()
    env.write_main_cf(strict_mailbox_ownership="no")
    st = env.deliver(["hktalice@example.jp"])
    assert status_of(st[0]) == "sent", st


def test_locked_mailbox_defers(env, users):
    env.write_main_cf(deliver_lock_attempts="2", deliver_lock_delay="1s")
    lock = os.path.join(env.spool, "hktalice.lock")
    with open(lock, "w"):
        pass
    st = env.deliver(["hktalice@example.jp"])
    assert status_of(st[0]) == "deferred", st
    assert st[0]["dsn"] == "4.2.0"
    assert os.path.exists(lock)         # someone else's lock stays
    os.unlink(lock)
    st = env.deliver(["hktalice@example.jp"])
    assert status_of(st[0]) == "sent", st


# ---- aliases ----

def test_alias_one_target(env, users):
    env.write_aliases("info: hktalice\n")
    st = env.deliver(["info@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert "Subject: test 1" in env.mailbox("hktalice")
    assert "Delivered-To: info@example.jp" in env.mailbox("hktalice")
    assert re.search(r"to=<hktalice@example\.jp>, orig_to=<info@example\.jp>, relay=local, "
                     r".*status=sent \(delivered to mailbox\)", env.log()), env.log()


def test_alias_several_targets_and_self(env, users):
    env.write_aliases("# comment\nTeam: hktalice,\n  hktbob , hktalice\n"
                      "hktbob: hktbob, hktalice\n")
    st = env.deliver(["team@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert env.mailbox("hktalice").count("Subject: test 1") == 1     # duplicate removed
    assert env.mailbox("hktbob").count("Subject: test 1") == 1       # alias to itself = mailbox
    log = env.log()
    assert len(re.findall(r"to=<hktalice@example\.jp>, orig_to=<team@example\.jp>", log)) == 1
    assert len(re.findall(r"to=<hktbob@example\.jp>, orig_to=<team@example\.jp>", log)) == 1


def test_alias_to_remote_is_forwarded(env, users):
    env.write_aliases("root: someone@remote.example, other@remote.example, hktalice\n")
    fc = env.fake_cleanup()
    st = env.deliver([("root@example.jp", "root")], sender="root@example.jp")
    assert status_of(st[0]) == "sent", st
    assert len(fc.messages) == 1
    m = fc.messages[0]
    assert m["sender"] == "root@example.jp"
    assert m["rcpts"] == [("someone@remote.example", "root"), ("other@remote.example", "root")]
    data = m["data"].decode()
    assert re.match(r"Received: by mail\.example\.jp \(Hikyaku\)\n\tid FWD0001; .+\n"
                    r"Delivered-To: root@example\.jp\nFrom: Sender", data), data
    assert data.endswith("\n\nline one\nFrom the start\n>From quoted\nFromage\n")
    log = env.log()
    for t in ("someone@remote.example", "other@remote.example"):
        assert re.search(r"ABC001: to=<%s>, orig_to=<root>, relay=local, delay=[\d.]+, "
                         r"delays=[\d./]+, dsn=2\.0\.0, status=sent \(forwarded as FWD0001\)"
                         % re.escape(t), log), log
    assert "Subject: test 1" in env.mailbox("hktalice")


def test_forward_failure_defers(env, users):
    env.write_aliases("root: someone@remote.example\n")
    env.fake_cleanup(status=2, reason="4.3.0 Error: queue file write error")
    st = env.deliver(["root@example.jp"])
    assert status_of(st[0]) == "deferred", st
    assert "cannot forward message" in st[0]["reason"]


def test_defer_cancels_forwarding(env, users):
    env.write_aliases("mix: someone@remote.example, |\"exit 75\"\n")
    fc = env.fake_cleanup()
    st = env.deliver(["mix@example.jp"])
    assert status_of(st[0]) == "deferred", st
    assert fc.messages == []            # retried later as a whole: no duplicate forward


def test_owner_alias_changes_sender(env, users):
    env.write_aliases("list: hktalice, far@remote.example\nowner-list: hktbob\n")
    fc = env.fake_cleanup()
    st = env.deliver(["list@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert len(fc.messages) == 1
    m = fc.messages[0]
    assert m["sender"] == "owner-list@example.jp"
    # Local members of a list with an owner are resubmitted too.
    assert sorted(r for r, _ in m["rcpts"]) == ["far@remote.example", "hktalice@example.jp"]
    assert env.mailbox("hktalice") == ""


def test_alias_command(env, users):
    out = os.path.join(env.shared, "cmd")
    os.makedirs(out)
    os.chmod(out, 0o1777)
    env.write_aliases('pipe: "|env > %s/env; cat > %s/msg; id -un > %s/who"\n' % (out, out, out))
    st = env.deliver([("pipe@example.jp", "Pipe@example.jp")])
    assert status_of(st[0]) == "sent", st
    msg = open(os.path.join(out, "msg")).read()
    assert msg.startswith("From sender@example.com  ")
    assert "\nReturn-Path: <sender@example.com>\nX-Original-To: Pipe@example.jp\n" \
           "Delivered-To: pipe@example.jp\n" in msg
    assert msg.endswith("Fromage\n")                    # no trailing empty line
    assert "\nFrom the start\n" in msg                  # no quoting
    assert open(os.path.join(out, "who")).read().strip() == "nobody"   # root-owned alias
    envvars = dict(line.split("=", 1) for line in open(os.path.join(out, "env")).read().split("\n")
                   if "=" in line)
    assert envvars["SENDER"] == "sender@example.com"
    assert envvars["RECIPIENT"] == "pipe@example.jp"
    assert envvars["ORIGINAL_RECIPIENT"] == "Pipe@example.jp"
    assert envvars["LOCAL"] == "pipe" and envvars["USER"] == "pipe"
    assert envvars["DOMAIN"] == "example.jp"
    assert envvars["PATH"] == "/usr/bin:/bin"
    allowed = {"HOME", "LOGNAME", "USER", "SHELL", "PATH", "SENDER", "RECIPIENT", "LOCAL",
               "DOMAIN", "EXTENSION", "ORIGINAL_RECIPIENT", "CLIENT_HOSTNAME", "CLIENT_ADDRESS",
               "TZ", "MAIL_CONFIG", "LANG", "PWD", "SHLVL", "_"}
    assert set(envvars) <= allowed, set(envvars) - allowed
    assert re.search(r"to=<pipe@example\.jp>, orig_to=<Pipe@example\.jp>, relay=local, .*"
                     r"status=sent \(delivered to command: env > ", env.log())


@pytest.mark.parametrize("command,status,dsn,text", [
    ("exit 75", "deferred", "4.3.0", "temporary failure"),
    ("exit 67", "bounced", "5.1.1", "user unknown"),
    ("echo oops; echo more; exit 1", "bounced", "5.3.0",
     'Command died with status 1: "echo oops; echo more; exit 1". Command output: oops more'),
    ("echo 4.2.2 mailbox full; exit 1", "deferred", "4.2.2", "Command output: 4.2.2 mailbox full"),
    ("kill -9 $$", "deferred", "4.3.0", "Command died with signal 9"),
])
def test_command_failures(env, command, status, dsn, text):
    env.write_aliases('cmd: "|%s"\n' % command)
    st = env.deliver(["cmd@example.jp"])
    assert status_of(st[0]) == status, st
    assert st[0]["dsn"] == dsn
    assert text in st[0]["reason"]


def test_command_time_limit(env):
    env.write_main_cf(command_time_limit="1s")
    env.write_aliases('slow: "|sleep 30"\n')
    st = env.deliver(["slow@example.jp"])
    assert status_of(st[0]) == "bounced", st
    assert 'Command time limit exceeded: "sleep 30"' in st[0]["reason"]


def test_command_that_reads_nothing(env):
    env.write_aliases('blackhole: "|exit 0"\nbig: "|head -c 1"\n')
    body = "x" * 200000 + "\n"
    st = env.deliver(["blackhole@example.jp", "big@example.jp"], body=body)
    assert [status_of(s) for s in st] == ["sent", "sent"], st


def test_alias_file(env, users):
    path = os.path.join(env.shared, "archive")
    env.write_aliases("arch: %s\n" % path)
    st = env.deliver(["arch@example.jp"])
    assert status_of(st[0]) == "sent", st
    data = open(path).read()
    assert data.startswith("From sender@example.com  ")
    assert "\n>From the start\n" in data
    assert data.endswith("\n\n")
    s = os.stat(path)
    assert s.st_uid == pwd.getpwnam("nobody").pw_uid      # default_privs
    assert stat.S_IMODE(s.st_mode) == 0o600
    assert "status=sent (delivered to file: %s)" % path in env.log()


def test_alias_maildir_path(env, users):
    path = os.path.join(env.shared, "box") + "/"
    env.write_aliases("md: %s\n" % path)
    st = env.deliver(["md@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert len(os.listdir(os.path.join(path, "new"))) == 1


def test_include(env, users):
    inc = os.path.join(env.config, "list.inc")
    with open(inc, "w") as f:
        f.write("# members\nhktalice\nfar@remote.example, hktbob\n")
    os.chmod(inc, 0o644)
    env.write_aliases("crew: :include:%s\n" % inc)
    fc = env.fake_cleanup()
    st = env.deliver(["crew@example.jp"])
    assert status_of(st[0]) == "sent", st
    # Addresses from :include: files are always resubmitted.
    assert len(fc.messages) == 1
    assert sorted(r for r, _ in fc.messages[0]["rcpts"]) == [
        "far@remote.example", "hktalice@example.jp", "hktbob@example.jp"]


def test_include_restrictions(env, users):
    inc = os.path.join(env.config, "cmd.inc")
    with open(inc, "w") as f:
        f.write("|cat > /dev/null\n")
    os.chmod(inc, 0o644)
    env.write_aliases("inc: :include:%s\nbad: :include:relative/path\nww: :include:%s/ww\n"
                      % (inc, env.shared))
    with open(os.path.join(env.shared, "ww"), "w") as f:
        f.write("hktalice\n")
    os.chmod(os.path.join(env.shared, "ww"), 0o666)
    st = env.deliver(["inc@example.jp", "bad@example.jp", "ww@example.jp"])
    assert status_of(st[0]) == "bounced" and st[0]["reason"] == "mail to command is restricted"
    assert st[0]["dsn"] == "5.7.1"
    assert status_of(st[1]) == "bounced" and st[1]["dsn"] == "5.3.5"
    assert status_of(st[2]) == "bounced" and st[2]["dsn"] == "5.3.5"
    assert "is world writable" in env.log()
    # allow_mail_to_commands = alias,forward,include lifts the first restriction.
    env.write_main_cf(allow_mail_to_commands="alias, forward, include")
    st = env.deliver(["inc@example.jp"])
    assert status_of(st[0]) == "sent", st


def test_dotforward(env, users):
    bob = users["hktbob"]
    fwd = os.path.join(bob.pw_dir, ".forward")
    with open(fwd, "w") as f:
        f.write("# forward my mail\n\\hktbob, far@remote.example\nhktalice\n")
    os.chown(fwd, bob.pw_uid, bob.pw_gid)
    os.chmod(fwd, 0o644)
    fc = env.fake_cleanup()
    st = env.deliver(["hktbob@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert "Subject: test 1" in env.mailbox("hktbob")          # \hktbob: own mailbox
    assert env.mailbox("hktalice") == ""                        # resubmitted instead
    assert len(fc.messages) == 1
    assert sorted(r for r, _ in fc.messages[0]["rcpts"]) == [
        "far@remote.example", "hktalice@example.jp"]
    assert "Delivered-To: hktbob@example.jp" in fc.messages[0]["data"].decode()


def test_dotforward_self_and_others_backslash(env, users):
    """A user listed in her own .forward gets her mailbox; \\other is just other."""
    bob = users["hktbob"]
    fwd = os.path.join(bob.pw_dir, ".forward")
    with open(fwd, "w") as f:
        f.write("hktbob\n\\hktalice\n")
    os.chown(fwd, bob.pw_uid, bob.pw_gid)
    fc = env.fake_cleanup()
    st = env.deliver(["hktbob@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert "Subject: test 1" in env.mailbox("hktbob")
    assert env.mailbox("hktalice") == ""
    assert [r for r, _ in fc.messages[0]["rcpts"]] == ["hktalice@example.jp"]


def test_dotforward_command_runs_as_user(env, users):
    bob = users["hktbob"]
    out = os.path.join(env.shared, "bob-out")
    with open(os.path.join(bob.pw_dir, ".forward"), "w") as f:
        f.write('"|id -un > %s; cat > /dev/null"\n' % out)
    os.chown(os.path.join(bob.pw_dir, ".forward"), bob.pw_uid, bob.pw_gid)
    st = env.deliver(["hktbob@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert open(out).read().strip() == "hktbob"


def test_dotforward_ignored_when_unsafe(env, users):
    bob = users["hktbob"]
    fwd = os.path.join(bob.pw_dir, ".forward")
    with open(fwd, "w") as f:
        f.write("far@remote.example\n")
    os.chown(fwd, bob.pw_uid, bob.pw_gid)
    os.chmod(fwd, 0o666)        # writable by others: ignored
    st = env.deliver(["hktbob@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert "Subject: test 1" in env.mailbox("hktbob")
    assert "is world writable" in env.log()
    os.chmod(fwd, 0o644)
    os.chown(fwd, users["hktalice"].pw_uid, users["hktalice"].pw_gid)   # someone else's
    env.deliver(["hktbob@example.jp"])
    assert env.mailbox("hktbob").count("Subject: test") == 2
    assert "has bad owner uid" in env.log()


def test_empty_dotforward_means_mailbox(env, users):
    bob = users["hktbob"]
    fwd = os.path.join(bob.pw_dir, ".forward")
    open(fwd, "w").close()
    os.chown(fwd, bob.pw_uid, bob.pw_gid)
    st = env.deliver(["hktbob@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert "Subject: test 1" in env.mailbox("hktbob")


def test_luser_relay(env, users):
    env.write_main_cf(luser_relay="$user+${extension}@relay.example", recipient_delimiter="+")
    fc = env.fake_cleanup()
    st = env.deliver(["Nobody-Here+x@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert fc.messages[0]["rcpts"][0][0] == "nobody-here+x@relay.example"
    assert re.search(r"to=<nobody-here\+x@relay\.example>, orig_to=<Nobody-Here\+x@example\.jp>, "
                     r"relay=local, .*status=sent \(forwarded as FWD0001\)", env.log()), env.log()


def test_fallback_transport(env, users):
    agent = hk.FakeAgent(env.queue, "fallback")
    try:
        env.write_main_cf(fallback_transport="fallback:[backup.example]")
        st = env.deliver(["nosuch@example.jp", "hktalice@example.jp"])
        assert status_of(st[0]) == "sent" and st[0]["reason"] == "delivered by fake", st
        assert status_of(st[1]) == "sent" and st[1]["reason"] == "delivered to mailbox"
        assert len(agent.requests) == 1
        r = agent.requests[0]
        assert hk.text(r["transport"]) == "fallback"
        assert hk.text(r["nexthop"]) == "[backup.example]"
        assert hk.text(r["rcpt"][0]["address"]) == "nosuch@example.jp"
    finally:
        agent.close()
    # An agent that is not there defers.
    st = env.deliver(["nosuch@example.jp"])
    assert status_of(st[0]) == "deferred", st
    assert st[0]["reason"] == "mail transport unavailable"


def test_mailbox_command(env, users):
    out = os.path.join(env.shared, "mbcmd")
    env.write_main_cf(mailbox_command="/bin/sh -c 'cat > %s; echo $EXTENSION >> %s'" % (out, out),
                      recipient_delimiter="+")
    st = env.deliver(["hktalice+box@example.jp"])
    assert status_of(st[0]) == "sent", st
    data = open(out).read()
    assert data.startswith("From sender@example.com ")
    assert data.endswith("\nbox\n")
    assert os.stat(out).st_uid == users["hktalice"].pw_uid


def test_forwarding_loop(env, users):
    headers = ["Delivered-To: other@example.jp", "Delivered-To: HKTalice@Example.JP",
               "Subject: loop"]
    st = env.deliver(["hktalice@example.jp"], headers=headers)
    assert status_of(st[0]) == "bounced", st
    assert st[0]["dsn"] == "5.4.6"
    assert st[0]["reason"] == "mail forwarding loop for hktalice@example.jp"
    assert env.mailbox("hktalice") == ""


def test_alias_loop(env, users):
    env.write_aliases("a1: a2\na2: a1\n")
    st = env.deliver(["a1@example.jp"])
    assert status_of(st[0]) == "bounced", st
    assert st[0]["dsn"] == "5.4.6"


def test_missing_alias_table_defers(env, users):
    env.write_main_cf(alias_maps="hash:%s/nonexistent" % env.config)
    st = env.deliver(["hktalice@example.jp"])
    assert status_of(st[0]) == "deferred", st
    assert st[0]["reason"] == "alias database unavailable"


def test_postmaster_without_alias_is_discarded(env, users):
    env.write_aliases("")
    st = env.deliver(["postmaster@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert "required alias not found: postmaster" in env.log()


def test_verify_request(env, users):
    env.write_aliases("info: hktalice\n")
    st = env.deliver(["info@example.jp", "hktbob@example.jp", "nosuch@example.jp"], flags=1)
    assert [status_of(s) for s in st] == ["sent", "sent", "bounced"], st
    assert st[0]["reason"] == "aliased to hktalice"
    assert env.mailbox("hktbob") == ""


def test_bad_requests(env):
    """Garbage instead of a request: local says nothing and exits cleanly."""
    for junk in (b"", b"\x00", b"Zjunk", hk.encode([("request", "nonsense")]),
                 hk.encode([("request", "deliver"), ("queue_id", "../../etc/passwd"),
                            ("queue_name", "active")])):
        statuses, done, err = hk.run_local(LOCAL, env.config, junk, timeout=20)
        assert statuses == [] or all(status_of(s) == "deferred" for s in statuses)
        assert "panic" not in err and "Sanitizer" not in err


def test_missing_queue_file_defers(env):
    req = hk.deliver_request("NOSUCHFILE", "s@example.com", ["hktalice@example.jp"], 100, 10)
    statuses, done, err = hk.run_local(LOCAL, env.config, req)
    assert done is not None
    assert status_of(statuses[0]) == "deferred"


def test_expand_owner_alias(env, users):
    env.write_main_cf(expand_owner_alias="yes")
    env.write_aliases("list: far@remote.example\nowner-list: listmaster@example.jp\n")
    fc = env.fake_cleanup()
    st = env.deliver(["list@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert fc.messages[0]["sender"] == "listmaster@example.jp"


def test_command_execution_directory(env, users):
    out = os.path.join(env.shared, "cwd-out")
    env.write_main_cf(command_execution_directory=env.shared + "/$user")
    os.makedirs(os.path.join(env.shared, "cmd"))
    os.chmod(os.path.join(env.shared, "cmd"), 0o1777)
    env.write_aliases('cmd: "|pwd > %s"\nnodir: "|true"\n' % out)
    st = env.deliver(["cmd@example.jp"])
    assert status_of(st[0]) == "sent", st
    assert open(out).read().strip() == os.path.join(env.shared, "cmd")
    st = env.deliver(["nodir@example.jp"])        # $shared/nodir does not exist
    assert status_of(st[0]) == "deferred", st


def test_mailbox_transport(env, users):
    agent = hk.FakeAgent(env.queue, "lmtp", outcome=4, dsn="4.4.1", reason="connect failed")
    try:
        env.write_main_cf(mailbox_transport="lmtp:unix:/run/imap.sock")
        env.write_aliases("info: hktalice\n")
        st = env.deliver(["info@example.jp"])
        assert status_of(st[0]) == "deferred" and st[0]["dsn"] == "4.4.1", st
        r = agent.requests[0]
        assert hk.text(r["nexthop"]) == "unix:/run/imap.sock"
        assert hk.text(r["rcpt"][0]["address"]) == "hktalice@example.jp"
        assert env.mailbox("hktalice") == ""
    finally:
        agent.close()


def test_dotforward_home_file_and_require_home(env, users):
    bob = users["hktbob"]
    fwd = os.path.join(bob.pw_dir, ".forward")
    with open(fwd, "w") as f:
        f.write("~/saved.mbox\n")
    os.chown(fwd, bob.pw_uid, bob.pw_gid)
    env.write_main_cf(require_home_directory="yes")
    st = env.deliver(["hktbob@example.jp"])
    assert status_of(st[0]) == "sent", st
    saved = os.path.join(bob.pw_dir, "saved.mbox")
    assert open(saved).read().startswith("From sender@example.com  ")
    assert os.stat(saved).st_uid == bob.pw_uid
    # A home directory that is gone defers instead of bouncing.
    os.rename(bob.pw_dir, bob.pw_dir + ".away")
    try:
        st = env.deliver(["hktbob@example.jp"])
        assert status_of(st[0]) == "deferred", st
        assert "cannot access home directory" in st[0]["reason"]
    finally:
        os.rename(bob.pw_dir + ".away", bob.pw_dir)


def test_several_recipients_in_one_request(env, users):
    env.write_aliases("info: hktalice\n")
    st = env.deliver(["hktalice@example.jp", "nosuch@example.jp", "info@example.jp"])
    assert [status_of(s) for s in st] == ["sent", "bounced", "sent"], st
    assert [s["index"] for s in st] == [0, 1, 2]
    assert env.mailbox("hktalice").count("Subject: test 1") == 2


# ---- whole instance ----

def have_daemons(instance):
    return all(os.path.exists(os.path.join(instance.libexec, d))
               for d in ("master", "smtpd", "cleanup", "qmgr", "local"))


@pytest.fixture
def inst(request, users):
    from conftest import Instance
    try:
        hk_install = request.getfixturevalue("hk_install")
    except subprocess.CalledProcessError:
        pytest.fail("the build tree does not install")
    root = tempfile.mkdtemp(prefix="hk-local-inst-", dir="/tmp")
    os.chmod(root, 0o755)
    i = Instance(hk_install, os.path.join(root, "hk"))
    if not have_daemons(i):
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail("master, smtpd, cleanup, qmgr or local is not installed")
    i.write_main_cf(mydestination="example.jp, $myhostname, localhost", myorigin="example.jp")
    yield i
    i.stop()
    shutil.rmtree(root, ignore_errors=True)
    reset_homes(users)


def test_instance_mbox_and_alias(inst, users):
    with open(os.path.join(inst.config, "aliases"), "w") as f:
        f.write("postmaster: root\nteam: hktalice, hktbob\n")
    inst.cmd("postalias", os.path.join(inst.config, "aliases"))
    inst.start()
    s = inst.smtp()
    s.sendmail("sender@example.com", ["hktalice@example.jp", "team@example.jp"],
               "Subject: via smtp\n\nhello\nFrom here\n")
    s.quit()
    inst.wait_log(r"to=<hktbob@example\.jp>, orig_to=<team@example\.jp>, relay=local, .*"
                  r"status=sent \(delivered to mailbox\)")
    inst.wait_log(r"to=<hktalice@example\.jp>, relay=local, .*status=sent", count=1)
    box = inst.mailbox("hktalice")
    assert "Subject: via smtp" in box and "\n>From here\n" in box


def test_instance_unknown_user(inst, users):
    inst.write_main_cf(local_recipient_maps="")
    inst.start()
    s = inst.smtp()
    s.sendmail("sender@example.com", ["nosuch@example.jp"], "Subject: x\n\nhi\n")
    s.quit()
    inst.wait_log(r"to=<nosuch@example\.jp>, relay=local, .*dsn=5\.1\.1, "
                  r"status=bounced \(unknown user: \"nosuch\"\)")


def test_instance_forward_and_loop(inst, users):
    """Forwarding goes through the real cleanup and qmgr; a loop is caught by Delivered-To."""
    with open(os.path.join(inst.config, "aliases"), "w") as f:
        f.write("postmaster: root\nlist: hktalice\nowner-list: hktbob\n")
    inst.cmd("postalias", os.path.join(inst.config, "aliases"))
    inst.start()
    s = inst.smtp()
    s.sendmail("sender@example.com", ["list@example.jp"], "Subject: to the list\n\nhi\n")
    s.quit()
    new_id = inst.wait_log(r"to=<hktalice@example\.jp>, relay=local, .*"
                           r"status=sent \(forwarded as (\w+)\)")[0]
    inst.wait_log(new_id + r": from=<owner-list@example\.jp>")
    inst.wait_log(new_id + r": to=<hktalice@example\.jp>, relay=local, .*"
                  r"status=sent \(delivered to mailbox\)")
    box = inst.mailbox("hktalice")
    assert "Return-Path: <owner-list@example.jp>" in box
    assert "Delivered-To: list@example.jp" in box
    assert "Subject: to the list" in box

    # hktalice forwards to hktbob and hktbob back to hktalice: each hop is a
    # new message carrying one more Delivered-To:, and the third hop stops.
    for me, other in (("hktalice", "hktbob"), ("hktbob", "hktalice")):
        pw = users[me]
        path = os.path.join(pw.pw_dir, ".forward")
        with open(path, "w") as f:
            f.write(other + "@example.jp\n")
        os.chown(path, pw.pw_uid, pw.pw_gid)
    s = inst.smtp()
    s.sendmail("sender@example.com", ["hktalice@example.jp"], "Subject: loop\n\nhi\n")
    s.quit()
    inst.wait_log(r"to=<hktalice@example\.jp>, relay=local, .*dsn=5\.4\.6, "
                  r"status=bounced \(mail forwarding loop for hktalice@example\.jp\)", timeout=30)
