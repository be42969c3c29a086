#!/usr/bin/env bash
# The replication-lag benchmark (SPEC section 7): builds zkstandby and
# zks-bench-lag in Release, starts a primary and a backup ZooKeeper, writes a
# ZMS-shaped tree, runs `zkstandby run`, and prints Markdown tables: lag
# p50/p99/max and backlog at sustained 1,000 and 5,000 primary writes/s, idle
# CPU with every node watched, and the cost of a primary reconnect.
#
#   scripts/bench-lag.sh                        # 100,000 znodes (about 3 minutes)
#   scripts/bench-lag.sh --big                  # plus idle and reconnect at 1,000,000 znodes
#                                               #   (two JVMs with 4 GB heaps; about 20 more minutes)
#   scripts/bench-lag.sh --rates 1000 5000 10000 --phase-s 30
#
# Arguments go to zks-bench-lag (--help lists them). Progress goes to
# stderr, the tables to stdout. Everything shares this machine's cores; run
# it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${BUILD_DIR:-build-bench}
# -O2: g++ 12 at -O3 reports a false -Wrestrict in the mapping code, and
# warnings are errors.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
cmake --build "$build" --target zkstandby zks-bench-lag --parallel "$(nproc)" >/dev/null
exec "$build/tests/bench/zks-bench-lag" "$@"
