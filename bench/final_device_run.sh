#!/usr/bin/env bash
# One call on a 4-GPU H100 machine, after bench/cp/build_device.sh filled .device-exec/ (ringlab included) plus the
# kernel test binary: run with carry [".device-exec"] as `bash bench/final_device_run.sh`.
#   1. kernel tests against the float64 reference (all forward and backward kernels);
#   2. ours vs PyTorch Context Parallel, W = 2 and 4, S = 32768 and 131072, both methods, fwd and fwd+bwd, with the
#      default kernels (on H100: wgmma forward and backward);
#   3. the README's main job with the GPUs present (real run beside the simulation);
#   4. the executor's W=2/W=4 test matrix, in the time left before DEADLINE seconds.
# At most 8 files land in $OUT (logs and traces in logs.tar.gz); a short table is printed last.
set -uo pipefail
D=${D:-.device-exec}  # the folder bench/cp/build_device.sh filled (carry it)
OUT=${OUT:-/tmp/ringlab_final_out}
mkdir -p "$OUT" /tmp/fl
source $D/device_env.sh > "$OUT/env.log" 2>&1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export LD_LIBRARY_PATH=$D:${NCCL_LIB_DIR:-}:${LD_LIBRARY_PATH:-}
{ date -u; cat $D/commit.txt; nvidia-smi --query-gpu=index,name,driver_version --format=csv; } >> "$OUT/env.log" 2>&1
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }

el "== 1. kernel tests"
timeout 150 $D/ringlab_cuda_kernels_test > /tmp/fl/kernel_tests.log 2>&1
echo "kernel tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" /tmp/fl/kernel_tests.log | tail -12

el "== 2. ours vs PyTorch Context Parallel"
BENCH_LOG=/tmp/bench.log CP_NOTE=", default kernels (wgmma forward and backward)" source bench/cp/ours_vs_peer.sh
cp /tmp/bench.log /tmp/bench_w*.json /tmp/fl/ 2>/dev/null
el "== 3. the README's main job with the GPUs present"
RINGLAB=$D/ringlab timeout 240 bash scripts/main_job.sh > /tmp/fl/main_job.log 2>&1; echo "main job rc=$?"
sed -n '/== 4/,/== 5/p' /tmp/fl/main_job.log | head -40
el "== 4. executor test matrix (with the time left)"
timeout $(( ${DEADLINE:-530} - ($(date +%s) - T0) )) $D/ringlab_gpu_executor_test > "$OUT/exec_tests.log" 2>&1; echo "executor tests rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]" "$OUT/exec_tests.log" | tail -8

tar czf "$OUT/logs.tar.gz" -C /tmp/fl . 2>/dev/null
el "== done"
cat "$OUT/cp.md" 2>/dev/null | tail -25
