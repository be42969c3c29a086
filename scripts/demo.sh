#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts two local ZooKeeper
# servers (a "primary" and a "backup" site), loads a ZMS-shaped tree on the
# primary, shows `diff`, runs `sync`, shows a clean `diff`, then runs the
# daemon, changes the primary and shows the change arrive mapped, with the
# live lag from /metrics. Everything stays on 127.0.0.1 and is removed at exit.
#
#   scripts/demo.sh           the whole demo; servers and files go at exit
#   scripts/demo.sh --keep    the README's tour: installs, builds, starts the two
#                             servers, loads the primary, writes zkstandby.yaml
#                             and env.sh into $ZKS_TOUR_DIR (/tmp/zkstandby-tour)
#                             and leaves the servers running
#   scripts/demo.sh --stop    stops the --keep servers and removes $ZKS_TOUR_DIR
#
# With ZKS_BIN and ZKS_ZMSGEN set (paths of a built zkstandby and zks-zmsgen)
# the script neither installs nor builds: the README tour test does that.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mode=demo
case "${1:-}" in
  "") ;;
  --keep) mode=keep ;;
  --stop) mode=stop ;;
  *) echo "usage: $0 [--keep | --stop]" >&2; exit 2 ;;
esac
tour_dir=${ZKS_TOUR_DIR:-/tmp/zkstandby-tour}

stop_servers() {
  "$root/scripts/zk-local.sh" stop "$1/primary" || true
  "$root/scripts/zk-local.sh" stop "$1/backup" || true
}

if [ "$mode" = stop ]; then
  if [ -d "$tour_dir" ]; then
    stop_servers "$tour_dir"
    rm -rf "$tour_dir"
    echo "tour stopped: servers stopped, $tour_dir removed"
  else
    echo "tour: nothing to stop ($tour_dir does not exist)"
  fi
  exit 0
fi

if [ -n "${ZKS_BIN:-}" ] && [ -n "${ZKS_ZMSGEN:-}" ]; then
  zks=$ZKS_BIN
  gen=$ZKS_ZMSGEN
else
  scripts/install-deps.sh
  build=${BUILD_DIR:-build}
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --parallel "$(nproc)" --target zkstandby zks-zmsgen
  zks="$root/$build/src/cli/zkstandby"
  gen="$root/$build/bench/zks-zmsgen"
fi

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Starts both servers under $1, loads the primary and writes $1/zkstandby.yaml.
setup() {
  local work=$1
  pport=$(free_port); bport=$(free_port); hport=$(free_port)
  step "starting two ZooKeeper servers: primary 127.0.0.1:$pport, backup 127.0.0.1:$bport"
  scripts/zk-local.sh start "$work/primary" "$pport"
  scripts/zk-local.sh start "$work/backup" "$bport"

  step "loading a ZMS-shaped tree on the primary (Beijing site names: kafka_bj_*, 10.10.*)"
  "$gen" --connect "127.0.0.1:$pport" --topics 200 --groups 300 2>/dev/null
  "$gen" --print-mapping > "$work/mapping.yaml"
  cat > "$work/zkstandby.yaml" <<YAML
primary:
  connect: "127.0.0.1:$pport"
  session_timeout_ms: 10000
  connect_timeout_ms: 5000
backup:
  connect: "127.0.0.1:$bport"
  session_timeout_ms: 10000
  connect_timeout_ms: 5000
sync:
  roots:
    - source: /zms
  exclude:
    - /zms/topic/*/*
    - /zms/consumergroup/*/*
  audit_interval_s: 60
mapping:
  files: [ mapping.yaml ]
http:
  listen: "127.0.0.1:$hport"
log:
  level: warn
YAML
}

if [ "$mode" = keep ]; then
  if [ -d "$tour_dir" ]; then
    stop_servers "$tour_dir"
    rm -rf "$tour_dir"
  fi
  mkdir -p "$tour_dir"
  setup "$tour_dir"
  cat > "$tour_dir/env.sh" <<ENV
# Written by scripts/demo.sh --keep; source it in the tour's shell: . ./env.sh
export PATH="$(dirname "$zks"):\$PATH"
PRIMARY=127.0.0.1:$pport
BACKUP=127.0.0.1:$bport
HTTP=127.0.0.1:$hport
# ZooKeeper's own CLI, without its log lines: prints the last line of the answer.
zkcli() { /usr/share/zookeeper/bin/zkCli.sh -server "\$@" 2>&1 | tail -n 1; }
ENV
  step "tour ready"
  echo "tour ready: primary 127.0.0.1:$pport, backup 127.0.0.1:$bport, config $tour_dir/zkstandby.yaml"
  echo "next: cd $tour_dir && . ./env.sh    (stop it all with: scripts/demo.sh --stop)"
  exit 0
fi

work=$(mktemp -d /tmp/zkstandby-demo-XXXXXX)
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  stop_servers "$work"
  rm -rf "$work"
}
trap cleanup EXIT

setup "$work"
cd "$work"

step "zkstandby validate"
"$zks" validate -c zkstandby.yaml

step "zkstandby map: what one primary cluster node becomes on the backup"
"$zks" map -c zkstandby.yaml --path /zms/cluster/kafka_bj_01

step "zkstandby diff (first lines): everything is missing on the backup"
"$zks" diff -c zkstandby.yaml > diff.txt || true
head -n 14 diff.txt; echo "  ..."; tail -n 1 diff.txt

step "zkstandby sync"
"$zks" sync -c zkstandby.yaml

step "zkstandby diff again: in sync (exit 0)"
"$zks" diff -c zkstandby.yaml && echo "diff exit status: 0"

step "zkstandby run: the daemon, replicating every change as it happens"
"$zks" run -c zkstandby.yaml > daemon.log 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do
  curl -sf "127.0.0.1:$hport/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -s "127.0.0.1:$hport/readyz"; echo
/usr/bin/python3 - "$pport" "$bport" <<'PY'
import sys, time
from kazoo.client import KazooClient
p = KazooClient("127.0.0.1:" + sys.argv[1]); p.start()
b = KazooClient("127.0.0.1:" + sys.argv[2]); b.start()
p.set("/zms/topic/topic_0000007", b"clusterName=kafka_bj_02\ntype=topic\ngatedIps=10.10.1.11\ngatedCluster=\n")
p.create("/zms/topic/order_refunded", b"clusterName=rmq_bj_01\ntype=topic\ngatedIps=\ngatedCluster=\n")
print("primary: set /zms/topic/topic_0000007, created /zms/topic/order_refunded")
deadline = time.time() + 10
while time.time() < deadline and not b.exists("/zms/topic/order_refunded"):
    time.sleep(0.01)
for path in ("/zms/topic/topic_0000007", "/zms/topic/order_refunded"):
    print("backup  %s:\n    %s" % (path, b.get(path)[0].decode().replace("\n", "\n    ").rstrip()))
PY
step "live replication lag from /metrics"
curl -s "127.0.0.1:$hport/metrics" | grep -E '^zkstandby_replication_lag_seconds_(count|sum)|^zkstandby_ops_applied_total'

step "zkstandby status"
"$zks" status -c zkstandby.yaml

kill -TERM "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""
step "demo done (daemon stopped with SIGTERM; servers and files are removed on exit)"
