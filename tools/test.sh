#!/bin/sh
# test.sh - the quick start's second command: install what is missing, build
# and run the whole test suite (unit tests and system tests, under ctest).
# The last line of output is ctest's summary.
set -eu
cd "$(dirname "$0")/.."
. tools/deps.sh
need_test_packages

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
