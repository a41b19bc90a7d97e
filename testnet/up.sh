#!/usr/bin/env bash
# Start a local testnet on 127.0.0.1: N validators, each in its own home,
# with its own parity-db, libp2p port and API port; logs in each home's
# node.log. The first run creates the testnet (`sherd testnet init`); later
# runs restart it from its data.
#
#   testnet/up.sh [N]           # default 4 validators, in $SHERD_TESTNET or testnet/.local
#   testnet/status.sh           # heights, finalized heights and peers
#   testnet/down.sh             # stop (data kept)
set -euo pipefail

N=${1:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${SHERD_TESTNET:-$ROOT/testnet/.local}
P2P_PORT=${P2P_PORT:-30333}
API_PORT=${API_PORT:-8545}

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is needed: install Rust from https://rustup.rs, then run this again" >&2
  exit 1
fi
echo "==> building sherd (release)"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p sherd
SHERD="$ROOT/target/release/sherd"

if [ ! -f "$DIR/genesis.json" ]; then
  echo "==> creating a testnet of $N validators in $DIR"
  "$SHERD" testnet init --validators "$N" --out "$DIR" --p2p-port "$P2P_PORT" --api-port "$API_PORT" >/dev/null
fi

started=()
for home in "$DIR"/node*; do
  [ -f "$home/config.toml" ] || continue
  if [ -f "$home/pid" ] && kill -0 "$(cat "$home/pid")" 2>/dev/null; then
    echo "    $(basename "$home") is already running (pid $(cat "$home/pid"))"
    continue
  fi
  "$SHERD" node run --home "$home" >>"$home/stderr.log" 2>&1 &
  echo $! > "$home/pid"
  started+=("$home")
done

api_of() { sed -n 's/^api = "\(.*\)"/\1/p' "$1/config.toml"; }
for home in "${started[@]}"; do
  api=$(api_of "$home")
  ok=""
  for _ in $(seq 1 150); do
    if curl -fsS "http://$api/v1/status" >/dev/null 2>&1; then ok=1; break; fi
    if ! kill -0 "$(cat "$home/pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    echo "$(basename "$home") did not start; the end of its log:" >&2
    tail -15 "$home/stderr.log" >&2
    exit 1
  fi
done

echo "==> testnet running in $DIR"
for home in "$DIR"/node*; do
  [ -f "$home/config.toml" ] || continue
  echo "    $(basename "$home")  api http://$(api_of "$home")  pid $(cat "$home/pid")  log $home/node.log"
done
echo "    faucet: POST http://$(api_of "$DIR/node0")/v1/faucet   (sherd wallet faucet NAME --node http://$(api_of "$DIR/node0"))"
