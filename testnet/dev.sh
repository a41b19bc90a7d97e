#!/usr/bin/env bash
# The dev chain, end to end, with the release binary: start a single-validator
# chain on parity-db, create two wallets, fund one from the faucet, send to
# the other, stake, look at balances and validators through the HTTP API,
# kill -9 the node, restart it, and check that everything is still there.
#
#   testnet/dev.sh              # run the flow and stop the chain
#   KEEP=1 testnet/dev.sh       # leave the chain running afterwards (prints how to stop it)
#   SHERD_DEV_HOME=DIR testnet/dev.sh
#
# Needs only cargo and curl. Everything runs on 127.0.0.1 with free ports.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
for tool in cargo curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool is needed (cargo: https://rustup.rs), then run this again" >&2
    exit 1
  fi
done

echo "==> building sherd (release)"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p sherd
SHERD="$ROOT/target/release/sherd"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sherd-dev.XXXXXX")
HOME_DIR=${SHERD_DEV_HOME:-$WORK/chain}
WALLETS="$WORK/wallets"
PASSFILE="$WORK/password"
printf 'correct horse battery staple\n' > "$PASSFILE"
chmod 600 "$PASSFILE"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}
PORT=$(free_port)
NODE="http://127.0.0.1:$PORT"
PID=""

stop_node() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  PID=""
}
cleanup() {
  if [ -z "${KEEP:-}" ]; then
    stop_node
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

start_node() {
  "$SHERD" node run --dev --home "$HOME_DIR" --api "127.0.0.1:$PORT" >>"$WORK/node.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    if curl -fsS "$NODE/v1/status" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
      echo "the node exited; its log:" >&2
      tail -20 "$WORK/node.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "the node did not answer on $NODE within 10 s; its log:" >&2
  tail -20 "$WORK/node.log" >&2
  exit 1
}

w() { "$SHERD" wallet --wallet-dir "$WALLETS" --node "$NODE" --password-file "$PASSFILE" "$@"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

echo "==> starting the dev chain: $NODE, data in $HOME_DIR"
start_node
curl -fsS "$NODE/v1/status"; echo

echo "==> two wallets"
w new alice >/dev/null
w new bob >/dev/null
w list
BOB=$(w address bob)

echo "==> alice asks the faucet for 1000"
w faucet alice --amount 1000
echo "==> alice sends 12.5 to bob"
w send --from alice --to "$BOB" --amount 12.5
echo "==> alice stakes 100 (a new validator from the next epoch)"
w stake --from alice --amount 100
w balance alice
w balance bob

echo "==> the validators, as the API shows them"
curl -fsS "$NODE/v1/validators"; echo
BEFORE=$(curl -fsS "$NODE/v1/accounts/$BOB" | field '["balance"]')
HEIGHT=$(curl -fsS "$NODE/v1/status" | field '["finalized_height"]')

# The release binary has no test hooks: it ignores the variables that make
# a test build equivocate or stop before a commit (node/src/hooks.rs).
echo "==> kill -9 the node at height $HEIGHT, then restart it with SHERD_TEST_CRASH_BEFORE_COMMIT set"
kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
CRASH_AT=$((HEIGHT + 3))
SHERD_TEST_CRASH_BEFORE_COMMIT=$CRASH_AT SHERD_TEST_EQUIVOCATE=1 start_node
AFTER=$(curl -fsS "$NODE/v1/accounts/$BOB" | field '["balance"]')
HEIGHT_AFTER=$(curl -fsS "$NODE/v1/status" | field '["finalized_height"]')
echo "   bob's balance: $BEFORE before, $AFTER after; finalized height $HEIGHT before, $HEIGHT_AFTER after"
if [ "$BEFORE" != "$AFTER" ] || [ "$HEIGHT_AFTER" -lt "$HEIGHT" ]; then
  echo "FAILED: the restarted node lost state" >&2
  exit 1
fi
if "$SHERD" --version | grep -q "test build"; then
  echo "FAILED: the release binary has the test hooks: $("$SHERD" --version)" >&2
  exit 1
fi
for _ in $(seq 1 300); do
  [ "$(curl -fsS "$NODE/v1/status" | field '["finalized_height"]')" -gt "$CRASH_AT" ] && break
  sleep 0.1
done
if ! kill -0 "$PID" 2>/dev/null || grep -q "test.hooks" "$WORK/node.log" \
  || [ "$(curl -fsS "$NODE/v1/status" | field '["finalized_height"]')" -le "$CRASH_AT" ]; then
  echo "FAILED: the release node obeyed SHERD_TEST_CRASH_BEFORE_COMMIT=$CRASH_AT; its log:" >&2
  tail -20 "$WORK/node.log" >&2
  exit 1
fi
echo "   the release binary ignored SHERD_TEST_CRASH_BEFORE_COMMIT=$CRASH_AT: finalized past it"
w history alice

if [ -n "${KEEP:-}" ]; then
  echo "==> the chain keeps running (pid $PID): $NODE"
  echo "    wallets: $SHERD wallet --wallet-dir $WALLETS --node $NODE --password-file $PASSFILE balance alice"
  echo "    stop it: kill $PID; its data: $HOME_DIR"
  trap - EXIT
else
  echo "==> OK: the dev chain survived kill -9 with every finalized block"
fi
