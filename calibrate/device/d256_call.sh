#!/usr/bin/env bash
# One call on a one-GPU H100 (issue 15 item 3 at head dim 256, issue 19's balanced sharding on the GPU executor),
# with binaries built on the CPU machine and carried in:
#   here:        bash bench/pack_device_binaries.sh build .devbin apps/ringlab tests/gpu/ringlab_gpu_executor_test \
#                  bench/kernels/ringlab_attention_bench
#   the device:  COMMIT=<hash> bash calibrate/device/d256_call.sh .devbin      carry [".devdeps", ".devbin"]
#   1. kernel_coverage.sh with HEAD_DIMS=256 SKIP_HELDOUT=1: `ringlab calibrate` over the D=256 coverage grid (our
#      kernels) and PyTorch SDPA FLASH/CUDNN over the same shapes;
#   2. the D=256 held-out shapes (bench/kernels/heldout_shapes_d256.txt): ours and SDPA, bench/kernels/run_shapes.sh;
#   3. the GPU executor's tests over every sharding (balanced included) and `ringlab run --world 1 --sharding balanced
#      --mask ... --verify` against the CPU float64 executor.
# $OUT: d256_call.tar.gz (cov/: kernel_coverage.sh's files; heldout/: shapes_ours.json, shapes_peer.json; logs),
# run_*.log.
set -uo pipefail
source bench/device_call_start.sh ringlab_d256_call "$1"
mkdir -p "$OUT/cov" "$OUT/heldout"

el "== 1. D=256 coverage: ours and SDPA"
HEAD_DIMS=256 SKIP_HELDOUT=1 RINGLAB_BIN=$B/apps/ringlab OUT=$OUT/cov COMMIT=$COMMIT CALIBRATE_TIMEOUT_S=150 \
  SDPA_TIMEOUT_S=150 timeout 330 bash calibrate/device/kernel_coverage.sh > "$OUT/coverage.log" 2>&1
echo "coverage rc=$?"; tail -5 "$OUT/coverage.log"

el "== 2. D=256 held-out shapes"
ITERS=10 BENCH=$B/bench/kernels/ringlab_attention_bench SHAPES=bench/kernels/heldout_shapes_d256.txt \
  OUT=$OUT/heldout timeout 120 bash bench/kernels/run_shapes.sh > "$OUT/heldout.log" 2>&1
echo "held-out rc=$?"; tail -8 "$OUT/heldout.log"

el "== 3. balanced sharding on the GPU executor"
timeout 90 $B/tests/gpu/ringlab_gpu_executor_test > "$OUT/exec.log" 2>&1
echo "executor tests rc=$?"; grep -E "^\[  (PASSED|FAILED)|FAILED  \]" "$OUT/exec.log" | head -8
for mask in causal+docs-synthetic:pretrain-mix causal+docs-synthetic:fixed-300+window:200,-1; do
  timeout 60 $B/apps/ringlab run --world 1 --seq 4096 --heads 4 --kv-heads 2 --sharding balanced --mask $mask \
    --pass both --verify > "$OUT/run_${mask//[:+,]/_}.log" 2>&1
  echo "run balanced $mask rc=$?"; grep -E "PASS|FAIL|error" "$OUT/run_${mask//[:+,]/_}.log" | head -3
done
# One archive (a call brings back few files).
tar czf "$OUT/d256_call.tar.gz" -C "$OUT" cov heldout exec.log coverage.log heldout.log && rm -rf "$OUT/cov" "$OUT/heldout"
el "done"
