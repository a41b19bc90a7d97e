#!/usr/bin/env bash
# Another libp2p implementation talks to a sherd node: a js-libp2p peer
# (TCP, noise, yamux) dials node0 of the local testnet and runs identify
# and ping, and prints what the node answered.
#
#   testnet/up.sh 4 && testnet/interop.sh [API_URL]
#
# Needs Node.js 20+ and npm; the first run installs the pinned js-libp2p
# packages (testnet/interop/package-lock.json) from the npm registry into
# testnet/interop/node_modules.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
API=${1:-http://127.0.0.1:${API_PORT:-8545}}

for tool in node npm curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool is needed for this check" >&2
    exit 1
  fi
done
cd "$ROOT/testnet/interop"
if [ ! -d node_modules ]; then
  echo "==> installing js-libp2p (pinned) into testnet/interop/node_modules"
  npm ci --silent --no-audit --no-fund
fi
identity=$(curl -fsS "$API/v1/node") || {
  echo "no node answers at $API (start one with testnet/up.sh)" >&2
  exit 1
}
addr=$(node -e 'const n = JSON.parse(process.argv[1]); console.log(`${n.listen[0]}/p2p/${n.peer_id}`)' "$identity")
echo "==> js-libp2p dials $addr"
timeout 60 node ping.mjs "$addr"
