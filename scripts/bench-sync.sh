#!/usr/bin/env bash
# The sync benchmark (SPEC section 7): builds zkstandby and zks-bench-sync in
# Release, starts real ZooKeeper servers, and prints a Markdown table of
# `zkstandby sync` against the raw ZooKeeper floor measured in the same run.
#
#   scripts/bench-sync.sh                    # 100,000 znodes, acls copy and open
#   scripts/bench-sync.sh --nodes 1000000    # 1M znodes (about 15 minutes on 2 cores)
#   scripts/bench-sync.sh --acls copy        # one ACL policy only
#
# Arguments go to zks-bench-sync (--help lists them). Progress goes to
# stderr, the table to stdout.
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
