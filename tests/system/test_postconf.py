"""postconf: show and edit main.cf and master.cf, as postconf(1) does.

Runs $HK_BUILD_DIR/postconf against its own temporary configuration
directory (-c DIR, or MAIL_CONFIG) per test; master.cf is a copy of
tests/data/master.cf.stock (the service table of Postfix 3.7's stock
master.cf). Needs no running instance.
"""
import os
import re
import shutil
import stat
import subprocess

import pytest

BUILD_DIR = os.environ.get("HK_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE_DIR = os.environ.get("HK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
POSTCONF = os.path.join(BUILD_DIR, "postconf")
STOCK = os.path.join(SOURCE_DIR, "tests", "data", "master.cf.stock")


def run(*args, env=None, check=True):
    e = dict(os.environ)
    e.pop("MAIL_CONFIG", None)
    if env:
        e.update(env)
    p = subprocess.run([POSTCONF, *args], capture_output=True, text=True, env=e, timeout=30)
    if check and p.returncode != 0:
        raise AssertionError(f"postconf {args} exited {p.returncode}: {p.stderr}")
    return p


@pytest.fixture
def conf(tmp_path):
    d = tmp_path / "etc"
    d.mkdir()
    shutil.copy(STOCK, d / "master.cf")
    (d / "main.cf").write_text("")
    return d


def pc(conf, *args, **kw):
    return run("-c", str(conf), *args, **kw)


# ---- main.cf: showing ----

def test_defaults(conf):
    p = pc(conf, "-d")
    lines = p.stdout.splitlines()
    assert len(lines) > 500
    names = [l.split(" =")[0] for l in lines]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for want in ("mail_name = Hikyaku", "append_dot_mydomain = no", "relay_domains =",
                 "mynetworks_style = host", "myorigin = $myhostname"):
        assert want in lines
    # service-defined names from master.cf, with their $default_... default
    assert "relay_destination_concurrency_limit = $default_destination_concurrency_limit" in lines
    assert p.stderr == ""


def test_defaults_ignore_main_cf(conf):
    (conf / "main.cf").write_text("mail_name = Other\nmyorigin = example.org\n")
    p = pc(conf, "-d", "mail_name", "myorigin")
    assert p.stdout == "mail_name = Hikyaku\nmyorigin = $myhostname\n"


def test_all_parameters_show_main_cf_values_raw(conf):
    (conf / "main.cf").write_text("myhostname = mx.example.com\nmyorigin = $myhostname\n")
    out = pc(conf).stdout.splitlines()
    assert "myhostname = mx.example.com" in out
    assert "myorigin = $myhostname" in out           # not expanded without -x
    assert "mail_name = Hikyaku" in out
    assert [l.split(" =")[0] for l in out] == sorted(l.split(" =")[0] for l in out)


def test_non_default(conf):
    (conf / "main.cf").write_text(
        "# comment\n"
        "myorigin = $mydomain\n"
        "mydomain = first.example\n"
        "smtpd_recipient_restrictions = permit_mynetworks,\n"
        "    reject_unauth_destination\n"
        "mydomain = last.example\n")
    p = pc(conf, "-n")
    assert p.stdout == ("mydomain = last.example\n"
                        "myorigin = $mydomain\n"
                        "smtpd_recipient_restrictions = permit_mynetworks, "
                        "reject_unauth_destination\n")
    assert pc(conf, "-n", "myorigin", "myhostname").stdout == "myorigin = $mydomain\n"


def test_named_and_value_only(conf):
    (conf / "main.cf").write_text("myhostname = mx.example.com\nmydomain = example.com\n")
    assert pc(conf, "myhostname", "mydomain").stdout == \
        "myhostname = mx.example.com\nmydomain = example.com\n"
    assert pc(conf, "-h", "mydomain").stdout == "example.com\n"
    assert pc(conf, "-H", "mydomain").stdout == "mydomain\n"
    assert pc(conf, "-h", "relay_domains").stdout == "\n"


def test_expand(conf):
    (conf / "main.cf").write_text(
        "a = yes\n"
        "b =\n"
        "r1 = ${a?{x}:{y}}\n"
        "r2 = ${b?{x}:{y}}\n"
        "mydomain = example.com\n"
        "myhostname = mx.$mydomain\n"
        "smtpd_banner = $myhostname $r1 $r2\n")
    assert pc(conf, "-x", "smtpd_banner").stdout == "smtpd_banner = mx.example.com x y\n"
    assert pc(conf, "-xh", "r1", "r2").stdout == "x\ny\n"
    assert pc(conf, "smtpd_banner").stdout == "smtpd_banner = $myhostname $r1 $r2\n"
    assert pc(conf, "-x", "-o", "a=", "r1").stdout == "r1 = y\n"


def test_expand_loop_is_an_error(conf):
    (conf / "main.cf").write_text("a = $b\nb = x $a\nsmtpd_banner = $a\n")
    p = pc(conf, "-x", "smtpd_banner", check=False)
    assert p.returncode == 1
    assert "postconf: fatal:" in p.stderr
    assert "$a" in p.stderr and "$b" in p.stderr
    # without -x the values are simply shown
    assert pc(conf, "a", "b").stdout == "a = $b\nb = x $a\n"


def test_bad_values_are_shown_as_written(conf):
    (conf / "main.cf").write_text("message_size_limit = lots\nsmtpd_timeout = soon\n")
    p = pc(conf, "message_size_limit", "smtpd_timeout")
    assert p.stdout == "message_size_limit = lots\nsmtpd_timeout = soon\n"


def test_unknown_parameter(conf):
    p = pc(conf, "no_such_parameter", "mail_name")
    assert p.stdout == "mail_name = Hikyaku\n"
    assert p.stderr == "postconf: warning: no_such_parameter: unknown parameter\n"


def test_unused_parameters_warned(conf):
    (conf / "main.cf").write_text(
        "myhostname = mx.example.com\n"
        "mailbox_sise_limit = 0\n"               # typo
        "my_networks_extra = 10.0.0.0/8\n"      # user macro, used below
        "mynetworks = 127.0.0.0/8 $my_networks_extra\n"
        "relay_destination_concurrency_limit = 2\n"   # service-defined: relay is in master.cf
        "smtpd_restriction_classes = strict\n"
        "strict = reject\n")
    for args in ([], ["-n"], ["myhostname"]):
        p = pc(conf, *args)
        warnings = p.stderr.splitlines()
        assert warnings == [
            f"postconf: warning: {conf}/main.cf: unused parameter: mailbox_sise_limit=0"], args
    out = pc(conf, "-n").stdout
    assert "my_networks_extra = 10.0.0.0/8\n" in out
    assert "relay_destination_concurrency_limit = 2\n" in out
    assert "mailbox_sise_limit" not in out
    # a set but unused name is unknown when asked for by name
    p = pc(conf, "mailbox_sise_limit")
    assert p.stdout == ""
    assert "mailbox_sise_limit: unknown parameter" in p.stderr


def test_fold(conf):
    value = ", ".join(f"check_client_access hash:/etc/postfix/access{i}" for i in range(6))
    (conf / "main.cf").write_text(f"smtpd_client_restrictions = {value}\n")
    out = pc(conf, "-nf").stdout
    lines = out.splitlines()
    assert len(lines) > 1
    assert lines[0].startswith("smtpd_client_restrictions = check_client_access")
    for l in lines:
        assert len(l) <= 80
    for l in lines[1:]:
        assert l.startswith("    ") and not l.startswith("     ")
    assert " ".join(l.strip() for l in lines) == f"smtpd_client_restrictions = {value}"


def test_mail_config_environment(conf):
    (conf / "main.cf").write_text("myhostname = env.example\n")
    p = run("-n", env={"MAIL_CONFIG": str(conf)})
    assert p.stdout == "myhostname = env.example\n"
    # -c wins over MAIL_CONFIG
    other = conf.parent / "other"
    other.mkdir()
    (other / "main.cf").write_text("myhostname = c.example\n")
    shutil.copy(STOCK, other / "master.cf")
    p = run("-c", str(other), "-n", env={"MAIL_CONFIG": str(conf)})
    assert p.stdout == "myhostname = c.example\n"


def test_missing_main_cf_is_fatal(tmp_path):
    p = run("-c", str(tmp_path), "-n", check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("postconf: fatal: open ")
    assert "main.cf" in p.stderr


# ---- main.cf: editing ----

MAIN_CF = (
    "# Top comment, kept.\n"
    "myhostname = old.example.com\n"
    "\n"
    "smtpd_recipient_restrictions =\n"
    "    permit_mynetworks,\n"
    "    # comment inside the value, kept\n"
    "    reject_unauth_destination\n"
    "mydomain = example.com\n"
    "# Bottom comment, kept.\n")


def test_edit_keeps_comments_and_order(conf):
    main = conf / "main.cf"
    main.write_text(MAIN_CF)
    os.chmod(main, 0o640)
    pc(conf, "-e", "myhostname = new.example.com",
       "smtpd_recipient_restrictions=reject_unauth_destination", "relayhost = [mail.isp.example]")
    assert main.read_text() == (
        "# Top comment, kept.\n"
        "myhostname = new.example.com\n"
        "\n"
        "smtpd_recipient_restrictions = reject_unauth_destination\n"
        "    # comment inside the value, kept\n"
        "mydomain = example.com\n"
        "# Bottom comment, kept.\n"
        "relayhost = [mail.isp.example]\n")
    assert stat.S_IMODE(os.stat(main).st_mode) == 0o640
    assert not [f for f in os.listdir(conf) if f not in ("main.cf", "master.cf")]


def test_edit_without_dash_e(conf):
    (conf / "main.cf").write_text("myhostname = a.example\n")
    pc(conf, "myhostname=b.example", "mydomain=example")
    assert (conf / "main.cf").read_text() == "myhostname = b.example\nmydomain = example\n"


def test_edit_creates_missing_main_cf(tmp_path):
    run("-c", str(tmp_path), "-e", "myhostname = new.example")
    assert (tmp_path / "main.cf").read_text() == "myhostname = new.example\n"


def test_edit_unknown_name_is_written(conf):
    pc(conf, "-e", "my_macro = 1")
    assert (conf / "main.cf").read_text() == "my_macro = 1\n"


def test_remove_and_comment_out(conf):
    main = conf / "main.cf"
    main.write_text(MAIN_CF)
    pc(conf, "-X", "smtpd_recipient_restrictions", "no_such_name")
    assert main.read_text() == (
        "# Top comment, kept.\n"
        "myhostname = old.example.com\n"
        "\n"
        "    # comment inside the value, kept\n"
        "mydomain = example.com\n"
        "# Bottom comment, kept.\n")
    main.write_text(MAIN_CF)
    pc(conf, "-#", "smtpd_recipient_restrictions", "mydomain")
    assert main.read_text() == (
        "# Top comment, kept.\n"
        "myhostname = old.example.com\n"
        "\n"
        "#smtpd_recipient_restrictions =\n"
        "#    permit_mynetworks,\n"
        "    # comment inside the value, kept\n"
        "#    reject_unauth_destination\n"
        "#mydomain = example.com\n"
        "# Bottom comment, kept.\n")
    assert pc(conf, "-n").stdout == "myhostname = old.example.com\n"


def test_edit_errors(conf):
    (conf / "main.cf").write_text("a = 1\n")
    for args in (["-e"], ["-e", "novalue"], ["-X", "a=1"], ["-e", "a = 1\nb = 2"]):
        p = pc(conf, *args, check=False)
        assert p.returncode == 1, args
        assert p.stderr.startswith("postconf: fatal: "), args
    assert (conf / "main.cf").read_text() == "a = 1\n"


# ---- master.cf ----

STOCK_M = [
    "smtp       inet  n       -       n       -       -       smtpd",
    "pickup     unix  n       -       n       60      1       pickup",
    "cleanup    unix  n       -       n       -       0       cleanup",
    "qmgr       unix  n       -       n       300     1       qmgr",
    "tlsmgr     unix  -       -       n       1000?   1       tlsmgr",
    "rewrite    unix  -       -       n       -       -       trivial-rewrite",
    "bounce     unix  -       -       n       -       0       bounce",
    "defer      unix  -       -       n       -       0       bounce",
    "trace      unix  -       -       n       -       0       bounce",
    "verify     unix  -       -       n       -       1       verify",
    "flush      unix  n       -       n       1000?   0       flush",
    "proxymap   unix  -       -       n       -       -       proxymap",
    "proxywrite unix  -       -       n       -       1       proxymap",
    "smtp       unix  -       -       n       -       -       smtp",
    "relay      unix  -       -       n       -       -       smtp "
    "-o syslog_name=${multi_instance_name?{$multi_instance_name}:{postfix}}/$service_name",
    "showq      unix  n       -       n       -       -       showq",
    "error      unix  -       -       n       -       -       error",
    "retry      unix  -       -       n       -       -       error",
    "discard    unix  -       -       n       -       -       discard",
    "local      unix  -       n       n       -       -       local",
    "virtual    unix  -       n       n       -       -       virtual",
    "lmtp       unix  -       -       n       -       -       lmtp",
    "anvil      unix  -       -       n       -       1       anvil",
    "scache     unix  -       -       n       -       1       scache",
    "postlog    unix-dgram n  -       n       -       1       postlogd",
]


def test_master_entries(conf):
    p = pc(conf, "-M")
    assert p.stdout.splitlines() == STOCK_M
    assert p.stderr == ""
    assert pc(conf, "-M", "smtp/inet").stdout == STOCK_M[0] + "\n"
    assert pc(conf, "-M", "smtp").stdout == STOCK_M[0] + "\n" + STOCK_M[13] + "\n"
    assert pc(conf, "-M", "pickup/unix", "qmgr").stdout == STOCK_M[1] + "\n" + STOCK_M[3] + "\n"
    p = pc(conf, "-M", "nosuch/unix")
    assert p.stdout == ""
    assert p.stderr == 'postconf: warning: unmatched request: "nosuch/unix"\n'
    assert pc(conf, "-Mf", "relay").stdout == (
        "relay      unix  -       -       n       -       -       smtp\n"
        "    -o syslog_name=${multi_instance_name?{$multi_instance_name}:{postfix}}/$service_name\n")


def test_master_edit_entries(conf):
    master = conf / "master.cf"
    original = master.read_text()
    pc(conf, "-Me", "submission/inet=submission inet n - n - - smtpd "
       "-o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt "
       "-o smtpd_sasl_auth_enable=yes")
    text = master.read_text()
    assert text.startswith(original)
    assert text[len(original):] == (
        "submission inet  n       -       n       -       -       smtpd\n"
        "    -o syslog_name=postfix/submission\n"
        "    -o smtpd_tls_security_level=encrypt\n"
        "    -o smtpd_sasl_auth_enable=yes\n")
    assert pc(conf, "-M", "submission/inet").stdout == (
        "submission inet  n       -       n       -       -       smtpd "
        "-o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt "
        "-o smtpd_sasl_auth_enable=yes\n")
    # replace in place
    pc(conf, "-Me", "pickup/unix=pickup unix n - n 30 1 pickup")
    assert pc(conf, "-M").stdout.splitlines()[1] == \
        "pickup     unix  n       -       n       30      1       pickup"
    # remove and comment out: comments elsewhere survive
    pc(conf, "-MX", "submission/inet")
    pc(conf, "-M#", "showq/unix")
    text = master.read_text()
    assert "\nsubmission " not in text
    assert "\n    -o smtpd_sasl_auth_enable=yes" not in text
    assert "\n#showq     unix  n       -       n       -       -       showq\n" in text
    assert "#       -o smtp_helo_timeout=5 -o smtp_connect_timeout=5\n" in text
    assert "showq" not in pc(conf, "-M").stdout


def test_master_parameters(conf):
    assert pc(conf, "-P").stdout == (
        "relay/unix/syslog_name = "
        "${multi_instance_name?{$multi_instance_name}:{postfix}}/$service_name\n")
    assert pc(conf, "-Px", "relay/unix/syslog_name").stdout == \
        "relay/unix/syslog_name = postfix/relay\n"
    pc(conf, "-Pe", "smtp/inet/smtpd_tls_security_level=may", "relay/unix/smtp_helo_timeout=5")
    assert pc(conf, "-P", "relay").stdout == (
        "relay/unix/smtp_helo_timeout = 5\n"
        "relay/unix/syslog_name = "
        "${multi_instance_name?{$multi_instance_name}:{postfix}}/$service_name\n")
    assert pc(conf, "-M", "smtp/inet").stdout == \
        STOCK_M[0] + " -o smtpd_tls_security_level=may\n"
    pc(conf, "-PX", "relay/unix/syslog_name")
    assert pc(conf, "-P", "relay").stdout == "relay/unix/smtp_helo_timeout = 5\n"
    assert pc(conf, "-F", "pickup/unix/wakeup").stdout == "pickup/unix/wakeup = 60\n"


def test_master_errors(conf):
    master = conf / "master.cf"
    master.write_text(master.read_text() + "broken unix - - n\n")
    for args in (["-M"], [], ["-n"]):
        p = pc(conf, *args, check=False)
        assert p.returncode == 1, args
        assert re.match(r"postconf: fatal: .*master\.cf, line \d+: ", p.stderr), p.stderr
    master.unlink()
    p = pc(conf, "-M", check=False)
    assert p.returncode == 1
    assert "postconf: fatal: open " in p.stderr
    # main.cf listings only warn about a missing master.cf
    p = pc(conf, "-n")
    assert p.returncode == 0
    assert "warning: open " in p.stderr


# ---- other listings ----

def test_lists(conf):
    maps = run("-m").stdout.split()
    for t in ("hash", "btree", "regexp", "pcre", "cidr", "static", "inline", "texthash",
              "unix", "fail"):
        assert t in maps
    assert maps == sorted(maps)
    assert run("-a").stdout == "cyrus\n"
    assert run("-A").stdout == "cyrus\n"
    assert run("-l").stdout == "flock\nfcntl\ndotlock\n"


def test_option_conflicts(conf):
    for args in (["-d", "-n"], ["-e", "-X", "a"], ["-h", "-H"], ["-M", "-P"]):
        p = pc(conf, *args, check=False)
        assert p.returncode == 1, args
        assert p.stderr.startswith("postconf: fatal: "), args
