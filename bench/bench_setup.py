"""bench_setup.py - what the benchmark needs before it can measure.

install_postfix(): Debian's postfix package as a set of binaries only.
It is preseeded with `postfix/main_mailer_type = No configuration`, so
the package writes no /etc/postfix/main.cf and starts nothing. That is
verified: main.cf must be exactly as before, and no Postfix master may
be running that was not running before; if one was started anyway it is
stopped. The boot-time service is disabled, so the package never becomes
the system's mail server. And where /usr/sbin/sendmail, mailq or
newaliases already exist and belong to no package (Hikyaku's
tools/install.sh links them to its own sendmail), they are kept: the
package's files are diverted (dpkg-divert) to NAME.postfix-bench, so
local mail submission keeps going to the system's real MTA.

build_hikyaku(): a RelWithDebInfo build (tests off), installed into a
temporary prefix. compile_helper(): bench/fsync_rate.c.
machine_info(): nproc, memory, kernel, CPU, and the disk under the work
directory, for the report.
"""
import hashlib
import os
import platform
import shutil
import subprocess

POSTFIX_MASTER = "/usr/lib/postfix/sbin/master"
MAIN_CF = "/etc/postfix/main.cf"
SYSTEM_PATHS = ("/usr/sbin/sendmail", "/usr/bin/mailq", "/usr/bin/newaliases",
                "/usr/lib/sendmail")
DIVERT_SUFFIX = ".postfix-bench"


def _digest(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def postfix_masters():
    """pids of running Postfix master processes (Debian's binary)."""
    pids = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink(f"/proc/{d}/exe") == POSTFIX_MASTER:
                    pids.add(int(d))
            except OSError:
                pass
    return pids


def _installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def _owned(path):
    return subprocess.run(["dpkg", "-S", path], capture_output=True).returncode == 0


def divert_system_paths(log):
    """Keep existing unpackaged sendmail/mailq/newaliases where they are."""
    for p in SYSTEM_PATHS:
        if os.path.lexists(p) and not _owned(p):
            log(f"keeping {p}: the package's copy goes to {p}{DIVERT_SUFFIX}")
            subprocess.run(["dpkg-divert", "--local", "--no-rename", "--divert",
                            p + DIVERT_SUFFIX, "--add", p], check=True, capture_output=True)


def install_postfix(log):
    if _installed("postfix") and os.path.exists(POSTFIX_MASTER):
        return "already installed"
    before_cf = _digest(MAIN_CF)
    before_masters = postfix_masters()
    divert_system_paths(log)
    subprocess.run(["debconf-set-selections"], check=True, text=True,
                   input="postfix postfix/main_mailer_type select No configuration\n")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postfix"]
    log("installing Debian's postfix package (No configuration)")
    if subprocess.run(cmd, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env)
        subprocess.run(cmd, env=env, check=True)
    problems = []
    started = postfix_masters() - before_masters
    if started:
        problems.append(f"the package started Postfix (pid {sorted(started)}): stopped it")
        subprocess.run(["/usr/sbin/postfix", "stop"], capture_output=True)
        for pid in started:
            try:
                os.kill(pid, 15)
            except OSError:
                pass
    # Never at boot either.
    if shutil.which("systemctl"):
        subprocess.run(["systemctl", "disable", "postfix.service"], capture_output=True)
    if shutil.which("update-rc.d"):
        subprocess.run(["update-rc.d", "postfix", "disable"], capture_output=True)
    if _digest(MAIN_CF) != before_cf:
        raise SystemExit(f"bench: installing postfix changed {MAIN_CF}; refusing to go on "
                         f"(this machine's mail configuration must be checked by hand)")
    for p in problems:
        log("warning:", p)
    return "installed (no configuration; nothing started)" + ("; " + "; ".join(problems)
                                                              if problems else "")


def build_hikyaku(repo, build_dir, workdir, log, build=True):
    if build:
        log("building Hikyaku in", build_dir)
        subprocess.run(["cmake", "-S", repo, "-B", build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                        "-DHK_TESTS=OFF"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", build_dir, f"-j{os.cpu_count() or 2}"], check=True,
                       stdout=subprocess.DEVNULL)
    prefix = os.path.join(workdir, "prefix")
    subprocess.run(["cmake", "--install", build_dir, "--prefix", prefix], check=True,
                   stdout=subprocess.DEVNULL)
    for prog in ("smtp-source", "smtp-sink", "postfix"):
        if not os.access(os.path.join(prefix, "sbin", prog), os.X_OK):
            raise SystemExit(f"bench: {prog} is missing from the Hikyaku build")
    return prefix


def compile_helper(repo, workdir):
    out = os.path.join(workdir, "fsync_rate")
    subprocess.run(["cc", "-O2", "-Wall", "-o", out, os.path.join(repo, "bench", "fsync_rate.c")],
                   check=True)
    return out


def _first(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def machine_info(workdir):
    mem = _first("/proc/meminfo", "MemTotal")
    try:
        mem = f"{int(mem.split()[0]) / 1024 / 1024:.1f} GiB"
    except ValueError:
        pass
    df = subprocess.run(["df", "-hT", workdir], capture_output=True, text=True).stdout.splitlines()
    disk = "?"
    if len(df) > 1:
        f = df[-1].split()
        disk = f"{f[0]} ({f[1]}, {f[2]} total, {f[4]} free), mounted on {f[-1]}"
    load = open("/proc/loadavg").read().split()[:3]
    return [
        ("machine", f"{os.cpu_count()} CPUs ({_first('/proc/cpuinfo', 'model name')}), "
                    f"{mem} memory, kernel {platform.release()}"),
        ("disk under the queues", disk),
        ("load average at the end", " ".join(load) + " (other work on the machine skews numbers)"),
    ]


def build_info(build_dir):
    """"RelWithDebInfo" (and any extra CMAKE_C_FLAGS) from the build's CMakeCache.txt."""
    cache = {}
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith(("CMAKE_BUILD_TYPE:", "CMAKE_C_FLAGS:")):
                    k, v = line.rstrip("\n").split("=", 1)
                    cache[k.split(":")[0]] = v
    except OSError:
        return "?"
    text = cache.get("CMAKE_BUILD_TYPE") or "default build type"
    if cache.get("CMAKE_C_FLAGS"):
        text += f", CMAKE_C_FLAGS={cache['CMAKE_C_FLAGS']}"
    return text


def hikyaku_version(repo, inst):
    r = subprocess.run(["git", "-C", repo, "describe", "--always", "--dirty"], capture_output=True,
                       text=True)
    rev = r.stdout.strip() or "?"
    return f"{inst.version()} (git {rev})"
