"""bench_workloads.py - the benchmark's workloads, one run at a time.

Every run returns a dict with what docs/performance.md reports:
  rate        messages per second, end to end (first byte sent to the
              last message arriving at the sink or in the Maildir)
  p50, p99    end of DATA -> 250, milliseconds (smtp-source --latency),
              None where no SMTP client is involved
  rss_idle, pss_idle, rss_peak, pss_peak   kB, summed over the instance
  cpu_1k      CPU seconds of the instance per 1,000 messages
  complete    all messages arrived within the run's time limit
  note        what went wrong, if something did
Every run is bounded: a time limit (generous, but finite) after which it
is cut short and reported as incomplete. Traffic stays on 127.0.0.0/8.
"""
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time

import bench_proc
from bench_instance import LOCAL_DOMAIN, LOCAL_USER, RELAY_DOMAIN, free_port, wait_for

SENDER = "sender@client.bench.example"


class Sink:
    """smtp-sink on addr:port with a count file; one per run."""

    def __init__(self, tools, addr, port, workdir, *opts):
        self.count_file = os.path.join(workdir, f"sink-{addr}-{port}.count")
        if os.path.exists(self.count_file):
            os.unlink(self.count_file)
        self.proc = subprocess.Popen(
            [os.path.join(tools, "smtp-sink"), "--count-file", self.count_file,
             "--max-time", "3600", "-m", "2000", *opts, f"{addr}:{port}", "1024"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_for(lambda: os.path.exists(self.count_file), 10):
            self.stop()
            raise RuntimeError(f"smtp-sink on {addr}:{port} did not start")

    def counts(self):
        try:
            with open(self.count_file) as f:
                return {k: float(v) for k, v in (kv.split("=", 1) for kv in f.read().split())}
        except (OSError, ValueError):
            return {}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.counts()


def parse_summary(text):
    for line in reversed(text.splitlines()):
        if line.startswith("messages="):
            return dict(kv.split("=", 1) for kv in line.split())
    return {}


def ms(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class Meter:
    """CPU and memory of one instance over one run."""

    def __init__(self, inst):
        self.inst = inst

    def __enter__(self):
        self.rss_idle, self.pss_idle, _ = self.inst.memory()
        self.cpu0 = self.inst.cpu()
        self.sampler = bench_proc.Sampler(self.inst.master_pid)
        self.sampler.start()
        return self

    def __exit__(self, *exc):
        self.sampler.stop()
        self.cpu = self.inst.cpu() - self.cpu0

    def fill(self, r, messages, extra_cpu=0.0):
        r["rss_idle"], r["pss_idle"] = self.rss_idle, self.pss_idle
        r["rss_peak"] = max(self.sampler.peak_rss, self.rss_idle)
        r["pss_peak"] = max(self.sampler.peak_pss, self.pss_idle)
        r["cpu_1k"] = (self.cpu + extra_cpu) * 1000.0 / messages if messages else None
        return r


def run_limit(n, size, rcpts=1):
    """Seconds a run may take: far above what a working MTA needs here."""
    return 30 + n * (1 + size / 65536 + rcpts / 10) / 40


def source_cmd(tools, target, n, c, size, rcpts=1, to=None, reuse=False):
    cmd = [os.path.join(tools, "smtp-source"), "-A", "--summary", "--latency", "--timeout", "60",
           "-s", str(c), "-m", str(n), "-l", str(size), "-r", str(rcpts),
           "-f", SENDER, "-t", to or ("rcpt@" + RELAY_DOMAIN), "-M", "client.bench.example"]
    if reuse:
        cmd.append("-d")
    return cmd + [target]


def drive(cmd, delivered, n, per_msg, limit):
    """Run smtp-source `cmd` and wait until delivered() (recipients at the
    sink, or files in the Maildir) covers every message the MTA accepted,
    or the time limit passes. Messages the MTA did not accept (the
    source's errors: refusals, or connections that timed out waiting for
    the greeting) are not waited for. Returns (summary, stderr, t0, done)."""
    t0 = time.monotonic()
    src = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = t0 + limit
    out = err = None
    done = False
    while True:
        if out is None and src.poll() is not None:
            out, err = src.communicate()
        got = delivered()
        if got >= n * per_msg:
            done = True
            break
        if out is not None:
            accepted = int(parse_summary(out).get("messages", 0))
            if accepted > 0 and got >= accepted * per_msg:
                done = True
                break
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if out is None:
        try:
            out, err = src.communicate(timeout=max(5, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            src.kill()
            out, err = src.communicate()
    return parse_summary(out), err, t0, done


def load_result(r, s, err, done, got, n, limit, where):
    r["p50"], r["p99"] = ms(s.get("p50_ms")), ms(s.get("p99_ms"))
    r["errors"] = int(s.get("errors", n))
    r["complete"] = done
    r["delivered"] = got
    if not done:
        r["rate"] = None
        r["note"] = (f"{got} of {n} messages {where} after {limit:.0f} s (source: "
                     f"{s.get('messages', '?')} accepted, {s.get('errors', '?')} errors"
                     f"{': ' + err.strip().splitlines()[-1] if err and err.strip() else ''})")


def relay(ctx, inst, n, c, size, rcpts=1):
    """smtp-source -> instance -> smtp-sink."""
    sink = Sink(ctx.tools, inst.sink_addr, inst.sink_port, ctx.workdir)
    limit = run_limit(n, size, rcpts)
    r = {"messages": n}
    try:
        with Meter(inst) as m:
            s, err, t0, done = drive(
                source_cmd(ctx.tools, f"127.0.0.1:{inst.smtp_port}", n, c, size, rcpts),
                lambda: sink.counts().get("recipients", 0), n, rcpts, limit)
        counts = sink.counts()
    finally:
        sink.stop()
    got = int(counts.get("recipients", 0)) // rcpts
    load_result(r, s, err, done, got, n, limit, "at the sink")
    if done:
        r["rate"] = got / max(counts["last"] - t0, 1e-6)
    return m.fill(r, got)


def local(ctx, inst, n, c, size):
    """smtp-source -> instance -> local -> Maildir of hkbench."""
    inst.clear_mail()
    newdir = inst.maildir_new()
    limit = run_limit(n, size)
    r = {"messages": n}

    def delivered():
        try:
            return len(os.listdir(newdir))
        except OSError:
            return 0

    with Meter(inst) as m:
        w0 = time.time()
        s, err, t0, done = drive(
            source_cmd(ctx.tools, f"127.0.0.1:{inst.smtp_port}", n, c, size,
                       to=f"{LOCAL_USER}@{LOCAL_DOMAIN}"),
            delivered, n, 1, limit)
    got = delivered()
    load_result(r, s, err, done, got, n, limit, "in the Maildir")
    if done:
        last = max(os.stat(os.path.join(newdir, f)).st_mtime for f in os.listdir(newdir))
        r["rate"] = got / max(last - w0, 1e-6)
    elif r.get("note"):
        r["note"] += "\n" + inst.log_tail(1500)
    inst.clear_mail()
    return m.fill(r, got)


def sendmail_loop(ctx, inst, n, loops=1):
    """`sendmail` run n times (in `loops` parallel shell loops) -> instance -> sink.

    The CPU of the sendmail and postdrop processes is counted with the
    instance's: they are the MTA's programs doing the MTA's work."""
    sink = Sink(ctx.tools, inst.sink_addr, inst.sink_port, ctx.workdir)
    msg = os.path.join(ctx.workdir, "sendmail.msg")
    with open(msg, "w") as f:
        f.write(f"From: <{SENDER}>\nTo: <rcpt@{RELAY_DOMAIN}>\nSubject: sendmail bench\n\n")
        f.write(("x" * 78 + "\n") * 12)
    sendmail = inst.sendmail_path()
    per = [n // loops + (1 if i < n % loops else 0) for i in range(loops)]
    limit = run_limit(n, 1024) * 2
    r = {"messages": n, "p50": None, "p99": None}
    script = ('i=0; while [ $i -lt "$1" ]; do "$2" -i -f "$3" "$4" < "$5" || exit 1; '
              'i=$((i + 1)); done')
    try:
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        with Meter(inst) as m:
            t0 = time.monotonic()
            procs = [subprocess.Popen(["sh", "-c", script, "sh", str(k), sendmail, SENDER,
                                       "rcpt@" + RELAY_DOMAIN, msg],
                                      env=inst.env(), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
                     for k in per]
            errs = ""
            for p in procs:
                try:
                    _, e = p.communicate(timeout=limit)
                except subprocess.TimeoutExpired:
                    p.kill()
                    _, e = p.communicate()
                errs += e
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = wait_for(lambda: sink.counts().get("messages", 0) >= n,
                            max(5, limit - (time.monotonic() - t0)), 0.02)
        counts = sink.counts()
    finally:
        sink.stop()
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    r["complete"] = bool(done)
    if done:
        r["rate"] = n / max(counts["last"] - t0, 1e-6)
    else:
        r["rate"] = None
        r["note"] = (f"{int(counts.get('messages', 0))} of {n} messages at the sink "
                     f"after {limit:.0f} s. {errs.strip()[-300:]}")
    return m.fill(r, n, extra_cpu=client_cpu)


def deferred_queue(ctx, inst, n):
    """A queue of n deferred messages: restart time, mailq time, drain time.

    The sink is down while n messages are submitted (so every one is
    deferred), the instance is stopped and started again (timed until
    its SMTP port answers), `mailq` lists the queue (timed), then the
    sink comes up and `postqueue -f` flushes the queue (timed until the
    sink has every message)."""
    r = {"messages": n, "p50": None, "p99": None}
    inst.purge_queue()
    limit = run_limit(n, 1024) * 2
    src = subprocess.run(source_cmd(ctx.tools, f"127.0.0.1:{inst.smtp_port}", n, 10, 1024,
                                    reuse=True),
                         capture_output=True, text=True, timeout=limit)
    s = parse_summary(src.stdout)
    accepted = int(s.get("messages", 0))
    settled = wait_for(lambda: inst.queue_count("incoming", "active") == 0
                       and inst.queue_count("deferred") >= accepted, limit, 0.2)
    if accepted < n or not settled:
        r.update(complete=False, rate=None,
                 note=f"queue not built: {accepted} of {n} accepted, "
                      f"{inst.queue_count('deferred')} deferred")
        inst.purge_queue()
        return r
    inst.stop()
    t0 = time.monotonic()
    inst.start(timeout=limit)
    r["start_s"] = time.monotonic() - t0
    t0 = time.monotonic()
    q = inst.cmd("postqueue", "-c", inst.config, "-p", check=False, timeout=limit)
    r["mailq_s"] = time.monotonic() - t0
    r["mailq_lines"] = q.stdout.count("\n")
    sink = Sink(ctx.tools, inst.sink_addr, inst.sink_port, ctx.workdir)
    try:
        with Meter(inst) as m:
            t0 = time.monotonic()
            inst.cmd("postqueue", "-c", inst.config, "-f", check=False)
            done = wait_for(lambda: sink.counts().get("messages", 0) >= n, limit, 0.05)
        counts = sink.counts()
    finally:
        sink.stop()
    r["complete"] = bool(done)
    if done:
        r["drain_s"] = counts["last"] - t0
        r["rate"] = n / max(r["drain_s"], 1e-6)
    else:
        r["rate"] = None
        r["note"] = (f"{int(counts.get('messages', 0))} of {n} delivered after the flush "
                     f"within {limit:.0f} s")
        inst.purge_queue()
    return m.fill(r, n)


def ceiling_smtp(ctx, n, c):
    """smtp-source straight into smtp-sink: what the tools and loopback can do."""
    port = free_port("127.0.0.5")
    sink = Sink(ctx.tools, "127.0.0.5", port, ctx.workdir)
    try:
        t0 = time.monotonic()
        src = subprocess.run(source_cmd(ctx.tools, f"127.0.0.5:{port}", n, c, 1024),
                             capture_output=True, text=True, timeout=run_limit(n, 1024))
        wait_for(lambda: sink.counts().get("messages", 0) >= n, 10)
        counts = sink.counts()
    finally:
        sink.stop()
    s = parse_summary(src.stdout)
    done = counts.get("messages", 0) >= n
    return {"messages": n, "complete": done,
            "rate": n / max(counts["last"] - t0, 1e-6) if done else None,
            "p50": ms(s.get("p50_ms")), "p99": ms(s.get("p99_ms"))}


def ceiling_fsync(ctx, writers, seconds):
    """create + write(1 KiB) + fsync + rename per second, on the queues' disk."""
    d = tempfile.mkdtemp(prefix="fsync-", dir=ctx.workdir)
    try:
        out = subprocess.run([ctx.fsync_helper, d, str(writers), str(seconds)],
                             capture_output=True, text=True, timeout=seconds + 120)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    kv = parse_summary("messages=0 " + out.stdout.strip()) if out.returncode == 0 else {}
    rate = float(kv["rate"]) if "rate" in kv else None
    return {"messages": int(kv.get("ops", 0)), "complete": rate is not None, "rate": rate,
            "p50": None, "p99": None,
            "note": None if rate is not None else out.stderr.strip()[-300:]}
