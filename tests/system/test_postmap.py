"""postmap, postalias and newaliases (sendmail -bi), run from the build tree.

Each test gets a temporary directory with its own config directory (-c);
nothing touches /etc/postfix. The expected texts follow postmap(1),
postalias(1), aliases(5), regexp_table(5), pcre_table(5), cidr_table(5) and
what Postfix 3.7 prints for the same input.
"""
import os
import pwd
import shutil
import stat
import subprocess
import tempfile

import pytest

BUILD = os.environ.get("HK_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))


def prog(name):
    path = os.path.join(BUILD, name)
    if not os.path.exists(path):
        pytest.fail(f"{name} is missing from the build")
    return path


class Env:
    def __init__(self, root):
        self.root = str(root)
        self.conf = os.path.join(self.root, "conf")
        os.makedirs(self.conf)
        self.write_conf("")

    def write_conf(self, text):
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(text)

    def path(self, name):
        return os.path.join(self.root, name)

    def file(self, name, text, mode=None):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        if mode is not None:
            os.chmod(p, mode)
        return p

    def run(self, tool, *args, stdin=None, env=None):
        r = subprocess.run([prog(tool), "-c", self.conf, *args], input=stdin,
                           capture_output=True, text=True, timeout=60, env=env)
        return r


@pytest.fixture
def env(tmp_path):
    os.chmod(tmp_path, 0o755)
    return Env(tmp_path)


SOURCE = """# a comment
Foo     bar
foo     second
key1    a b
  c d

novalue
last    val
"""


def test_build_query_list(env):
    src = env.file("virtual", SOURCE)
    r = env.run("postmap", src)
    assert r.returncode == 0
    assert f'postmap: warning: {src}.db: duplicate entry: "foo"' in r.stderr
    assert f"postmap: warning: {src}, line 7: expected format: key whitespace value" in r.stderr
    assert r.stdout == ""
    assert os.path.exists(src + ".db")

    r = env.run("postmap", "-q", "FOO", src)
    assert (r.returncode, r.stdout) == (0, "bar\n")
    r = env.run("postmap", "-q", "key1", "hash:" + src)
    assert (r.returncode, r.stdout) == (0, "a b  c d\n")
    r = env.run("postmap", "-q", "absent", src)
    assert (r.returncode, r.stdout) == (1, "")

    r = env.run("postmap", "-q", "-", src, stdin="LAST\nnone\nfoo\n")
    assert r.returncode == 0
    assert r.stdout == "LAST\tval\nfoo\tbar\n"
    r = env.run("postmap", "-q", "-", src, stdin="none\n")
    assert (r.returncode, r.stdout) == (1, "")

    r = env.run("postmap", "-s", src)
    assert r.returncode == 0
    assert sorted(r.stdout.splitlines()) == ["foo\tbar", "key1\ta b  c d", "last\tval"]

    r = env.run("postmap", "-q", "x", "-s", src)
    assert r.returncode != 0
    assert "postmap: fatal: specify only one of -s or -q or -d" in r.stderr


def test_duplicates_replace_ignore(env):
    src = env.file("dups", "a 1\nA 2\n")
    r = env.run("postmap", "-r", src)
    assert r.returncode == 0 and "duplicate" not in r.stderr
    assert env.run("postmap", "-q", "a", src).stdout == "2\n"
    r = env.run("postmap", "-w", src)
    assert r.returncode == 0 and "duplicate" not in r.stderr
    assert env.run("postmap", "-q", "a", src).stdout == "1\n"
    r = env.run("postmap", "-f", src)
    assert "duplicate" not in r.stderr
    assert env.run("postmap", "-fq", "A", src).stdout == "2\n"
    assert env.run("postmap", "-fq", "a", src).stdout == "1\n"


def test_quoted_keys_and_bad_quotes(env):
    src = env.file("q", '"a b" quoted\n"unterm value\n')
    r = env.run("postmap", src)
    assert f"postmap: warning: {src}, line 2: unbalanced '\"' in '\"unterm value' -- ignoring this line" in r.stderr
    assert env.run("postmap", "-q", '"a b"', src).stdout == "quoted\n"


def test_delete_and_incremental(env):
    src = env.file("t", "a 1\nb 2\n")
    assert env.run("postmap", src).returncode == 0
    r = env.run("postmap", "-d", "A", src)
    assert r.returncode == 0
    assert env.run("postmap", "-q", "a", src).returncode == 1
    assert env.run("postmap", "-d", "a", src).returncode == 1
    r = env.run("postmap", "-i", src, stdin="c 3\nd 4\n")
    assert r.returncode == 0
    assert env.run("postmap", "-q", "c", src).stdout == "3\n"
    assert env.run("postmap", "-q", "b", src).stdout == "2\n"
    r = env.run("postmap", "-d", "-", src, stdin="c\nzz\n")
    assert r.returncode == 0
    assert env.run("postmap", "-q", "c", src).returncode == 1
    assert env.run("postmap", "-q", "d", src).stdout == "4\n"
    r = env.run("postmap", "-d", "x", env.path("missing"))
    assert r.returncode == 1
    assert f"postmap: fatal: open database {env.path('missing')}.db: No such file or directory" in r.stderr


def test_nul_handling(env):
    dump = shutil.which("db5.3_dump")
    src = env.file("n", "k v\n")
    assert env.run("postmap", "-n", src).returncode == 0
    assert env.run("postmap", "-q", "k", src).stdout == "v\n"
    assert env.run("postmap", "-Nq", "k", src).returncode == 1
    if dump:
        out = subprocess.run([dump, "-p", src + ".db"], capture_output=True, text=True).stdout
        assert " k\n" in out and "\\00" not in out
    assert env.run("postmap", "-N", src).returncode == 0
    assert env.run("postmap", "-nq", "k", src).returncode == 1
    assert env.run("postmap", "-q", "k", src).stdout == "v\n"
    if dump:
        out = subprocess.run([dump, "-p", src + ".db"], capture_output=True, text=True).stdout
        assert " k\\00\n" in out and "type=hash" in out


def test_btree_lmdb_and_default_type(env):
    src = env.file("m", "Alpha one\nbeta two\n")
    assert env.run("postmap", "btree:" + src).returncode == 0
    r = env.run("postmap", "-s", "btree:" + src)
    assert r.stdout == "alpha\tone\nbeta\ttwo\n"
    assert env.run("postmap", "lmdb:" + src).returncode == 0
    assert os.path.exists(src + ".lmdb")
    assert env.run("postmap", "-q", "ALPHA", "lmdb:" + src).stdout == "one\n"
    env.write_conf("default_database_type = lmdb\n")
    os.unlink(src + ".lmdb")
    assert env.run("postmap", src).returncode == 0
    assert os.path.exists(src + ".lmdb")
    assert env.run("postmap", "-q", "beta", src).stdout == "two\n"


def test_failed_build_keeps_old_table(env):
    src = env.file("keep", "k old\n")
    assert env.run("postmap", "lmdb:" + src).returncode == 0
    before = os.stat(src + ".lmdb")
    # LMDB keys are limited to 511 bytes: the build fails half-way.
    env.file("keep", "k new\n" + "x" * 600 + " v\n")
    r = env.run("postmap", "lmdb:" + src)
    assert r.returncode != 0
    assert "postmap: fatal:" in r.stderr
    after = os.stat(src + ".lmdb")
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert env.run("postmap", "-q", "k", "lmdb:" + src).stdout == "old\n"
    assert [f for f in os.listdir(env.root) if "tmp" in f] == []
    r = env.run("postmap", env.path("does-not-exist"))
    assert r.returncode == 1
    assert f"postmap: fatal: open {env.path('does-not-exist')}: No such file or directory" in r.stderr


def test_modes_and_owner(env):
    src = env.file("perm", "k v\n", mode=0o640)
    assert env.run("postmap", src).returncode == 0
    assert stat.S_IMODE(os.stat(src + ".db").st_mode) == 0o640
    os.unlink(src + ".db")
    assert env.run("postmap", "-p", src).returncode == 0
    assert stat.S_IMODE(os.stat(src + ".db").st_mode) == 0o644
    if os.geteuid() != 0:
        return
    nobody = pwd.getpwnam("nobody")
    # LeakSanitizer cannot run in a process that changed its euid.
    no_lsan = {**os.environ, "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}
    # pytest's own directory is private to root: use one that nobody can reach.
    sub = tempfile.mkdtemp(prefix="hk-postmap-owner-")
    try:
        os.chmod(sub, 0o755)
        os.chown(sub, nobody.pw_uid, nobody.pw_gid)
        src2 = os.path.join(sub, "t")
        with open(src2, "w") as f:
            f.write("k v\n")
        os.chown(src2, nobody.pw_uid, nobody.pw_gid)
        r = env.run("postmap", src2, env=no_lsan)
        assert r.returncode == 0, r.stderr
        st = os.stat(src2 + ".db")
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        os.unlink(src2 + ".db")
        assert env.run("postmap", "-o", src2).returncode == 0
        assert os.stat(src2 + ".db").st_uid == 0
    finally:
        shutil.rmtree(sub, ignore_errors=True)


def test_pattern_tables(env):
    re_ = env.file("re", "/^(.*)@example\\.com$/  user=$1\n/un(closed/ bad\n"
                   "if !/^owner-/\n/^(.*)-outgoing@(.*)$/ 550 Use ${1}@${2} instead\nendif\n")
    r = env.run("postmap", "-q", "Joe@Example.com", "regexp:" + re_)
    assert (r.returncode, r.stdout) == (0, "user=Joe\n")
    assert f"postmap: warning: regexp map {re_}, line 2: " in r.stderr
    r = env.run("postmap", "-q", "list-outgoing@x.org", "regexp:" + re_)
    assert r.stdout == "550 Use list@x.org instead\n"
    assert env.run("postmap", "-q", "owner-list-outgoing@x.org", "regexp:" + re_).returncode == 1

    pc = env.file("pc", "/^(?!owner-)(.*)-outgoing@(.*)/ 550 Use ${1}@${2} instead\n"
                  "/^CASE$/i sensitive\n/a/q bad\n")
    r = env.run("postmap", "-q", "-", "pcre:" + pc, stdin="a-outgoing@b\ncase\nCASE\n")
    assert r.stdout == "a-outgoing@b\t550 Use a@b instead\nCASE\tsensitive\n"
    assert f'postmap: warning: pcre map {pc}, line 3: unknown regexp option "q": skipping this rule' in r.stderr

    ci = env.file("ci", "192.168.1.1 OK\n192.168.0.0/16 REJECT\n2001:db8::1 OK6\n"
                  "2001:db8::/32 REJECT6\n10.0.0.1/8 bad\n!10.0.0.0/8 NOTTEN\n")
    r = env.run("postmap", "-q", "-", "cidr:" + ci,
                stdin="192.168.1.1\n192.168.7.7\n2001:db8::1\n2001:db8::5\n10.1.1.1\n8.8.8.8\n")
    assert r.stdout.splitlines() == ["192.168.1.1\tOK", "192.168.7.7\tREJECT", "2001:db8::1\tOK6",
                                     "2001:db8::5\tREJECT6", "8.8.8.8\tNOTTEN"]
    assert (f'postmap: warning: cidr map {ci}, line 5: non-null host address bits in "10.0.0.1/8", '
            'perhaps you should use "10.0.0.0/8" instead: skipping this rule') in r.stderr
    r = env.run("postmap", "regexp:" + re_)
    assert r.returncode == 1
    assert "unsupported dictionary type: regexp does not support bulk-mode creation." in r.stderr


def test_other_types(env):
    assert env.run("postmap", "-q", "x", "static:foo").stdout == "foo\n"
    assert env.run("postmap", "-q", "x", "static:{ a b  c }").stdout == "a b  c\n"
    r = env.run("postmap", "-q", "K2", "inline:{ k=v, {K2 = text with space} }")
    assert r.stdout == "text with space\n"
    th = env.file("th", "Foo bar\nfoo dup\n")
    r = env.run("postmap", "-q", "FOO", "texthash:" + th)
    assert r.stdout == "bar\n"
    assert f'postmap: warning: {th}, line 2: duplicate entry: "foo"' in r.stderr
    root = pwd.getpwuid(0)
    r = env.run("postmap", "-q", root.pw_name, "unix:passwd.byname")
    assert r.stdout.startswith(f"{root.pw_name}:{root.pw_passwd}:0:")
    r = env.run("postmap", "-q", "x", "fail:foo")
    assert r.returncode == 1
    assert "postmap: fatal: table fail:foo: query error" in r.stderr
    r = env.run("postmap", "-q", "x", "foo:bar")
    assert "postmap: fatal: unsupported dictionary type: foo" in r.stderr
    r = env.run("postmap", "-s", "static:x")
    assert "postmap: fatal: table static:x: sequence operation is not supported" in r.stderr
    r = env.run("postmap")
    assert r.returncode == 1 and "postmap: fatal: usage: postmap" in r.stderr


def test_header_body_query(env):
    pc = env.file("hc", "/^Subject: (.*)/ REJECT subject $1\n/^body line/ DISCARD\n")
    msg = "From: a@b\nSubject: hello\n  world\n\nbody line one\nother\n"
    r = env.run("postmap", "-hq", "-", "pcre:" + pc, stdin=msg)
    assert r.stdout == "Subject: hello\n  world\tREJECT subject hello\n  world\n"
    r = env.run("postmap", "-bq", "-", "pcre:" + pc, stdin=msg)
    assert r.stdout == "body line one\tDISCARD\n"


ALIASES = """# comment
Root: admin, Bob
postmaster:root
"a b": x
list: :include:/etc/mail/list,
  "|/usr/bin/prog arg", /var/mail/file
pipe: |exit 67
dup: a
dup: b
nocolon value
foo@bar: x
"""


def test_postalias(env):
    src = env.file("aliases", ALIASES)
    r = env.run("postalias", src)
    assert r.returncode == 0
    assert f'postalias: warning: {src}.db: duplicate entry: "dup"' in r.stderr
    assert f"postalias: warning: {src}, line 10: need name:value pair" in r.stderr
    assert f"postalias: warning: {src}, line 11: name must be local" in r.stderr
    assert env.run("postalias", "-q", "ROOT", src).stdout == "admin, Bob\n"
    assert env.run("postalias", "-q", "list", src).stdout == \
        ':include:/etc/mail/list, "|/usr/bin/prog arg", /var/mail/file\n'
    assert env.run("postalias", "-q", "pipe", src).stdout == "|exit 67\n"
    assert env.run("postalias", "-q", "a b", src).stdout == "x\n"
    assert env.run("postalias", "-q", "@", src).stdout == "@\n"
    r = env.run("postalias", "-q", "-", src, stdin="postmaster\nnone\ndup\n")
    assert r.stdout == "postmaster:\troot\ndup:\ta\n"
    r = env.run("postalias", "-s", src)
    lines = r.stdout.splitlines()
    assert "root:\tadmin, Bob" in lines and "@:\t@" in lines
    assert any(l.startswith("YP_LAST_MODIFIED:\t") for l in lines)
    assert any(l.startswith("YP_MASTER_NAME:\t") for l in lines)
    assert env.run("postalias", "-d", "pipe", src).returncode == 0
    assert env.run("postalias", "-q", "pipe", src).returncode == 1
    r = env.run("postalias", "-i", src, stdin="new: user@example.com\n")
    assert r.returncode == 0
    assert env.run("postalias", "-q", "new", src).stdout == "user@example.com\n"


def test_postalias_normalises_like_postfix(env):
    src = env.file("al", 'a:   x ,y,  z\nb: x < y >\nc: a\\ b\nd: "q"x\n')
    assert env.run("postalias", src).returncode == 0
    got = {k: env.run("postalias", "-q", k, src).stdout for k in "abcd"}
    assert got == {"a": "x, y, z\n", "b": "x <y>\n", "c": '"a b"\n', "d": '"q" x\n'}


def test_newaliases(env):
    src = env.file("aliases", "root: admin\nops: \"|/bin/cat\"\n")
    env.write_conf(f"alias_database = hash:{src}, lmdb:{src}\ncommand_directory = {BUILD}\n")
    sendmail = prog("sendmail")
    r = subprocess.run([sendmail, "-C", os.path.join(env.conf, "main.cf"), "-bi"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert env.run("postalias", "-q", "root", src).stdout == "admin\n"
    assert env.run("postalias", "-q", "ops", "lmdb:" + src).stdout == '"|/bin/cat"\n'

    link = env.path("newaliases")
    os.symlink(sendmail, link)
    with open(src, "a") as f:
        f.write("extra: someone\n")
    r = subprocess.run([link], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "MAIL_CONFIG": env.conf})
    assert r.returncode == 0, r.stderr
    assert env.run("postalias", "-q", "extra", src).stdout == "someone\n"

    # -t with a message that names nobody: sendmail's usage error (EX_USAGE).
    r = subprocess.run([sendmail, "-t"], input="", capture_output=True, text=True, timeout=60,
                       env={**os.environ, "MAIL_CONFIG": env.conf})
    assert r.returncode == 64
    assert "No recipient addresses found in message header" in r.stderr
