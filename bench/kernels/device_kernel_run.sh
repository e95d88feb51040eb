#!/usr/bin/env bash
# One call on a 1-GPU H100 machine for the kernels issue, after .device-exec/ holds ringlab_cuda_kernels_test,
# ringlab_attention_bench and libcudart (bench/cp/build_device.sh + the two binaries; or build there with
# bench/device_build.sh): run with carry [".device-exec"] as `bash bench/kernels/device_kernel_run.sh [full]`.
#   1. kernel tests against the float64 reference (forward and backward: wgmma and mma);
#   2. compute-sanitizer memcheck and racecheck on the small cases (wgmma forward, wgmma and mma backward);
#   3. the peer (PyTorch SDPA FLASH, CUDNN) and ours (wgmma forward + wgmma backward; and the older kernels) on the same
#      card in the same run: the target shape S=32768 D=128 causal, or with `full` the issue's 16 shapes.
# Logs and results under $OUT (at most 8 files); a short table is printed last.
set -uo pipefail
D=.device-exec
OUT=${OUT:-/tmp/ringlab_kernel_out}
MODE=${1:-target}
mkdir -p "$OUT" /tmp/kr
source bench/device_env.sh > "$OUT/env.log" 2>&1
export LD_LIBRARY_PATH=$D:${LD_LIBRARY_PATH:-}
{ date -u; cat $D/commit.txt; nvidia-smi --query-gpu=index,name,driver_version,clocks.max.sm --format=csv; } >> "$OUT/env.log" 2>&1
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }

el "== 1. kernel tests"
timeout 200 $D/ringlab_cuda_kernels_test > "$OUT/kernel_tests.log" 2>&1
echo "kernel tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$OUT/kernel_tests.log" | tail -12
WGMMA_OK=0
grep -qE "OK \] Kernels/ForwardKernelTest.ForwardOverwriteMatchesReference/wgmma" "$OUT/kernel_tests.log" && \
  grep -qE "OK \] Kernels/ForwardKernelTest.ForwardMergeOfTwoBlocksEqualsOneBlock/wgmma" "$OUT/kernel_tests.log" && WGMMA_OK=1
echo "wgmma forward correct: $WGMMA_OK"
WGB_OK=0
grep -qE "OK \] Kernels/BackwardKernelTest.BackwardMatchesReference/wgmma" "$OUT/kernel_tests.log" && \
  grep -qE "OK \] Kernels/BackwardKernelTest.BackwardAccumulatesDkDv/wgmma" "$OUT/kernel_tests.log" && WGB_OK=1
echo "wgmma backward correct: $WGB_OK"

el "== 2. compute-sanitizer (small cases)"
for tool in memcheck racecheck; do
  RINGLAB_CUDA_TEST_SMALL=1 timeout 90 compute-sanitizer --tool $tool --error-exitcode 3 $D/ringlab_cuda_kernels_test \
    --gtest_filter='*Forward*/wgmma:*Backward*/wgmma:*Backward*/mma' > /tmp/kr/san_$tool.log 2>&1
  echo "$tool rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' /tmp/kr/san_$tool.log | tail -1)"
  { echo "=== $tool"; grep -vE '^\[ (seed|forward|merge|bwd)' /tmp/kr/san_$tool.log | tail -20; } >> "$OUT/kernel_tests.log"
done

el "== 3. benchmark: peer and ours, same card"
if [ "$MODE" = full ]; then SEQS=4096,8192,16384,32768; DIMS="64 128"; MASKS="causal full"; else SEQS=32768; DIMS=128; MASKS=causal; fi
for d in $DIMS; do for m in $MASKS; do
  timeout 200 python3 bench/peer/peer_bench.py sdpa --seqs $SEQS --dims $d --masks $m \
    --iters 10 --json /tmp/kr/peer_${d}_$m.json > /tmp/kr/peer_${d}_$m.log 2>&1; echo "peer D=$d $m rc=$?"
done; done
python3 -c "import json,glob; json.dump(sum([json.load(open(f)) for f in sorted(glob.glob('/tmp/kr/peer_*.json'))],[]), open('$OUT/peer.json','w'), indent=1)"
DL=$(echo $DIMS | tr ' ' ,); ML=$(echo $MASKS | tr ' ' ,)
# fwd:bwd pairs; the default pair first, then the mma.sync baselines.
PAIRS="wgmma:wgmma wgmma:mma mma:mma"
[ $WGB_OK = 1 ] || PAIRS="wgmma:mma mma:mma"
[ $WGMMA_OK = 1 ] || PAIRS="mma:mma"
for pr in $PAIRS; do
  f=${pr%%:*}; bk=${pr##*:}
  timeout 240 $D/ringlab_attention_bench --seqs $SEQS --dims $DL --masks $ML --iters 10 --fwd-kernel $f --bwd-kernel $bk \
    --peer "$OUT/peer.json" --json "$OUT/ours_${f}_$bk.json" --md /tmp/kr/ours_${f}_$bk.md --commit "$(cat $D/commit.txt)" \
    > /tmp/kr/ours_${f}_$bk.log 2>&1; echo "ours fwd=$f bwd=$bk rc=$?"
  [ "$MODE" = full ] && break
done
tar czf "$OUT/logs.tar.gz" -C /tmp/kr . 2>/dev/null
el "== done"
for pr in $PAIRS; do f=${pr%%:*}; bk=${pr##*:}; echo "--- fwd=$f bwd=$bk"; tail -20 /tmp/kr/ours_${f}_$bk.log 2>/dev/null; done
