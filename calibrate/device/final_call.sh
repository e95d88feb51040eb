#!/usr/bin/env bash
# One call on a one-GPU H100 that checks the kernels and then re-measures what the simulator's kernel model is
# fitted on, so the profile follows the kernels the project runs (issue 15 and 17), from the repository root:
#
#   COMMIT=<hash> bash calibrate/device/final_call.sh        (carry [".devdeps"], timeout_s 600)
#
#   0. builds ringlab, the attention benchmark and the GPU test binaries (bench/device_build.sh);
#   1. kernel tests (forward, backward) against the float64 reference, the Ulysses W=1 and pack-kernel tests and the
#      executor's one-GPU tests; compute-sanitizer racecheck on the ws kernels' small cases;
#   2. calibrate/device/kernel_coverage.sh with that ringlab: the kernel coverage plan (forward timed in both output
#      modes), PyTorch SDPA over the same shapes, and the held-out shapes (ours and SDPA).
# $OUT: tests.log, racecheck.log and kernel_coverage.sh's files. A short table is printed last.
set -uo pipefail
OUT=${OUT:-/tmp/ringlab_final_out}
BUILD=${BUILD:-/tmp/b-final}
mkdir -p "$OUT"
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
source bench/device_env.sh > /dev/null 2>&1

el "== 0. build"
bash bench/device_build.sh . "$BUILD" ringlab ringlab_attention_bench ringlab_cuda_kernels_test \
  ringlab_cuda_backward_test ringlab_ulysses_gpu_test ringlab_gpu_executor_test || exit 1
export LD_LIBRARY_PATH=/tmp/ringlab-deps/usr/lib/x86_64-linux-gnu:${NCCL_LIB_DIR:-}:${LD_LIBRARY_PATH:-}

el "== 1. tests"
: > "$OUT/tests.log"
for t in cuda/ringlab_cuda_kernels_test cuda/ringlab_cuda_backward_test gpu/ringlab_ulysses_gpu_test \
         gpu/ringlab_gpu_executor_test; do
  timeout ${TEST_TIMEOUT_S:-90} "$BUILD/tests/$t" >> "$OUT/tests.log" 2>&1
  echo "$t rc=$? $(grep -cE '^\[       OK \]' "$OUT/tests.log") ok so far, $(grep -cE '^\[  SKIPPED \]' "$OUT/tests.log") skipped, $(grep -cE '^\[  FAILED  \]' "$OUT/tests.log") failed lines"
done
: > "$OUT/racecheck.log"
for t in "cuda/ringlab_cuda_kernels_test --gtest_filter=*ws*" "cuda/ringlab_cuda_backward_test --gtest_filter=*ws*"; do
  set -- $t
  timeout 120 compute-sanitizer --tool racecheck "$BUILD/tests/$1" "$2" >> "$OUT/racecheck.log" 2>&1
  echo "racecheck $t rc=$? $(grep -E 'RACECHECK SUMMARY' "$OUT/racecheck.log" | tail -1)"
done

el "== 2. kernel coverage, SDPA coverage, held-out shapes"
RINGLAB_BIN="$BUILD/apps/ringlab" RINGLAB_BENCH="$BUILD/bench/kernels/ringlab_attention_bench" OUT="$OUT" \
  BUILD="$BUILD" bash calibrate/device/kernel_coverage.sh 2>&1 | tail -40
el "== done"
