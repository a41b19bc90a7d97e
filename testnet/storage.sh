#!/usr/bin/env bash
# The README's quick start, end to end, with the release binary: start a
# fresh local testnet (4 validators, 6 providers) with testnet/up.sh in a
# temporary directory on free ports, fund a new wallet in a fresh HOME, put
# a random file, get it back byte-identical, check the testnet's Prometheus
# (testnet/monitor.sh check: every node scraped, the dashboard's panels and
# the transfer histograms with data), kill -9 two providers and get it
# again, then stop everything.
#
#   testnet/storage.sh                 # 8 MiB as 4+2
#   SIZE_MIB=256 K=4 M=2 testnet/storage.sh
#   KEEP=1 testnet/storage.sh          # leave the testnet running (prints how to stop it)
#
# Needs cargo, curl, python3 and prometheus (Debian's). Everything runs on 127.0.0.1.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-8}
K=${K:-4}
M=${M:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sherd-storage.XXXXXX")
export SHERD_TESTNET="$WORK/net"

stop() {
  if [ -z "${KEEP:-}" ]; then
    "$ROOT/testnet/down.sh" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  else
    echo "the testnet keeps running: SHERD_TESTNET=$SHERD_TESTNET $ROOT/testnet/down.sh stops it"
  fi
}
trap stop EXIT

# Ten consecutive free ports for libp2p and ten for the API.
free_range() {
  python3 - <<'EOF'
import socket
for _ in range(200):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); base = s.getsockname()[1]; s.close()
    if base > 65000:
        continue
    held = []
    try:
        for i in range(10):
            t = socket.socket(); t.bind(("127.0.0.1", base + i)); held.append(t)
    except OSError:
        for t in held: t.close()
        continue
    for t in held: t.close()
    print(base); break
EOF
}
P2P_PORT=$(free_range)
API_PORT=$(free_range)
while [ $((API_PORT - P2P_PORT)) -lt 10 ] && [ $((P2P_PORT - API_PORT)) -lt 10 ]; do API_PORT=$(free_range); done
export P2P_PORT API_PORT

P2P_PORT=$P2P_PORT API_PORT=$API_PORT "$ROOT/testnet/up.sh" 4 6 --monitor
S="${CARGO_TARGET_DIR:-$ROOT/target}/release/sherd"
export HOME="$WORK/client" SHERD_PASSWORD="correct horse battery staple" SHERD_NODE="http://127.0.0.1:$API_PORT"
mkdir -p "$HOME"

echo "==> a wallet, funded by the faucet"
"$S" wallet new alice >/dev/null
"$S" wallet faucet alice >/dev/null
echo "==> put $SIZE_MIB MiB as $K+$M"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/file"
id=$("$S" storage put "$WORK/file" --data "$K" --parity "$M" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "    object $id"
"$S" storage ls
echo "==> get"
"$S" storage get "$id" --out "$WORK/back"
cmp "$WORK/file" "$WORK/back"
echo "    byte-identical"

echo "==> prometheus: every node scraped, the dashboard and the transfers"
sleep 3  # a scrape after the transfers (every 2 s)
"$ROOT/testnet/monitor.sh" check \
  'sum(sherd_provider_fragment_transfer_seconds_count{direction="upload"})' \
  'sum(sherd_provider_fragment_transfer_bytes_count{direction="download"})' \
  'sum(sherd_provider_deals_total{answer="accepted"})' \
  'sum(sherd_provider_stored_bytes)' \
  'sum(sherd_gossip_received_bytes_total)' \
  'min(sherd_peers_connected)'

echo "==> kill -9 two providers, get again"
for n in 4 5; do kill -9 "$(cat "$SHERD_TESTNET/node$n/pid")"; done
"$S" storage get "${id:0:16}" --out "$WORK/back2"
cmp "$WORK/file" "$WORK/back2"
echo "    byte-identical with two providers gone"
"$S" storage status "$id"
echo "==> the storage flow works"
