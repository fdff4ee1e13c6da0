#!/bin/sh
# run.sh - run one libFuzzer target for a bounded time over a private copy
# of its seed corpus. tools/fuzz.sh calls it for every target it runs, and
# so does each ctest entry fuzz/<target> (label fuzz, tools/test-clang.cmake).
# It does not build anything and never writes into the committed corpus.
#
# Usage: fuzz/run.sh BINARY CORPUS SECONDS KEEPDIR [libFuzzer option ...]
#   BINARY   the fuzz target executable
#   CORPUS   its seed corpus (fuzz/corpus/<target>; may be missing)
#   SECONDS  -max_total_time: seeds first, then fresh inputs until then
#   KEEPDIR  where a failing run leaves its log and the input that did it
# Exit status: 0 clean; 1 the target crashed, leaked, timed out, ran out of
# memory or exited (log tail printed, input kept in KEEPDIR, path printed);
# 2 BINARY missing or not executable (the target did not compile).
set -eu
if [ "$#" -lt 4 ]; then
    echo "usage: $0 BINARY CORPUS SECONDS KEEPDIR [libFuzzer option ...]" >&2
    exit 2
fi
bin=$1 corpus=$2 seconds=$3 keep=$4
shift 4
name=$(basename "$bin")
if [ ! -x "$bin" ]; then
    echo "fuzz: $name: not built ($bin missing: did it compile?): FAILED"
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hk-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/corpus" "$work/art"
if [ -d "$corpus" ]; then
    cp -R "$corpus/." "$work/corpus/"
fi
log="$work/log"

# Reports on stderr (a sanitizer build may compile in a log_path); the
# caller's own options come after ours and win.
ASAN_OPTIONS="log_path=stderr${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="log_path=stderr${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS

# -timeout: one input may take at most 10 s; -rss_limit_mb: memory cap.
if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/art/" -print_final_stats=1 "$@" \
        "$work/corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $name: ${runs:-?} runs in ${seconds}s, corpus $(ls "$work/corpus" | wc -l): ok"
    exit 0
fi
mkdir -p "$keep"
tail -n 60 "$log"
cp "$log" "$keep/last.log"
for a in "$work/art"/*; do
    [ -e "$a" ] || continue
    cp "$a" "$keep/"
    echo "fuzz: $name: crash input: $keep/$(basename "$a")"
done
echo "fuzz: $name: FAILED (log: $keep/last.log; reproduce: $bin INPUT)"
exit 1
