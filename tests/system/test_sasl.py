"""SMTP AUTH in smtpd with Cyrus SASL: mechanisms, right and wrong
passwords, the 334 challenge loop and "*", AUTH= on MAIL FROM, the log
lines, authenticated relay, the submission service of master.cf, and the
sender login restrictions.

The password database is a real sasldb made with saslpasswd2; smtpd.conf
(pwcheck_method auxprop, auxprop_plugin sasldb, mech_list PLAIN LOGIN
CRAM-MD5) lives in the test's configuration directory and
cyrus_sasl_config_path points there. smtpd runs stand-alone behind a TCP
port (hk_tlsenv), with the -o overrides of the master.cf services.
"""
import base64
import os
import smtplib
import socket
import ssl
import subprocess

import pytest

from hk_tlsenv import HOST, SMTPD, SmtpdEnv, have, make_pki, make_sasldb, queue_text, sasl_conf


@pytest.fixture
def env(tmp_path):
    if not os.path.exists(SMTPD):
        pytest.fail("smtpd is missing from the build")
    if not have("saslpasswd2"):
        pytest.skip("saslpasswd2 (sasl2-bin) not installed")
    e = SmtpdEnv(tmp_path / "sa")
    make_sasldb(e.config, {"user": "secret", "other": "pw2"})
    e.write(**sasl_conf(e))
    yield e
    e.close()


def smtp(port, source=None):
    return smtplib.SMTP("127.0.0.1", port, timeout=15,
                        source_address=(source, 0) if source else None)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_ehlo_offers_the_configured_mechanisms(env):
    s = smtp(env.listen())
    code, text = s.ehlo()
    lines = text.decode().split("\n")
    assert lines[1:] == ["PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "AUTH PLAIN LOGIN CRAM-MD5",
                         "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8"]
    s.quit()
    env.write(broken_sasl_auth_clients="yes", smtpd_sasl_security_options="noanonymous, "
                                                                         "noplaintext")
    s = smtp(env.listen())
    lines = s.ehlo()[1].decode().split("\n")
    assert "AUTH CRAM-MD5" in lines and "AUTH=CRAM-MD5" in lines
    s.quit()
    env.write(smtpd_sasl_auth_enable="no")
    s = smtp(env.listen())
    assert not any(l.startswith("AUTH") for l in s.ehlo()[1].decode().split("\n"))
    assert s.docmd("AUTH PLAIN " + b64("\0user\0secret")) == \
        (503, b"5.5.1 Error: authentication not enabled")
    s.quit()


def auth_line(env):
    s = smtp(env.listen())
    lines = [l for l in s.ehlo()[1].decode().split("\n") if l.startswith("AUTH")]
    s.quit()
    return lines


def test_mechanism_filter_and_exceptions(env):
    env.write(smtpd_sasl_mechanism_filter="plain, login")
    assert auth_line(env) == ["AUTH PLAIN LOGIN"]
    env.write(smtpd_sasl_mechanism_filter="!cram-md5, static:rest")
    assert auth_line(env) == ["AUTH PLAIN LOGIN"]
    env.write(smtpd_sasl_mechanism_filter="!external, static:rest",
              smtpd_sasl_exceptions_networks="127.0.0.0/8")
    assert auth_line(env) == []
    # A hidden mechanism is refused too.
    env.write(smtpd_sasl_mechanism_filter="plain", smtpd_sasl_exceptions_networks="")
    s = smtp(env.listen())
    s.ehlo()
    assert s.docmd("AUTH LOGIN")[0] == 535
    s.quit()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_right_password(env, mech):
    s = smtp(env.listen())
    s.ehlo()
    s.user, s.password = "user", "secret"
    auth = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mech]
    assert s.auth(mech, auth) == (235, b"2.7.0 Authentication successful")
    assert s.docmd("AUTH PLAIN " + b64("\0user\0secret")) == \
        (503, b"5.5.1 Error: already authenticated")
    s.quit()
    env.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=1 auth=1/2 quit=1 commands=3/4")


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_wrong_password(env, mech):
    s = smtp(env.listen())
    s.ehlo()
    s.user, s.password = "user", "wrong"
    auth = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login}[mech]
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.auth(mech, auth)
    assert e.value.smtp_code == 535
    assert e.value.smtp_error == b"5.7.8 Error: authentication failed: authentication failure"
    s.quit()
    env.wait_log(rf"postfix/smtpd\[\d+\]: warning: unknown\[127\.0\.0\.1\]: SASL {mech} "
                 r"authentication failed: authentication failure$")


def test_local_domain_makes_cyrus_report_user_at_realm(env):
    env.write(smtpd_sasl_local_domain="$myhostname",
              smtpd_sender_restrictions="reject_authenticated_sender_login_mismatch")
    s = smtp(env.listen())
    s.ehlo()
    s.login("user", "secret")
    s.docmd("MAIL FROM:<a@example.com>")
    assert s.docmd("RCPT TO:<root@mail.example.jp>") == \
        (553, b"5.7.1 <a@example.com>: Sender address rejected: not owned by user "
              b"user@mail.example.jp")
    s.quit()


def test_unknown_user_looks_like_a_wrong_password(env):
    s = smtp(env.listen())
    s.ehlo()
    assert s.docmd("AUTH PLAIN " + b64("\0nobody\0secret")) == \
        (535, b"5.7.8 Error: authentication failed: authentication failure")
    s.quit()


def test_challenge_loop_cancel_and_syntax(env):
    s = smtp(env.listen())
    s.ehlo()
    assert s.docmd("AUTH") == (501, b"5.5.4 Syntax: AUTH mechanism")
    assert s.docmd("AUTH LOGIN") == (334, b"VXNlcm5hbWU6")          # "Username:"
    assert s.docmd("*") == (501, b"5.7.0 Authentication aborted")
    assert s.docmd("AUTH PLAIN") == (334, b"")
    assert s.docmd("!!notbase64") == \
        (535, b"5.7.8 Error: authentication failed: Invalid base64 data in continued response")
    assert s.docmd("AUTH BOGUS-MECH")[0] == 535
    # LOGIN step by step, the username as initial response.
    assert s.docmd("AUTH LOGIN " + b64("user")) == (334, b"UGFzc3dvcmQ6")   # "Password:"
    assert s.docmd(b64("secret")) == (235, b"2.7.0 Authentication successful")
    s.quit()
    env.wait_log(r"warning: unknown\[127\.0\.0\.1\]: SASL LOGIN authentication aborted")


def test_auth_in_a_transaction_is_refused(env):
    s = smtp(env.listen())
    s.ehlo()
    s.docmd("MAIL FROM:<a@example.com>")
    assert s.docmd("AUTH PLAIN " + b64("\0user\0secret")) == \
        (503, b"5.5.1 Error: MAIL transaction in progress")
    s.quit()


def test_login_is_logged_on_the_client_line(env):
    if not env.start_cleanup():
        pytest.fail("cleanup is missing from the build")
    env.write(smtpd_sasl_authenticated_header="yes")
    s = smtp(env.listen())
    s.ehlo("client.example.com")
    s.user, s.password = "user", "secret"
    s.auth("PLAIN", s.auth_plain)
    assert s.docmd("MAIL FROM:<user@example.jp> AUTH=user+40example.jp") == (250, b"2.1.0 Ok")
    assert s.docmd("RCPT TO:<root@mail.example.jp>")[0] == 250
    assert s.docmd("DATA")[0] == 354
    s.send(b"Subject: hi\r\n\r\nbody\r\n.\r\n")
    assert s.getreply()[0] == 250
    s.quit()
    env.wait_log(r": client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=user, "
                 r"sasl_sender=user@example\.jp$")
    files = env.queue_files()
    assert len(files) == 1
    text = queue_text(files[0])
    assert ("Received: from client.example.com (unknown [127.0.0.1])\n"
            "\t(Authenticated sender: user)\n"
            f"\tby {HOST} (Hikyaku) with ESMTPA id ") in text, text


def test_auth_option_on_mail(env):
    s = smtp(env.listen())
    s.ehlo()
    assert s.docmd("MAIL FROM:<a@example.com> AUTH=<>") == (250, b"2.1.0 Ok")
    s.docmd("RSET")
    assert s.docmd("MAIL FROM:<a@example.com> AUTH=a+40example.com AUTH=<>") == \
        (503, b"5.5.4 Error: multiple AUTH= options")
    s.quit()
    env.write(smtpd_sasl_auth_enable="no")
    s = smtp(env.listen())
    s.ehlo()
    assert s.docmd("MAIL FROM:<a@example.com> AUTH=<>") == \
        (555, b"5.5.4 Unsupported option: AUTH=<>")
    s.quit()


def test_swaks_auth(env):
    if not have("swaks"):
        pytest.skip("swaks not installed")
    port = env.listen()
    for mech in ("PLAIN", "LOGIN"):
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "-a", mech, "-au", "user",
                            "-ap", "secret", "--quit-after", "AUTH"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "235 2.7.0 Authentication successful" in r.stdout
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "-a", mech, "-au", "user",
                            "-ap", "bad", "--quit-after", "AUTH"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0
        assert "535 5.7.8 Error: authentication failed: authentication failure" in r.stdout


# ---------------------------------------------------------------- relay

def relay_env(env):
    # The seed's main.cf: mynetworks, then SASL, then the relay check.
    env.write(mynetworks="127.0.0.1/32",
              smtpd_relay_restrictions="permit_mynetworks, permit_sasl_authenticated, "
                                       "reject_unauth_destination",
              smtpd_recipient_restrictions="permit_mynetworks permit_sasl_authenticated "
                                           "reject_unauth_destination")


def test_authenticated_relay_allowed_unauthenticated_refused(env):
    relay_env(env)
    if not env.start_cleanup():
        pytest.fail("cleanup is missing from the build")
    port = env.listen()
    s = smtp(port, source="127.0.0.2")
    s.ehlo()
    s.docmd("MAIL FROM:<a@example.com>")
    assert s.docmd("RCPT TO:<someone@remote.example>") == \
        (554, b"5.7.1 <someone@remote.example>: Relay access denied")
    s.quit()
    env.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 "
                 r"<someone@remote\.example>: Relay access denied; from=<a@example\.com> "
                 r"to=<someone@remote\.example> proto=ESMTP helo=<")
    s = smtp(port, source="127.0.0.2")
    s.ehlo()
    s.login("user", "secret")
    s.docmd("MAIL FROM:<a@example.com>")
    assert s.docmd("RCPT TO:<someone@remote.example>") == (250, b"2.1.5 Ok")
    s.quit()


def test_submission_service(env):
    """master.cf: submission inet n - n - - smtpd -o smtpd_etrn_restrictions=reject
    -o smtpd_client_restrictions=permit_sasl_authenticated,reject"""
    port = env.listen("syslog_name=postfix/submission", "smtpd_etrn_restrictions=reject",
                      "smtpd_client_restrictions=permit_sasl_authenticated,reject",
                      service="submission")
    s = smtp(port)
    s.ehlo()
    s.docmd("MAIL FROM:<a@example.com>")
    assert s.docmd("RCPT TO:<root@mail.example.jp>") == \
        (554, b"5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied")
    s.docmd("RSET")
    assert s.docmd("ETRN example.jp")[0] == 554
    s.login("user", "secret")
    s.docmd("MAIL FROM:<a@example.com>")
    code = s.docmd("RCPT TO:<root@mail.example.jp>")[0]
    assert code in (250, 451)       # 451: no cleanup to open a queue file with
    s.quit()
    env.wait_log(r"postfix/submission/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.1\]")


def test_smtps_service_with_auth(env, tmp_path):
    """master.cf: smtps inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
    -o smtpd_sasl_auth_enable=yes"""
    if not have("openssl"):
        pytest.skip("openssl not installed")
    pki = make_pki(str(tmp_path / "pki"))
    env.write(smtpd_sasl_auth_enable="no", smtpd_tls_cert_file=os.path.join(pki, "server.pem"),
              smtpd_tls_key_file=os.path.join(pki, "server.key"))
    port = env.listen("smtpd_tls_wrappermode=yes", "smtpd_sasl_auth_enable=yes",
                      service="smtps")
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    s = smtplib.SMTP_SSL("127.0.0.1", port, timeout=15, context=ctx)
    assert "AUTH PLAIN LOGIN CRAM-MD5" in s.ehlo()[1].decode().split("\n")
    s.login("user", "secret")
    s.quit()


# ---------------------------------------------------------------- sender login maps

def test_sender_login_mismatch(env, tmp_path):
    owners = tmp_path / "senders"
    owners.write_text("user@example.jp user\nshared@example.jp user, other\n"
                      "other@example.jp other\n")
    env.write(smtpd_sender_login_maps=f"texthash:{owners}",
              smtpd_sender_restrictions="reject_sender_login_mismatch",
              smtpd_relay_restrictions="permit_sasl_authenticated, reject_unauth_destination",
              mynetworks="127.0.0.2/32")
    port = env.listen()

    def rcpt(sender, login=None):
        s = smtp(port)
        s.ehlo()
        if login:
            s.login(*login)
        s.docmd(f"MAIL FROM:<{sender}>")
        r = s.docmd("RCPT TO:<root@mail.example.jp>")
        s.quit()
        return r

    ok = lambda r: r[0] in (250, 451)
    assert ok(rcpt("user@example.jp", ("user", "secret")))
    assert ok(rcpt("shared@example.jp", ("other", "pw2")))
    assert rcpt("other@example.jp", ("user", "secret")) == \
        (553, b"5.7.1 <other@example.jp>: Sender address rejected: not owned by user user")
    assert rcpt("nobody@example.jp", ("user", "secret")) == \
        (553, b"5.7.1 <nobody@example.jp>: Sender address rejected: not owned by user user")
    assert rcpt("user@example.jp") == \
        (553, b"5.7.1 <user@example.jp>: Sender address rejected: not logged in")
    assert ok(rcpt("stranger@example.com"))

    # The narrower variants.
    env.write(smtpd_sender_restrictions="reject_known_sender_login_mismatch")
    port = env.listen()
    assert ok(rcpt("nobody@example.jp", ("user", "secret")))       # no owner listed
    assert rcpt("other@example.jp", ("user", "secret"))[0] == 553
    env.write(smtpd_sender_restrictions="reject_authenticated_sender_login_mismatch")
    port = env.listen()
    assert ok(rcpt("user@example.jp"))                              # not logged in: not checked
    env.write(smtpd_sender_restrictions="reject_unauthenticated_sender_login_mismatch")
    port = env.listen()
    assert ok(rcpt("other@example.jp", ("user", "secret")))
    assert rcpt("user@example.jp")[0] == 553


# ---------------------------------------------------------------- under master

def test_submission_and_smtps_services_under_master(instance, tmp_path):
    """The seed lines of master.cf, run by master: -o overrides reach smtpd."""
    from conftest import free_port
    import pwd
    if not os.path.exists(os.path.join(instance.libexec, "master")) or \
            not os.path.exists(os.path.join(instance.libexec, "smtpd")):
        pytest.fail("master or smtpd is missing from the build")
    if not have("saslpasswd2") or not have("openssl"):
        pytest.skip("sasl2-bin or openssl not installed")
    pki = make_pki(os.path.join(instance.root, "pki"))
    os.chmod(os.path.join(instance.root, "pki"), 0o755)
    db = make_sasldb(instance.config, {"user": "secret"})
    pw = pwd.getpwnam("postfix")
    os.chown(db, 0, pw.pw_gid)
    os.chmod(db, 0o640)
    instance.write_main_cf(
        smtpd_tls_cert_file=os.path.join(pki, "server.pem"),
        smtpd_tls_key_file=os.path.join(pki, "server.key"),
        smtpd_tls_security_level="may", smtpd_tls_loglevel="1",
        cyrus_sasl_config_path=instance.config,
        smtpd_relay_restrictions="permit_mynetworks, permit_sasl_authenticated, "
                                 "reject_unauth_destination",
        mynetworks="127.0.0.2/32")
    sub, smtps = free_port(), free_port()
    instance.write_master_cf(
        f"127.0.0.1:{sub} inet n - n - - smtpd\n"
        "  -o syslog_name=postfix/submission\n"
        "  -o smtpd_sasl_auth_enable=yes\n"
        "  -o smtpd_etrn_restrictions=reject\n"
        "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
        f"127.0.0.1:{smtps} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes "
        "-o smtpd_sasl_auth_enable=yes\n")
    r = instance.postfix("check", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    instance.start()
    from conftest import poll_until
    assert poll_until(lambda: instance.port_open(sub) and instance.port_open(smtps))

    # Port 25: no AUTH (not enabled in main.cf), STARTTLS offered.
    s = smtp(instance.smtp_port)
    kw = s.ehlo()[1].decode().split("\n")
    assert "STARTTLS" in kw and not any(k.startswith("AUTH") for k in kw)
    s.quit()

    # submission: AUTH offered; unauthenticated clients refused.
    s = smtp(sub)
    assert "AUTH PLAIN LOGIN CRAM-MD5" in s.ehlo()[1].decode().split("\n")
    s.docmd("MAIL FROM:<a@example.com>")
    assert s.docmd("RCPT TO:<root@mail.example.jp>") == \
        (554, b"5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied")
    s.docmd("RSET")
    assert s.docmd("ETRN example.jp")[0] == 554
    s.starttls(context=ssl.create_default_context(cafile=os.path.join(pki, "ca.pem")))
    s.ehlo()
    s.login("user", "secret")
    s.docmd("MAIL FROM:<a@example.com>")
    assert s.docmd("RCPT TO:<someone@remote.example>") == (250, b"2.1.5 Ok")
    s.quit()
    instance.wait_log(r"postfix/submission/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.1\]")

    # smtps: TLS from the start, AUTH.
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    s = smtplib.SMTP_SSL("127.0.0.1", smtps, timeout=15, context=ctx)
    assert "AUTH PLAIN LOGIN CRAM-MD5" in s.ehlo()[1].decode().split("\n")
    s.login("user", "secret")
    s.quit()
    instance.wait_log(r"postfix/smtpd\[\d+\]: Anonymous TLS connection established from "
                      r"unknown\[127\.0\.0\.1\]: TLSv1\.3")
    # A resumed session through another smtpd process of the same service.
    keys = os.path.join(instance.data, "tls_ticket_keys")
    assert poll_until(lambda: os.path.exists(keys))
    assert os.stat(keys).st_uid == pw.pw_uid
