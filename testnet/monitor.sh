#!/usr/bin/env bash
# A Prometheus for the local testnet: scrapes GET /metrics of every node
# (the API addresses in the nodes' config.toml), keeps its data and config in
# the testnet's prometheus/ folder, listens on a free loopback port and
# prints its URL. Prometheus is Debian's (`apt-get install prometheus`).
#
#   testnet/monitor.sh           # start it (or say where it runs)
#   testnet/monitor.sh check [EXPR…]   # every node's target up, every panel of the
#                                # Grafana dashboard (testnet/grafana/sherd.json) with
#                                # data, the chain's histograms with samples, and each
#                                # PromQL EXPR above 0; exits non-zero otherwise
#   testnet/monitor.sh stop      # stop it (testnet/down.sh does too)
#   MONITOR_PORT=9090 testnet/monitor.sh   # this port instead of a free one
#
# The testnet is $SHERD_TESTNET (default testnet/.local), as for up.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${SHERD_TESTNET:-$ROOT/testnet/.local}
MON="$DIR/prometheus"
DASHBOARD="$ROOT/testnet/grafana/sherd.json"

running() { [ -f "$MON/pid" ] && kill -0 "$(cat "$MON/pid")" 2>/dev/null; }
url() { echo "http://127.0.0.1:$(cat "$MON/port")"; }

stop() {
  if running; then
    pid=$(cat "$MON/pid")
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "stopped prometheus (pid $pid)"
  fi
  rm -f "$MON/pid"
}

check() {
  running || { echo "prometheus is not running: testnet/monitor.sh" >&2; exit 1; }
  python3 - "$(url)" "$DASHBOARD" "$(ls -d "$DIR"/node*/config.toml | wc -l)" "$@" <<'EOF'
import json, math, sys, time, urllib.parse, urllib.request

base, dashboard, nodes, extra = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]

def get(path, **params):
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{base}{path}?{query}", timeout=10) as r:
        return json.load(r)["data"]

# Targets: every node scraped, and up (the first scrapes take a moment).
for _ in range(30):
    targets = get("/api/v1/targets")["activeTargets"]
    up = [t for t in targets if t["health"] == "up"]
    if len(up) == nodes:
        break
    time.sleep(1)
for t in sorted(targets, key=lambda t: t["labels"].get("node", "")):
    print(f"  target {t['labels'].get('node', '?'):7} {t['scrapeUrl']:40} {t['health']} {t.get('lastError', '')}")
failed = len(up) != nodes
if failed:
    print(f"only {len(up)} of {nodes} nodes are up", file=sys.stderr)

# Every panel of the dashboard has data (some of its queries may have none
# yet: refusals by reason appear with the first refusal). A rate needs two
# scrapes of a series inside its window: on a busy machine the first ones
# can come late, so each panel is asked again for up to a minute.
def panel_series(panel):
    series = 0
    for target in panel.get("targets", []):
        expr = target["expr"].replace("$__rate_interval", "1m")
        series += len(get("/api/v1/query", query=expr)["result"])
    return series

deadline = time.monotonic() + 60
for panel in json.load(open(dashboard))["panels"]:
    series = panel_series(panel)
    while not series and time.monotonic() < deadline:
        time.sleep(2)
        series = panel_series(panel)
    print(f"  {'ok' if series else 'NO DATA':7} panel {panel['title']}: {series} series")
    failed = failed or not series

# The histograms every running chain feeds have samples, and each EXPR
# given is above 0.
musts = [
    "sum(sherd_finality_latency_seconds_count)",
    "sum(sherd_block_execution_seconds_count)",
    "sum(sherd_vote_collection_seconds_count)",
] + extra
for expr in musts:
    result = get("/api/v1/query", query=expr)["result"]
    value = float(result[0]["value"][1]) if result else math.nan
    ok = value > 0
    print(f"  {'ok' if ok else 'ZERO':7} {expr} = {value}")
    failed = failed or not ok
sys.exit(1 if failed else 0)
EOF
}

case "${1:-start}" in
  start) ;;
  stop) stop; exit 0 ;;
  check) shift; check "$@"; exit 0 ;;
  *) echo "usage: testnet/monitor.sh [start|check|stop]" >&2; exit 2 ;;
esac

if ! command -v prometheus >/dev/null 2>&1; then
  echo "prometheus is needed: apt-get install prometheus (Debian's package), then run this again" >&2
  exit 1
fi
if ! ls "$DIR"/node*/config.toml >/dev/null 2>&1; then
  echo "no testnet in $DIR: start one with testnet/up.sh" >&2
  exit 1
fi
if running; then
  echo "==> prometheus already running (pid $(cat "$MON/pid")): $(url)"
  exit 0
fi

mkdir -p "$MON/data"
port=${MONITOR_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

# One target per node, labelled with its name and role.
{
  echo "# Written by testnet/monitor.sh from the nodes' config.toml; rewritten at each start."
  echo "global:"
  echo "  scrape_interval: 2s"
  echo "  evaluation_interval: 2s"
  echo "scrape_configs:"
  echo "  - job_name: sherd"
  echo "    static_configs:"
  for home in "$DIR"/node*; do
    [ -f "$home/config.toml" ] || continue
    api=$(sed -n 's/^api = "\(.*\)"/\1/p' "$home/config.toml")
    role=validator
    grep -q '^\[provider\]' "$home/config.toml" && role=provider
    [ -f "$home/validator.key" ] || [ "$role" = provider ] || role=full
    echo "      - targets: ['$api']"
    echo "        labels: { node: '$(basename "$home")', role: '$role' }"
  done
} > "$MON/prometheus.yml"

prometheus --config.file="$MON/prometheus.yml" --storage.tsdb.path="$MON/data" \
  --web.listen-address="127.0.0.1:$port" >>"$MON/prometheus.log" 2>&1 &
echo $! > "$MON/pid"
echo "$port" > "$MON/port"
for _ in $(seq 1 100); do
  curl -fsS "$(url)/-/ready" >/dev/null 2>&1 && break
  if ! running; then
    echo "prometheus did not start; the end of its log:" >&2
    tail -15 "$MON/prometheus.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "==> prometheus scraping $(grep -c "targets:" "$MON/prometheus.yml") nodes: $(url)"
echo "    targets:  $(url)/targets"
echo "    a query:  $(url)/graph?g0.expr=histogram_quantile(0.99%2C%20sum%20by%20(le)%20(rate(sherd_finality_latency_seconds_bucket%5B1m%5D)))"
echo "    Grafana:  import testnet/grafana/sherd.json, with this Prometheus as its data source"
echo "    data and log in $MON; testnet/monitor.sh stop (or testnet/down.sh) stops it"
