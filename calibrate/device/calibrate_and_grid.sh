#!/usr/bin/env bash
# Issue 7, one call on a 4-GPU machine (under 8 minutes), after calibrate/device/build_device.sh filled .device-exec/:
#   run with carry [".device-exec"]:  bash calibrate/device/calibrate_and_grid.sh
#   1. `ringlab calibrate` on all 4 GPUs: kernel microbenchmarks on GPU 0 (166 block shapes, ~6 s of kernels), NCCL
#      across the 4 (about a minute in all; `ringlab calibrate --dry-run` prints the plan);
#   2. the validation grid with the same binary: W in {2,4} x S in {16384, 65536} x (H, Hkv) in {(32,32), (32,8),
#      (8,8), (8,2)} x D in {64, 128}, both methods, forward and backward, then S=262144 at H=8 Hkv=2 D=128 (W=2, 4);
#      new runs stop starting after GRID_BUDGET_S seconds so everything comes back.
# Since 5226c97 every grid run also warms up for 200 ms of GPU time and writes each timed iteration's timeline
# (grid/<point>.<method>[.backward].iter<k>.json); grid/clocks.csv samples the GPUs' clocks meanwhile.
# Files in $OUT (5, 6 with .device-exec/ringlab_gpu_executor_test: executor_test.log): env.log, calibrate.log, calibrate_samples.json, calibrated_profile.json (microbenchmarks only),
# grid.tar.gz (grid/<point>.{log,summary.json,<method>[.backward].json}). Offline, turn them into the profile and
# the validation table with calibrate/scripts/from_device.sh (see docs/DESIGN.md "Calibration").
set -uo pipefail
D=${D:-.device-exec}  # the folder calibrate/device/build_device.sh filled (carry it)
OUT=${OUT:-/tmp/ringlab_calgrid_out}
GRID_BUDGET_S=${GRID_BUDGET_S:-230}  # worst case: 150 (calibrate) + 230 + 90 (the last run started) < 8 min
BIN=$D/ringlab-cal
mkdir -p "$OUT" /tmp/grid
source $D/device_env.sh > "$OUT/env.log" 2>&1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export LD_LIBRARY_PATH=$D:${NCCL_LIB_DIR:-}:${LD_LIBRARY_PATH:-}
COMMIT=$(tr '\n' ' ' < $D/commit.txt | sed 's/ *$//')
{ date -u; echo "commit $COMMIT"; echo "GRID_WARMUP_MS=${GRID_WARMUP_MS:-200} PREHEAT_MS=${PREHEAT_MS:-0}"; nvidia-smi --query-gpu=index,name,driver_version --format=csv;
  env | grep -E '^RINGLAB_|^NCCL_' | sort; } >> "$OUT/env.log" 2>&1
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }

# Knobs: GRID_WARMUP_MS (GPU time each run warms up, default 200), PREHEAT_MS (the sustained microbenchmark's
# pre-heat, default 0), SKIP_TESTS=1 (no executor tests), SKIP_CALIBRATE=1 (the grid alone: how the earlier mma.sync
# grid of bench/results/calibration_grid/ was measured, then with RINGLAB_BWD_KERNEL=v5 and 200 ms less warm-up).
GRID_WARMUP_MS=${GRID_WARMUP_MS:-200}
PREHEAT_MS=${PREHEAT_MS:-0}
if [ -x $D/ringlab_gpu_executor_test ] && [ "${SKIP_TESTS:-0}" != 1 ]; then
  el "== 0. executor tests (4 GPUs)"
  timeout 150 $D/ringlab_gpu_executor_test > "$OUT/executor_test.log" 2>&1
  echo "executor tests rc=$?"; grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests ran" "$OUT/executor_test.log" | head -8
fi
# GPU clocks, power and throttle reasons while everything runs (read only: nothing about the card is changed).
nvidia-smi --query-gpu=timestamp,index,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
  --format=csv -lms 250 > /tmp/grid/clocks.csv 2>&1 &
SMI=$!

if [ "${SKIP_CALIBRATE:-0}" != 1 ]; then
el "== 1. ringlab calibrate (4 GPUs)"
timeout 150 $BIN calibrate --gpus 4 --base sim/profiles/h100_sxm.json --commit "$COMMIT" \
  --out "$OUT/calibrated_profile.json" --samples "$OUT/calibrate_samples.json" \
  > "$OUT/calibrate.log" 2>&1
echo "calibrate rc=$?"; grep -E "^calibrate: (device|kernels|NCCL|wrote)|error" "$OUT/calibrate.log" | head -8

el "== 1b. kernel microbenchmarks again, sustained (GPU 0, 100 ms of each kernel first; into the grid tarball)"
timeout 120 $BIN calibrate --gpus 1 --skip-comm --sustain-ms 100 --preheat-ms $PREHEAT_MS --base sim/profiles/h100_sxm.json --commit "$COMMIT" \
  --out /tmp/grid/calibrated_profile_sustained.json --samples /tmp/grid/calibrate_samples_sustained.json \
  > /tmp/grid/calibrate_sustained.log 2>&1
echo "sustained calibrate rc=$?"
fi

el "== 2. grid"
T1=$(date +%s)
n=0
run() {  # W S H HKV D
  local W=$1 S=$2 H=$3 K=$4 DIM=$5
  if [ $(( $(date +%s) - T1 )) -gt "$GRID_BUDGET_S" ]; then echo "skip W=$W S=$S H=$H Hkv=$K D=$DIM (time)"; return; fi
  local name=w${W}_s${S}_h${H}_k${K}_d${DIM}
  timeout 90 $BIN run --gpus $W --seq $S --heads $H --kv-heads $K --dim $DIM --batch 1 --sharding head-tail \
    --method both --pass both --iters 5 --warmup 2 --warmup-ms $GRID_WARMUP_MS --json /tmp/grid/$name.summary.json --trace /tmp/grid/$name.json \
    --trace-iterations \
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
kill $SMI 2>/dev/null
cp "$OUT/env.log" /tmp/grid/env.log
tar czf "$OUT/grid.tar.gz" -C /tmp grid
el "== done: $n grid points, $(ls /tmp/grid/*.summary.json 2>/dev/null | wc -l) summaries"
ls -la "$OUT"
