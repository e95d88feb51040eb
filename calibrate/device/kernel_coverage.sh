#!/usr/bin/env bash
# Kernel coverage from one GPU (issue 15): our attention kernels and PyTorch SDPA (FLASH and CUDNN) over the same
# single-GPU shapes, in one call on a one-GPU H100, from the repository root:
#
#   bash calibrate/device/kernel_coverage.sh
#
#   0. builds `ringlab` with CUDA into $BUILD (default /tmp/b) unless $RINGLAB_BIN is given (bench/device_build.sh;
#      needs .devdeps, see bench/fetch_device_debs.sh);
#   1. `ringlab calibrate --gpus 1 --skip-comm`: the whole kernel plan (tile sweep, CTA sweep, GQA, causal and the
#      coverage grid: batch x heads 1x8 .. 16x64, S from 512, D 64 and 128, causal and full; `ringlab calibrate
#      --dry-run` prints it with its GPU time);
#   2. `ringlab calibrate --coverage-shapes` (the coverage grid as "B H S D mask" lines) and
#      `python3 bench/peer/peer_bench.py sdpa --shapes ...` over them, FLASH and CUDNN, forward and forward+backward.
# The held-out shapes (bench/kernels/heldout_shapes.txt) are in neither list.
#
# Files in $OUT: env.log, calibrate.log, kernel_coverage_samples.json (our kernels' samples, `ringlab fit-profile`
# input), kernel_coverage_profile.json (the profile fitted from them alone), coverage_shapes.txt, peer_sdpa.log,
# peer_sdpa_coverage.json (PyTorch SDPA records; calibrate/scripts/peer_sdpa_fit.py turns them into the peer
# profile's attention tables), clocks.csv (GPU clocks, power and throttle reasons meanwhile, read only).
set -uo pipefail
OUT=${OUT:-/tmp/ringlab_kernel_coverage_out}
BUILD=${BUILD:-/tmp/b}
mkdir -p "$OUT"
source bench/device_env.sh > "$OUT/env.log" 2>&1
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || cat .commit 2>/dev/null || echo unknown)
{ date -u; echo "commit $COMMIT"; python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; } \
  >> "$OUT/env.log" 2>&1

BIN=${RINGLAB_BIN:-$BUILD/apps/ringlab}
if [ ! -x "$BIN" ]; then
  el "== 0. build ringlab (CUDA) into $BUILD"
  bash bench/device_build.sh . "$BUILD" ringlab || exit 1
fi
export LD_LIBRARY_PATH=/tmp/ringlab-deps/usr/lib/x86_64-linux-gnu:${NCCL_LIB_DIR:-}:${LD_LIBRARY_PATH:-}

nvidia-smi --query-gpu=timestamp,index,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
  --format=csv -lms 500 > "$OUT/clocks.csv" 2>&1 &
SMI=$!

el "== 1. ringlab calibrate --gpus 1 --skip-comm (our kernels)"
timeout ${CALIBRATE_TIMEOUT_S:-240} "$BIN" calibrate --gpus 1 --skip-comm --base sim/profiles/h100_sxm_calibrated.json \
  --commit "$COMMIT" --out "$OUT/kernel_coverage_profile.json" --samples "$OUT/kernel_coverage_samples.json" \
  > "$OUT/calibrate.log" 2>&1
echo "calibrate rc=$?"; grep -E "^calibrate: (device|kernels|wrote)|rror" "$OUT/calibrate.log" | head -8

el "== 2. PyTorch SDPA (FLASH, CUDNN) over the coverage shapes"
"$BIN" calibrate --coverage-shapes > "$OUT/coverage_shapes.txt"
echo "$(wc -l < "$OUT/coverage_shapes.txt") coverage shapes"
timeout ${SDPA_TIMEOUT_S:-240} python3 bench/peer/peer_bench.py sdpa --shapes "$OUT/coverage_shapes.txt" \
  --warmup 3 --iters 10 --json "$OUT/peer_sdpa_coverage.json" > "$OUT/peer_sdpa.log" 2>&1
echo "sdpa rc=$?"; grep -c '^RESULT' "$OUT/peer_sdpa.log"; grep -E "rror" "$OUT/peer_sdpa.log" | head -5

kill $SMI 2>/dev/null
el "done"
ls -la "$OUT"
