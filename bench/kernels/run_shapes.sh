#!/usr/bin/env bash
# On a GPU machine, from the repository root: our kernels and the peer (PyTorch SDPA FLASH and CUDNN) on a list of
# single-GPU shapes, same call, same card. One line per shape in SHAPES: "B H S D mask [Hkv]" (mask causal|full; Hkv
# < H is grouped-query attention: ours with --kv-heads, the peer with enable_gqa).
#   BENCH=path/to/ringlab_attention_bench SHAPES=file OUT=dir bash bench/kernels/run_shapes.sh
# ITERS (default 20) timed repetitions; SUSTAIN_MS (default 0) > 0 times both after that much GPU time back to back
# (the clocks the power limit allows); BACKENDS (default FLASH_ATTENTION,CUDNN_ATTENTION) the peer's SDPA backends,
# "none" for ours alone.
# Writes $OUT/shapes_ours.json and $OUT/shapes_peer.json (all records), logs in $OUT/shapes.log; prints a table.
set -uo pipefail
: "${BENCH:?BENCH=ringlab_attention_bench path}" "${SHAPES:?SHAPES=file of 'B H S D mask' lines}" "${OUT:?OUT=dir}"
ITERS=${ITERS:-20}
SUSTAIN_MS=${SUSTAIN_MS:-0}
BACKENDS=${BACKENDS:-FLASH_ATTENTION,CUDNN_ATTENTION}
tmp=$(mktemp -d)
# The peer in one process over the whole list (one PyTorch start), then each shape's records for ours' ratio columns.
if [ "$BACKENDS" = none ]; then
  echo "[]" > $tmp/allpeer.json
else
  python3 bench/peer/peer_bench.py sdpa --shapes "$SHAPES" --iters $ITERS --sustain-ms $SUSTAIN_MS --backends $BACKENDS \
    --json $tmp/allpeer.json >> "$OUT/shapes.log" 2>&1 || echo "peer failed (rc $?): $OUT/shapes.log"
fi
n=0
while read -r b h s d mask kv; do
  case "$b" in ''|'#'*) continue ;; esac
  n=$((n + 1))
  python3 - "$tmp/allpeer.json" "$tmp/peer_$n.json" $b $h $s $d $mask ${kv:-$h} <<'PY' || echo "peer shape $n ($b $h $s $d $mask ${kv:-$h}) missing"
import json, sys
rows = json.load(open(sys.argv[1])) if open(sys.argv[1]).read(1) else []
b, h, s, d, causal = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7] == "causal"
kv = int(sys.argv[8])
mine = [r for r in rows if (r.get("B"), r.get("H"), r.get("S"), r.get("D"), r.get("causal"), r.get("Hkv", r.get("H")))
        == (b, h, s, d, causal, kv)]
json.dump(mine, open(sys.argv[2], "w"))
sys.exit(0 if mine or not rows else 1)
PY
  "$BENCH" --batch $b --heads $h --kv-heads ${kv:-$h} --seqs $s --dims $d --masks $mask --iters $ITERS --sustain-ms $SUSTAIN_MS \
    --peer $tmp/peer_$n.json --json $tmp/ours_$n.json >> "$OUT/shapes.log" 2>&1 || echo "ours shape $n ($b $h $s $d $mask) failed"
done < "$SHAPES"
python3 - "$tmp" "$OUT" <<'PY'
import glob, json, sys
tmp, out = sys.argv[1], sys.argv[2]
def gather(pat):
    rows = []
    for f in sorted(glob.glob(f"{tmp}/{pat}_*.json"), key=lambda p: int(p.rsplit("_", 1)[1][:-5])):
        rows += json.load(open(f))
    return rows
ours, peer = gather("ours"), gather("peer")
json.dump(ours, open(f"{out}/shapes_ours.json", "w"), indent=1)
json.dump(peer, open(f"{out}/shapes_peer.json", "w"), indent=1)
print(f"{'B':>3} {'H':>3} {'Hkv':>3} {'S':>7} {'D':>4} {'mask':>6} {'fwd_ms':>9} {'/FLASH':>7} {'/CUDNN':>7} {'fb_ms':>9} {'/FLASH':>7} {'/CUDNN':>7}")
for r in ours:
    f = lambda k: r.get(k) or float("nan")
    rf = lambda a, b: a / b if b else float("nan")
    print(f"{r['B']:>3} {r['H']:>3} {r.get('Hkv', r['H']):>3} {r['S']:>7} {r['D']:>4} {'causal' if r['causal'] else 'full':>6} {r['fwd_ms']:>9.3f} "
          f"{rf(r['fwd_tflops'], r.get('flash_fwd_tflops')):>7.2f} {rf(r['fwd_tflops'], r.get('cudnn_fwd_tflops')):>7.2f} "
          f"{r['fwdbwd_ms']:>9.3f} {rf(r['fwdbwd_tflops'], r.get('flash_fwdbwd_tflops')):>7.2f} "
          f"{rf(r['fwdbwd_tflops'], r.get('cudnn_fwdbwd_tflops')):>7.2f}")
PY
rm -rf "$tmp"
