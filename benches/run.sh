#!/usr/bin/env bash
# Run sherd's benchmarks and render the dashboard.
#
#   benches/run.sh                    # full: every criterion benchmark at its own
#                                     # settings, load at 100 … 7,000 tx/s,
#                                     # storage 4 KiB and 256 MiB
#   benches/run.sh --quick            # a few minutes once built: criterion --quick
#                                     # on the catalogue's benchmarks, short loads,
#                                     # small files
#   benches/run.sh --only criterion   # or --only testnet: one half (the record
#                                     # says which was skipped)
#
# 1. criterion benchmarks of every crate (`cargo bench --profile release`, so
#    the benchmarks share the release build of the sherd binary);
# 2. a local testnet of 4 validators and 6 providers on free loopback ports,
#    in this run's directory under the target directory, stopped on exit;
# 3. `sherd bench load` at a few offered rates and `sherd bench storage`
#    put/get, each report kept as JSON;
# 4. one record of it all, keyed by the commit, appended to
#    benches/results/history.jsonl;
# 5. the dashboard, <target>/bench-dashboard/index.html, and the figures
#    tables of BENCHMARKS.md, rendered from the history.
#
# The target directory is $CARGO_TARGET_DIR, else target/. This run's raw
# output (criterion's, the reports, the testnet's logs) stays in
# <target>/bench-runs/<date>/.
set -euo pipefail

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
QUICK=0
ONLY=all
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --only) ONLY=${2:-}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument '$1'; usage:" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case "$ONLY" in
  all|criterion|testnet) ;;
  *) echo "--only takes criterion or testnet, not '$ONLY'" >&2; exit 2 ;;
esac
MODE=full
[ "$QUICK" = 1 ] && MODE=quick

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p "$TARGET"
TARGET=$(cd "$TARGET" && pwd)
export CARGO_TARGET_DIR=$TARGET
RUN=$TARGET/bench-runs/$(date -u +%Y%m%dT%H%M%SZ)
NET=$RUN/testnet
mkdir -p "$RUN/reports"
export CRITERION_HOME=$RUN/criterion

BEGAN=$(date +%s)
step() { echo "==> [$(($(date +%s) - BEGAN)) s] $*"; }

stop_testnet() {
  if [ -d "$NET" ]; then
    SHERD_TESTNET=$NET "$ROOT/testnet/down.sh" >/dev/null 2>&1 || true
    # Keep the nodes' logs; drop their chains and fragments (about 450 MB).
    find "$NET" -type f ! -name '*.log' -delete 2>/dev/null || true
  fi
  rm -rf "$RUN/scratch"
}
trap stop_testnet EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- criterion

# Every crate's criterion benchmarks in one cargo invocation: one feature
# resolution, so the benchmarks build once and do not rebuild each other's
# dependencies.
BENCHES=(-p sherd-fragments -p sherd-ledger -p sherd-consensus -p sherd-node)
run_criterion() {
  local args=(--noplot)
  if [ "$QUICK" = 1 ]; then
    # criterion's --quick stops a benchmark once its time is stable (at most
    # the group's measurement time); only the benchmarks the catalogue
    # shows (one regular expression over full ids), and the small states of
    # the scaling benchmarks.
    export SHERD_BENCH_SIZES=10000 SHERD_BENCH_FRAGMENTS=2000
    BENCHES+=(--bench fragments --bench ledger --bench bls --bench provider)
    args+=(--quick "^(fragments::(encode/|put/.*size=64MiB|get/.*size=64MiB|proof/.*chunks=2\^16)|ledger::(apply_block|verify|submit_proofs/[a-z-]+/proofs=1000+(,txs=10)?$)|consensus::(bls/verify|collector/decode\+add\+certify)|provider::(restart|prover))")
  else
    BENCHES+=(--bench fragments --bench ledger --bench commitment --bench bls --bench engine --bench provider)
  fi
  step "cargo bench ${BENCHES[*]} -- ${args[*]}"
  cargo bench --quiet --profile release "${BENCHES[@]}" -- "${args[@]}"
}

# ------------------------------------------------------------------ testnet

# The first of `count` consecutive loopback ports free for TCP and UDP.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
count = int(sys.argv[1])
for _ in range(200):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); base = s.getsockname()[1]; s.close()
    if base > 65535 - count:
        continue
    held = []
    try:
        for p in range(base, base + count):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                t = socket.socket(type=kind); held.append(t); t.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        for t in held: t.close()
    print(base); break
EOF
}

api_of() { sed -n 's/^api = "\(.*\)"/\1/p' "$1/config.toml"; }

# 4 validators and 6 providers in $NET; returns once every node answers
# and every provider is advertised on chain (as testnet/up.sh does).
start_testnet() {
  local base
  base=$(free_ports 20)
  [ -n "$base" ] || { echo "no run of 20 free loopback ports found" >&2; exit 1; }
  P2P_PORT=$base
  API_PORT=$((base + 10))
  API=http://127.0.0.1:$API_PORT
  step "starting a testnet of 4 validators and 6 providers in $NET (ports $base-$((base + 19)))"
  "$SHERD" testnet init --validators 4 --providers 6 --out "$NET" \
    --p2p-port "$P2P_PORT" --api-port "$API_PORT" >/dev/null
  for home in "$NET"/node*; do
    "$SHERD" node run --home "$home" >>"$home/stderr.log" 2>&1 &
    echo $! >"$home/pid"
  done
  for home in "$NET"/node*; do
    local ok=""
    for _ in $(seq 1 300); do
      if curl -fsS "http://$(api_of "$home")/v1/status" >/dev/null 2>&1; then ok=1; break; fi
      kill -0 "$(cat "$home/pid")" 2>/dev/null || break
      sleep 0.1
    done
    if [ -z "$ok" ]; then
      echo "$(basename "$home") did not start; the end of its log:" >&2
      tail -15 "$home/stderr.log" >&2
      exit 1
    fi
  done
  local want have=0
  want=$(grep -l '^\[provider\]' "$NET"/node*/config.toml | wc -l)
  for _ in $(seq 1 300); do
    have=$(curl -fsS "$API/v1/providers" 2>/dev/null |
      python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin)["providers"] if p.get("endpoint")))' 2>/dev/null ||
      echo 0)
    [ "$have" -ge "$want" ] && break
    sleep 0.2
  done
  [ "$have" -ge "$want" ] || { echo "only $have of $want providers advertised after 60 s; logs in $NET" >&2; exit 1; }
}

FAILED=()
REPORTS=()
# One `sherd bench …` report into $RUN/reports/NAME.json; a failure is
# noted in the record, and the run goes on.
report() {
  local kind=$1 name=$2
  shift 2
  step "sherd bench $kind $*"
  if "$SHERD" bench "$kind" --json "$@" >"$RUN/reports/$name.json" 2>"$RUN/reports/$name.log"; then
    REPORTS+=("--$kind" "$RUN/reports/$name.json")
  else
    echo "    failed (exit $?); the end of $RUN/reports/$name.log:" >&2
    tail -5 "$RUN/reports/$name.log" >&2
    FAILED+=("$kind $name")
  fi
}

run_testnet() {
  start_testnet
  local nodes=() rates duration
  for i in 0 1 2 3; do nodes+=(--node "http://127.0.0.1:$((API_PORT + i))"); done
  if [ "$QUICK" = 1 ]; then
    rates=(100 1000 2500) duration=5
  else
    rates=(100 1000 2000 5000 5500 7000) duration=15
  fi
  for rate in "${rates[@]}"; do
    report load "load-$rate" "${nodes[@]}" --faucet-key "$NET/faucet.key" \
      --rate "$rate" --duration "$duration"
  done
  local storage=(--node "$API" --faucet-key "$NET/faucet.key" --dir "$RUN/scratch")
  if [ "$QUICK" = 1 ]; then
    report storage storage-4KiB "${storage[@]}" --size 4KiB --count 5
    report storage storage-16MiB "${storage[@]}" --size 16MiB --count 2
  else
    report storage storage-256MiB "${storage[@]}" --size 256MiB --count 5
    report storage storage-4KiB "${storage[@]}" --size 4KiB --count 25
  fi
  step "stopping the testnet"
  stop_testnet
}

# -------------------------------------------------------------------- main

# What is measured: the commit, and whether the tree differs from it (before
# this run writes the history and BENCHMARKS.md).
COMMIT=$(git rev-parse HEAD)
DIRTY=()
[ -z "$(git status --porcelain)" ] || DIRTY=(--dirty)
CPU=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
CORES=$(nproc)
# How busy the machine was: on a shared machine, the first thing to check.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

step "building the sherd binary and the dashboard (release)"
cargo build --release --quiet -p sherd
cargo build --release --quiet -p sherd-benches
SHERD=$TARGET/release/sherd
DASHBOARD=$TARGET/release/sherd-bench-dashboard

SKIPPED=()
if [ "$ONLY" = testnet ]; then SKIPPED+=("criterion"); else run_criterion; fi
if [ "$ONLY" = criterion ]; then SKIPPED+=("the testnet"); else run_testnet; fi

NOTES=("Load average (1, 5, 15 min) $LOAD_BEFORE at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end, on $CORES cores.")
[ "${#SKIPPED[@]}" = 0 ] || NOTES+=("Skipped: ${SKIPPED[*]}.")
[ "${#FAILED[@]}" = 0 ] || NOTES+=("Failed: ${FAILED[*]} (logs in $RUN/reports).")
NOTE=()
[ "${#NOTES[@]}" = 0 ] || NOTE=(--note "${NOTES[*]}")
step "recording the run in benches/results/history.jsonl"
"$DASHBOARD" record --history benches/results/history.jsonl --mode "$MODE" \
  --commit "$COMMIT" ${DIRTY[@]+"${DIRTY[@]}"} --date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --cpu "$CPU" --cores "$CORES" --criterion "$CRITERION_HOME" \
  ${REPORTS[@]+"${REPORTS[@]}"} ${NOTE[@]+"${NOTE[@]}"}
"$DASHBOARD" render --history benches/results/history.jsonl \
  --catalogue benches/figures.toml --out "$TARGET/bench-dashboard" \
  --benchmarks-md BENCHMARKS.md
step "done in $(($(date +%s) - BEGAN)) s: $TARGET/bench-dashboard/index.html"
