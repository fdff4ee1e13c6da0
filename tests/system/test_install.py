"""The install layout: `cmake --install build --prefix DIR` gives commands in
DIR/sbin, daemons in DIR/libexec/postfix, and defaults that point there."""
import os
import subprocess


def test_layout_and_install_relative_defaults(hk_install):
    sbin = os.path.join(hk_install, "sbin")
    libexec = os.path.join(hk_install, "libexec", "postfix")
    for c in ("postfix", "postconf", "postmap", "postalias", "sendmail", "postqueue",
              "postsuper", "postcat", "postdrop"):
        assert os.access(os.path.join(sbin, c), os.X_OK), c
    for d in ("master", "smtpd", "cleanup", "qmgr", "local", "smtp", "pickup", "bounce"):
        assert os.access(os.path.join(libexec, d), os.X_OK), d
    for link in ("mailq", "newaliases"):
        assert os.path.realpath(os.path.join(hk_install, "bin", link)) == \
            os.path.realpath(os.path.join(sbin, "sendmail"))
    r = subprocess.run([os.path.join(sbin, "postconf"), "-d", "command_directory",
                        "daemon_directory", "mail_name"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, MAIL_CONFIG=hk_install))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"command_directory = {sbin}",
                                     f"daemon_directory = {libexec}",
                                     "mail_name = Hikyaku"]
