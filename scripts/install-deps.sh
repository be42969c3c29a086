#!/usr/bin/env bash
# Installs, from Debian 12's packages, whatever zk-standby needs to build, test
# and run its demo. Idempotent; prints nothing when everything is present.
# prometheus: promtool (alert rule tests) and the server the dashboard and
# alert test scrapes with; help2man: the man page; lintian, dpkg-dev
# (dpkg-shlibdeps): building and checking the Debian package.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libzookeeper-mt-dev libyaml-cpp-dev libspdlog-dev libcli11-dev
  nlohmann-json3-dev libcpp-httplib-dev libxxhash-dev libre2-dev libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  zookeeper default-jre-headless
  python3 python3-kazoo stunnel4 curl
  prometheus
  help2man lintian dpkg-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# A Java 17 runtime installed by other means satisfies the server's needs.
if command -v java >/dev/null 2>&1; then
  missing=("${missing[@]/default-jre-headless}")
fi
read -r -a missing <<< "${missing[*]}"
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
