#!/usr/bin/env bash
# The fragments round trip, end to end, with the release binary:
# encode a random file into k + m fragments, lose m of them (one deleted,
# the others corrupted or truncated), inspect, decode, compare, then prove
# a chunk and verify the proof (and see a tampered proof refused).
#
#   testnet/roundtrip.sh                 # 64 MiB, k=10, m=4
#   SIZE_MIB=512 K=16 M=8 testnet/roundtrip.sh
#
# Until the local testnet exists (see the issues), this is sherd's main job.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-64}
K=${K:-10}
M=${M:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is needed: install Rust from https://rustup.rs, then run this again" >&2
  exit 1
fi

echo "==> building sherd (release)"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p sherd
SHERD="$ROOT/target/release/sherd"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sherd-roundtrip.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

echo "==> a random ${SIZE_MIB} MiB file"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > original.bin

echo "==> encode: k=$K data + m=$M parity fragments"
"$SHERD" fragments encode original.bin --data "$K" --parity "$M" --out object
ls object | head -3; echo "   … ($(ls object | wc -l) files); key in object.key"

echo "==> lose $M fragments: delete one, corrupt and truncate the others"
rm object/fragment-0000.sherd
lost=1
i=1
while [ "$lost" -lt "$M" ]; do
  f=$(printf 'object/fragment-%04d.sherd' $((i * (K + M - 1) / M)))
  if [ $((lost % 2)) -eq 1 ]; then
    printf 'garbage' | dd of="$f" bs=1 seek=4096 conv=notrunc status=none
  else
    truncate -s -1000 "$f"
  fi
  lost=$((lost + 1)); i=$((i + 1))
done
"$SHERD" fragments inspect object || true

echo "==> decode from what is left"
"$SHERD" fragments decode object --out rebuilt.bin
cmp original.bin rebuilt.bin
echo "   rebuilt.bin is byte-identical to original.bin"

echo "==> storage proof for a challenged chunk"
CHUNKS=$(sed -n 's/.*"chunks": \([0-9]*\).*/\1/p' object/manifest.json)
BEACON=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
CONTRACT=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
J=$("$SHERD" fragments challenge --beacon "$BEACON" --contract "$CONTRACT" --fragment $((K + M - 1)) --period 1 --chunks "$CHUNKS")
echo "   the beacon challenges chunk $J of fragment $((K + M - 1))"
"$SHERD" fragments prove object --fragment $((K + M - 1)) --chunk "$J" --out proof.json
"$SHERD" fragments verify proof.json --manifest object
# Change the chunk's first hex digit: the proof must no longer verify.
sed -E 's/"chunk": "0/"chunk": "Z/; s/"chunk": "[1-9a-f]/"chunk": "0/; s/"chunk": "Z/"chunk": "1/' proof.json > tampered.json
set +e
verdict=$("$SHERD" fragments verify tampered.json --manifest object)
code=$?
set -e
echo "$verdict"
if [ "$code" -ne 1 ] || ! printf '%s' "$verdict" | grep -q "invalid: the proof leads to root"; then
  echo "the tampered proof was not refused for the right reason (exit $code)" >&2
  exit 1
fi
echo "==> round trip done"
