#!/usr/bin/env bash
# Masked-kernel timings for the simulator's masked-kernel cost (calibrate/scripts/masked_cost_fit.py;
# bench/results/mask_kernels_h100.md, "The simulator's masked-kernel terms"): ours only, each shape with our dense
# causal kernel in the same run. Two sets, fixed before either is measured:
#   coverage  the fit's data: mask_peer_bench.py's default "issue19" cases (documents 2k-8k, 256-1k, long+short;
#             windows 1024, 4096; documents + window 1024) at S 8k/32k/128k x H 8/32, D 128, and S 32k H 32 D 64;
#   heldout   the check: the "heldout" case set (document lengths and windows the fit never saw) at shapes the fit
#             never saw.
#   bash bench/kernels/device_mask_heldout.sh BINS_TAR OUT [coverage|heldout (default)]
# DENSE_EACH=1: our dense kernel timed again right before every case (mask_peer_bench.py --dense-each), which the fit
# then divides by (the card's clock drifts over a run).
# BINS_TAR: bench/pack_device_binaries.sh's bins.tar.xz holding bench/kernels/ringlab_mask_bench. Writes
# OUT/mask_SET.tar.gz (one JSON per shape and the log); prints a short table last.
set -uo pipefail
bins=$1 out=$2 set=${3:-heldout}
case $set in
  # (seq, heads, dim)
  coverage) shapes="8192,8,128 8192,32,128 32768,8,128 32768,32,64 131072,8,128 131072,32,128"; cases=issue19 ;;
  heldout) shapes="16384,16,128 24576,24,128 65536,16,128 98304,12,128 16384,64,64 49152,8,64"; cases=heldout ;;
  *) echo "device_mask_heldout: set must be coverage or heldout, not '$set'" >&2; exit 2 ;;
esac
b=$(mktemp -d)
tar xJf "$bins" -C "$b" || { echo "device_mask_heldout: cannot unpack $bins" >&2; exit 2; }
export LD_LIBRARY_PATH=$b/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
work=$(mktemp -d)
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > "$work/gpu.csv" 2>&1
for shape in $shapes; do
  IFS=, read -r s h d <<< "$shape"
  timeout 120 python3 bench/kernels/mask_peer_bench.py --ours "$b/bench/kernels/ringlab_mask_bench" --peers none \
    --iters 5 ${DENSE_EACH:+--dense-each} --case-set $cases --seq "$s" --heads "$h" --dim "$d" \
    --json "$work/${set}_S${s}_H${h}_D${d}.json" \
    >> "$work/bench.log" 2>&1
  echo "S=$s H=$h D=$d rc=$?" | tee -a "$work/bench.log"
done
tar czf "$out/mask_$set.tar.gz" -C "$work" .
python3 - "$work" "$set" <<'PY'
import glob, json, sys
for f in sorted(glob.glob(f"{sys.argv[1]}/{sys.argv[2]}_*.json")):
    r = json.load(open(f))
    o = r.get("ours", {})
    if "cases" not in o:
        print(f, "no ours:", str(o)[:200]); continue
    d = o["dense_causal"]
    print(f"S{r['seq']} H{r['heads']} D{r['dim']} dense fwd {d['fwd_ms']:.3f} fb {d['fwdbwd_ms']:.3f} | " +
          " ".join(f"{k.split()[-1]}:{v['fwd_ms']:.3f}/{v['fwdbwd_ms']:.3f}" for k, v in o["cases"].items()))
PY
