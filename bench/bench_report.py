"""bench_report.py - turn the benchmark's results into docs/performance.md.

Per workload and MTA: messages per second (median of the runs, with
min and max), p50/p99 end-of-DATA -> 250 latency (median of the runs),
RSS and PSS of all the instance's processes at idle (before the run)
and at peak (during it), CPU seconds per 1,000 messages; and the ratio
Hikyaku / Postfix of the same run. A workload that could not run for an
MTA says why instead of showing numbers.
"""
import statistics

NOT_RUNNABLE = "not yet runnable"

INTRO = """\
# Performance

Hikyaku measured against Debian's Postfix on the same machine, in the same run, with
the same workloads and the same durability (each MTA's own fsync before `250`; nothing
that skips an fsync). This page is written by `bench/run.sh`; run it again to refresh it.

## How to run

    sudo bench/run.sh            # every workload, 3 runs each (a quarter of an hour here)
    sudo bench/run.sh --quick    # a few workloads, 1 run each (a few minutes)
    sudo bench/run.sh --only queue --full-queue --runs 1 --output docs/performance-queue.md
                                 # a queue of 100,000 deferred messages alone

Options: `--runs N`, `--queue-size N` (the deferred-queue workload, default 5,000;
`--full-queue` is 100,000), `--only KEY,...` (some workloads: `queue`, `local`,
`sendmail`, `relay-c50-s65536-r1`, ...), `--output FILE` (default
`docs/performance.md`), `--build-dir DIR` (use an existing build of Hikyaku instead of
building `build-bench-release/`), `--keep` (keep the work directory with both instances'
logs), `--workdir DIR` (where the instances live; default `/var/tmp`, which must be on a
real disk for the fsync numbers to mean anything).

What it does:

- installs Debian's `postfix` package if it is missing, preseeded with
  `postfix/main_mailer_type = No configuration`, and checks that the installation wrote
  no `/etc/postfix/main.cf` and started no Postfix (if one was started it is stopped, and
  the boot-time service is disabled either way): the reference runs only as a separate
  instance, never as this machine's mail server. If `/usr/sbin/sendmail`, `mailq` or
  `newaliases` exist and belong to no package (Hikyaku's `tools/install.sh` links them),
  they stay: the package's copies are diverted to `*.postfix-bench` with `dpkg-divert`;
- builds Hikyaku (RelWithDebInfo, the build type of `tools/install.sh`) and installs it
  into a temporary prefix;
- creates a system account `hkbench` (no home, no shell) if there is none: the recipient
  of the Maildir workload;
- creates one instance of each MTA under a temporary directory (own `main.cf`,
  `master.cf`, queue, data directory and `maillog_file`), listening on `127.0.0.1` on
  free ports and relaying to its own `smtp-sink` on `127.0.0.3` (Postfix) or `127.0.0.4`
  (Hikyaku); both started with `postfix -c DIR start`; all traffic stays on 127.0.0.0/8;
- runs each workload alternately against the two instances (Hikyaku first in odd runs,
  Postfix first in even ones), with a time limit on every run, and the ceilings
  (Hikyaku's `smtp-source` straight into `smtp-sink`; `bench/fsync_rate.c`);
- if Hikyaku does not relay 10 messages to the sink within 30 seconds, reports it as
  "not yet runnable" and still measures Postfix and the ceilings.

How it measures:

- **msgs/s**: messages divided by the time from the start of the load generator to the
  arrival of the last message at the sink (or in the Maildir); median of the runs, with
  min and max.
- **p50 / p99**: time from the end of DATA (the last byte of `.`) to the `250` reply,
  measured by `smtp-source --latency`, in milliseconds (median over runs).
- **RSS / PSS**: sums over the master process and every process below it, from
  `/proc/PID/status` and `/proc/PID/smaps_rollup`, in MiB: *idle* just before the run,
  *peak* the largest sum sampled every 0.25 s during it. Before each workload both
  instances are restarted and warmed up with 10 messages, so *idle* is a warm instance
  with no load, the same for every workload.
- **CPU s/1k**: user + system CPU of all the instance's processes (including workers
  that exited, through their parent's `cutime`/`cstime`) per 1,000 messages; for the
  `sendmail` workload the `sendmail` and `postdrop` processes are included.
- **ratio**: Hikyaku / Postfix of the medians (throughput: higher is better for
  Hikyaku; CPU and memory: lower is better).
"""


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits=1):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def mib(kb):
    return None if kb is None else kb / 1024.0


def ratio(h, p):
    if h is None or p is None or p == 0:
        return "-"
    return f"{h / p:.2f}×"


def summarize(runs):
    """One MTA's runs of one workload -> the numbers of its row."""
    ok = [r for r in runs if r.get("complete")]
    rates = [r["rate"] for r in ok if r.get("rate") is not None]
    return {
        "runs": len(runs),
        "ok": len(ok),
        "rate": med(rates),
        "rate_min": min(rates) if rates else None,
        "rate_max": max(rates) if rates else None,
        "p50": med(r.get("p50") for r in ok),
        "p99": med(r.get("p99") for r in ok),
        "rss_idle": med(mib(r.get("rss_idle")) for r in runs),
        "rss_peak": med(mib(r.get("rss_peak")) for r in runs),
        "pss_idle": med(mib(r.get("pss_idle")) for r in runs),
        "pss_peak": med(mib(r.get("pss_peak")) for r in runs),
        "cpu_1k": med(r.get("cpu_1k") for r in ok),
        "start_s": med(r.get("start_s") for r in ok),
        "mailq_s": med(r.get("mailq_s") for r in ok),
        "drain_s": med(r.get("drain_s") for r in ok),
        "note": next((r["note"] for r in runs if r.get("note")), None),
        "errors": sum(r.get("errors") or 0 for r in ok),
        "error_runs": sum(1 for r in ok if r.get("errors")),
        "messages": runs[0].get("messages") if runs else None,
    }


def rate_cell(s):
    if s["rate"] is None:
        return "-"
    if s["ok"] > 1:
        return f"{fmt(s['rate'])} ({fmt(s['rate_min'])}–{fmt(s['rate_max'])})"
    return fmt(s["rate"])


def row(label, s):
    return (f"| {label} | {rate_cell(s)} | {fmt(s['p50'], 2)} / {fmt(s['p99'], 2)} | "
            f"{fmt(s['rss_idle'])} / {fmt(s['rss_peak'])} | "
            f"{fmt(s['pss_idle'])} / {fmt(s['pss_peak'])} | {fmt(s['cpu_1k'], 2)} |")


def workload_table(w, results, hikyaku_status):
    out = [f"### {w['title']}", ""]
    if w.get("about"):
        out += [w["about"], ""]
    out += ["| MTA | msgs/s median (min–max) | p50 / p99 ms | RSS idle / peak MiB | "
            "PSS idle / peak MiB | CPU s/1k msgs |",
            "| --- | --- | --- | --- | --- | --- |"]
    sums = {}
    notes = []
    for mta in ("Postfix", "Hikyaku"):
        runs = results.get(mta, [])
        if mta == "Hikyaku" and hikyaku_status:
            out.append(f"| Hikyaku | {hikyaku_status} | | | | |")
            continue
        if not runs:
            out.append(f"| {mta} | not measured | | | | |")
            continue
        s = summarize(runs)
        sums[mta] = s
        out.append(row(mta, s))
        if s["ok"] < s["runs"] and s["note"]:
            notes.append(f"{mta}: {s['ok']} of {s['runs']} runs complete; "
                         f"{s['note'].splitlines()[0]}")
        if s["errors"]:
            notes.append(f"{mta}: {s['errors']} message(s) in {s['error_runs']} run(s) were not "
                         f"accepted (smtp-source errors: refused, or the connection timed out "
                         f"waiting for the server); msgs/s counts the messages delivered.")
    if "Postfix" in sums and "Hikyaku" in sums:
        p, h = sums["Postfix"], sums["Hikyaku"]
        out.append(f"| **Hikyaku / Postfix** | {ratio(h['rate'], p['rate'])} | "
                   f"{ratio(h['p50'], p['p50'])} / {ratio(h['p99'], p['p99'])} | "
                   f"{ratio(h['rss_idle'], p['rss_idle'])} / {ratio(h['rss_peak'], p['rss_peak'])} | "
                   f"{ratio(h['pss_idle'], p['pss_idle'])} / {ratio(h['pss_peak'], p['pss_peak'])} | "
                   f"{ratio(h['cpu_1k'], p['cpu_1k'])} |")
    if w["kind"] == "queue":
        out += ["", "| MTA | `postfix start` s | `mailq` s | drain s |", "| --- | --- | --- | --- |"]
        for mta, s in sums.items():
            out.append(f"| {mta} | {fmt(s['start_s'], 2)} | {fmt(s['mailq_s'], 2)} | "
                       f"{fmt(s['drain_s'], 2)} |")
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    return out + [""]


def summary_table(workloads, results, hikyaku_status):
    out = ["## Summary", "",
           "| workload | Postfix msgs/s | Hikyaku msgs/s | throughput ratio | CPU/msg ratio | "
           "PSS peak ratio |", "| --- | --- | --- | --- | --- | --- |"]
    for w in workloads:
        if w["kind"].startswith("ceiling"):
            continue
        res = results.get(w["key"], {})
        p = summarize(res["Postfix"]) if res.get("Postfix") else None
        h = summarize(res["Hikyaku"]) if res.get("Hikyaku") and not hikyaku_status else None
        pr = fmt(p["rate"]) if p else "-"
        hr = hikyaku_status or (fmt(h["rate"]) if h else "-")
        if p and h:
            out.append(f"| {w['title']} | {pr} | {hr} | {ratio(h['rate'], p['rate'])} | "
                       f"{ratio(h['cpu_1k'], p['cpu_1k'])} | {ratio(h['pss_peak'], p['pss_peak'])} |")
        else:
            out.append(f"| {w['title']} | {pr} | {hr} | - | - | - |")
    return out + [""]


def ceiling_table(workloads, results):
    out = ["## Ceilings on this machine", "",
           "| what | per second median (min–max) | p50 / p99 ms |", "| --- | --- | --- |"]
    for w in workloads:
        if not w["kind"].startswith("ceiling"):
            continue
        runs = results.get(w["key"], {}).get("ceiling", [])
        if not runs:
            out.append(f"| {w['title']} | not measured | |")
            continue
        s = summarize(runs)
        cell = rate_cell(s) if s["rate"] is not None else ("failed: " + (s["note"] or "?"))
        lat = f"{fmt(s['p50'], 2)} / {fmt(s['p99'], 2)}" if s["p50"] is not None else ""
        out.append(f"| {w['title']} | {cell} | {lat} |")
    return out + [""]


def render(meta, workloads, results, hikyaku_status, quick=False):
    lines = [INTRO, "## This run", ""]
    if quick:
        lines += ["> **Quick mode**: fewer workloads and small message counts, on a shared "
                  "machine; indicative only. `bench/run.sh` without `--quick` gives medians of "
                  "three runs.", ""]
    for k, v in meta:
        lines.append(f"- {k}: {v}")
    lines.append("")
    lines += summary_table(workloads, results, hikyaku_status)
    lines += ceiling_table(workloads, results)
    lines += ["## Workloads", ""]
    for w in workloads:
        if not w["kind"].startswith("ceiling"):
            lines += workload_table(w, results.get(w["key"], {}), hikyaku_status)
    return "\n".join(lines).rstrip() + "\n"
