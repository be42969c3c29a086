#!/usr/bin/env bash
# The replication-lag benchmark (SPEC section 7): builds zkstandby and
# zks-bench-lag in Release, starts a primary and a backup ZooKeeper, writes a
# ZMS-shaped tree, runs `zkstandby run`, and prints Markdown tables: lag
# p50/p99/max and backlog at sustained 1,000 and 5,000 primary writes/s, idle
# CPU with every node watched, and the cost of a primary reconnect.
#
#   scripts/bench-lag.sh                        # 100,000 znodes (about 4 minutes)
#   scripts/bench-lag.sh --big                  # plus idle and reconnect at 1,000,000 znodes
#                                               #   (two JVMs with 4 GB heaps; 20-40 more minutes)
#   scripts/bench-lag.sh --nodes 0 --big        # the 1,000,000-znode part only
#   scripts/bench-lag.sh --rates 1000 5000 10000 --phase-s 30 --churn 0
#
# Arguments go to zks-bench-lag (--help lists them). Progress goes to
# stderr, the tables to stdout. Everything shares this machine's cores; run
# it on a quiet machine (the tables print the load average and how busy the
# machine was).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${BUILD_DIR:-build-bench}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if ! cmake --build "$build" --target zkstandby zks-bench-lag --parallel "$(nproc)" >"$build/bench-lag-build.log" 2>&1; then
  tail -40 "$build/bench-lag-build.log" >&2
  exit 2
fi
echo "bench-lag: zkstandby at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' with uncommitted changes in src/')" >&2
exec "$build/bench/zks-bench-lag" "$@"
