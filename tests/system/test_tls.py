"""TLS in smtpd: STARTTLS, smtps (wrapper mode), certificates, levels,
client certificates, session resumption, the Received: clause, the
CVE-2011-0411 plaintext injection, and `postfix check` on TLS settings.

Most tests run stand-alone smtpd processes behind a TCP port (hk_tlsenv:
one `smtpd -S` per connection, with the -o overrides a master.cf line
would pass), so real clients -- Python's smtplib and ssl, swaks, openssl
s_client -- talk to the real server without master (testssl.sh: test_tls_testssl.py). The
certificates are made in the test with the openssl command. The last
test runs a whole instance with the submission and smtps services of
master.cf when master is built.
"""
import os
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from hk_tlsenv import (BUILD_DIR, HOST, SMTPD, SmtpdEnv, fingerprint, have, make_pki,
                       make_sasldb, queue_text, sasl_conf)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if not have("openssl"):
        pytest.skip("openssl command not installed")
    return make_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def env(tmp_path, pki):
    if not os.path.exists(SMTPD):
        pytest.fail("smtpd is missing from the build")
    e = SmtpdEnv(tmp_path / "sa")
    e.pki = pki
    e.write(smtpd_tls_security_level="may",
            smtpd_tls_cert_file=os.path.join(pki, "server.pem"),
            smtpd_tls_key_file=os.path.join(pki, "server.key"),
            smtpd_tls_loglevel="1")
    yield e
    e.close()


def client_ctx(pki, **kw):
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def smtp(port, source=None):
    return smtplib.SMTP("127.0.0.1", port, timeout=15,
                        source_address=(source, 0) if source else None)


def ehlo_keywords(s):
    code, text = s.ehlo()
    assert code == 250
    return text.decode().split("\n")[1:]


# ---------------------------------------------------------------- STARTTLS

def test_starttls_with_smtplib(env):
    port = env.listen()
    s = smtp(port)
    kw = ehlo_keywords(s)
    assert kw == ["PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS",
                  "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8"]
    assert s.starttls(context=client_ctx(env.pki)) == (220, b"2.0.0 Ready to start TLS")
    assert s.sock.version() == "TLSv1.3"
    kw = ehlo_keywords(s)
    assert "STARTTLS" not in kw
    assert s.docmd("STARTTLS") == (554, b"5.5.1 Error: TLS already active")
    s.quit()
    env.wait_log(r"postfix/smtpd\[\d+\]: Anonymous TLS connection established from "
                 r"unknown\[127\.0\.0\.1\]: TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 "
                 r"\(256/256 bits\) key-exchange X25519 server-signature RSA-PSS \(2048 bits\) "
                 r"server-digest SHA256$")
    env.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=2 starttls=1/2 quit=1 "
                 r"commands=4/5$")


def test_starttls_syntax_and_not_offered(env):
    env.write(smtpd_tls_security_level="none")
    port = env.listen()
    s = smtp(port)
    assert "STARTTLS" not in ehlo_keywords(s)
    assert s.docmd("STARTTLS") == (502, b"5.5.1 Error: command not implemented")
    s.quit()
    port = env.listen("smtpd_tls_security_level=may")
    s = smtp(port)
    assert "STARTTLS" in ehlo_keywords(s)
    assert s.docmd("STARTTLS", "now") == (501, b"5.5.4 Syntax: STARTTLS")
    s.quit()


def test_old_smtpd_use_tls(env):
    env.write(smtpd_tls_security_level="", smtpd_use_tls="yes")
    s = smtp(env.listen())
    assert "STARTTLS" in ehlo_keywords(s)
    s.quit()


def test_openssl_s_client_verifies_the_chain(env):
    port = env.listen()
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls",
                        "smtp", "-CAfile", os.path.join(env.pki, "ca.pem"),
                        "-verify_hostname", HOST, "-verify_return_error", "-brief"],
                       input="QUIT\r\n", capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert "Verification: OK" in out, out
    assert "Protocol version: TLSv1.3" in out
    assert f"220 {HOST} ESMTP Hikyaku" in out or "221 2.0.0 Bye" in out or r.returncode == 0


def test_swaks_tls_delivers(env):
    if not have("swaks"):
        pytest.skip("swaks not installed")
    has_cleanup = env.start_cleanup()
    port = env.listen()
    args = ["swaks", "--server", f"127.0.0.1:{port}", "--tls", "--from", "a@example.com",
            "--to", f"root@{HOST}", "--helo", "client.example.com",
            "--tls-verify", "--tls-ca-path", os.path.join(env.pki, "ca.pem")]
    if not has_cleanup:
        args += ["--quit-after", "RCPT"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert "TLS started" in out, out
    assert "220 2.0.0 Ready to start TLS" in out
    if has_cleanup:
        assert r.returncode == 0, out
        assert "<~  250 2.0.0 Ok: queued as" in out


# ---------------------------------------------------------------- smtps

def test_smtps_wrapper_mode(env):
    port = env.listen("smtpd_tls_wrappermode=yes", service="smtps")
    s = smtplib.SMTP_SSL("127.0.0.1", port, timeout=15, context=client_ctx(env.pki))
    kw = ehlo_keywords(s)
    assert "STARTTLS" not in kw
    assert s.docmd("STARTTLS") == (554, b"5.5.1 Error: TLS already active")
    s.quit()
    env.wait_log(r"Anonymous TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.3")
    # Order: connect, TLS, then the greeting.
    log = env.log()
    assert log.index("connect from unknown[127.0.0.1]") < log.index("Anonymous TLS")


def test_smtps_with_broken_certificate_drops_the_connection(env):
    env.write(smtpd_tls_cert_file=os.path.join(env.pki, "missing.pem"))
    port = env.listen("smtpd_tls_wrappermode=yes", service="smtps")
    with pytest.raises((ssl.SSLError, ConnectionError, smtplib.SMTPServerDisconnected, OSError)):
        smtplib.SMTP_SSL("127.0.0.1", port, timeout=15, context=client_ctx(env.pki))
    env.wait_log(r"warning: Wrapper-mode request dropped from unknown\[127\.0\.0\.1\] for "
                 r"service smtps\. TLS context initialization failed")


# ---------------------------------------------------------------- certificates

def test_ecdsa_and_rsa_certificates(env):
    env.write(smtpd_tls_eccert_file=os.path.join(env.pki, "server-ec.pem"),
              smtpd_tls_eckey_file=os.path.join(env.pki, "server-ec.key"))
    port = env.listen()
    for sigalgs, expect in (("ECDSA+SHA256", r"server-signature ECDSA \(P-256\) server-digest "
                                             r"SHA256"),
                            ("RSA-PSS+SHA256", r"server-signature RSA-PSS \(2048 bits\)")):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls",
                            "smtp", "-sigalgs", sigalgs, "-CAfile",
                            os.path.join(env.pki, "ca.pem"), "-verify_return_error"],
                           input="", capture_output=True, text=True, timeout=30)
        assert "Verify return code: 0 (ok)" in r.stdout, r.stdout + r.stderr
        env.wait_log(expect)


def test_chain_files(env, pki):
    chain = os.path.join(str(env.root), "chain.pem")
    with open(chain, "w") as f:
        for name in ("server-ec.key", "server-ec.pem", "server.key", "server.pem"):
            f.write(open(os.path.join(pki, name)).read())
    os.chmod(chain, 0o600)
    env.write(smtpd_tls_cert_file="", smtpd_tls_key_file="", smtpd_tls_chain_files=chain)
    s = smtp(env.listen())
    s.ehlo()
    s.starttls(context=client_ctx(pki))
    s.quit()
    env.wait_log(r"Anonymous TLS connection established")


def test_broken_certificate_with_level_may_disables_starttls(env):
    env.write(smtpd_tls_cert_file=os.path.join(env.pki, "missing.pem"))
    port = env.listen()
    s = smtp(port)
    assert "STARTTLS" not in ehlo_keywords(s)
    assert s.docmd("STARTTLS") == (502, b"5.5.1 Error: command not implemented")
    # Mail still flows in plaintext.
    assert s.docmd("MAIL FROM:<a@example.com>") == (250, b"2.1.0 Ok")
    s.quit()
    env.wait_log(r"warning: cannot get RSA certificate from file \".*/missing\.pem\": "
                 r"cannot open file .*: No such file or directory: disabling TLS support")


def test_key_that_does_not_match(env):
    env.write(smtpd_tls_key_file=os.path.join(env.pki, "client.key"))
    s = smtp(env.listen())
    assert "STARTTLS" not in ehlo_keywords(s)
    s.quit()
    env.wait_log(r"warning: the private key in \".*client\.key\" does not match the certificate "
                 r"in \".*server\.pem\": disabling TLS support")


def test_level_encrypt(env):
    env.write(smtpd_tls_security_level="encrypt")
    port = env.listen()
    s = smtp(port)
    assert "STARTTLS" in ehlo_keywords(s)
    assert s.docmd("MAIL FROM:<a@example.com>") == \
        (530, b"5.7.0 Must issue a STARTTLS command first")
    assert s.docmd("VRFY root") == (530, b"5.7.0 Must issue a STARTTLS command first")
    assert s.docmd("NOOP")[0] == 250
    s.starttls(context=client_ctx(env.pki))
    s.ehlo()
    assert s.docmd("MAIL FROM:<a@example.com>") == (250, b"2.1.0 Ok")
    s.quit()


def test_level_encrypt_with_broken_certificate_answers_454(env):
    env.write(smtpd_tls_security_level="encrypt",
              smtpd_tls_cert_file=os.path.join(env.pki, "missing.pem"))
    s = smtp(env.listen())
    assert "STARTTLS" in ehlo_keywords(s)
    assert s.docmd("STARTTLS") == (454, b"4.7.0 TLS not available due to local problem")
    assert s.docmd("MAIL FROM:<a@example.com>")[0] == 530
    s.quit()
    env.wait_log(r"TLS is required here but not available")


def test_protocol_lists(env):
    env.write(smtpd_tls_protocols=">=TLSv1.3")
    port = env.listen()
    s = smtp(port)
    s.ehlo()
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        s.starttls(context=client_ctx(env.pki, maximum_version=ssl.TLSVersion.TLSv1_2))
    s.close()
    env.wait_log(r"SSL_accept error from unknown\[127\.0\.0\.1\]")
    env.write(smtpd_tls_protocols="!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.3")
    s = smtp(env.listen())
    s.ehlo()
    s.starttls(context=client_ctx(env.pki))
    assert s.sock.version() == "TLSv1.2"
    s.quit()
    env.write(smtpd_tls_protocols="TLSv9")
    s = smtp(env.listen())
    assert "STARTTLS" not in ehlo_keywords(s)
    s.quit()
    env.wait_log(r'smtpd_tls_protocols: unknown TLS protocol name "TLSv9" in "TLSv9": '
                 r"disabling TLS support")


def test_mandatory_settings_apply_at_level_encrypt(env):
    env.write(smtpd_tls_security_level="encrypt", smtpd_tls_mandatory_protocols="TLSv1.2",
              smtpd_tls_mandatory_ciphers="high", smtpd_tls_mandatory_exclude_ciphers="AES256")
    s = smtp(env.listen())
    s.ehlo()
    s.starttls(context=client_ctx(env.pki))
    assert s.sock.version() == "TLSv1.2"
    assert "AES256" not in s.sock.cipher()[0]
    s.quit()


# ---------------------------------------------------------------- CVE-2011-0411

def test_plaintext_pipelined_after_starttls_is_discarded(env):
    port = env.listen()
    raw = socket.create_connection(("127.0.0.1", port), timeout=15)
    f = raw.makefile("rb")
    assert f.readline().startswith(b"220 ")
    raw.sendall(b"EHLO client.example.com\r\n")
    while f.readline()[3:4] != b" ":
        pass
    # The attack: commands in the same packet as STARTTLS, in plaintext.
    raw.sendall(b"STARTTLS\r\nRSET\r\nMAIL FROM:<attacker@example.com>\r\n")
    assert f.readline() == b"220 2.0.0 Ready to start TLS\r\n"
    t = client_ctx(env.pki).wrap_socket(raw, server_hostname=HOST)
    tf = t.makefile("rb")
    t.sendall(b"RCPT TO:<root@mail.example.jp>\r\n")
    # Had the injected MAIL run, this would be 250; it must not have.
    assert tf.readline() == b"503 5.5.1 Error: need MAIL command\r\n"
    t.sendall(b"QUIT\r\n")
    assert tf.readline() == b"221 2.0.0 Bye\r\n"
    t.close()
    env.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=1 starttls=1 rcpt=0/1 quit=1 "
                 r"commands=3/4")
    assert "attacker" not in env.log()


# ---------------------------------------------------------------- resumption

def test_session_resumption_across_processes(env):
    port = env.listen()
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls",
                        "smtp", "-reconnect", "-tls1_2", "-CAfile",
                        os.path.join(env.pki, "ca.pem")],
                       input="", capture_output=True, text=True, timeout=60)
    lines = [l for l in r.stdout.splitlines() if l.startswith(("New,", "Reused,"))]
    assert lines[0].startswith("New,"), r.stdout
    assert sum(l.startswith("Reused,") for l in lines) >= 4, lines
    # TLS 1.3: the ticket is read after the handshake (s_client -reconnect
    # does not wait for it, so Python does this part).
    ctx = client_ctx(env.pki)

    def connect(session=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=15)
        f = raw.makefile("rb")
        f.readline()
        raw.sendall(b"EHLO x\r\n")
        while f.readline()[3:4] != b" ":
            pass
        raw.sendall(b"STARTTLS\r\n")
        f.readline()
        t = ctx.wrap_socket(raw, server_hostname=HOST, session=session)
        t.sendall(b"NOOP\r\n")
        t.makefile("rb").readline()
        reused, sess = t.session_reused, t.session
        t.close()
        return reused, sess

    reused, sess = connect()
    assert not reused
    reused, _ = connect(sess)
    assert reused
    keys = os.path.join(env.data, "tls_ticket_keys")
    assert os.stat(keys).st_mode & 0o777 == 0o600


def test_no_resumption_when_cache_timeout_is_zero(env):
    env.write(smtpd_tls_session_cache_timeout="0")
    port = env.listen()
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls",
                        "smtp", "-reconnect", "-tls1_2"],
                       input="", capture_output=True, text=True, timeout=60)
    assert "Reused," not in r.stdout


# ---------------------------------------------------------------- Received:

def test_received_header_tls_clause(env):
    if not env.start_cleanup():
        pytest.fail("cleanup is missing from the build")
    env.write(smtpd_tls_received_header="yes")
    s = smtp(env.listen())
    s.ehlo("client.example.com")
    s.starttls(context=client_ctx(env.pki))
    s.ehlo("client.example.com")
    s.sendmail("a@example.com", [f"root@{HOST}"], b"Subject: t\r\n\r\nhello\r\n")
    s.quit()
    files = env.queue_files()
    assert len(files) == 1
    text = queue_text(files[0])
    assert ("Received: from client.example.com (unknown [127.0.0.1])\n"
            "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
            "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n"
            "\t(No client certificate requested)\n"
            f"\tby {HOST} (Hikyaku) with ESMTPS id ") in text, text


# ---------------------------------------------------------------- client certificates

def relay_attempt(env, port, cert):
    """STARTTLS with client certificate cert (a PKI name, or None), then
    MAIL and a RCPT to a remote domain: the RCPT reply."""
    ctx = client_ctx(env.pki)
    if cert:
        ctx.load_cert_chain(os.path.join(env.pki, cert + ".pem"),
                            os.path.join(env.pki, cert + ".key"))
    s = smtp(port)
    s.ehlo()
    s.starttls(context=ctx)
    s.ehlo()
    s.docmd("MAIL FROM:<a@example.com>")
    r = s.docmd("RCPT TO:<someone@remote.example>")
    s.quit()
    return r


def test_client_certificates_and_permit_tls_clientcerts(env, tmp_path):
    fp = fingerprint(os.path.join(env.pki, "client.pem"))
    certs = tmp_path / "relay_clientcerts"
    certs.write_text(f"{fp} client.example.jp\n")
    env.write(smtpd_tls_ask_ccert="yes", smtpd_tls_CAfile=os.path.join(env.pki, "ca.pem"),
              relay_clientcerts=f"texthash:{certs}", mynetworks="127.0.0.2/32",
              smtpd_relay_restrictions="permit_mynetworks, permit_tls_clientcerts, "
                                       "reject_unauth_destination")
    if not env.start_cleanup():
        pytest.fail("cleanup is missing from the build")
    port = env.listen()

    assert relay_attempt(env, port, "client") == (250, b"2.1.5 Ok")
    env.wait_log(r"Trusted TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.3 "
                 r"with cipher \S+ \(\d+/\d+ bits\) key-exchange X25519 server-signature RSA-PSS "
                 r"\(2048 bits\) server-digest SHA256 client-signature ECDSA \(P-256\) "
                 r"client-digest SHA256")
    env.wait_log(r"relay access granted to client certificate " + fp.replace(":", ":"))
    assert relay_attempt(env, port, "rogue") == \
        (554, b"5.7.1 <someone@remote.example>: Relay access denied")
    env.wait_log(r"Untrusted TLS connection established from")
    assert relay_attempt(env, port, None) == \
        (554, b"5.7.1 <someone@remote.example>: Relay access denied")
    env.wait_log(r"Anonymous TLS connection established from")


def test_check_ccert_access(env, tmp_path):
    # Fingerprints of any presented certificate, trusted or not: the
    # client's certificate fingerprint, then its public key's.
    fp = fingerprint(os.path.join(env.pki, "client.pem"))
    rogue = fingerprint(os.path.join(env.pki, "rogue.pem"))
    table = tmp_path / "ccert_access"
    table.write_text(f"{fp} OK\n{rogue} REJECT no rogues here\n")
    env.write(smtpd_tls_ask_ccert="yes", smtpd_tls_CAfile=os.path.join(env.pki, "ca.pem"),
              mynetworks="127.0.0.2/32",
              smtpd_relay_restrictions=f"check_ccert_access texthash:{table}, "
                                       "reject_unauth_destination")
    if not env.start_cleanup():
        pytest.fail("cleanup is missing from the build")
    port = env.listen()

    assert relay_attempt(env, port, "client") == (250, b"2.1.5 Ok")
    assert relay_attempt(env, port, "rogue") == \
        (554, b"5.7.1 <rogue.example>: Client certificate rejected: no rogues here")
    env.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 "
                 r"<rogue\.example>: Client certificate rejected: no rogues here;")
    assert relay_attempt(env, port, None) == \
        (554, b"5.7.1 <someone@remote.example>: Relay access denied")


def test_required_client_certificate(env):
    env.write(smtpd_tls_security_level="encrypt", smtpd_tls_req_ccert="yes",
              smtpd_tls_CAfile=os.path.join(env.pki, "ca.pem"))
    port = env.listen()
    s = smtp(port)
    s.ehlo()
    s.starttls(context=client_ctx(env.pki))
    # The server replies and closes right after the handshake: read that
    # reply before sending anything (a command sent first is unread when the
    # server closes, and the reset that causes can overtake the reply).
    assert s.getreply() == (421, b"4.7.1 mail.example.jp Error: No client certificate presented")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        s.ehlo()
    env.wait_log(r"NOQUEUE: abort: TLS from unknown\[127\.0\.0\.1\]: No client certificate "
                 r"presented")
    ctx = client_ctx(env.pki)
    ctx.load_cert_chain(os.path.join(env.pki, "client.pem"), os.path.join(env.pki, "client.key"))
    s = smtp(port)
    s.ehlo()
    s.starttls(context=ctx)
    assert s.ehlo()[0] == 250
    s.quit()


# ---------------------------------------------------------------- AUTH and TLS

def test_tls_auth_only_hides_auth_before_starttls(env):
    make_sasldb(env.config, {"user": "secret"})
    env.write(**sasl_conf(env, smtpd_tls_auth_only="yes"))
    s = smtp(env.listen())
    assert not any(k.startswith("AUTH") for k in ehlo_keywords(s))
    assert s.docmd("AUTH PLAIN AHVzZXIAc2VjcmV0") == \
        (504, b"5.5.4 Encryption required for requested authentication mechanism")
    s.starttls(context=client_ctx(env.pki))
    assert "AUTH PLAIN LOGIN CRAM-MD5" in ehlo_keywords(s)
    s.login("user", "secret")
    s.quit()


# ---------------------------------------------------------------- postfix check

def postfix_check(env):
    postfix = os.path.join(BUILD_DIR, "postfix")
    if not os.path.exists(postfix):
        pytest.fail("the postfix command is missing from the build")
    e = dict(os.environ, MAIL_CONFIG=env.config)
    src = os.environ.get("HK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
    shutil.copy(os.path.join(src, "conf", "master.cf"), os.path.join(env.config, "master.cf"))
    env.write(daemon_directory=BUILD_DIR, maillog_file_prefixes=env.root)
    return subprocess.run([postfix, "-c", env.config, "check"], capture_output=True, text=True,
                          env=e, timeout=60)


def test_postfix_check_refuses_a_key_readable_by_others(env, tmp_path):
    key = tmp_path / "open.key"
    shutil.copy(os.path.join(env.pki, "server.key"), key)
    os.chmod(key, 0o644)
    env.write(smtpd_tls_key_file=str(key))
    r = postfix_check(env)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert f"smtpd_tls_key_file: private key file {key} is readable by other users (mode 0644)" \
        in out, out
    assert "main.cf, line" in out
    # smtpd says so too, but still offers TLS (the key is already exposed).
    s = smtp(env.listen())
    assert "STARTTLS" in ehlo_keywords(s)
    s.quit()
    env.wait_log(r"warning: .*private key file .*open\.key is readable by other users")


def test_postfix_check_reports_tls_problems(env):
    env.write(smtpd_tls_cert_file=os.path.join(env.pki, "missing.pem"),
              smtpd_tls_mandatory_protocols="!TLSv1, !TLSv1.1, !TLSv1.2, !TLSv1.3",
              smtpd_tls_ciphers="strong")
    out = postfix_check(env)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "cannot get RSA certificate from file" in text, text
    assert "smtpd_tls_mandatory_protocols: TLS protocol list" in text
    assert "leaves no usable protocol" in text
    assert 'smtpd_tls_ciphers: invalid cipher grade "strong"' in text


def test_postfix_check_is_quiet_on_a_good_tls_setup(env):
    r = postfix_check(env)
    out = r.stdout + r.stderr
    for word in ("smtpd_tls", "certificate", "private key", "TLS"):
        assert word not in out, out
