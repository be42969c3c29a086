#!/usr/bin/env bash
# Starts or stops a throwaway standalone ZooKeeper (Debian's package) on a
# loopback port, with its data under DIR. For the demo and by hand; the test
# suite has its own fixture (tests/support/zk_server.h).
#   scripts/zk-local.sh start DIR PORT
#   scripts/zk-local.sh stop DIR
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?DIR}
case "$cmd" in
  start)
    port=${3:?PORT}
    mkdir -p "$dir/data"
    cat > "$dir/zoo.cfg" <<CFG
tickTime=500
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
extendedTypesEnabled=true
4lw.commands.whitelist=*
forceSync=no
CFG
    nohup java -Xmx512m -XX:+UseSerialGC -Dzookeeper.log.dir="$dir" \
      -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar \
      org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" >"$dir/server.log" 2>&1 &
    echo $! > "$dir/pid"
    for _ in $(seq 1 200); do
      # Bounded: a listener that never answers must not hang the probe.
      if timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && echo srvr >&3 && grep -q Mode <&3' _ "$port" 2>/dev/null; then
        exit 0
      fi
      sleep 0.1
    done
    echo "zk-local: ZooKeeper on port $port did not start; see $dir/server.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/pid" ]; then
      kill "$(cat "$dir/pid")" 2>/dev/null || true
      rm -f "$dir/pid"
    fi
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
