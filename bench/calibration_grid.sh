#!/usr/bin/env bash
# Real runs for simulator calibration and validation (issue 7). bench/calibrate_and_grid.sh runs `ringlab calibrate`
# and this same grid in one call (the current pipeline); this script is the grid alone, as run on 2026-11-27,
# on a 4-GPU machine after bench/cp/build_device.sh
# filled .device-exec/: `bash bench/calibration_grid.sh` with carry [".device-exec"].
# Grid: W in {2,4} x S in {16384, 65536} x (H, Hkv) in {(32,32), (32,8), (8,8), (8,2)} x D in {64, 128}, both methods,
# forward and backward, plus S=262144 at H=8 Hkv=2 D=128; the largest points run last. New runs stop starting after
# BUDGET_S seconds so the traces always come back. Everything lands in $OUT/grid.tar.gz (traces + JSON summaries).
set -uo pipefail
D=.device-exec
OUT=${OUT:-/tmp/ringlab_grid_out}
BUDGET_S=${BUDGET_S:-290}
mkdir -p "$OUT" /tmp/grid
source $D/device_env.sh > /tmp/grid/env.log 2>&1
export NCCL_NVLS_ENABLE=0 LD_LIBRARY_PATH=$D:${NCCL_LIB_DIR:-}:${LD_LIBRARY_PATH:-}
export RINGLAB_BWD_KERNEL=${RINGLAB_BWD_KERNEL:-v5}
T0=$(date +%s)
n=0
run() {  # W S H HKV D
  local W=$1 S=$2 H=$3 K=$4 DIM=$5
  if [ $(( $(date +%s) - T0 )) -gt "$BUDGET_S" ]; then echo "skip W=$W S=$S H=$H Hkv=$K D=$DIM (time)"; return; fi
  local name=w${W}_s${S}_h${H}_k${K}_d${DIM}
  timeout 90 $D/ringlab-gpu run --gpus $W --seq $S --heads $H --kv-heads $K --dim $DIM --batch 1 --sharding head-tail \
    --method both --pass both --iters 5 --warmup 2 --json /tmp/grid/$name.summary.json --trace /tmp/grid/$name.json \
    > /tmp/grid/$name.log 2>&1
  echo "[+$(( $(date +%s) - T0 ))s] $name rc=$?"
  n=$((n + 1))
}
for S in 16384 65536; do
  for W in 2 4; do
    for HK in "32 32" "32 8" "8 8" "8 2"; do
      for DIM in 128 64; do run $W $S $HK $DIM; done
    done
  done
done
run 2 262144 8 2 128
run 4 262144 8 2 128
tar czf "$OUT/grid.tar.gz" -C /tmp grid
echo "runs: $n, elapsed $(( $(date +%s) - T0 )) s"; ls /tmp/grid | wc -l
