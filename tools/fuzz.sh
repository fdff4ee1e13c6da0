#!/bin/sh
# fuzz.sh - build the libFuzzer targets (fuzz/fuzz_*.c) with clang into
# build-fuzz and run each one for a bounded time over a copy of its seed
# corpus (fuzz/corpus/<target>/), so a run never changes the repository.
#
# Usage: tools/fuzz.sh [target ...]       (default: every fuzz/fuzz_*.c)
# Environment: FUZZ_SECONDS  seconds per target (default 20)
#              FUZZ_ARGS     extra libFuzzer options (e.g. "-max_len=8192")
#              FUZZ_BUILD    build directory (default build-fuzz)
# Exit status 1 if any target crashed, leaked, timed out or ran out of
# memory; the input that did it is kept in $FUZZ_BUILD/crashes/<target>/
# and its path printed. The last line is "N passed, M failed".
# This script does not merge new inputs into fuzz/corpus (see docs/testing.md).
set -eu
cd "$(dirname "$0")/.."
. tools/deps.sh
need_packages $BUILD_PACKAGES clang libclang-rt-14-dev

seconds=${FUZZ_SECONDS:-20}
build=${FUZZ_BUILD:-build-fuzz}
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DHK_FUZZ=ON -DHK_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" -G "Unix Makefiles" >/dev/null
# Keep going past a target that does not compile: it fails below, the rest run
# (old executables are removed first so a stale one never stands in for it).
[ -d "$build/fuzz" ] && find "$build/fuzz" -maxdepth 1 -type f -name 'fuzz_*' -delete
cmake --build "$build" -j"$jobs" --target fuzzers -- -k || echo "fuzz.sh: build had errors"

if [ "$#" -gt 0 ]; then
    targets="$*"
else
    targets=$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hk-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
passed=0
failed=0
failed_names=""
for t in $targets; do
    bin="$build/fuzz/$t"
    if [ ! -x "$bin" ]; then
        echo "fuzz.sh: $t: not built (no fuzz/$t.c, or it did not compile): FAILED"
        failed=$((failed + 1))
        failed_names="$failed_names $t"
        continue
    fi
    mkdir -p "$work/corpus/$t" "$work/art/$t"
    if [ -d "fuzz/corpus/$t" ]; then
        cp -R "fuzz/corpus/$t/." "$work/corpus/$t/"
    fi
    log="$work/$t.log"
    echo "== $t: ${seconds}s"
    # -timeout: one input may take at most 10 s; -rss_limit_mb: memory cap.
    # shellcheck disable=SC2086
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$work/art/$t/" -print_final_stats=1 ${FUZZ_ARGS:-} \
            "$work/corpus/$t" >"$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^Done' "$log" | tr '\n' ' ' || true
        echo
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $t"
        # Keep the report and the inputs outside the temporary directory.
        keep="$build/crashes/$t"
        mkdir -p "$keep"
        tail -n 60 "$log"
        cp "$log" "$keep/last.log"
        for a in "$work/art/$t"/*; do
            [ -e "$a" ] || continue
            cp "$a" "$keep/"
            echo "fuzz.sh: $t: crash input: $keep/$(basename "$a")"
        done
        echo "fuzz.sh: $t: FAILED (log: $keep/last.log)"
    fi
done
[ -n "$failed_names" ] && echo "failed targets:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
