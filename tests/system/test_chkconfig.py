"""tools/chkconfig, the stand-in for Red Hat's command that seeds 000 and 003
type ("chkconfig postfix on", "chkconfig --list postfix"), run against a
fake /etc tree (CHKCONFIG_ROOT) so the machine's boot setup is untouched."""
import os
import subprocess

import pytest

SOURCE = os.environ.get("HK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CHKCONFIG = os.path.join(SOURCE, "tools", "chkconfig")


def run(root, *args):
    return subprocess.run(["sh", CHKCONFIG, *args], capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, CHKCONFIG_ROOT=str(root)))


@pytest.fixture
def root(tmp_path):
    init = tmp_path / "etc" / "init.d"
    init.mkdir(parents=True)
    (init / "postfix").write_text("#!/bin/sh\n")
    (init / "postfix").chmod(0o755)
    return tmp_path


def test_on_off_and_list(root):
    r = run(root, "--list", "postfix")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "postfix        \t0:off\t1:off\t2:off\t3:off\t4:off\t5:off\t6:off\n"
    assert run(root, "postfix").returncode == 1
    assert run(root, "postfix", "on").returncode == 0
    assert run(root, "--list", "postfix").stdout == \
        "postfix        \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off\n"
    assert os.path.islink(root / "etc" / "rc2.d" / "S01postfix")
    assert run(root, "postfix").returncode == 0
    assert run(root, "--list").stdout.startswith("postfix        \t0:off\t1:off\t2:on")
    assert run(root, "postfix", "off").returncode == 0
    assert "2:off" in run(root, "--list", "postfix").stdout
    assert run(root, "postfix").returncode == 1


def test_unknown_service_and_bad_usage(root):
    r = run(root, "nosuch", "on")
    assert r.returncode == 1
    assert "error reading information on service nosuch" in r.stderr
    r = run(root, "postfix", "sideways")
    assert r.returncode == 2 and "usage:" in r.stderr
    assert run(root).returncode == 2
