#!/usr/bin/python3
"""bench.py - Hikyaku against Postfix, same machine, same run (started by bench/run.sh).

Steps: install the reference Postfix without configuring the system's
MTA (bench_setup.install_postfix), build and install Hikyaku into a
temporary prefix, create one instance of each under a temporary work
directory, check that each relays, run the workloads alternately, run
the ceilings, write the report (bench_report.py). The instances are
stopped and the work directory removed at the end, also after an error
or Ctrl-C. Must run as root (package installation, `postfix start`).
"""
import argparse
import datetime
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_report  # noqa: E402
import bench_setup  # noqa: E402
import bench_workloads as wl  # noqa: E402
from bench_instance import Instance, ensure_local_user  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KiB, MiB = 1024, 1024 * 1024


def size_name(s):
    return f"{s // MiB} MiB" if s >= MiB else f"{s // KiB} KiB"


def workload_list(quick, queue_size):
    """Each: key, title, kind, params; fn(ctx, inst) runs it once."""
    W = []

    def relay(c, size, n, rcpts=1, title=None):
        W.append({"key": f"relay-c{c}-s{size}-r{rcpts}", "kind": "relay",
                  "title": title or f"relay, C = {c}, {size_name(size)}",
                  "fn": lambda ctx, inst: wl.relay(ctx, inst, n, c, size, rcpts),
                  "about": f"smtp-source → MTA → smtp-sink: {n} messages of {size_name(size)}, "
                           f"{c} concurrent sessions, {rcpts} recipient(s) each."})

    if quick:
        relay(10, KiB, 500)
        relay(50, KiB, 500)
        relay(10, 64 * KiB, 200)
        relay(10, KiB, 40, rcpts=50, title="relay, 50 recipients per message")
        local_n, sendmail_n, ceiling_n, fsync_s = 300, 100, 5000, 1
    else:
        for c in (1, 10, 50, 200):
            for size, base in ((KiB, 2000), (64 * KiB, 800), (MiB, 100)):
                n = max(base // 2 if c == 1 else base, 2 * c)
                relay(c, size, n)
        relay(10, KiB, 200, rcpts=50, title="relay, 50 recipients per message")
        local_n, sendmail_n, ceiling_n, fsync_s = 2000, 500, 20000, 3
    W.append({"key": "local", "kind": "local", "title": "local delivery into Maildir",
              "fn": lambda ctx, inst: wl.local(ctx, inst, local_n, 10, KiB),
              "about": f"smtp-source → MTA → local → Maildir: {local_n} messages of 1 KiB, "
                       f"10 concurrent sessions, one recipient (a system account)."})
    W.append({"key": "sendmail", "kind": "sendmail", "title": "sendmail submissions in a loop",
              "fn": lambda ctx, inst: wl.sendmail_loop(ctx, inst, sendmail_n),
              "about": f"`sendmail -i -f ... rcpt` run {sendmail_n} times one after the other "
                       f"(by root, with MAIL_CONFIG naming the instance), relayed to the sink; "
                       f"1 KiB messages."})
    W.append({"key": "queue", "kind": "queue", "title": f"a queue of {queue_size:,} deferred messages",
              "fn": lambda ctx, inst: wl.deferred_queue(ctx, inst, queue_size),
              "about": f"{queue_size:,} messages submitted while the sink is down, so all are "
                       f"deferred; then the time of `postfix start`, of `mailq`, and of the "
                       f"drain once the sink is back and `postqueue -f` is run. msgs/s is the "
                       f"drain rate."})
    for c in (10, 50):
        W.append({"key": f"ceiling-smtp-c{c}", "kind": "ceiling-smtp",
                  "title": f"smtp-source → smtp-sink, C = {c}, 1 KiB (msgs/s)",
                  "fn": lambda ctx, inst, c=c: wl.ceiling_smtp(ctx, ceiling_n, c)})
    for w in (1, 10):
        W.append({"key": f"ceiling-fsync-{w}", "kind": "ceiling-fsync",
                  "title": f"create + write 1 KiB + fsync + rename, {w} writer(s) (ops/s)",
                  "fn": lambda ctx, inst, w=w: wl.ceiling_fsync(ctx, w, fsync_s)})
    return W


class Ctx:
    pass


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def check_relay(ctx, inst):
    """None when inst relays 10 messages to its sink within 30 s, else why not."""
    try:
        r = wl.relay(ctx, inst, 10, 2, KiB)
    except Exception as e:      # noqa: BLE001 - anything here means "cannot run"
        return f"relay check failed: {e}"
    if r.get("complete"):
        return None
    return "relay check: " + (r.get("note") or "incomplete").splitlines()[0]


def fresh(ctx, inst):
    """Restart inst and warm it up with 10 messages, so that every workload
    starts from the same state: "idle" is a warm instance without load."""
    inst.stop()
    inst.start()
    wl.relay(ctx, inst, 10, 2, KiB)


def run_once(w, ctx, inst):
    try:
        return w["fn"](ctx, inst)
    except Exception as e:      # noqa: BLE001 - a crashed run is a result, not the end
        return {"messages": 0, "complete": False, "rate": None,
                "note": f"run failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"}


def main():
    ap = argparse.ArgumentParser(description="Hikyaku against Postfix (docs/performance.md)")
    ap.add_argument("--quick", action="store_true", help="fewer workloads, one run each")
    ap.add_argument("--runs", type=int, help="runs per workload (default 3, quick 1)")
    ap.add_argument("--queue-size", type=int, help="deferred-queue size (default 5000, quick 300)")
    ap.add_argument("--full-queue", action="store_true", help="100,000 deferred messages")
    ap.add_argument("--output", default=os.path.join(REPO, "docs", "performance.md"))
    ap.add_argument("--build-dir", help="use this build of Hikyaku (default: build it)")
    ap.add_argument("--workdir", default="/var/tmp")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--only", help="comma-separated workload keys (development)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (it installs a package and starts MTAs)")
    runs = args.runs or (1 if args.quick else 3)
    queue_size = 100000 if args.full_queue else args.queue_size or (300 if args.quick else 5000)
    if runs < 1 or runs > 20 or queue_size < 1 or queue_size > 1000000:
        sys.exit("bench: --runs must be 1..20 and --queue-size 1..1000000")

    # SIGTERM and SIGHUP end the run like Ctrl-C: instances stopped, work directory removed.
    def _exit(signo, frame):
        raise SystemExit(f"bench: signal {signo}")
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGHUP, _exit)
    started = datetime.datetime.now()
    log("postfix package:", bench_setup.install_postfix(log))
    ctx = Ctx()
    ctx.workdir = tempfile.mkdtemp(prefix="hk-bench-", dir=args.workdir)
    os.chmod(ctx.workdir, 0o755)
    instances = []
    try:
        build = args.build_dir or os.path.join(REPO, "build-bench-release")
        prefix = bench_setup.build_hikyaku(REPO, build, ctx.workdir, log, build=not args.build_dir)
        ctx.tools = os.path.join(prefix, "sbin")
        ctx.fsync_helper = bench_setup.compile_helper(REPO, ctx.workdir)
        ensure_local_user()

        postfix = Instance("postfix", os.path.join(ctx.workdir, "postfix"), None, "127.0.0.3")
        hikyaku = Instance("hikyaku", os.path.join(ctx.workdir, "hikyaku"), prefix, "127.0.0.4")
        status = {}
        for inst in (postfix, hikyaku):
            instances.append(inst)
            try:
                inst.setup()
                inst.start()
                status[inst.name] = check_relay(ctx, inst)
            except Exception as e:      # noqa: BLE001
                status[inst.name] = f"cannot start: {str(e).splitlines()[0]}"
            log(inst.name, "ready" if not status[inst.name] else status[inst.name])
        hikyaku_status = bench_report.NOT_RUNNABLE if status["Hikyaku"] else None

        workloads = workload_list(args.quick, queue_size)
        if args.only:
            keys = set(args.only.split(","))
            workloads = [w for w in workloads if w["key"] in keys]
        results = {}
        for w in workloads:
            res = results.setdefault(w["key"], {})
            if w["kind"].startswith("ceiling"):
                for i in range(runs):
                    log(w["key"], f"run {i + 1}/{runs}")
                    res.setdefault("ceiling", []).append(w["fn"](ctx, None))
                continue
            given_up = set()
            for inst in (postfix, hikyaku):
                if not status[inst.name]:
                    try:
                        fresh(ctx, inst)
                    except Exception as e:      # noqa: BLE001
                        res.setdefault(inst.name, []).append(
                            {"messages": 0, "complete": False, "rate": None,
                             "note": f"restart failed: {str(e).splitlines()[0]}"})
                        given_up.add(inst.name)
            for i in range(runs):
                order = (hikyaku, postfix) if i % 2 == 0 else (postfix, hikyaku)
                for inst in order:
                    if status[inst.name] or inst.name in given_up:
                        continue
                    r = run_once(w, ctx, inst)
                    res.setdefault(inst.name, []).append(r)
                    log(w["key"], inst.name, f"run {i + 1}/{runs}:",
                        f"{r['rate']:.1f} msgs/s" if r.get("rate") else "incomplete",
                        f"cpu/1k={r['cpu_1k']:.2f}s" if r.get("cpu_1k") else "")
                    if not r.get("complete"):
                        given_up.add(inst.name)     # bounded: no more runs of this one
                        inst.purge_queue()
                        log("  ", (r.get("note") or "").splitlines()[0] if r.get("note") else "")

        meta = bench_setup.machine_info(ctx.workdir)
        meta += [
            ("mode", f"quick (`bench/run.sh --quick`: fewer workloads, {runs} run(s) each)"
             if args.quick
             else f"full ({runs} runs per workload)"),
            ("date", started.strftime("%Y-%m-%d %H:%M") + ", took "
             + str(datetime.datetime.now() - started).split(".")[0]),
            ("Postfix", f"{postfix.version()} (Debian package)"),
            ("Hikyaku", bench_setup.hikyaku_version(REPO, hikyaku)),
            ("Hikyaku build", bench_setup.build_info(build)
             + (f" (`--build-dir {args.build_dir}`)" if args.build_dir else "")),
        ]
        for name, why in status.items():
            if why:
                label = bench_report.NOT_RUNNABLE if name == "Hikyaku" else "failed"
                meta.append((f"{name} status", f"{label}: {why}"))
        text = bench_report.render(meta, workloads, results, hikyaku_status, quick=args.quick)
        with open(args.output, "w") as f:
            f.write(text)
        log("wrote", args.output)
    finally:
        for inst in instances:
            try:
                inst.stop()
            except Exception as e:      # noqa: BLE001
                log(inst.name, "stop:", e)
        if args.keep:
            log("work directory kept:", ctx.workdir)
        else:
            shutil.rmtree(ctx.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
