#!/usr/bin/env bash
# One device call on one H100, from the repository root, with binaries packed on the CPU machine:
#   bash bench/kernels/device_gqa_call.sh PREBUILT
# PREBUILT: bench/pack_device_binaries.sh's folder with tests/cuda/ringlab_cuda_{backward,kernels,mask}_test,
# bench/kernels/ringlab_attention_bench and, for AB=1, bench/kernels/ringlab_attention_bench_old (built from the
# commit before a kernel change). Then, on the CPU machine, bench/kernels/gqa_heldout_report.sh turns the unpacked archive into the
# model's held-out tables. Steps, most important first (each under its own timeout):
# 1. the CUDA backward tests (every kernel; float64 reference, poisoned outputs) with the GQA group split on (the
#    default: tiles::BackwardGroupSplits) and off (RINGLAB_BWD_GROUP_SPLITS=1), the masked tests' backward, and the
#    forward tests of the portable (mma) kernel;
# 2. the GQA held-out shapes (bench/kernels/heldout_shapes_gqa.txt, sustained 500 ms x 7 as the profiles' coverage
#    was) with the split off (ours only: the kernel the earlier predictions are for) and on, the latter beside PyTorch
#    SDPA FLASH and CUDNN with enable_gqa (PEER_BACKENDS, default both; "none" skips them);
# 3. with AB=1 (and bench/kernels/ringlab_attention_bench_old packed): A/B old binary vs new, interleaved
#    (bench/kernels/ab_old_new.sh), the mma kernels, then the default ones.
# TESTS=0 skips step 1. Logs and JSON in one archive, $OUT/gqa_call.tar.gz ({tests,gqa_nosplit,gqa_split,ab_mma,
# ab_default}/: the device tool returns a few files only, and the call writes over ten); unpack it into a folder and
# give that folder to gqa_heldout_report.sh. A short summary is printed last.
set -uo pipefail
source bench/device_env.sh
source bench/device_prebuilt.sh "${1:?PREBUILT folder}"
B=$PREBUILT_DIR
CALL=/tmp/ringlab_gqa_call  # packed into $OUT/gqa_call.tar.gz at the end
rm -rf "$CALL"
mkdir -p "$CALL/tests" "$CALL/gqa_nosplit" "$CALL/gqa_split"
[ "${AB:-0}" = 1 ] && mkdir -p "$CALL/ab_mma" "$CALL/ab_default"
summary=()
note() { summary+=("$1 $(grep -E '^\[  PASSED  \]|FAILED TEST|^\[  FAILED  \]' "$2" | head -3 | tr '\n' ' ')"); }
if [ "${TESTS:-1}" = 1 ]; then
  timeout 120 "$B/tests/cuda/ringlab_cuda_backward_test" > "$CALL/tests/backward_split.log" 2>&1
  note "backward (split): rc=$?" "$CALL/tests/backward_split.log"
  RINGLAB_BWD_GROUP_SPLITS=1 timeout 80 "$B/tests/cuda/ringlab_cuda_backward_test" --gtest_filter='*/ws:*/mma' \
    > "$CALL/tests/backward_nosplit.log" 2>&1
  note "backward ws+mma (no split): rc=$?" "$CALL/tests/backward_nosplit.log"
  timeout 60 "$B/tests/cuda/ringlab_cuda_mask_test" --gtest_filter='*Backward*' > "$CALL/tests/mask_backward.log" 2>&1
  note "mask backward (split): rc=$?" "$CALL/tests/mask_backward.log"
  timeout 60 "$B/tests/cuda/ringlab_cuda_kernels_test" --gtest_filter='*mma*' > "$CALL/tests/kernels_mma.log" 2>&1
  note "forward mma: rc=$?" "$CALL/tests/kernels_mma.log"
fi
for mode in nosplit split; do
  backends=none
  [ $mode = split ] && backends=${PEER_BACKENDS:-FLASH_ATTENTION,CUDNN_ATTENTION}
  env $([ $mode = nosplit ] && echo RINGLAB_BWD_GROUP_SPLITS=1) BENCH="$B/bench/kernels/ringlab_attention_bench" \
    SHAPES=bench/kernels/heldout_shapes_gqa.txt OUT="$CALL/gqa_$mode" BACKENDS=$backends ITERS=7 SUSTAIN_MS=500 \
    timeout 200 bash bench/kernels/run_shapes.sh > "$CALL/gqa_$mode/table.txt" 2>&1
  summary+=("gqa $mode rc=$?")
done
for ab in $([ "${AB:-0}" = 1 ] && echo mma default); do
  SEQS=4096,16384 DIMS=128,64 ITERS=10 BENCH_ARGS="$([ $ab = mma ] && echo --fwd-kernel mma --bwd-kernel mma)" \
    OLD="$B/bench/kernels/ringlab_attention_bench_old" NEW="$B/bench/kernels/ringlab_attention_bench" \
    OUT="$CALL/ab_$ab" timeout 90 bash bench/kernels/ab_old_new.sh > "$CALL/ab_$ab/table.txt" 2>&1
  summary+=("ab $ab rc=$?")
done
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$CALL/card.txt"
[ "${AB:-0}" = 1 ] && tail -4 "$CALL/ab_mma/table.txt" "$CALL/ab_default/table.txt"
cat "$CALL/gqa_nosplit/table.txt" "$CALL/gqa_split/table.txt"
printf '%s\n' "${summary[@]}"
tar czf "$OUT/gqa_call.tar.gz" -C "$CALL" . && echo "logs and JSON: gqa_call.tar.gz"
