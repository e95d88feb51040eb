#!/usr/bin/env bash
# One call on a one-GPU H100/H200 machine for the kernel issue (warp-specialized forward), from the repository root:
#   bash bench/kernels/device_kernels.sh          with carry [".devdeps"] (Debian .debs: bench/fetch_device_debs.sh)
#   1. builds ringlab_cuda_kernels_test and ringlab_attention_bench (bench/device_build.sh); ptxas's register and
#      setmaxnreg warnings for the forward kernels go into build.log;
#   2. the kernel tests against the float64 reference (every forward kernel ws/wgmma/mma, both backward kernels);
#   3. compute-sanitizer memcheck, racecheck and synccheck on the small cases of the ws forward;
#   4. the benchmark, PyTorch SDPA FLASH and CUDNN in the same call on the same card: the 16-shape grid (S 4096-32768
#      x D 64/128 x causal/full, B1 H32) and B1 H32 S131072 D128 causal, B8 H32 S2048 D128 causal, B2 H16 S16384
#      D256 causal; ours with the ws forward and with the wgmma forward (A/B, grid interleaved ws wgmma wgmma ws),
#      backward wgmma (D256: forward only, no backward kernel takes it).
# About 8 minutes on an H100 (build ~2, tests ~1, sanitizers <= 4, benchmark ~3); run with timeout_s 600.
# $OUT gets build.log, tests.log, sanitizer.log, peer.json, ours.json, summary.md, logs.tar.gz; the summary is
# printed last. BUILD=dir reuses a build; SKIP_SANITIZER=1 and GRID_ONLY=1 shorten the call.
set -uo pipefail
OUT=${OUT:-/tmp/ringlab_kernels_out}
BUILD=${BUILD:-/tmp/b-kern}
ITERS=${ITERS:-10}
mkdir -p "$OUT" /tmp/kk
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
source bench/device_env.sh > "$OUT/env.log" 2>&1
commit=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
{ date -u; echo "commit $commit"; nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv; } >> "$OUT/env.log" 2>&1

el "== 1. build"
bash bench/device_build.sh . "$BUILD" ringlab_cuda_kernels_test ringlab_attention_bench || { cp "$BUILD.log" "$OUT/build.log"; exit 1; }
cp "$BUILD.log" "$OUT/build.log"
grep -E "C7508|setmaxnreg|spill" "$OUT/build.log" | grep -E "forward_ws|setmaxnreg|C7508" | head -5
export LD_LIBRARY_PATH=/tmp/ringlab-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
TEST=$BUILD/tests/cuda/ringlab_cuda_kernels_test
BENCH=$BUILD/bench/kernels/ringlab_attention_bench

el "== 2. kernel tests"
timeout 240 "$TEST" > "$OUT/tests.log" 2>&1
echo "kernel tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$OUT/tests.log" | tail -14
WS_OK=1
for t in ForwardOverwriteMatchesReference ForwardMergeOfTwoBlocksEqualsOneBlock ForwardBlockInsideLargerBuffers; do
  grep -qE "OK \] Kernels/ForwardKernelTest.$t/ws" "$OUT/tests.log" || WS_OK=0
done
echo "ws forward correct: $WS_OK"
grep -E "^\[ (forward|merge|inside) +\] ws" "$OUT/tests.log" | awk '{print $NF, $0}' | sort -g | tail -3 | cut -d' ' -f2-

if [ "${SKIP_SANITIZER:-0}" != 1 ]; then
  el "== 3. compute-sanitizer on the ws forward (small cases)"
  for tool in memcheck racecheck synccheck; do
    RINGLAB_CUDA_TEST_SMALL=1 timeout 75 compute-sanitizer --tool $tool --error-exitcode 3 "$TEST" \
      --gtest_filter='Kernels/ForwardKernelTest.*/ws' > /tmp/kk/san_$tool.log 2>&1
    echo "$tool rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' /tmp/kk/san_$tool.log | tail -1)"
    { echo "=== $tool"; grep -vE '^\[ (seed|forward|merge|inside)' /tmp/kk/san_$tool.log | tail -30; } >> "$OUT/sanitizer.log"
  done
fi

el "== 4. benchmark: the peer and ours, same card"
FWDS="ws wgmma"
[ $WS_OK = 1 ] || { FWDS="wgmma"; echo "ws forward failed its tests: timing wgmma only"; }
# The grid: peer once, ours interleaved (ws wgmma wgmma ws).
timeout 240 python3 bench/peer/peer_bench.py sdpa --seqs 4096,8192,16384,32768 --dims 128,64 --masks causal,full \
  --iters $ITERS --json /tmp/kk/peer_grid.json > /tmp/kk/peer_grid.log 2>&1; echo "peer grid rc=$?"
ours() {  # ours TAG FWD PEERFILE ARGS...
  local tag=$1 f=$2 peer=$3; shift 3
  timeout 200 "$BENCH" "$@" --iters $ITERS --fwd-kernel $f --bwd-kernel wgmma --peer "$peer" \
    --json /tmp/kk/ours_${tag}_$f.json --commit "$commit" > /tmp/kk/ours_${tag}_$f.log 2>&1 || echo "ours $tag $f rc=$?"
}
ORDER="$FWDS"; [ "$FWDS" = "ws wgmma" ] && ORDER="ws wgmma wgmma ws"
n=0
for f in $ORDER; do  # forward+backward in each kernel's first run only
  n=$((n + 1))
  fb=; [ $n -gt 2 ] && fb=--no-backward
  ours grid$n $f /tmp/kk/peer_grid.json --seqs 4096,8192,16384,32768 --dims 128,64 --masks causal,full $fb
done
el "grid done"
# The extra rows: peer, then each forward kernel.
if [ "${GRID_ONLY:-0}" != 1 ]; then
  i=0
  while read -r b h s d mask; do
    i=$((i + 1))
    timeout 150 python3 bench/peer/peer_bench.py sdpa --batch $b --heads $h --seqs $s --dims $d --masks $mask \
      --iters $ITERS --json /tmp/kk/peer_x$i.json > /tmp/kk/peer_x$i.log 2>&1 || echo "peer x$i rc=$?"
    for f in $FWDS; do
      ours x$i $f /tmp/kk/peer_x$i.json --batch $b --heads $h --seqs $s --dims $d --masks $mask
    done
  done < bench/kernels/extra_shapes.txt  # "B H S D mask": the rows beside the grid
fi
el "== summary"
python3 bench/kernels/summarize_ab.py /tmp/kk "$OUT" "$commit"
tar czf "$OUT/logs.tar.gz" -C /tmp/kk . 2>/dev/null
el "== done"
cat "$OUT/summary.md"
