"""testssl.sh (Debian package testssl.sh) against smtpd's STARTTLS port:
no finding rated HIGH or CRITICAL.

Marked slow: testssl.sh is a shell script and needs seconds per probe, so
the run is limited to the checks whose findings can be HIGH or CRITICAL
for a server's own configuration: protocols (-p), the standard cipher
categories (-s: NULL, anonymous, export, LOW, 3DES) and the protocol
vulnerabilities that depend on the server (-H heartbleed, -I CCS
injection, -R renegotiation, -C CRIME, -O POODLE, -F FREAK, -D DROWN,
-J Logjam, -W SWEET32, -4 RC4). Skipped when testssl.sh is not installed.
Its own file, so its minutes do not count against test_tls.py's time
limit.
"""
import json
import os
import shutil
import signal
import subprocess

import pytest

from hk_tlsenv import SMTPD, SmtpdEnv, have, make_pki

CHECKS = ["-p", "-s", "-H", "-I", "-R", "-C", "-O", "-F", "-D", "-J", "-W", "-4"]
TIME_LIMIT = 500


def read_findings(path):
    """testssl.sh's JSON findings; a run cut short leaves the list open."""
    try:
        text = open(path).read().strip()
    except FileNotFoundError:
        return []
    if not text.endswith("]"):
        text = text.rstrip(",") + "]"
    return json.loads(text)


@pytest.mark.slow
def test_testssl_finds_nothing_high_or_critical(tmp_path):
    tool = shutil.which("testssl") or shutil.which("testssl.sh")
    if not tool:
        pytest.skip("testssl.sh not installed")
    if not os.path.exists(SMTPD) or not have("openssl"):
        pytest.skip("smtpd or openssl missing")
    pki = make_pki(str(tmp_path / "pki"))
    env = SmtpdEnv(tmp_path / "sa")
    try:
        # The settings of docs/tls.md, plus the server's cipher order
        # (tls_preempt_cipherlist; Postfix's default is the client's order,
        # which testssl.sh rates HIGH).
        env.write(smtpd_tls_security_level="may",
                  smtpd_tls_cert_file=os.path.join(pki, "server.pem"),
                  smtpd_tls_key_file=os.path.join(pki, "server.key"),
                  tls_preempt_cipherlist="yes")
        port = env.listen()
        out = tmp_path / "testssl.json"
        argv = [tool, "--quiet", "--color", "0", "--warnings", "off", "--starttls", "smtp",
                "--severity", "HIGH", "--jsonfile", str(out), "--add-ca",
                os.path.join(pki, "ca.pem"), "--ip", "127.0.0.1", *CHECKS, f"127.0.0.1:{port}"]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
        try:
            stdout, _ = p.communicate(timeout=TIME_LIMIT)
            finished = True
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGTERM)        # the script and its children
            stdout, _ = p.communicate()
            finished = False
        findings = read_findings(out)
        bad = [f for f in findings if f.get("severity") in ("HIGH", "CRITICAL")
               or f.get("id") == "scanProblem"]
        assert not bad, json.dumps(bad, indent=1) + stdout
        if not finished:
            pytest.skip(f"testssl.sh did not finish within {TIME_LIMIT}s (a busy machine); "
                        "nothing HIGH or CRITICAL found so far")
        assert "TLS 1.3    offered" in stdout or "TLS 1.2    offered" in stdout, stdout
    finally:
        env.close()
