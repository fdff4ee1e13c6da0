#!/usr/bin/env python3
"""seeds.py - write the seed corpora under fuzz/corpus/ (run from anywhere).

Text seeds (main.cf, master.cf, tables, addresses) are written inline here
so their origin is visible; binary seeds (attribute messages, queue files,
vstream control bytes) are built from their documented formats
(docs/ipc.md, src/mail/qfile.h). Existing files are overwritten; crash
inputs added by hand (crash-*, name them so) are left alone.
This script is not run by the build or by tools/fuzz.sh.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def copy(target, name, path):
    with open(os.path.join(ROOT, path), "rb") as f:
        put(target, name, f.read())


# ---- main.cf ----
copy("fuzz_cfg_main", "stock", "conf/main.cf")
put("fuzz_cfg_main", "expansions", """\
myhostname = mail.example.com
mydomain = example.com
myorigin = $mydomain
mydestination = $myhostname, localhost.${mydomain}, localhost
relay = ${relayhost?{relay via $relayhost}:{direct}}
level = ${{$compatibility_level} <level {3.6} ? {old} : {new}}
num = ${{10} > {9} ? {yes} : {no}}
money = $$5
paren = $(myhostname)
empty = ${undefined_thing:fallback}
""")
put("fuzz_cfg_main", "types", """\
# comment
smtpd_banner = $myhostname ESMTP $mail_name
message_size_limit = 10240000
  # indented comment keeps the logical line
delay_warning_time = 4h
maximal_queue_lifetime = 5d
biff = no
smtpd_recipient_restrictions =
    permit_mynetworks,
    reject_unauth_destination
transport_maps = { hash:/etc/postfix/transport, texthash:/etc/x }
""")
put("fuzz_cfg_main", "errors", """\
= novalue
no equals sign here
biff = maybe
message_size_limit = -5
delay_warning_time = 4x
a = $b
b = $a
mynetworks_style = class
myhostname = $mydomain
""")
put("fuzz_cfg_main", "crlf", "biff = no\r\nsmtpd_banner = hi\r\n\r\n  continued\r\n")

# ---- master.cf ----
copy("fuzz_master_cf", "stock", "conf/master.cf")
copy("fuzz_master_cf", "debian", "tests/data/master.cf.stock")
put("fuzz_master_cf", "overrides", """\
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o { smtpd_tls_security_level = encrypt }
  -o smtpd_sasl_auth_enable=yes
127.0.0.1:10025 inet n  -       n       -       10      smtpd -o content_filter=
pickup    unix  n       -       y       60      1       pickup
qmgr      unix  n       -       n       300?    1       qmgr
maildrop  unix  -       n       n       -       -       pipe
  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient} -o { a b }
""")
put("fuzz_master_cf", "bad", """\
smtp inet n - y - - smtpd
smtp inet n - y - - smtpd
bogus  tcp n - - - - x
x unix q - - - - y
y unix - - - abc - z
z unix - - - - -1 z -o
w unix - - - - - w -o { unbalanced
""")

# ---- attribute messages (docs/ipc.md) ----
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def attr(t, name, value):
    name = name.encode()
    if t == "I":
        value = struct.pack(">i", value)
    elif t == "L":
        value = struct.pack(">q", value)
    elif isinstance(value, str):
        value = value.encode()
    return t.encode() + varint(len(name)) + name + varint(len(value)) + value


put("fuzz_attr", "status", attr("I", "status", 0) + attr("S", "reason", "ok") + b"\0")
put("fuzz_attr", "empty", b"\0")
inner = attr("S", "rcpt", "a@example.com") + attr("S", "orcpt", "rfc822;a@example.com") + b"\0"
put("fuzz_attr", "nested",
    attr("S", "queue_id", "4F2A1B") + attr("L", "offset", 1 << 40)
    + attr("N", "recipient", inner) + attr("N", "recipient", inner)
    + attr("S", "bin", b"\0\1\2\xff".decode("latin-1").encode("latin-1")) + b"\0")
put("fuzz_attr", "long_name", attr("S", "n" * 200, "x" * 300) + b"\0")

# ---- queue files (src/mail/qfile.h) ----
def rec(t, data=b""):
    if isinstance(data, str):
        data = data.encode()
    return t.encode() + struct.pack(">I", len(data)) + data


def qfile(rcpts=("bob@example.com",), body=b"hello\n", end=True):
    head = rec("V", "HKQ1")
    sizes_len = 5 + 81
    pre = [rec("T", "1700000000.123456"), rec("F", "alice@example.org"),
           rec("A", "client_name=localhost"), rec("A", "protocol=ESMTP")]
    for r in rcpts:
        pre += [rec("O", r), rec("N", "SUCCESS,DELAY"), rec("o", "rfc822;" + r), rec("R", r)]
    pre_bytes = b"".join(pre)
    content_off = len(head) + sizes_len + len(pre_bytes)
    content = rec("M") + rec("H", "Subject: hi\n") + rec("H", "From: a@b\n") + rec("B", body)
    extracted_off = content_off + len(content)
    sizes = "%019d %019d %019d %010d %010d" % (content_off, len(body) + 24, extracted_off,
                                               len(rcpts), 2)
    tail = rec("X") + (rec("E") if end else b"")
    return head + rec("S", sizes) + pre_bytes + content + tail


put("fuzz_qfile", "one_rcpt", qfile())
put("fuzz_qfile", "three_rcpt", qfile(("a@x", "b@y", "\"q r\"@z")))
put("fuzz_qfile", "incomplete", qfile(end=False))
put("fuzz_qfile", "damaged_len", qfile()[:40] + b"R\xff\xff\xff\xffxyz")
put("fuzz_qfile", "done", qfile().replace(b"R\x00\x00\x00\x0fbob", b"D\x00\x00\x00\x0fbob"))

# ---- tables ----
put("fuzz_dict_regexp", "basic", """\
/^(.*)@example\\.com$/    user=$1
/^Subject: (.*)$/i         REJECT bad subject $1
!/^postmaster/             OK
if /^a/
/^a+!$/                    DUNNO
endif
/^192\\.168\\.(\\d+)\\.(\\d+)$/ net=${1}.$(2) $$
/(a|b)*c/x                 other
/^x/!/^xy/                 two-pattern
\0user@example.com\nABCdef\naaaaaaaac
""")
put("fuzz_dict_regexp", "inline", "{ {/^a/ A}, {/^(b)(c)?/ B$1$2}, {!/z/ notz} }")
put("fuzz_dict_regexp", "bad", "/unterminated\n/(/ x\n/a/q flag\n/a/ $3\nendif\nif /b/\n")
put("fuzz_dict_pcre", "basic", """\
/^(?<user>[^@]+)@example\\.com$/  user=$1
/^Subject:\\s+(.*)$/i             REJECT $1
/^(a+)+!$/                        DUNNO
if !/^z/
/\\d{3}/                          digits
endif
/^postmaster$/                    OK
\0user@example.com\nSubject:   hi\n123
""")
put("fuzz_dict_pcre", "inline", "{ {/^a/ A}, {/^(b)(c)?/ B$1$2} }")
put("fuzz_dict_pcre", "bad", "/(?<x/ y\n/a/Z flag\n/(a)/ $2\n/\\p{Bogus}/ x\n")
put("fuzz_dict_cidr", "basic", """\
# networks
192.168.0.0/16      REJECT local
10.0.0.1            OK
!127.0.0.0/8        DUNNO
[2001:db8::]/32     v6
::1                 loopback
if 10.0.0.0/8
10.0.0.0/24         inner
endif
0.0.0.0/0           any
\0192.168.1.1\n10.0.0.5\n2001:db8::5
""")
put("fuzz_dict_cidr", "inline", "{ {10.0.0.0/8 ten}, {[::1] one} }")
put("fuzz_dict_cidr", "bad", "300.1.1.1 x\n10.0.0.1/33 y\n10.0.0.1/8 host bits\nendif\n1.2.3.4\n")
put("fuzz_dict_texthash", "basic", """\
# aliases-like
user@example.com    local1
example.com         relay:[mx.example.com]
@example.com        catchall
user                plain
  continued value
USER@EXAMPLE.COM    duplicate
postmaster          root
\0user@example.com\nUser
""")
put("fuzz_dict_texthash", "bad", "keyonly\n  leading continuation\n\"quoted key\" v\n")

# ---- addresses ----
for name, text in [
        ("plain", "<user@example.com>"), ("null", "<>"),
        ("params", "<user@example.com> SIZE=100 BODY=8BITMIME"),
        ("route", "<@a.example,@b.example:user@c.example>"),
        ("quoted", "<\"john q\\\"x\"@example.com>"), ("bare", "user@example.com SIZE=1"),
        ("phrase", "John Doe <john@example.com> (comment)"),
        ("literal", "<postmaster@[192.0.2.1]>"), ("ipv6", "<a@[IPv6:2001:db8::1]>"),
        ("header", "Group: a@b, \"c d\" <c@d>;, (x) e@f (y), <g@h>"),
        ("utf8", "<jos\xc3\xa9@exampl\xc3\xa9.com>".encode("latin-1").decode("utf-8")),
        ("bad", "<a@b"), ("glued", "<a@b>x")]:
    put("fuzz_address", name, text)

# ---- vstream lines: 10 control bytes then the stream ----
put("fuzz_vstream_lines", "smtp", bytes([32, 0, 1, 7, 64, 3, 200, 0, 2, 9])
    + b"EHLO x\r\nMAIL FROM:<a@b>\r\n.\r\nbare\nlf\r\r\nno end")
put("fuzz_vstream_lines", "long",
    bytes([5, 2, 3, 3, 3, 3, 3, 3, 3, 3]) + b"abcd\r\nabcdef\r\nab\r\r\n")
put("fuzz_vstream_lines", "big",
    bytes([250, 1, 0, 0, 0, 0, 0, 0, 0, 0]) + b"x" * 9000 + b"\r\n" + b"y" * 10)

# ---- milter reply packets (src/mail/milter_proto.h): code byte, then data ----
for name, data in [
        ("continue", b"c"), ("replycode", b"y554 5.7.1 Go away\0"),
        ("addheader", b"hX-Spam\0yes\0"),
        ("insheader", b"i\0\0\0\0DKIM-Signature\0v=1; a=rsa-sha256;\n\tb=abc\0"),
        ("chgheader_delete", b"m\0\0\0\x01Subject\0\0"),
        ("chgfrom", b"e<new@example.jp>\0SIZE=1\0"),
        ("addrcpt_par", b"2<r@example.jp>\0NOTIFY=NEVER\0"), ("addrcpt", b"+<r@example.jp>\0"),
        ("delrcpt", b"-<r@example.jp>\0"), ("replbody", b"bnew body\r\n"),
        ("quarantine", b"qreason\0"),
        ("optneg_macros", b"O\0\0\0\x06\0\0\x01\xff\0\x1f\xf7\xff\0\0\0\x05i {mail_addr}\0"),
        ("optneg_v2", b"O\0\0\0\x02\0\0\0\x01\0\0\0\0")]:
    put("fuzz_milter", name, data)

print("seeds written to", CORPUS, file=sys.stderr)
