#!/bin/sh
# fuzz.sh - build the libFuzzer targets (fuzz/fuzz_*.c) with clang into
# build-fuzz and run each one for a bounded time over a copy of its seed
# corpus (fuzz/corpus/<target>/), so a run never changes the repository.
#
# Usage: tools/fuzz.sh [target ...]       (default: every fuzz/fuzz_*.c)
# Environment: FUZZ_SECONDS  seconds per target (default 20)
#              FUZZ_ARGS     extra libFuzzer options (e.g. "-max_len=8192")
#              FUZZ_BUILD    build directory (default build-fuzz)
# Exit status 1 if any target did not build, crashed, leaked, timed out or
# ran out of memory; the input that did it is kept in
# $FUZZ_BUILD/crashes/<target>/ and its path printed (fuzz/run.sh runs each
# target). The last line is "N passed, M failed".
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

passed=0
failed=0
failed_names=""
for t in $targets; do
    echo "== $t: ${seconds}s"
    # fuzz/run.sh: a private copy of the corpus; a failure's log and input
    # are kept in $build/crashes/$t/.
    # shellcheck disable=SC2086
    if sh fuzz/run.sh "$build/fuzz/$t" "fuzz/corpus/$t" "$seconds" "$build/crashes/$t" \
            ${FUZZ_ARGS:-}; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $t"
    fi
done
[ -n "$failed_names" ] && echo "failed targets:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
