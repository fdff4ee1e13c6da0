"""bench_proc.py - what an MTA instance costs: CPU seconds and memory, from /proc.

An instance is its master process and every process below it. CPU is
counted as utime + stime + cutime + cstime of each of them: a worker
that exits and is reaped by master moves its time into master's
cutime/cstime, so the sum over the tree keeps growing monotonically and
the difference between two readings is the CPU the instance used in
between, including processes that came and went. Memory is the sum of
VmRSS (/proc/PID/status) and of Pss (/proc/PID/smaps_rollup) over the
tree; Sampler keeps the largest sums seen while a workload runs.

Nothing here changes the system; it only reads /proc.
"""
import os
import threading

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(ppid, state, cpu_ticks) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime is field 14, cstime field 17.
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return int(fields[1]), fields[0], ticks


def proc_table():
    """{pid: (ppid, state, ticks)} for every process."""
    table = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st:
                table[int(d)] = st
    return table


def tree(root, table=None):
    """root and all its descendants (pids), from one reading of /proc."""
    if table is None:
        table = proc_table()
    if root not in table:
        return []
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def cpu_seconds(root):
    """CPU seconds used so far by root's tree (see the module comment)."""
    table = proc_table()
    return sum(table[p][2] for p in tree(root, table)) / CLK_TCK


def _kb(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def memory_kb(root):
    """(rss_kb, pss_kb, processes) summed over root's tree."""
    pids = tree(root)
    rss = pss = 0
    for p in pids:
        rss += _kb(f"/proc/{p}/status", "VmRSS:")
        pss += _kb(f"/proc/{p}/smaps_rollup", "Pss:")
    return rss, pss, len(pids)


class Sampler(threading.Thread):
    """Samples memory_kb(root_fn()) every interval seconds until stop()."""

    def __init__(self, root_fn, interval=0.25):
        super().__init__(daemon=True)
        self.root_fn = root_fn
        self.interval = interval
        self.peak_rss = self.peak_pss = self.peak_procs = 0
        self._stop_event = threading.Event()

    def sample(self):
        root = self.root_fn()
        if root:
            rss, pss, n = memory_kb(root)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_procs = max(self.peak_procs, n)

    def run(self):
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join()
        self.sample()
