#!/bin/sh
# sanitize-check.sh - run one command (a system test against a clang
# -DHK_SANITIZE=ON build) and fail if a sanitizer report appeared while it
# ran, printing each one. The ctest entries sanitize/system/<test>
# (tools/test-clang.cmake) use it. It does not build anything.
#
# Usage: tools/sanitize-check.sh LOGDIR command [arg ...]
# Exit status: the command's, or 1 if it passed but left a report.
#
# Daemons started by master never show their stderr, so their reports are
# files. Each run gets its own directory under LOGDIR, named in
# ASAN_OPTIONS/UBSAN_OPTIONS (log_path), which the command's programs read
# and master passes on to the daemons in a sanitizer build
# (src/master/master_params.c): runs can go in parallel and each finds only
# its own reports. A set-ID program (postdrop) ignores those variables and
# writes to LOGDIR itself (the path compiled in: src/util/sanitizer_options.c);
# a new file there fails this run too, even if a parallel run wrote it (any
# report is a failure; the file name says which program).
set -u
if [ "$#" -lt 2 ]; then
    echo "usage: $0 LOGDIR command [arg ...]" >&2
    exit 2
fi
logs=$1
shift
# Daemons run as mail_owner and postdrop as the submitting user: all must be
# able to create their report file.
mkdir -p "$logs" && chmod 1777 "$logs" || exit 2
own=$(mktemp -d "$logs/run.XXXXXX") && chmod 1777 "$own" || exit 2
before=$(mktemp "${TMPDIR:-/tmp}/hk-sanitize.XXXXXX")
trap 'rm -f "$before"' EXIT INT TERM
ls -1 "$logs" | grep -v '^run\.' | sort >"$before"

# Only log_path: every other option keeps the build's compiled-in default.
ASAN_OPTIONS="log_path=$own/asan" UBSAN_OPTIONS="log_path=$own/ubsan" "$@"
rc=$?

new=$( (ls -1 "$logs" | grep -v '^run\.' | sort | comm -13 "$before" - | sed "s|^|$logs/|"
        find "$own" -type f) | sort)
if [ -n "$new" ]; then
    for f in $new; do
        echo "---- sanitizer report $f"
        head -n 60 "$f"
    done
    echo "sanitize-check.sh: $(echo "$new" | wc -l) sanitizer report(s)"
    [ "$rc" -eq 0 ] && rc=1
else
    rmdir "$own" 2>/dev/null
fi
exit "$rc"
