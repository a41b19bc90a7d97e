#!/usr/bin/env bash
# Stop every node of the local testnet (SIGTERM, then SIGKILL after 10 s),
# and its Prometheus if testnet/monitor.sh started one. The data stays:
# testnet/up.sh starts them again where they were.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${SHERD_TESTNET:-$ROOT/testnet/.local}
[ -f "$DIR/prometheus/pid" ] && SHERD_TESTNET="$DIR" "$ROOT/testnet/monitor.sh" stop
for home in "$DIR"/node*; do
  [ -f "$home/pid" ] || continue
  pid=$(cat "$home/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "stopped $(basename "$home") (pid $pid)"
  fi
  rm -f "$home/pid"
done
