#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit and
# integration tests against real ZooKeeper servers). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${BUILD_DIR:-build}
# Warnings are errors here (and in the dev preset), not in a user's build.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZKS_WERROR=ON >/dev/null
cmake --build "$build" --parallel "$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 600 "$@"
