#!/bin/sh
# test-sanitize.sh - the whole test suite (unit and system tests, under
# ctest) against a build with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DHK_SANITIZE=ON) in build-asan.
#
# Usage: tools/test-sanitize.sh [ctest options]   e.g. -L unit, -R postconf
# Environment: ASAN_BUILD  build directory (default build-asan)
#
# Programs started by the tests directly get ASAN_OPTIONS/UBSAN_OPTIONS
# from here; daemons started by master do not inherit them, so the build
# compiles the same defaults in (src/util/sanitizer_options.c) and sends
# every report to $ASAN_BUILD/sanitizer-logs/{asan,ubsan}.PROGRAM.PID. The run
# fails if ctest fails or if any report file appears, and prints them.
# This script does not run the fuzzers (tools/fuzz.sh does).
set -eu
cd "$(dirname "$0")/.."
. tools/deps.sh
need_test_packages

build=${ASAN_BUILD:-build-asan}
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
logs="$build/sanitizer-logs"
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DHK_SANITIZE=ON \
      -DHK_SANITIZE_LOG_DIR="$logs" >/dev/null
cmake --build "$build" -j"$jobs"

# Daemons run as mail_owner and postdrop as the submitting user: all must
# be able to create their report file.
rm -rf "$logs"
mkdir -p "$logs"
chmod 1777 "$logs"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:log_exe_name=1\
:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_exe_name=1:log_path=$logs/ubsan"

rc=0
(cd "$build" && ctest --output-on-failure -j"$jobs" "$@") || rc=$?

reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
    echo "test-sanitize.sh: sanitizer reports:"
    for f in $reports; do
        echo "---- $f"
        head -n 60 "$f"
    done
    echo "test-sanitize.sh: $(echo "$reports" | wc -l) sanitizer report(s) in $logs"
    [ "$rc" -eq 0 ] && rc=1
fi
exit "$rc"
