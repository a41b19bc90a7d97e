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

api0=$(sed -n 's/^api = "\(.*\)"/\1/p' "$DIR/node0/config.toml" 2>/dev/null || true)
if [ -n "$api0" ] && providers=$(curl -fsS --max-time 2 "http://$api0/v1/providers" 2>/dev/null); then
  echo
  echo "$providers" | python3 -c "
import json,sys
ps=json.load(sys.stdin)['providers']
print('%-64s %10s %10s %14s %7s %s' % ('provider','capacity','used','price/GiB-ep','misses','endpoint'))
gib=1<<30
for p in ps:
    e=p.get('endpoint') or {}
    print('%-64s %9.1fG %9.1fM %14s %7d %s' % (p['provider'],p['capacity_bytes']/gib,p['used_bytes']/(1<<20),p['price_per_gib_epoch'],p.get('recent_misses',0),(e.get('multiaddrs') or ['-'])[0]))
if not ps:
    print('no storage providers advertised')
"
fi
