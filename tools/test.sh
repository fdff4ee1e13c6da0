#!/bin/sh
# test.sh - the quick start's second command: install what is missing, build
# and run the whole test suite (unit tests and system tests, under ctest).
# With clang (tools/deps.sh installs it) it also builds build-clang
# (-DHK_FUZZ=ON -DHK_SANITIZE=ON) and the same ctest run includes its fuzz
# targets (label fuzz) and its sanitized unit and system tests (label
# sanitize): tools/test-clang.cmake. HK_CLANG_TESTS=0 skips that build and
# those entries. Extra arguments go to ctest.
# The last line of output is ctest's summary.
set -eu
cd "$(dirname "$0")/.."
. tools/deps.sh
need_test_packages

clang_dir=""
clang_rc=0
if [ "${HK_CLANG_TESTS:-1}" != 0 ] && command -v clang >/dev/null 2>&1; then
    clang_dir="$PWD/build-clang"
    cmake -S . -B "$clang_dir" -G "Unix Makefiles" -DCMAKE_C_COMPILER=clang \
          -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
          -DHK_FUZZ=ON -DHK_SANITIZE=ON -DHK_SANITIZE_LOG_DIR="$clang_dir/sanitizer-logs" >/dev/null
    # -k: what does not compile fails its own ctest entry; the rest still run.
    cmake --build "$clang_dir" -j"$(nproc)" -- -k || clang_rc=1
    [ "$clang_rc" -eq 0 ] || echo "test.sh: build-clang had errors (above); test.sh will fail"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHK_CLANG_TEST_DIR="$clang_dir" >/dev/null
cmake --build build -j"$(nproc)"
cd build
# Tests take "cpu" slots, one per core; the fuzz entries a lane of their
# own beside them, niced (tools/test-clang.cmake): one ctest job more.
n=$(nproc)
printf '{"version": {"major": 1, "minor": 0}, "local": [{"cpu": [{"id": "0", "slots": %d}], %s}]}\n' \
    "$n" '"fuzz": [{"id": "0", "slots": 1}]' >ctest-resources.json
rc=0
ctest --output-on-failure -j"$((n + 1))" --resource-spec-file "$PWD/ctest-resources.json" "$@" \
    || rc=$?
[ "$clang_rc" -eq 0 ] || rc=1
exit "$rc"
