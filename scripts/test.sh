#!/usr/bin/env bash
# Installs what is missing, builds, and runs the test suite: unit tests and
# integration tests against real ZooKeeper servers. The daemon's fault tests
# (label "fault": storms, partitions, kill -9, takeover, failover under load)
# run too with ZKS_FAULT_TESTS=1; see README "Tests". Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --parallel "$(nproc)"
cd "$build"
if [ "${ZKS_FAULT_TESTS:-0}" = 1 ]; then
  ctest --output-on-failure --timeout 600 "$@"
else
  ctest --output-on-failure --timeout 600 -LE fault "$@"
fi
