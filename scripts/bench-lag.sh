#!/usr/bin/env bash
# The daemon benchmark (issue 11, SPEC section 7): builds zkstandby and
# zks-bench-lag in Release, starts a primary and a backup ZooKeeper, writes a
# flat ZMS-shaped tree (half its nodes are topics under /zms/topic), and for
# each watch mode (recursive and per_node by default) runs `zkstandby run` and
# prints Markdown tables: time to ready, the watches the primary holds (4lw
# wchs), the primary's live heap with and without the daemon (jcmd), daemon
# RSS per znode, topic create and delete lag among the siblings, update lag
# at 1,000 and 5,000 writes/s, and the recovery after a connection reset
# (first new write, re-verification). Targets are stated met or missed.
#
#   scripts/bench-lag.sh                        # 100,000 znodes (about 10 minutes)
#   scripts/bench-lag.sh --big                  # plus 1,000,000 znodes (500,000 topics;
#                                               #   two JVMs with 4 GB heaps; 30-60 more minutes)
#   scripts/bench-lag.sh --nodes 0 --big        # the 1,000,000-znode part only
#   scripts/bench-lag.sh --modes recursive per_node libzookeeper --rates 1000 5000 --phase-s 30
#   scripts/bench-lag.sh --big --big-rates 5000 # the write rates at 1,000,000 znodes too
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
