"""master and the postfix command: start, stop, status, reload, throttling, logging.

Most tests run a tiny test service next to the real ones: a Python
program (written into the instance at test time) that master runs like
any worker - listener on fd 3, busy/idle reports on fd 4, watch pipe on
fd 5 - and that greets each client with its pid. It makes worker
behaviour (restart after kill -9, reload, stop) observable without
depending on what smtpd does. Every wait is a bounded poll.
"""
import os
import re
import signal
import socket
import struct
import time

import pytest

from conftest import children_of, free_port, master_pid, pid_alive, poll_until

ECHO_SERVICE = r'''#!/usr/bin/python3
# Test worker: greets each client with "hello PID", echoes lines until EOF.
import os, select, signal, socket, struct, sys
if os.environ.get("HK_ECHO_IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
# Listeners: fd 3, and 6, 7, ... when master passes "-s count".
count = int(sys.argv[sys.argv.index("-s") + 1]) if "-s" in sys.argv else 1
fds = [3] + [6 + i for i in range(count - 1)]
socks = {fd: socket.socket(fileno=fd) for fd in fds}
for s in socks.values():
    s.setblocking(False)
pid = os.getpid()
def status(s):
    os.write(4, struct.pack("ii", pid, s))
while True:
    r, _, _ = select.select(fds + [5], [], [], 60)
    if not r or 5 in r:
        break
    try:
        c, _ = socks[r[0]].accept()
    except BlockingIOError:
        continue
    status(0)
    c.setblocking(True)
    c.sendall(b"hello %d\n" % pid)
    for line in c.makefile("rb"):
        c.sendall(line)
    c.close()
    status(1)
'''


def echo_service(inst, port, name=None):
    """Install the test service; returns its master.cf line."""
    path = os.path.join(inst.root, "echo-service")
    with open(path, "w") as f:
        f.write(ECHO_SERVICE)
    os.chmod(path, 0o755)
    return f"{name or '127.0.0.1:%d' % port} inet n n n - 10 {path}\n"


def greet(port, timeout=10, addr="127.0.0.1"):
    """Connect and return the pid the test service greets with."""
    with socket.create_connection((addr, port), timeout=timeout) as s:
        line = s.makefile("rb").readline()
    m = re.match(rb"hello (\d+)\n", line)
    assert m, f"bad greeting {line!r}"
    return int(m.group(1))


def start(inst):
    r = inst.postfix("start")
    inst.started = True
    return r


def status(inst):
    return inst.postfix("status", check=False)


def listening_inode(port):
    """Inode of the socket listening on 127.0.0.1:port (from /proc/net/tcp)."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return int(fields[9])
    return None


# ---------------------------------------------------------------- start, status, stop

def test_start_status_stop_and_start_again(instance):
    r = start(instance)
    assert "postfix/postfix-script: starting the Postfix mail system" in r.stderr
    pid = master_pid(instance)
    assert pid and pid_alive(pid)
    r = status(instance)
    assert r.returncode == 0
    assert f"postfix/postfix-script: the Postfix mail system is running: PID: {pid}" in r.stderr

    r = instance.postfix("stop")
    assert "stopping the Postfix mail system" in r.stderr
    instance.started = False
    # stop returns once master has released its pid file lock, just before
    # it exits; the exit itself can take a while (LeakSanitizer's check in a
    # sanitizer build).
    assert poll_until(lambda: not pid_alive(pid), 30)
    r = status(instance)
    assert r.returncode == 1
    assert "the Postfix mail system is not running" in r.stderr

    start(instance)
    pid2 = master_pid(instance)
    assert pid2 != pid and pid_alive(pid2)
    assert status(instance).returncode == 0


def test_start_twice_refuses(instance):
    start(instance)
    pid = master_pid(instance)
    r = instance.postfix("start", check=False)
    assert r.returncode != 0
    assert "postfix/postfix-script: fatal: the Postfix mail system is already running" in r.stderr
    assert master_pid(instance) == pid and pid_alive(pid)


def test_pid_file_names_master_and_is_locked(instance):
    start(instance)
    path = os.path.join(instance.queue, "pid", "master.pid")
    text = open(path).read()
    assert re.fullmatch(r" *\d+\n", text)
    pid = int(text)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert os.path.basename(f.read().split(b"\0")[0]) == b"master"
    # The lock is what counts: an exclusive fcntl lock held by master.
    import fcntl
    with open(path, "r+") as f:
        with pytest.raises(OSError):
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_stale_pid_file_does_not_block_start(instance):
    os.makedirs(os.path.join(instance.queue, "pid"), exist_ok=True)
    with open(os.path.join(instance.queue, "pid", "master.pid"), "w") as f:
        f.write("%10d\n" % 1)      # pid 1 runs, but holds no lock
    assert status(instance).returncode == 1
    start(instance)
    pid = master_pid(instance)
    assert pid != 1 and pid_alive(pid)


def test_commands_when_not_running(instance):
    for cmd in ("stop", "reload", "abort"):
        r = instance.postfix(cmd, check=False)
        assert r.returncode == 1, cmd
        assert "the Postfix mail system is not running" in r.stderr, cmd
    instance.postfix("check", check=False)      # creates the queue directories
    r = instance.postfix("flush", check=False)
    assert r.returncode == 1
    assert "mail system is down" in r.stderr


def test_unknown_subcommand(instance):
    r = instance.postfix("frobnicate", check=False)
    assert r.returncode != 0
    assert "unknown command: 'frobnicate'" in r.stderr


# ---------------------------------------------------------------- configuration errors

def test_check_names_file_line_and_parameter(instance):
    instance.write_main_cf(default_process_limit="lots")
    r = instance.postfix("check", check=False)
    assert r.returncode != 0
    main_cf = os.path.join(instance.config, "main.cf")
    lines = open(main_cf).read().splitlines()
    lineno = next(i + 1 for i, l in enumerate(lines) if l.startswith("default_process_limit"))
    assert re.search(rf"{re.escape(main_cf)}, line {lineno}: .*default_process_limit", r.stderr), \
        r.stderr
    # start refuses, with the same message, and nothing runs
    r = instance.postfix("start", check=False)
    assert r.returncode != 0
    assert "default_process_limit" in r.stderr
    assert "integrity check failed" in r.stderr
    assert status(instance).returncode == 1


def test_bad_master_cf_stops_start(instance):
    instance.write_master_cf("bogus inet n - n - - smtpd\n")
    r = instance.postfix("start", check=False)
    assert r.returncode != 0
    assert status(instance).returncode == 1


def test_maillog_file_outside_prefixes_is_an_error(instance):
    instance.write_main_cf(maillog_file_prefixes="/var")
    r = instance.postfix("check", check=False)
    assert r.returncode != 0
    assert "maillog_file_prefixes" in r.stderr


def test_listener_in_use_fails_start_synchronously(instance):
    port = free_port()
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", port))
    busy.listen(1)
    try:
        instance.write_master_cf(echo_service(instance, port))
        r = instance.postfix("start", check=False)
        assert r.returncode != 0
        assert f"127.0.0.1:{port}" in r.stderr and "in use" in r.stderr
        assert "mail system startup failed" in r.stderr
        assert status(instance).returncode == 1
    finally:
        busy.close()


# ---------------------------------------------------------------- workers

def test_missing_program_is_throttled_and_others_keep_working(instance):
    bad, good = free_port(), free_port()
    instance.write_master_cf(f"127.0.0.1:{bad} inet n - n - - nosuchprogram\n"
                             + echo_service(instance, good))
    r = instance.postfix("check", check=False)
    assert "nosuchprogram is not installed" in r.stderr
    start(instance)
    prog = os.path.join(instance.libexec, "nosuchprogram")
    with socket.create_connection(("127.0.0.1", bad), timeout=5):
        pass
    instance.wait_log(rf"postfix/master\[\d+\]: warning: process {re.escape(prog)} pid \d+ "
                      r"exit status 1")
    instance.wait_log(rf"postfix/master\[\d+\]: warning: {re.escape(prog)}: bad command "
                      r"startup -- throttling")
    assert status(instance).returncode == 0
    assert greet(good) > 0


def test_killed_worker_is_replaced(instance):
    port = free_port()
    instance.write_master_cf(echo_service(instance, port))
    start(instance)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        first = int(s.makefile("rb").readline().split()[1])
        os.kill(first, signal.SIGKILL)
        instance.wait_log(rf"warning: process \S+echo-service pid {first} killed by signal 9")
    second = greet(port)
    assert second != first and pid_alive(second)
    # a worker that had served a client is not a startup failure: no throttling
    assert "echo-service: bad command startup" not in instance.log()


def test_idle_worker_is_reused(instance):
    port = free_port()
    instance.write_master_cf(echo_service(instance, port))
    start(instance)
    first = greet(port)
    # the worker reports itself idle again; master hands it the next client
    assert poll_until(lambda: greet(port) == first, 10)


def test_maxproc_limits_workers(instance):
    port = free_port()
    instance.write_master_cf(echo_service(instance, port).replace(" 10 ", " 2 "))
    start(instance)
    conns = []
    try:
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.makefile("rb").readline()
            conns.append(s)
        third = socket.create_connection(("127.0.0.1", port), timeout=10)
        third.settimeout(1.0)
        with pytest.raises(socket.timeout):
            third.recv(100)                  # waits in the backlog
        conns[0].close()                     # a worker becomes free
        third.settimeout(10)
        assert third.recv(100).startswith(b"hello ")
        third.close()
        instance.wait_log(r'warning: service "127\.0\.0\.1:\d+" \(127\.0\.0\.1:\d+\) has '
                          r'reached its process limit "2"')
    finally:
        for s in conns:
            s.close()


# ---------------------------------------------------------------- reload

def test_reload_adds_and_removes_listeners_keeps_unchanged(instance):
    keep, old, new = free_port(), free_port(), free_port()
    instance.write_master_cf(echo_service(instance, keep) + echo_service(instance, old))
    start(instance)
    assert greet(keep) and greet(old)
    inode = listening_inode(keep)
    assert inode
    worker = greet(keep)

    instance.write_master_cf(echo_service(instance, keep) + echo_service(instance, new))
    r = instance.postfix("reload")
    assert "refreshing the Postfix mail system" in r.stderr
    instance.wait_log(rf"postfix/master\[\d+\]: reload -- version \S+, configuration "
                      rf"{re.escape(instance.config)}")
    assert poll_until(lambda: instance.port_open(new), 10)
    assert poll_until(lambda: not instance.port_open(old), 10)
    # the unchanged listener was never closed
    assert listening_inode(keep) == inode
    # old-generation workers exit; new clients get new ones
    assert poll_until(lambda: not pid_alive(worker), 10)
    assert greet(keep) != worker
    assert greet(new) > 0


def test_reload_with_bad_master_cf_keeps_running_config(instance):
    port = free_port()
    instance.write_master_cf(echo_service(instance, port))
    start(instance)
    greet(port)
    with open(os.path.join(instance.config, "master.cf"), "a") as f:
        f.write("broken line\n")
    r = instance.postfix("reload", check=False)
    assert r.returncode != 0
    assert status(instance).returncode == 0
    assert greet(port) > 0


# ---------------------------------------------------------------- logging

def test_maillog_gets_master_lines_through_postlogd(instance):
    start(instance)
    instance.wait_log(r"postfix/postfix-script\[\d+\]: starting the Postfix mail system")
    instance.wait_log(rf"postfix/master\[\d+\]: daemon started -- version 0\.1\.0, "
                      rf"configuration {re.escape(instance.config)}\n")
    mpid = master_pid(instance)
    # postlogd runs for the postlog service, unprivileged
    def postlogd():
        for c in children_of(mpid):
            with open(f"/proc/{c}/cmdline", "rb") as f:
                if f.read().startswith(b"postlogd\0"):
                    return c
        return None
    pl = poll_until(postlogd, 10)
    assert pl
    assert os.stat(f"/proc/{pl}").st_uid == __import__("pwd").getpwnam("postfix").pw_uid
    st = os.stat(instance.maillog)
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o600


def test_postlogd_killed_is_replaced(instance):
    start(instance)
    instance.wait_log(r"daemon started")     # postlogd has served a datagram
    mpid = master_pid(instance)

    def postlogd():
        for c in children_of(mpid):
            with open(f"/proc/{c}/cmdline", "rb") as f:
                if f.read().startswith(b"postlogd\0"):
                    return c
        return None
    first = poll_until(postlogd, 10)
    assert first
    os.kill(first, signal.SIGKILL)
    instance.wait_log(rf"warning: process \S+/postlogd pid {first} killed by signal 9")
    second = poll_until(postlogd, 10)
    assert second and second != first


def test_postlogd_follows_log_rotation(instance):
    start(instance)
    instance.wait_log(r"daemon started")
    rotated = instance.maillog + ".0"
    os.rename(instance.maillog, rotated)

    def new_file_has_lines():
        status(instance)
        return os.path.exists(instance.maillog) and "is running" in instance.log()
    assert poll_until(new_file_has_lines, 15, interval=0.3)
    assert re.search(r"postlogd\[\d+\]: logfile \S+ was rotated: restarting", open(rotated).read())


# ---------------------------------------------------------------- stop and abort

def test_stop_waits_for_children(instance):
    port = free_port()
    instance.write_master_cf(echo_service(instance, port))
    start(instance)
    mpid = master_pid(instance)
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    worker = int(client.makefile("rb").readline().split()[1])
    kids = children_of(mpid)
    assert worker in kids
    instance.postfix("stop")
    instance.started = False
    for p in kids:
        assert not pid_alive(p), f"pid {p} still running after postfix stop"
    # master reaped them all before releasing its lock; its own exit may
    # still be finishing (LeakSanitizer's check in a sanitizer build).
    assert poll_until(lambda: not pid_alive(mpid), 30), f"master {mpid} still running"
    client.close()
    instance.wait_log(r"postfix/master\[\d+\]: terminating on signal 15")


def test_abort_kills_everything(instance):
    port = free_port()
    instance.write_master_cf(echo_service(instance, port))
    start(instance)
    mpid = master_pid(instance)
    worker = greet(port)
    r = instance.postfix("abort")
    instance.started = False
    assert "aborting the Postfix mail system" in r.stderr
    assert poll_until(lambda: not pid_alive(worker) and not pid_alive(mpid), 10)
    assert status(instance).returncode == 1


# ---------------------------------------------------------------- crash recovery

def record(rtype, data=b""):
    return rtype + struct.pack(">I", len(data)) + data


def queue_file(complete=True):
    body = record(b"V", b"HKQ1")
    sizes = b"%019d %019d %019d %010d %010d" % (0, 0, 0, 1, 0)
    body += record(b"S", sizes) + record(b"T", b"1700000000.000000")
    body += record(b"F", b"sender@example.com") + record(b"R", b"rcpt@example.com")
    body += record(b"M") + record(b"H", b"Subject: x\n") + record(b"B", b"hi\n")
    if complete:
        body += record(b"X") + record(b"E")
    return body


def test_start_cleans_up_after_a_crash(instance):
    instance.postfix("check", check=False)      # queue directories
    inc = os.path.join(instance.queue, "incoming")

    def put(name, data, mode):
        p = os.path.join(inc, name)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
        return p
    incomplete = put("A1B2C3", queue_file(complete=False), 0o600)
    damaged = put("D4E5F6", queue_file()[:40] + b"garbage", 0o700)
    temp = put(".999999999.1700000000.123456", b"partial", 0o600)
    maildrop_temp = os.path.join(instance.queue, "maildrop", ".999999999.1700000000.5")
    with open(maildrop_temp, "w") as f:
        f.write("x")
    start(instance)
    assert not os.path.exists(incomplete)
    assert not os.path.exists(temp)
    assert not os.path.exists(maildrop_temp)
    assert not os.path.exists(damaged)
    assert os.path.exists(os.path.join(instance.queue, "corrupt", "D4E5F6"))
    log = instance.log()
    assert re.search(r"postfix-script\[\d+\]: A1B2C3: removed incomplete queue file", log)
    assert re.search(r"postfix-script\[\d+\]: warning: D4E5F6: damaged queue file moved to "
                     r"corrupt", log)


def test_set_permissions_repairs_queue_directories(instance):
    instance.postfix("check", check=False)
    os.chmod(os.path.join(instance.queue, "incoming"), 0o777)
    os.chmod(os.path.join(instance.queue, "public"), 0o755)
    instance.postfix("set-permissions")
    assert os.stat(os.path.join(instance.queue, "incoming")).st_mode & 0o7777 == 0o700
    assert os.stat(os.path.join(instance.queue, "public")).st_mode & 0o7777 == 0o710


# ---------------------------------------------------------------- sockets master makes

def test_listener_files_and_modes(instance):
    start(instance)
    q = instance.queue
    import stat
    pub = os.stat(os.path.join(q, "public", "postlog"))
    assert stat.S_ISSOCK(pub.st_mode) and pub.st_mode & 0o777 == 0o666
    priv = os.stat(os.path.join(q, "private", "smtp"))
    assert stat.S_ISSOCK(priv.st_mode)
    owner = __import__("pwd").getpwnam("postfix").pw_uid
    assert priv.st_uid == owner and pub.st_uid == owner


def test_fifo_service_and_wakeup(instance):
    """A fifo service gets master's wakeup byte; the worker is started for it."""
    marker = os.path.join(instance.root, "woken")
    prog = os.path.join(instance.root, "fifo-service")
    with open(prog, "w") as f:
        f.write("#!/usr/bin/python3\nimport os\n"
                "data = os.read(3, 10)\n"
                f"open({marker!r}, 'ab').write(data)\n")
    os.chmod(prog, 0o755)
    instance.write_master_cf(f"tick fifo n n n 1 1 {prog}\n")
    start(instance)
    fifo = os.path.join(instance.queue, "public", "tick")
    import stat
    st = os.stat(fifo)
    assert stat.S_ISFIFO(st.st_mode) and st.st_mode & 0o777 == 0o622
    assert poll_until(lambda: os.path.exists(marker) and b"W" in open(marker, "rb").read(), 10)


def test_port_names_and_interfaces(instance):
    """'PORT' alone listens on inet_interfaces; '[addr]:port' on that address."""
    a, b = free_port(), free_port()
    instance.write_main_cf(inet_interfaces="loopback-only")
    instance.write_master_cf(echo_service(instance, a, name=str(a))
                             + echo_service(instance, b, name=f"[127.0.0.1]:{b}"))
    start(instance)
    assert greet(a) > 0 and greet(b) > 0
    assert listening_inode(a) and listening_inode(b)


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_several_addresses_one_service(instance):
    """loopback-only with IPv4 and IPv6: two listeners, one process pool (-s 2)."""
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    port = free_port()
    instance.write_main_cf(inet_interfaces="loopback-only", inet_protocols="all")
    instance.write_master_cf(echo_service(instance, port, name=str(port)))
    start(instance)
    assert greet(port, addr="127.0.0.1") > 0
    assert greet(port, addr="::1") > 0
    worker = greet(port)
    with open(f"/proc/{worker}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    assert b"-s" in argv and argv[argv.index(b"-s") + 1] == b"2"


def test_master_service_disable(instance):
    on, off = free_port(), free_port()
    instance.write_main_cf(master_service_disable=f"127.0.0.1:{off}/inet")
    instance.write_master_cf(echo_service(instance, on) + echo_service(instance, off))
    start(instance)
    assert greet(on) > 0
    assert not instance.port_open(off)


def test_smtpd_on_two_addresses(instance):
    """The real daemon skeleton serves every listener it is given."""
    if not os.path.exists(os.path.join(instance.libexec, "smtpd")):
        pytest.fail("smtpd is missing from the build")
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    port = instance.smtp_port
    instance.write_main_cf(inet_interfaces="loopback-only", inet_protocols="all",
                           smtpd_peername_lookup="no")
    with open(os.path.join(instance.config, "master.cf"), "w") as f:
        f.write(instance.master_cf_text().replace(f"127.0.0.1:{port} ", f"{port} ", 1))
    start(instance)
    for addr in ("127.0.0.1", "::1"):
        with socket.create_connection((addr, port), timeout=15) as s:
            assert s.makefile("rb").readline().startswith(b"220 "), addr


def test_killed_smtpd_is_replaced(instance):
    """kill -9 of a real smtpd in a session: logged, and the next client gets a new one."""
    if not os.path.exists(os.path.join(instance.libexec, "smtpd")):
        pytest.fail("smtpd is missing from the build")
    instance.start()
    mpid = master_pid(instance)

    def smtpd_pids():
        out = []
        for c in children_of(mpid):
            with open(f"/proc/{c}/cmdline", "rb") as f:
                if f.read().startswith(b"smtpd\0"):
                    out.append(c)
        return out
    with socket.create_connection(("127.0.0.1", instance.smtp_port), timeout=15) as s:
        assert s.makefile("rb").readline().startswith(b"220 ")
        victims = smtpd_pids()      # ours, and maybe an idle one from start()'s probe
        assert victims
        for v in victims:
            os.kill(v, signal.SIGKILL)
        for v in victims:
            instance.wait_log(rf"warning: process \S+/smtpd pid {v} killed by signal 9")
    with socket.create_connection(("127.0.0.1", instance.smtp_port), timeout=15) as s:
        assert s.makefile("rb").readline().startswith(b"220 ")
        now = smtpd_pids()
    assert now and not set(now) & set(victims)
    assert "smtpd: bad command startup" not in instance.log()


def test_start_after_master_was_killed(instance):
    """kill -9 of master: its workers notice (watch pipe EOF) and go; a new start works."""
    port = free_port()
    instance.write_master_cf(echo_service(instance, port))
    start(instance)
    mpid = master_pid(instance)
    worker = greet(port)
    os.kill(mpid, signal.SIGKILL)
    assert poll_until(lambda: not pid_alive(mpid), 10)
    assert poll_until(lambda: not pid_alive(worker), 10)
    assert status(instance).returncode == 1
    start(instance)
    assert master_pid(instance) != mpid
    assert greet(port) != worker
