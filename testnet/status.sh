#!/usr/bin/env bash
# Height, finalized height, view and mempool of every node of the local testnet.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${SHERD_TESTNET:-$ROOT/testnet/.local}
printf '%-7s %-8s %-22s %8s %10s %6s %8s\n' node pid api height finalized view mempool
for home in "$DIR"/node*; do
  [ -f "$home/config.toml" ] || continue
  api=$(sed -n 's/^api = "\(.*\)"/\1/p' "$home/config.toml")
  pid=$(cat "$home/pid" 2>/dev/null || echo -)
  if status=$(curl -fsS --max-time 2 "http://$api/v1/status" 2>/dev/null); then
    echo "$status" | python3 -c "
import json,sys
s=json.load(sys.stdin)
print('%-7s %-8s %-22s %8s %10s %6s %8s' % ('$(basename "$home")','$pid','$api',s['height'],s['finalized_height'],s['view'],s['mempool_size']))"
  else
    printf '%-7s %-8s %-22s %8s\n' "$(basename "$home")" "$pid" "$api" down
  fi
done
