#!/bin/sh
# sanitize-check.sh - run one command (a system test against a clang
# -DHK_SANITIZE=ON build) and fail if a sanitizer report file appeared in
# LOGDIR while it ran, printing each one. The ctest entries
# sanitize/system/<test> (tools/test-clang.cmake) use it: daemons started by
# master never show their stderr, so their reports are only files there
# (src/util/sanitizer_options.c). Those entries share a ctest RESOURCE_LOCK,
# so a report found here came from this command. It does not build anything.
#
# Usage: tools/sanitize-check.sh LOGDIR command [arg ...]
# Exit status: the command's, or 1 if it passed but left a report.
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
before=$(mktemp "${TMPDIR:-/tmp}/hk-sanitize.XXXXXX")
trap 'rm -f "$before"' EXIT INT TERM
ls -1 "$logs" | sort >"$before"

rc=0
"$@" || rc=$?

new=$(ls -1 "$logs" | sort | comm -13 "$before" -)
if [ -n "$new" ]; then
    for f in $new; do
        echo "---- sanitizer report $logs/$f"
        head -n 60 "$logs/$f"
    done
    echo "sanitize-check.sh: $(echo "$new" | wc -l) sanitizer report(s) in $logs"
    [ "$rc" -eq 0 ] && rc=1
fi
exit "$rc"
