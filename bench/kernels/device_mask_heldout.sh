#!/usr/bin/env bash
# Held-out masked-kernel timings for the simulator's masked-kernel cost (bench/results/mask_kernels_h100.md, "The
# simulator against these kernels"): ours only, the "heldout" case set of mask_peer_bench.py (document lengths and
# windows the fit never saw) at shapes the fit never saw, each with our dense causal kernel in the same run.
#   bash bench/kernels/device_mask_heldout.sh BINS_TAR OUT
# BINS_TAR: bench/pack_device_binaries.sh's bins.tar.xz holding bench/kernels/ringlab_mask_bench. Writes
# OUT/mask_heldout.tar.gz (one JSON per shape and the log); prints a short table last.
set -uo pipefail
bins=$1 out=$2
b=$(mktemp -d)
tar xJf "$bins" -C "$b" || { echo "device_mask_heldout: cannot unpack $bins" >&2; exit 2; }
export LD_LIBRARY_PATH=$b/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
work=$(mktemp -d)
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > "$work/gpu.csv" 2>&1
# (seq, heads, dim): none of them among the fit's shapes (S 8k/32k/128k x H 8/32 at D 128, S 32k H 32 D 64).
for shape in 16384,16,128 24576,24,128 65536,16,128 98304,12,128 16384,64,64 49152,8,64; do
  IFS=, read -r s h d <<< "$shape"
  timeout 120 python3 bench/kernels/mask_peer_bench.py --ours "$b/bench/kernels/ringlab_mask_bench" --peers none \
    --iters 5 --case-set heldout --seq "$s" --heads "$h" --dim "$d" --json "$work/heldout_S${s}_H${h}_D${d}.json" \
    >> "$work/bench.log" 2>&1
  echo "S=$s H=$h D=$d rc=$?" | tee -a "$work/bench.log"
done
tar czf "$out/mask_heldout.tar.gz" -C "$work" .
python3 - "$work" <<'PY'
import glob, json, sys
for f in sorted(glob.glob(sys.argv[1] + "/heldout_*.json")):
    r = json.load(open(f))
    o = r.get("ours", {})
    if "cases" not in o:
        print(f, "no ours:", str(o)[:200]); continue
    d = o["dense_causal"]
    print(f"S{r['seq']} H{r['heads']} D{r['dim']} dense fwd {d['fwd_ms']:.3f} fb {d['fwdbwd_ms']:.3f} | " +
          " ".join(f"{k.split()[-1]}:{v['fwd_ms']:.3f}/{v['fwdbwd_ms']:.3f}" for k, v in o["cases"].items()))
PY
