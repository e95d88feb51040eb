#!/usr/bin/env bash
# One call on one GPU, binaries built on the CPU machine (bench/pack_device_binaries.sh):
#   1. every GPU test binary of the tree (kernels, backward, masks, executor, Ulysses, fault) against float64;
#   2. the random held-out shapes (bench/kernels/heldout_shapes_random.txt): our kernels and PyTorch SDPA (FLASH and
#      CUDNN) timed sustained in this call, for calibrate/scripts/kernel_heldout.py on the CPU machine;
#   3. COUNT more random odd shapes and masks through `ringlab run --verify` (bench/kernels/odd_shape_sweep.py).
#   bash bench/device_head_check.sh PREBUILT OUT [COUNT] [SEED]
# SKIP_SHAPES=1 leaves step 2 out; BUDGET_S (default 540) bounds the whole call (step 3 gets what is left).
# Writes OUT/head_check.tar.gz (logs, shapes_ours.json, shapes_peer.json, odd_shapes.json); prints a table last.
set -uo pipefail
prebuilt=$1 out=$2 count=${3:-40} seed=${4:-11}
source bench/device_env.sh > /dev/null 2>&1
source bench/device_prebuilt.sh "$prebuilt"
export NCCL_NVLS_ENABLE=0
work=$(mktemp -d)
T0=$(date +%s)
{ date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; echo "binaries of commit ${COMMIT:-unknown}"; } \
  > "$work/env.log" 2>&1
rows=()
for t in tests/cuda/ringlab_cuda_kernels_test tests/cuda/ringlab_cuda_backward_test tests/cuda/ringlab_cuda_mask_test \
         tests/gpu/ringlab_gpu_executor_test tests/gpu/ringlab_ulysses_gpu_test tests/gpu/ringlab_gpu_fault_test; do
  name=$(basename $t)
  if [ ! -x "$PREBUILT_DIR/$t" ]; then rows+=("| $name | not packed |"); continue; fi
  timeout 150 "$PREBUILT_DIR/$t" > "$work/$name.log" 2>&1
  rc=$?
  passed=$(grep -oE "^\[  PASSED  \] [0-9]+" "$work/$name.log" | grep -oE "[0-9]+$")
  skipped=$(grep -oE "^\[  SKIPPED \] [0-9]+" "$work/$name.log" | grep -oE "[0-9]+$")
  failed=$(grep -cE "^\[  FAILED  \] .*\." "$work/$name.log")
  rows+=("| $name | rc $rc, ${passed:-0} passed, ${skipped:-0} skipped, $failed failed |")
  echo "[+$(( $(date +%s) - T0 ))s] $name rc=$rc"
done
if [ -z "${SKIP_SHAPES:-}" ]; then
  BENCH=$PREBUILT_DIR/bench/kernels/ringlab_attention_bench SHAPES=bench/kernels/heldout_shapes_random.txt \
    OUT=$work ITERS=7 SUSTAIN_MS=500 BACKENDS=FLASH_ATTENTION,CUDNN_ATTENTION \
    timeout 260 bash bench/kernels/run_shapes.sh > "$work/shapes_table.md" 2>&1
  rc=$?
  rows+=("| random held-out shapes (ours, SDPA FLASH/CUDNN) | rc $rc, $(python3 -c "import json;print(len(json.load(open('$work/shapes_ours.json'))))" 2>/dev/null || echo 0) ours records |")
  echo "[+$(( $(date +%s) - T0 ))s] shapes rc=$rc"
fi
left=$(( ${BUDGET_S:-540} - ($(date +%s) - T0) ))
python3 bench/kernels/odd_shape_sweep.py --ringlab "$PREBUILT_DIR/apps/ringlab" --count "$count" --seed "$seed" \
  --timeout 60 --budget $(( left > 60 ? left - 30 : 30 )) --out "$work" > "$work/odd_summary.md" 2> "$work/odd_sweep.log"
rows+=("| odd shapes vs float64 (count $count, seed $seed) | rc $? |")
tar czf "$out/head_check.tar.gz" -C "$work" .
cat "$work/env.log"; [ -f "$work/shapes_table.md" ] && tail -30 "$work/shapes_table.md"; cat "$work/odd_summary.md" | tail -15
echo "| check | result |"; echo "|---|---|"; printf '%s\n' "${rows[@]}"
