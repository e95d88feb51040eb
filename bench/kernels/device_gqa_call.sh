#!/usr/bin/env bash
# One device call on one H100, from the repository root, with binaries packed on the CPU machine:
#   bash bench/kernels/device_gqa_call.sh PREBUILT   (PREBUILT: bench/pack_device_binaries.sh's folder with
#   bench/kernels/ringlab_attention_bench)
# Our kernels on the GQA held-out shapes (bench/kernels/heldout_shapes_gqa.txt, run_shapes.sh, no peer), timed
# sustained (500 ms back to back, 7 iterations) as the profiles' coverage and held-out shapes were; then compare with
# calibrate/scripts/kernel_heldout.py --measured (a JSON {"card", "date", "ours": shapes_ours.json's records}).
# Logs and JSON under $OUT/gqa; the table printed last.
set -uo pipefail
source bench/device_env.sh
source bench/device_prebuilt.sh "${1:?PREBUILT folder}"
mkdir -p "$OUT/gqa"
BENCH="$PREBUILT_DIR/bench/kernels/ringlab_attention_bench" SHAPES=bench/kernels/heldout_shapes_gqa.txt \
  OUT="$OUT/gqa" BACKENDS=none ITERS=7 SUSTAIN_MS=500 timeout 300 bash bench/kernels/run_shapes.sh > "$OUT/gqa/table.txt" 2>&1
echo "gqa rc=$?"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/card.txt"
cat "$OUT/gqa/table.txt"
