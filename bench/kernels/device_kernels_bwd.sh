#!/usr/bin/env bash
# One call on a one-GPU H100/H200 machine for the warp-specialized backward (issue 17), from the repository root:
#   bash bench/kernels/device_kernels_bwd.sh      with carry [".devdeps"] (Debian .debs: bench/fetch_device_debs.sh)
#   1. builds the kernel tests and ringlab_attention_bench (bench/device_build.sh); ptxas's spill and setmaxnreg
#      lines for the ws backward are printed from build.log;
#   2. the kernel tests against the float64 reference (forward: ws/wgmma/mma; backward: ws/ws1/wgmma/mma);
#   3. compute-sanitizer memcheck, racecheck and synccheck on the small cases of the first backward of BWDS;
#   4. the benchmark, PyTorch SDPA FLASH and CUDNN in the same call on the same card: the 16-shape grid (S 4096-32768
#      x D 64/128 x causal/full, B1 H32), B1 H32 S131072 D128 causal, B8 H32 S2048 D128 causal, B2 H16 S16384 D256
#      causal (forward and backward: ws/ws1 take D = 256); ours with the ws forward and each backward of BWDS (A/B;
#      default "ws ws1": dQ by TMA reduce-add against dQ by atomics; "ws wgmma" was the previous A/B).
# Under 9 minutes on an H100; run with timeout_s 600. QUICK=1 (meant for 5 minutes): backward tests of the first
# BWDS kernel only (no forward tests), grid S 8192 and 32768 only, no D256 row. $OUT gets build.log, tests.log, sanitizer.log,
# peer.json, ours.json, summary.md, logs.tar.gz; the summary is printed last. BUILD=dir reuses a build;
# PREBUILT=1: BUILD holds binaries built elsewhere (same tree layout, shared libraries in BUILD/lib), no build;
# SKIP_SANITIZER=1 and GRID_ONLY=1 shorten the call; COMMIT names the commit when the checkout has no .git.
# D256=1 (about 4 minutes): backward tests of the BWDS kernels plus every kernel's HeadDim256, the sanitizer on the first BWDS
# kernel's HeadDim256 small cases, and the D256 row alone (no grid). SAN_TOOLS (default "memcheck racecheck
# synccheck") and TEST_TIMEOUT (seconds, default 200) fit a call into a shorter limit.
set -uo pipefail
OUT=${OUT:-/tmp/ringlab_kernels_bwd_out}
BUILD=${BUILD:-/tmp/b-kbwd}
ITERS=${ITERS:-10}
BWDS=${BWDS:-ws ws1}
QUICK=${QUICK:-0}
D256=${D256:-0}
SEQS=4096,8192,16384,32768
[ "$QUICK" = 1 ] && SEQS=8192,32768
NEW=${BWDS%% *}
W=/tmp/kb
mkdir -p "$OUT" $W
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
source bench/device_env.sh > "$OUT/env.log" 2>&1
commit=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
{ date -u; echo "commit $commit"; nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv; } >> "$OUT/env.log" 2>&1

el "== 1. build"
TARGETS="ringlab_cuda_backward_test ringlab_attention_bench"
[ "$QUICK" = 1 ] || [ "$D256" = 1 ] || TARGETS="ringlab_cuda_kernels_test $TARGETS"
if [ "${PREBUILT:-0}" = 1 ]; then  # binaries built elsewhere (bench/device_prebuilt.sh)
  source bench/device_prebuilt.sh "$BUILD"
  BUILD=$PREBUILT_DIR
  echo "prebuilt binaries in $BUILD" > "$BUILD.log"
else
  bash bench/device_build.sh . "$BUILD" $TARGETS \
    || { cp "$BUILD.log" "$OUT/build.log"; exit 1; }
fi
cp "$BUILD.log" "$OUT/build.log"
grep -E "C7508|C7514|spill" "$OUT/build.log" | grep -E "backward_ws|C7508|C7514" | head -5
export LD_LIBRARY_PATH=/tmp/ringlab-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
BWD_TEST=$BUILD/tests/cuda/ringlab_cuda_backward_test
BENCH=$BUILD/bench/kernels/ringlab_attention_bench

el "== 2. kernel tests"
: > "$OUT/tests.log"
if [ "$QUICK" != 1 ] && [ "$D256" != 1 ]; then
  timeout 150 "$BUILD/tests/cuda/ringlab_cuda_kernels_test" > "$OUT/tests.log" 2>&1
  echo "forward tests rc=$?"
fi
BWD_FILTER='*'
[ "$QUICK" = 1 ] && BWD_FILTER="*/$NEW"  # the others passed in an earlier call
[ "$D256" = 1 ] && BWD_FILTER="$(for bk in $BWDS; do printf '*/%s:' $bk; done)*HeadDim256*"
timeout ${TEST_TIMEOUT:-200} "$BWD_TEST" --gtest_filter="$BWD_FILTER" >> "$OUT/tests.log" 2>&1
echo "backward tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$OUT/tests.log" | tail -14
OK_BWDS=""
for bk in $BWDS; do
  [ "$QUICK" = 1 ] && [ "$bk" != "$NEW" ] && { OK_BWDS="$OK_BWDS $bk"; continue; }
  ok=1
  for t in BackwardMatchesReference BackwardInsideLargerBuffersBothModes HeadDim256; do
    grep -qE "OK \] Kernels/BackwardKernelTest.$t/$bk \(" "$OUT/tests.log" || ok=0
  done
  echo "$bk backward correct: $ok"
  [ $ok = 1 ] && OK_BWDS="$OK_BWDS $bk"
  grep -E "^\[ (backward|bwd in) +\] $bk " "$OUT/tests.log" | awk '{print $NF, $0}' | sort -g | tail -2 | cut -d' ' -f2-
done

if [ "${SKIP_SANITIZER:-0}" != 1 ]; then
  SAN_TEST='*'
  [ "$D256" = 1 ] && SAN_TEST=HeadDim256
  el "== 3. compute-sanitizer on the $NEW backward (small cases)"
  for tool in ${SAN_TOOLS:-memcheck racecheck synccheck}; do
    RINGLAB_CUDA_TEST_SMALL=1 timeout 75 compute-sanitizer --tool $tool --error-exitcode 3 "$BWD_TEST" \
      --gtest_filter="Kernels/BackwardKernelTest.$SAN_TEST/$NEW" > $W/san_$tool.log 2>&1
    echo "$tool rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $W/san_$tool.log | tail -1)"
    { echo "=== $tool"; grep -vE '^\[ (seed|backward|bwd in)' $W/san_$tool.log | tail -30; } >> "$OUT/sanitizer.log"
  done
fi

el "== 4. benchmark: the peer and ours, same card"
[ "$OK_BWDS" = " $BWDS" ] || echo "timing only the backwards that passed their tests:$OK_BWDS"
BWDS=$OK_BWDS
ours() {  # ours TAG BWD PEERFILE ARGS...
  local tag=$1 bk=$2 peer=$3; shift 3
  timeout 200 "$BENCH" "$@" --iters $ITERS --fwd-kernel ws --bwd-kernel $bk --peer "$peer" \
    --json $W/ours_${tag}_$bk.json --commit "$commit" > $W/ours_${tag}_$bk.log 2>&1 || echo "ours $tag $bk rc=$?"
}
if [ "$D256" != 1 ]; then
  timeout 240 python3 bench/peer/peer_bench.py sdpa --seqs $SEQS --dims 128,64 --masks causal,full \
    --iters $ITERS --json $W/peer_grid.json > $W/peer_grid.log 2>&1; echo "peer grid rc=$?"
  for bk in $BWDS; do
    ours grid $bk $W/peer_grid.json --seqs $SEQS --dims 128,64 --masks causal,full
  done
  el "grid done"
fi
if [ "${GRID_ONLY:-0}" != 1 ]; then
  i=0
  while read -r b h s d mask; do
    i=$((i + 1))
    [ "$QUICK" = 1 ] && [ "$d" = 256 ] && continue
    [ "$D256" = 1 ] && [ "$d" != 256 ] && continue
    timeout 150 python3 bench/peer/peer_bench.py sdpa --batch $b --heads $h --seqs $s --dims $d --masks $mask \
      --iters $ITERS --json $W/peer_x$i.json > $W/peer_x$i.log 2>&1 || echo "peer x$i rc=$?"
    for bk in $BWDS; do
      ours x$i $bk $W/peer_x$i.json --batch $b --heads $h --seqs $s --dims $d --masks $mask
    done
  done < bench/kernels/extra_shapes.txt  # "B H S D mask": the rows beside the grid
fi
el "== summary"
python3 bench/kernels/summarize_bwd.py $W "$OUT" "$commit" $BWDS
tar czf "$OUT/logs.tar.gz" -C $W . 2>/dev/null
el "== done"
cat "$OUT/summary.md"
