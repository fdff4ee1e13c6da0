"""Built-in content inspection in a whole running instance: header_checks,
mime_header_checks, nested_header_checks and body_checks (header_checks(5)).

Seed 001's tables are used verbatim (as its page prints them) and with the
blanks its transcription lost put back. Over SMTP a REJECT is a 5xx at the
end of DATA with cleanup's "reject:" log line, and nothing is queued; from
sendmail the message is returned to the sender (a non-delivery notice in
root's mailbox). Every action is checked with its log line and what
happens to the message: HOLD (hold/ queue), DISCARD, REDIRECT, BCC,
PREPEND, REPLACE, IGNORE, WARN, INFO; MIME part headers and attached
messages' headers; body_checks_size_limit; disable_mime_input_processing.
Mailboxes are those of root, daemon and bin in the instance's
mail_spool_directory.
"""
import os
import re
import shutil
import smtplib
import stat

import pytest

from conftest import poll_until

NEEDED = ["master", "smtpd", "cleanup", "qmgr", "local", "bounce", "pickup"]

# Seed 001, /etc/postfix/header_checks and /etc/postfix/body_checks, as printed.
SEED_HEADER_CHECKS = """\
# It refuses by a partner's subject.

/^Subject: je2ism/       REJECT

# It refuses in a FROM address.

#/^From: okada/          REJECT
/^From:.*<#.*@.*>/ REJEC
/^From: .*@abc.ne.jp/        REJECT
"""
SEED_BODY_CHECKS = """\
/spam/REJECT
/name=.*\\.scr/  REJECT
"""


def open_for_others(path, undo):
    p = os.path.abspath(path)
    while p != "/":
        st = os.stat(p)
        if not st.st_mode & stat.S_IXOTH:
            undo.append((p, stat.S_IMODE(st.st_mode)))
            os.chmod(p, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        p = os.path.dirname(p)


@pytest.fixture
def ci(instance):
    """An instance whose tables the test writes before start()."""
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
    instance.cmd("sendmail", "-bi")
    yield instance
    instance.stop()
    for p, mode in reversed(undo):
        os.chmod(p, mode)


def tables(inst, header=None, body=None, **extra):
    """Write the tables and main.cf settings, then start."""
    cf = {}
    if header is not None:
        path = os.path.join(inst.config, "header_checks")
        with open(path, "w") as f:
            f.write(header)
        cf["header_checks"] = "regexp:" + path
    if body is not None:
        path = os.path.join(inst.config, "body_checks")
        with open(path, "w") as f:
            f.write(body)
        cf["body_checks"] = "regexp:" + path
    cf.update(extra)
    inst.write_main_cf(**cf)
    inst.start()


def smtp_send(inst, data, sender="a@example.org", rcpts=("root@mail.example.jp",)):
    """(code, text, queue ID) for one message over SMTP."""
    s = inst.smtp()
    s.ehlo("client.example")
    assert s.mail(sender)[0] == 250
    for r in rcpts:
        assert s.rcpt(r)[0] == 250
    try:
        code, msg = s.data(data)
    except smtplib.SMTPDataError as e:
        code, msg = e.smtp_code, e.smtp_error
    s.quit()
    text = msg.decode(errors="replace")
    m = re.search(r"queued as ([0-9A-Za-z]+)", text)
    return code, text, m.group(1) if m else None


def logged_id(inst, pattern, **kw):
    """Wait for a cleanup line "ID: <pattern>"; returns the ID of the last one."""
    return inst.wait_log(r"cleanup\[\d+\]: ([0-9A-F]+): " + pattern, **kw)[-1]


def nothing_queued(inst, qid):
    for q in ("incoming", "active", "deferred", "hold"):
        if os.path.exists(os.path.join(inst.queue, q, qid)):
            return False
    return "%s: from=<" % qid not in inst.log()


def delivered(inst, user, needle, timeout=30):
    return poll_until(lambda: needle in inst.mailbox(user), timeout)


# ---- seed 001 ----

def test_seed_tables_verbatim_over_smtp(ci):
    tables(ci, SEED_HEADER_CHECKS, SEED_BODY_CHECKS)

    code, text, _ = smtp_send(ci, "From: <a@example.org>\nSubject: je2ism hello\n\nbody\n")
    assert code == 550 and text == "5.7.1 Message content rejected", (code, text)
    qid = logged_id(ci, r"reject: header Subject: je2ism hello from "
                        r"unknown\[127\.0\.0\.1\]; from=<a@example\.org> to=<root@mail\.example\.jp> "
                        r"proto=ESMTP helo=<client\.example>: 5\.7\.1 Message content rejected")
    assert nothing_queued(ci, qid)

    code, text, _ = smtp_send(ci, "From: Okada <okada@abc.ne.jp>\nSubject: hi\n\nbody\n")
    assert code == 550, text
    qid = logged_id(ci, r"reject: header From: Okada <okada@abc\.ne\.jp> from unknown\[127\.0\.0\.1\];")
    assert nothing_queued(ci, qid)

    # "REJEC" is no action: warned about, the mail goes through.
    code, text, qid = smtp_send(ci, "From: <#x@example.org>\nSubject: hash\n\nbody\n")
    assert code == 250, text
    ci.wait_log(r"cleanup\[\d+\]: warning: unknown command in header_checks map: REJEC")
    # "/spam/REJECT" lost its blank: "REJECT" reads as pattern flags, and the
    # rule is skipped with a warning, by Postfix and by us.
    code, text, qid2 = smtp_send(ci, "Subject: s\n\nthis is spam\n")
    assert code == 250, text
    ci.wait_log(r"warning: regexp map \S+/body_checks, line 1: unknown regexp option \"R\": "
                r"skipping this rule")
    assert delivered(ci, "root", "this is spam")
    assert "Subject: hash" in ci.mailbox("root")


SEED_BODY_RESTORED = """\
/spam/ REJECT
/name=.*\\.scr/  REJECT
"""

ATTACHMENT = """\
From: <a@example.org>
Subject: see attachment
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_b1"

--=_b1
Content-Type: text/plain

harmless text
--=_b1
Content-Type: application/octet-stream;
\tname="screensaver.scr"
Content-Disposition: attachment
Content-Transfer-Encoding: base64

TVqQAAMAAAAEAAAA
--=_b1--
"""


def test_seed_rules_with_mime(ci):
    # The seed's .scr rule, where MIME processing shows it an attachment's
    # header: mime_header_checks (default $header_checks).
    tables(ci, SEED_HEADER_CHECKS + "/name=.*\\.scr/  REJECT\n", SEED_BODY_RESTORED)

    code, text, _ = smtp_send(ci, "Subject: s\n\nthis is spam\n")
    assert (code, text) == (550, "5.7.1 Message content rejected")
    qid = logged_id(ci, r"reject: body this is spam from unknown\[127\.0\.0\.1\]; "
                        r"from=<a@example\.org> to=<root@mail\.example\.jp> proto=ESMTP "
                        r"helo=<client\.example>: 5\.7\.1 Message content rejected")
    assert nothing_queued(ci, qid)

    # The attachment's folded Content-Type is one logical header.
    code, text, _ = smtp_send(ci, ATTACHMENT)
    assert code == 550, text
    qid = logged_id(ci, r"reject: header Content-Type: application/octet-stream;\S*\s*"
                        r"name=\"screensaver\.scr\" from unknown\[127\.0\.0\.1\];")
    assert nothing_queued(ci, qid)

    # Content-Disposition's filename= too.
    code, text, _ = smtp_send(ci, ATTACHMENT.replace(
        '\tname="screensaver.scr"', '\tname="x.txt"').replace(
        "Content-Disposition: attachment\n", 'Content-Disposition: attachment;\n filename="a.scr"\n'))
    assert code == 550, text
    logged_id(ci, r"reject: header Content-Disposition: attachment;\S*\s*filename=\"a\.scr\"")

    # An attached message's headers go to nested_header_checks ($header_checks).
    nested = ("Subject: fwd\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n"
              "--x\nContent-Type: message/rfc822\n\nFrom: <b@example.org>\n"
              "Subject: je2ism inside\n\ninner\n--x--\n")
    code, text, _ = smtp_send(ci, nested)
    assert code == 550, text
    logged_id(ci, r"reject: header Subject: je2ism inside from")

    # The same words in the text part are body, not headers: accepted.
    code, text, qid = smtp_send(ci, "Subject: about attachments\n\nname=readme.txt\n"
                                    "Subject: je2ism is only text here\n")
    assert code == 250, text
    assert delivered(ci, "root", "Subject: je2ism is only text here")


def test_seed_body_rule_without_mime(ci):
    # With MIME processing off, everything after the primary headers is
    # body: the seed's body_checks rule sees the attachment's header lines.
    tables(ci, SEED_HEADER_CHECKS, SEED_BODY_RESTORED, disable_mime_input_processing="yes")
    code, text, _ = smtp_send(ci, ATTACHMENT)
    assert code == 550, text
    logged_id(ci, r"reject: body .name=\"screensaver\.scr\" from unknown")


def test_sendmail_reject_bounces_to_sender(ci):
    tables(ci, SEED_HEADER_CHECKS, SEED_BODY_RESTORED)
    ci.cmd("sendmail", "daemon@mail.example.jp",
           input="Subject: je2ism from the command line\n\nplease bounce me\n")
    ids = ci.wait_log(r"pickup\[\d+\]: ([0-9A-F]+): uid=0 from=<root>")
    qid = ids[-1]
    ci.wait_log(r"cleanup\[\d+\]: %s: reject: header Subject: je2ism from the command line "
                r"from local; from=<root@mail\.example\.jp> to=<daemon@mail\.example\.jp>: "
                r"5\.7\.1 Message content rejected" % qid)
    ci.wait_log(r"%s: to=<daemon@mail\.example\.jp>, relay=none, delay=[\d.]+, "
                r"delays=[\d./]+, dsn=5\.7\.1, status=bounced \(Message content rejected\)" % qid)
    ci.wait_log(r"bounce\[\d+\]: %s: sender non-delivery notification: [0-9A-F]+" % qid,
                timeout=30)
    assert delivered(ci, "root", "Undelivered Mail Returned to Sender")
    box = ci.mailbox("root")
    assert "Message content rejected" in box
    assert "Subject: je2ism from the command line" in box      # the original, attached
    assert "please bounce me" in box
    ci.wait_log(r"qmgr\[\d+\]: %s: removed" % qid, timeout=30)
    assert "please bounce me" not in ci.mailbox("daemon")
    assert not os.listdir(os.path.join(ci.queue, "maildrop"))


# ---- every action ----

ACTIONS = """\
/^Subject: hold me/ HOLD keep it for review
/^Subject: discard me/ DISCARD not wanted
/^Subject: redirect me/ REDIRECT daemon@mail.example.jp
/^Subject: copy me/ BCC bin@mail.example.jp
/^Subject: mark me/ PREPEND X-Marked: by header_checks
/^X-Old: (.*)/ REPLACE X-New: $1
/^X-Secret:/ IGNORE
/^Subject: warn me/ WARN looks odd
/^Subject: info me/ INFO for the record
"""

BODY_ACTIONS = """\
/^please replace this line$/ REPLACE this line was replaced
/^drop this line$/ IGNORE
"""


def test_each_action(ci):
    tables(ci, ACTIONS, BODY_ACTIONS)
    ctx = (r" from unknown\[127\.0\.0\.1\]; from=<a@example\.org> to=<root@mail\.example\.jp> "
           r"proto=ESMTP helo=<client\.example>")

    code, text, hold_id = smtp_send(ci, "Subject: hold me\n\nheld\n")
    assert code == 250, text
    ci.wait_log(r"cleanup\[\d+\]: %s: hold: header Subject: hold me%s: keep it for review"
                % (hold_id, ctx))
    assert poll_until(lambda: os.path.exists(os.path.join(ci.queue, "hold", hold_id)))

    code, text, qid = smtp_send(ci, "Subject: discard me\n\ngone\n")
    assert code == 250, text
    ci.wait_log(r"cleanup\[\d+\]: %s: discard: header Subject: discard me%s: not wanted"
                % (qid, ctx))
    assert nothing_queued(ci, qid)

    code, text, qid = smtp_send(ci, "Subject: redirect me\n\nredirected body\n")
    assert code == 250
    ci.wait_log(r"%s: redirect: header Subject: redirect me%s: daemon@mail\.example\.jp"
                % (qid, ctx))
    assert delivered(ci, "daemon", "redirected body")

    code, text, qid = smtp_send(ci, "Subject: copy me\n\ncopied body\n")
    assert code == 250
    ci.wait_log(r"%s: bcc: header Subject: copy me%s: bin@mail\.example\.jp" % (qid, ctx))
    assert delivered(ci, "bin", "copied body")
    assert delivered(ci, "root", "copied body")

    code, text, qid = smtp_send(ci, "Subject: mark me\nX-Old: old value\nX-Secret: 42\n"
                                    "\nplease replace this line\ndrop this line\nlast line\n")
    assert code == 250
    ci.wait_log(r"%s: prepend: header Subject: mark me%s: X-Marked: by header_checks"
                % (qid, ctx))
    ci.wait_log(r"%s: replace: header X-Old: old value%s: X-New: old value" % (qid, ctx))
    ci.wait_log(r"%s: replace: body please replace this line%s: this line was replaced"
                % (qid, ctx))
    assert delivered(ci, "root", "last line")
    box = ci.mailbox("root")
    assert re.search(r"X-Marked: by header_checks\nSubject: mark me\nX-New: old value\n", box), box
    assert "X-Secret" not in box and "X-Old" not in box
    assert "this line was replaced\nlast line\n" in box
    assert "drop this line" not in box

    for word, label, text_ in (("warn", "warning", "looks odd"), ("info", "info", "for the record")):
        code, text, qid = smtp_send(ci, "Subject: %s me\n\n%s body\n" % (word, word))
        assert code == 250
        ci.wait_log(r"%s: %s: header Subject: %s me%s: %s" % (qid, label, word, ctx, text_))
        assert delivered(ci, "root", "%s body" % word)

    # The held message is still there, untouched by qmgr.
    assert os.path.exists(os.path.join(ci.queue, "hold", hold_id))
    assert "held\n" not in ci.mailbox("root")


def test_body_checks_size_limit(ci):
    tables(ci, "", "/forbidden/ REJECT\n", body_checks_size_limit="100")
    filler = "".join("line %02d of filler text\n" % i for i in range(10))   # 240 bytes
    code, text, qid = smtp_send(ci, "Subject: late\n\n" + filler + "forbidden word\n")
    assert code == 250, text                    # past the first 100 bytes: not looked at
    code, text, _ = smtp_send(ci, "Subject: early\n\nforbidden word\n" + filler)
    assert code == 550, text
    # Each MIME part starts over.
    mime = ("Subject: parts\nContent-Type: multipart/mixed; boundary=p\n\n--p\n\n" + filler
            + "--p\n\nforbidden in part two\n--p--\n")
    code, text, _ = smtp_send(ci, mime)
    assert code == 550, text
    assert delivered(ci, "root", "forbidden word")
