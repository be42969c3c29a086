#!/usr/bin/env bash
# The sync benchmark (SPEC section 7, issue 10): builds zkstandby and
# zks-bench-sync in Release, starts real ZooKeeper servers, and prints
# Markdown tables: the tree's getData read three ways (libzookeeper
# pipelined, native pipelined, native multiRead) with client and server CPU
# per node; `zkstandby sync` (first, and converged second) against the floor
# measured in the same run (multiRead read + byte-bounded multi writes to an
# empty server; under acls: copy plus a pipelined getACL of every node); and
# issue 10's targets, each met or missed with its figure.
#
#   scripts/bench-sync.sh                    # 100,000 znodes, acls open and copy, 3 repetitions
#   scripts/bench-sync.sh --nodes 1000000    # 1M znodes, 500,000 topics under /zms/topic (about 15 minutes)
#   scripts/bench-sync.sh --acls copy        # one ACL policy only
#   scripts/bench-sync.sh --read-sessions 2  # the sync reads each site over 2 sessions (max_read_sessions)
#
# Arguments go to zks-bench-sync (--help lists them). Progress goes to
# stderr, the tables to stdout. The machine's load average before and after
# is printed under the tables: run it on an otherwise quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${BUILD_DIR:-build-bench}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if ! cmake --build "$build" --target zkstandby zks-bench-sync --parallel "$(nproc)" >"$build/bench-sync-build.log" 2>&1; then
  tail -40 "$build/bench-sync-build.log" >&2
  exit 2
fi
echo "bench-sync: zkstandby at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' with uncommitted changes in src/')" >&2
exec "$build/bench/zks-bench-sync" "$@"
