#!/usr/bin/env bash
# Issue 19 on one H100 in one call: the masked kernel tests (every kernel, forward and backward), the dense ws tests
# (the masked instantiations must leave them as they were), `ringlab run --world 1` with document/window masks
# against the CPU float64 reference, and the masked speed table with PyTorch's paths (mask_peer_bench.py).
#   source bench/device_env.sh
#   bash bench/device_build.sh . /tmp/b ringlab ringlab_cuda_mask_test ringlab_cuda_kernels_test \
#     ringlab_cuda_backward_test ringlab_mask_bench
#   bash bench/kernels/device_mask.sh /tmp/b $OUT [COMMIT]
# Logs: OUT/tests.log, OUT/run.log, OUT/bench.log, OUT/mask_kernels_h100.{md,json}; a summary is printed last.
set -uo pipefail
b=$1 out=$2 commit=${3:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
# BUILD/lib: libraries carried beside prebuilt binaries, if any.
export LD_LIBRARY_PATH=$b/lib:/tmp/ringlab-deps/usr/lib/x86_64-linux-gnu:${NCCL_LIB_DIR:-}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
# Time limits per step keep the whole under the device call's 240 s.
timeout ${MASK_TEST_TIMEOUT:-60} "$b/tests/cuda/ringlab_cuda_mask_test" > "$out/tests.log" 2>&1
echo "mask_test rc=$?" >> "$out/tests.log"
timeout 125 python3 bench/kernels/mask_peer_bench.py --ours "$b/bench/kernels/ringlab_mask_bench" --iters 10 --dense-each \
  --json "$out/mask_kernels_h100.json" --md "$out/mask_kernels_h100.md" --commit "$commit" > "$out/bench.log" 2>&1
echo "mask_peer_bench rc=$?" >> "$out/bench.log"
for mask in causal+docs-synthetic:fixed-300+window:200,-1 window:100,50; do
  timeout 10 "$b/apps/ringlab" run --world 1 --seq 1024 --heads 4 --kv-heads 2 --dim 128 --mask "$mask" --verify \
    --pass both --warmup 1 --iters 2
  echo "ringlab run --mask $mask rc=$?"
done > "$out/run.log" 2>&1
for t in kernels backward; do
  timeout 12 "$b/tests/cuda/ringlab_cuda_${t}_test" --gtest_filter='*/ws'
  echo "${t}_test(ws) rc=$?"
done >> "$out/tests.log" 2>&1
echo "== summary"
grep -E "rc=|^\[  (PASSED|FAILED)|FAILED TEST|Failure" "$out/tests.log" | head -40
grep -E "rc=|rel|error|verif" "$out/run.log" | head -30
grep -E "rc=|ours |Error|error" "$out/bench.log" | head -30
cat "$out/mask_kernels_h100.md" 2>/dev/null
