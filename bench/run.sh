#!/bin/sh
# run.sh - Hikyaku against Postfix on this machine; writes docs/performance.md.
#
#   sudo bench/run.sh [--quick] [--runs N] [--queue-size N | --full-queue]
#                     [--output FILE] [--build-dir DIR] [--workdir DIR] [--keep]
#
# Installs Debian's postfix package if it is missing (preseeded "No
# configuration": no /etc/postfix/main.cf, nothing started), builds and
# installs Hikyaku into a temporary prefix, runs the same workloads
# against a separate instance of each on loopback ports, and writes the
# report. Every run is bounded in count and time. See docs/performance.md.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "bench/run.sh: must run as root" >&2
    exit 1
fi
exec /usr/bin/python3 bench/bench.py "$@"
