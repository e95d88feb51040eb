#!/usr/bin/env bash
# One device call on one H100, from the repository root, with binaries packed on the CPU machine:
#   bash bench/kernels/device_gqa_mma_call.sh PREBUILT   (PREBUILT: bench/pack_device_binaries.sh's folder with
#   tests/cuda/ringlab_cuda_{kernels,backward}_test, bench/kernels/ringlab_attention_bench and, built from the commit
#   before the kernel change, bench/kernels/ringlab_attention_bench_old)
# 1. the CUDA tests of the portable (mma) and wgmma kernels (float64 reference, poisoned outputs);
# 2. A/B timing of the mma kernels, old binary vs new, interleaved (bench/kernels/ab_old_new.sh with BENCH_ARGS);
# 3. our kernels on the GQA held-out shapes (bench/kernels/heldout_shapes_gqa.txt, run_shapes.sh, no peer), timed
#    sustained (500 ms back to back, 7 iterations) as the profiles' coverage and held-out shapes were.
# Logs and JSON under $OUT/{tests,ab,gqa}; a short summary printed last.
set -uo pipefail
source bench/device_env.sh
source bench/device_prebuilt.sh "${1:?PREBUILT folder}"
B=$PREBUILT_DIR
mkdir -p "$OUT/tests" "$OUT/ab" "$OUT/gqa"
summary=()
for t in kernels backward; do
  timeout 240 "$B/tests/cuda/ringlab_cuda_${t}_test" --gtest_filter='*mma*' > "$OUT/tests/$t.log" 2>&1
  summary+=("tests $t (*mma*): rc=$? $(grep -E '^\[  PASSED  \]|FAILED TEST' "$OUT/tests/$t.log" | head -2 | tr '\n' ' ')")
done
SEQS=${AB_SEQS:-4096,16384} DIMS=128,64 ITERS=10 BENCH_ARGS="--fwd-kernel mma --bwd-kernel mma" \
  OLD="$B/bench/kernels/ringlab_attention_bench_old" NEW="$B/bench/kernels/ringlab_attention_bench" OUT="$OUT/ab" \
  timeout 240 bash bench/kernels/ab_old_new.sh > "$OUT/ab/table.txt" 2>&1
summary+=("ab rc=$?")
BENCH="$B/bench/kernels/ringlab_attention_bench" SHAPES=bench/kernels/heldout_shapes_gqa.txt OUT="$OUT/gqa" \
  BACKENDS=none ITERS=7 SUSTAIN_MS=500 timeout 240 bash bench/kernels/run_shapes.sh > "$OUT/gqa/table.txt" 2>&1
summary+=("gqa rc=$?")
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/card.txt"
cat "$OUT/ab/table.txt" "$OUT/gqa/table.txt"
printf '%s\n' "${summary[@]}"
