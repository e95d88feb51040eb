#!/usr/bin/env bash
# Random odd shapes and masks through our GPU kernels against the CPU float64 reference, on one GPU in one call
# (bench/kernels/odd_shape_sweep.py), plus the masked kernel tests:
#   bash bench/kernels/device_odd_shapes.sh PREBUILT OUT [COUNT] [SEED]
# PREBUILT: bench/pack_device_binaries.sh's folder holding apps/ringlab and tests/cuda/ringlab_cuda_mask_test.
# Writes OUT/odd_shapes.tar.gz (odd_shapes.json, the logs); prints the summary last.
set -uo pipefail
prebuilt=$1 out=$2 count=${3:-80} seed=${4:-7}
source bench/device_env.sh
source bench/device_prebuilt.sh "$prebuilt"
work=$(mktemp -d)
timeout 100 "$PREBUILT_DIR/tests/cuda/ringlab_cuda_mask_test" > "$work/mask_test.log" 2>&1
echo "mask_test rc=$?" | tee -a "$work/mask_test.log"
python3 bench/kernels/odd_shape_sweep.py --ringlab "$PREBUILT_DIR/apps/ringlab" --count "$count" --seed "$seed" \
  --timeout 60 --budget 380 --out "$work" > "$work/summary.md" 2> "$work/sweep.log"
echo "odd_shape_sweep rc=$?" | tee -a "$work/summary.md"
tar czf "$out/odd_shapes.tar.gz" -C "$work" .
grep -E "PASSED|FAILED" "$work/mask_test.log" | head -5
cat "$work/summary.md"
