"""TLS and SASL in the SMTP client: "relay through my provider on 587 with
STARTTLS and a password", smtps relays, the TLS levels and the policy table.

Two real instances: the provider (127.0.0.2) runs smtpd services made for
each case - a submission port with STARTTLS required, AUTH only under TLS
and relaying only for logged-in clients (Cyrus sasldb made with
saslpasswd2); an smtps port (wrapper mode); a port whose certificate names
another host; its main port without TLS - and relays what it accepts to a
sink on 127.0.0.3. The client instance (127.0.0.1) sends through
relayhost = [127.0.0.2]:PORT (or transport_maps) with the smtp_tls_* and
smtp_sasl_* settings of each test, tables built with its own postmap.
Certificates come from a CA made in the test (hk_tlsenv.make_pki). No DNS
at all: brackets everywhere and resolver files that name no server.
"""
import os
import re

import pytest

from hk_e2e import ID, free_port_on, mailq, more_instances, needs, resolv_conf, submit
from hk_peers import Sink
from hk_tlsenv import have, make_pki, make_sasldb, run

PROVIDER = "127.0.0.2"
SINK_HOST = "127.0.0.3"

pytestmark = pytest.mark.skipif(not have("saslpasswd2"), reason="saslpasswd2 not installed")


def other_name_cert(pki):
    """A server certificate from the same CA for another name."""
    p = lambda n: os.path.join(pki, n)
    with open(p("other.ext"), "w") as f:
        f.write("subjectAltName=DNS:other.example.jp\nextendedKeyUsage=serverAuth\n")
    run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", p("other.key"),
        "-out", p("other.csr"), "-subj", "/CN=other.example.jp")
    run("openssl", "x509", "-req", "-in", p("other.csr"), "-CA", p("ca.pem"), "-CAkey",
        p("ca.key"), "-CAcreateserial", "-out", p("other.pem"), "-days", "30", "-extfile",
        p("other.ext"))
    os.chmod(p("other.key"), 0o600)


class Provider:
    """The provider instance and its ports."""

    def __init__(self, inst, pki, sink):
        self.inst = inst
        self.pki = pki
        self.sink = sink
        self.plain = inst.smtp_port                 # main.cf: no TLS, no AUTH
        self.submission, self.smtps, self.other = (free_port_on(PROVIDER) for _ in range(3))

    def log(self):
        return self.inst.log()


@pytest.fixture(scope="module")
def provider(hk_install, tmp_path_factory):
    pki = make_pki(str(tmp_path_factory.mktemp("pki")))
    other_name_cert(pki)
    for d in (pki, os.path.dirname(pki)):
        os.chmod(d, 0o755)
    sink = Sink(host=SINK_HOST, name="sink.example.net")
    with more_instances(hk_install) as make:
        inst = make(PROVIDER)
        needs(inst, "master", "smtpd", "cleanup", "qmgr", "smtp")
        prov = Provider(inst, pki, sink)
        make_sasldb(inst.config, {"user": "secret"})
        os.chmod(os.path.join(inst.config, "sasldb2"), 0o644)   # smtpd runs as mail_owner
        inst.write_main_cf(
            myhostname="mail.example.jp", mynetworks="127.0.0.0/8",
            relayhost=f"[{SINK_HOST}]:{sink.port}",
            smtpd_tls_cert_file=os.path.join(pki, "server.pem"),
            smtpd_tls_key_file=os.path.join(pki, "server.key"),
            smtpd_tls_loglevel="1", cyrus_sasl_config_path=inst.config)
        resolv_conf(inst, None)
        auth_only = ("  -o smtpd_sasl_auth_enable=yes\n"
                     "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n")
        inst.write_master_cf(
            f"{PROVIDER}:{prov.submission} inet n - n - - smtpd\n"
            "  -o syslog_name=postfix/submission\n"
            "  -o smtpd_tls_security_level=encrypt\n"
            "  -o smtpd_tls_auth_only=yes\n" + auth_only +
            f"{PROVIDER}:{prov.smtps} inet n - n - - smtpd\n"
            "  -o syslog_name=postfix/smtps\n"
            "  -o smtpd_tls_wrappermode=yes\n" + auth_only +
            f"{PROVIDER}:{prov.other} inet n - n - - smtpd\n"
            "  -o syslog_name=postfix/other\n"
            "  -o smtpd_tls_security_level=may\n"
            f"  -o smtpd_tls_cert_file={os.path.join(pki, 'other.pem')}\n"
            f"  -o smtpd_tls_key_file={os.path.join(pki, 'other.key')}\n")
        inst.start()
        for port in (prov.submission, prov.smtps, prov.other):
            assert inst.port_open(port, PROVIDER)
        yield prov
    sink.stop()


@pytest.fixture
def client(instance, provider):
    needs(instance, "master", "smtpd", "cleanup", "qmgr", "smtp")
    instance.write_main_cf(myhostname="client.example.jp", mydestination="localhost",
                           smtp_tls_loglevel="1")
    resolv_conf(instance, None)
    return instance


def table(inst, name, lines, mode=0o600):
    """A hash: table in the client's config directory, built by its postmap
    (as root: the smtp client opens its password and policy tables before
    it drops privileges; other tables must be readable by mail_owner)."""
    path = os.path.join(inst.config, name)
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    os.chmod(path, mode)
    inst.cmd("postmap", path)
    return "hash:" + path


def sasl_client_conf(inst, provider, port, password="secret", **extra):
    conf = dict(relayhost=f"[{PROVIDER}]:{port}", smtp_sasl_auth_enable="yes",
                smtp_sasl_password_maps=table(inst, "sasl_passwd",
                                              [f"[{PROVIDER}]:{port} user:{password}"]),
                smtp_tls_security_level="encrypt")
    conf.update(extra)
    inst.write_main_cf(**conf)


def sent_line(qid, rcpt, port):
    return (rf"postfix/smtp\[\d+\]: {qid}: to=<{re.escape(rcpt)}>, "
            rf"relay={PROVIDER}\[{PROVIDER}\]:{port}, .*dsn=2\.0\.0, status=sent "
            rf"\(250 2\.0\.0 Ok: queued as ({ID})\)")


def deferred_line(qid, rcpt, reason):
    return (rf"postfix/smtp\[\d+\]: {qid}: to=<{re.escape(rcpt)}>, relay=[^,]+, .*"
            rf"status=deferred \({reason}\)")


def arrived(provider, rcpt, timeout=30):
    def seen():
        return any(rcpt in t["rcpts"] for t in provider.sink.transactions())
    from conftest import poll_until
    assert poll_until(seen, timeout), f"{rcpt} did not reach the sink"


# ---------------------------------------------------------------- the recipe

@pytest.mark.parametrize("extra,method", [
    # SASL_README's recipe (plaintext allowed under TLS); Cyrus would still
    # prefer CRAM-MD5, the filter leaves it PLAIN only.
    ({"smtp_sasl_tls_security_options": "noanonymous",
      "smtp_sasl_mechanism_filter": "!cram-md5, static:rest"}, "PLAIN"),
    ({}, "CRAM-MD5"),                 # the default (noplaintext, noanonymous)
])
def test_provider_on_587_with_starttls_and_password(client, provider, extra, method):
    sasl_client_conf(client, provider, provider.submission, **extra)
    client.postfix("check")
    client.start()
    rcpt = f"friend-{method.lower()}@remote.example"
    qid = submit(client, "me@client.example.jp", [rcpt], subject="via the provider")
    pid = client.wait_log(sent_line(qid, rcpt, provider.submission), timeout=30)[0]
    client.wait_log(rf"postfix/smtp\[\d+\]: Untrusted TLS connection established to "
                    rf"{PROVIDER}\[{PROVIDER}\]:{provider.submission}: TLSv1\.[23] with cipher \S+")
    arrived(provider, rcpt)
    provider.inst.wait_log(rf"postfix/submission/smtpd\[\d+\]: {pid}: "
                           rf"client=unknown\[127\.0\.0\.1\], sasl_method={method}, "
                           r"sasl_username=user")
    # Nothing secret in the client's log.
    assert "secret" not in client.log()


def test_wrong_password_is_deferred_with_the_535(client, provider):
    sasl_client_conf(client, provider, provider.submission, password="wrong",
                     smtp_sasl_tls_security_options="noanonymous")
    client.start()
    qid = submit(client, "me@client.example.jp", ["nobody@remote.example"])
    reason = (rf"SASL authentication failed; server {PROVIDER}\[{PROVIDER}\] said: 535 5\.7\.8 "
              r"Error: authentication failed: authentication failure")
    client.wait_log(deferred_line(qid, "nobody@remote.example", reason), timeout=30)
    assert re.search(r"dsn=4\.7\.8, status=deferred", client.log())
    q = mailq(client)
    assert qid in q and "said: 535 5.7.8 Error: authentication failed" in q, q
    assert "wrong" not in client.log()
    provider.inst.wait_log(r"warning: unknown\[127\.0\.0\.1\]: SASL CRAM-MD5 authentication "
                           r"failed")


def test_no_soft_bounce_bounces_the_535(client, provider):
    sasl_client_conf(client, provider, provider.submission, password="wrong",
                     smtp_sasl_tls_security_options="noanonymous",
                     smtp_sasl_auth_soft_bounce="no")
    client.start()
    qid = submit(client, "me@client.example.jp", ["nobody2@remote.example"])
    client.wait_log(rf"{qid}: to=<nobody2@remote\.example>, .*dsn=5\.7\.8, status=bounced "
                    r"\(SASL authentication failed; server ", timeout=30)


# ---------------------------------------------------------------- verification

def test_verify_with_the_ca_is_verified(client, provider):
    sasl_client_conf(client, provider, provider.submission, smtp_tls_security_level="verify",
                     smtp_tls_CAfile=os.path.join(provider.pki, "ca.pem"),
                     smtp_tls_verify_cert_match="mail.example.jp",
                     smtp_tls_servername="mail.example.jp",
                     smtp_sasl_tls_verified_security_options="noanonymous")
    client.start()
    rcpt = "verified@remote.example"
    qid = submit(client, "me@client.example.jp", [rcpt])
    client.wait_log(sent_line(qid, rcpt, provider.submission), timeout=30)
    client.wait_log(rf"Verified TLS connection established to {PROVIDER}\[{PROVIDER}\]:"
                    rf"{provider.submission}: TLSv1\.[23] with cipher")
    arrived(provider, rcpt)


@pytest.mark.parametrize("case", ["other-name", "no-ca"])
def test_verify_failures_are_deferred(client, provider, case):
    conf = dict(relayhost=f"[{PROVIDER}]:{provider.other}", smtp_tls_security_level="verify",
                smtp_tls_verify_cert_match="mail.example.jp")
    if case == "other-name":
        conf["smtp_tls_CAfile"] = os.path.join(provider.pki, "ca.pem")
        reason, trust = "Server certificate not verified", "Trusted"
    else:
        conf["relayhost"] = f"[{PROVIDER}]:{provider.submission}"
        reason, trust = "Server certificate not trusted", "Untrusted"
    client.write_main_cf(**conf)
    client.start()
    rcpt = f"{case}@remote.example"
    qid = submit(client, "me@client.example.jp", [rcpt])
    client.wait_log(deferred_line(qid, rcpt, reason), timeout=30)
    assert re.search(rf"{qid}: to=<{rcpt}>, .*dsn=4\.7\.5, status=deferred", client.log())
    client.wait_log(rf"{trust} TLS connection established to {PROVIDER}\[{PROVIDER}\]")
    assert reason in mailq(client)
    assert not any(rcpt in t["rcpts"] for t in provider.sink.transactions())


# ---------------------------------------------------------------- servers without STARTTLS

def test_encrypt_without_starttls_is_deferred(client, provider):
    client.write_main_cf(relayhost=f"[{PROVIDER}]:{provider.plain}",
                         smtp_tls_security_level="encrypt")
    client.start()
    rcpt = "must-encrypt@remote.example"
    qid = submit(client, "me@client.example.jp", [rcpt])
    client.wait_log(deferred_line(qid, rcpt, rf"TLS is required, but was not offered by host "
                                              rf"{PROVIDER}\[{PROVIDER}\]"), timeout=30)
    assert re.search(rf"{qid}: to=<{rcpt}>, .*dsn=4\.7\.4, status=deferred", client.log())
    assert not any(rcpt in t["rcpts"] for t in provider.sink.transactions())


def test_may_without_starttls_sends_in_plaintext(client, provider):
    client.write_main_cf(relayhost=f"[{PROVIDER}]:{provider.plain}",
                         smtp_tls_security_level="may")
    client.start()
    rcpt = "plain@remote.example"
    qid = submit(client, "me@client.example.jp", [rcpt])
    client.wait_log(sent_line(qid, rcpt, provider.plain), timeout=30)
    arrived(provider, rcpt)
    assert "TLS connection established" not in client.log()


def test_legacy_smtp_use_tls_is_may(client, provider):
    client.write_main_cf(relayhost=f"[{PROVIDER}]:{provider.other}", smtp_use_tls="yes")
    client.start()
    rcpt = "legacy@remote.example"
    qid = submit(client, "me@client.example.jp", [rcpt])
    client.wait_log(sent_line(qid, rcpt, provider.other), timeout=30)
    client.wait_log(rf"Untrusted TLS connection established to {PROVIDER}\[{PROVIDER}\]:"
                    rf"{provider.other}")


def test_may_retries_in_plaintext_after_a_failed_handshake(client, provider):
    # No protocol the library will speak (OpenSSL 3 refuses TLS 1.0 at its
    # default security level): the handshake fails, then plaintext.
    client.write_main_cf(relayhost=f"[{PROVIDER}]:{provider.other}",
                         smtp_tls_security_level="may", smtp_tls_protocols="TLSv1",
                         smtp_tls_ciphers="medium")
    client.start()
    rcpt = "retry-plain@remote.example"
    qid = submit(client, "me@client.example.jp", [rcpt])
    client.wait_log(sent_line(qid, rcpt, provider.other), timeout=30)
    arrived(provider, rcpt)
    log = client.log()
    assert re.search(rf"SSL_connect error to {PROVIDER}\[{PROVIDER}\]:{provider.other}", log), log
    assert "TLS connection established" not in log


# ---------------------------------------------------------------- smtps

def test_smtps_relay_with_wrappermode(client, provider):
    sasl_client_conf(client, provider, provider.smtps, smtp_tls_wrappermode="yes",
                     smtp_sasl_tls_security_options="noanonymous",
                     smtp_sasl_mechanism_filter="plain, login")
    client.start()
    rcpt = "smtps@remote.example"
    qid = submit(client, "me@client.example.jp", [rcpt])
    pid = client.wait_log(sent_line(qid, rcpt, provider.smtps), timeout=30)[0]
    client.wait_log(rf"Untrusted TLS connection established to {PROVIDER}\[{PROVIDER}\]:"
                    rf"{provider.smtps}")
    arrived(provider, rcpt)
    provider.inst.wait_log(rf"postfix/smtps/smtpd\[\d+\]: {pid}: client=unknown\[127\.0\.0\.1\], "
                           r"sasl_method=PLAIN, sasl_username=user")


def test_wrappermode_needs_encrypt(client, provider):
    client.write_main_cf(relayhost=f"[{PROVIDER}]:{provider.smtps}", smtp_tls_wrappermode="yes",
                         smtp_tls_security_level="may")
    client.start()
    rcpt = "wrapper-may@remote.example"
    qid = submit(client, "me@client.example.jp", [rcpt])
    client.wait_log(deferred_line(qid, rcpt, "client TLS configuration problem"), timeout=30)
    client.wait_log(r"warning: smtp_tls_wrappermode requires \"smtp_tls_security_level = "
                    r"encrypt\" \(or stronger\)")


# ---------------------------------------------------------------- policy table

def test_policy_maps_override_the_level_per_destination(client, provider):
    ca = os.path.join(provider.pki, "ca.pem")
    tp = table(client, "tls_policy", [
        f"[{PROVIDER}]:{provider.plain}   none",
        f"[{PROVIDER}]:{provider.other}   verify match=mail.example.jp",
        f"[{PROVIDER}]:{provider.submission}   encrypt protocols=TLSv1.2 ciphers=high",
        "[127.0.0.9]   bogus-level",
    ])
    tm = table(client, "transport", [
        f"plain.example   smtp:[{PROVIDER}]:{provider.plain}",
        f"other.example   smtp:[{PROVIDER}]:{provider.other}",
        f"tls12.example   smtp:[{PROVIDER}]:{provider.submission}",
        "bogus.example   smtp:[127.0.0.9]",
    ], mode=0o644)
    client.write_main_cf(smtp_tls_security_level="encrypt", smtp_tls_policy_maps=tp,
                         smtp_tls_CAfile=ca, transport_maps=tm, smtp_sasl_auth_enable="yes",
                         smtp_sasl_tls_security_options="noanonymous",
                         smtp_sasl_password_maps=table(
                             client, "sasl_passwd",
                             [f"[{PROVIDER}]:{provider.submission} user:secret"]))
    client.start()
    # "none" beats the encrypt default: plaintext to a server without STARTTLS.
    qid = submit(client, "me@client.example.jp", ["a@plain.example"])
    client.wait_log(sent_line(qid, "a@plain.example", provider.plain), timeout=30)
    # "verify match=": trusted chain, but the certificate names other.example.jp.
    qid = submit(client, "me@client.example.jp", ["b@other.example"])
    client.wait_log(deferred_line(qid, "b@other.example", "Server certificate not verified"),
                    timeout=30)
    # "encrypt protocols=TLSv1.2": the attribute replaces the mandatory protocols.
    qid = submit(client, "me@client.example.jp", ["c@tls12.example"])
    client.wait_log(sent_line(qid, "c@tls12.example", provider.submission), timeout=30)
    client.wait_log(rf"TLS connection established to {PROVIDER}\[{PROVIDER}\]:"
                    rf"{provider.submission}: TLSv1\.2 with cipher")
    # A bad policy: deferred, and the warning says why.
    qid = submit(client, "me@client.example.jp", ["d@bogus.example"])
    client.wait_log(deferred_line(qid, "d@bogus.example", "client TLS configuration problem"),
                    timeout=30)
    client.wait_log(r"warning: smtp_tls_policy_maps: \"\[127\.0\.0\.9\]\": invalid TLS security "
                    r"level \"bogus-level\"")
    arrived(provider, "a@plain.example")
    arrived(provider, "c@tls12.example")


# ---------------------------------------------------------------- per-sender credentials

def test_sender_dependent_authentication(client, provider):
    client.write_main_cf(
        relayhost=f"[{PROVIDER}]:{provider.submission}", smtp_tls_security_level="encrypt",
        smtp_sasl_auth_enable="yes", smtp_sender_dependent_authentication="yes",
        smtp_sasl_tls_security_options="noanonymous",
        smtp_sasl_password_maps=table(client, "sasl_passwd", [
            "boss@client.example.jp   user:secret",
            f"[{PROVIDER}]:{provider.submission}   user:wrong",
        ]))
    client.start()
    # The sender's entry wins over the server's.
    qid = submit(client, "boss@client.example.jp", ["by-sender@remote.example"])
    pid = client.wait_log(sent_line(qid, "by-sender@remote.example", provider.submission),
                          timeout=30)[0]
    provider.inst.wait_log(rf"{pid}: client=unknown\[127\.0\.0\.1\], sasl_method=\S+, "
                           r"sasl_username=user")
    # Another sender falls back to the server's entry (a wrong password here).
    qid = submit(client, "intern@client.example.jp", ["by-host@remote.example"])
    client.wait_log(deferred_line(qid, "by-host@remote.example",
                                  r"SASL authentication failed; server .* said: 535 5\.7\.8 .*"),
                    timeout=30)


# ---------------------------------------------------------------- connection reuse

@pytest.mark.parametrize("reuse", ["yes", "no"])
def test_tls_connection_reuse(client, provider, reuse):
    """A TLS session is kept for the next delivery only with
    smtp_tls_connection_reuse = yes (one smtp process, so the second
    message finds the first one's session)."""
    sasl_client_conf(client, provider, provider.submission,
                     smtp_tls_connection_reuse=reuse, smtp_connection_cache_time_limit="20s")
    path = os.path.join(client.config, "master.cf")
    text = re.sub(r"(?m)^smtp(\s+)unix(\s+)-(\s+)-(\s+)n(\s+)-(\s+)-(\s+)smtp$",
                  r"smtp\1unix\2-\3-\4n\5-\g<6>1\7smtp", open(path).read())
    with open(path, "w") as f:
        f.write(text)
    client.start()
    for n in (1, 2):
        rcpt = f"reuse-{reuse}-{n}@remote.example"
        qid = submit(client, "me@client.example.jp", [rcpt])
        client.wait_log(sent_line(qid, rcpt, provider.submission), timeout=30)
    established = re.findall(rf"TLS connection established to {PROVIDER}\[{PROVIDER}\]",
                             client.log())
    assert len(established) == (1 if reuse == "yes" else 2), client.log()
    if reuse == "yes":
        client.stop()       # the cached session ends with QUIT at exit
        provider.inst.wait_log(r"postfix/submission/smtpd\[\d+\]: disconnect from "
                               r"unknown\[127\.0\.0\.1\] ehlo=2 starttls=1 auth=1 mail=2 rcpt=2 "
                               r"data=2 rset=1 quit=1 commands=12")
