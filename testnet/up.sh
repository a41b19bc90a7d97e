#!/usr/bin/env bash
# Start a local testnet on 127.0.0.1: V validators and P storage providers,
# each node in its own home, with its own parity-db, libp2p port and API
# port; logs in each home's node.log. The first run creates the testnet
# (`sherd testnet init`); later runs restart it from its data. It returns
# once every node answers and every provider is registered and advertised
# on chain, so `sherd storage put` works at once.
#
#   testnet/up.sh [V] [P]       # default 4 validators and 6 providers, in $SHERD_TESTNET or testnet/.local
#   PROOF_PERIOD=6 PROOF_WINDOW=3 testnet/up.sh   # short proof periods (blocks): watch proofs,
#                               # misses and slashing within a minute (new testnets only)
#   REPAIR=0 testnet/up.sh      # no repair worker (by default node 0 repairs lost
#                               # fragments onto spare providers: `[repair]`)
#   testnet/up.sh 4 6 --monitor # and a Prometheus scraping every node (testnet/monitor.sh)
#   testnet/status.sh           # heights, finalized heights, providers
#   testnet/down.sh             # stop (data kept)
set -euo pipefail

MONITOR=0
args=()
for arg in "$@"; do
  case "$arg" in
    --monitor) MONITOR=1 ;;
    *) args+=("$arg") ;;
  esac
done
N=${args[0]:-4}
PROVIDERS=${args[1]:-6}
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
SHERD="${CARGO_TARGET_DIR:-$ROOT/target}/release/sherd"

if [ ! -f "$DIR/genesis.json" ]; then
  echo "==> creating a testnet of $N validators and $PROVIDERS providers in $DIR"
  proof=()
  [ -n "${PROOF_PERIOD:-}" ] && proof+=(--proof-period "$PROOF_PERIOD")
  [ -n "${PROOF_WINDOW:-}" ] && proof+=(--proof-window "$PROOF_WINDOW")
  [ "${REPAIR:-1}" = 0 ] || proof+=(--repair)
  "$SHERD" testnet init --validators "$N" --providers "$PROVIDERS" --out "$DIR" \
    --p2p-port "$P2P_PORT" --api-port "$API_PORT" ${proof[@]+"${proof[@]}"} >/dev/null
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

# Providers register their endpoint and advertise their terms by themselves
# once the chain runs: wait until the chain lists every one of them.
want=$(grep -l '^\[provider\]' "$DIR"/node*/config.toml 2>/dev/null | wc -l)
if [ "$want" -gt 0 ]; then
  api0=$(api_of "$DIR/node0")
  have=0
  for _ in $(seq 1 300); do
    have=$(curl -fsS "http://$api0/v1/providers" 2>/dev/null \
      | python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin)["providers"] if p.get("endpoint")))' 2>/dev/null || echo 0)
    [ "$have" -ge "$want" ] && break
    sleep 0.2
  done
  if [ "$have" -lt "$want" ]; then
    echo "only $have of $want providers are registered and advertised after 60 s; see their node.log" >&2
    exit 1
  fi
fi

echo "==> testnet running in $DIR"
for home in "$DIR"/node*; do
  [ -f "$home/config.toml" ] || continue
  role=validator
  grep -q '^\[provider\]' "$home/config.toml" && role=provider
  [ -f "$home/validator.key" ] || [ "$role" = provider ] || role="full node"
  echo "    $(basename "$home")  $role  api http://$(api_of "$home")  pid $(cat "$home/pid")  log $home/node.log"
done
echo "    faucet: POST http://$(api_of "$DIR/node0")/v1/faucet   (sherd wallet faucet NAME --node http://$(api_of "$DIR/node0"))"
[ "$want" -gt 0 ] && echo "    $want providers advertised: sherd storage put FILE --node http://$(api_of "$DIR/node0")"
if [ "$MONITOR" = 1 ]; then
  SHERD_TESTNET="$DIR" "$ROOT/testnet/monitor.sh"
fi
true
