#!/usr/bin/env bash
# One call on a one-GPU H100 for the D=256 backward (issue 17) and the window/document-masked kernels (issue 19), with
# binaries built on the CPU machine and carried in (building on the device takes ~4 of a call's 10 minutes):
#   here:        bash bench/pack_device_binaries.sh build .devbin      (build: a CUDA build of ringlab, the kernel
#                tests and benchmarks; .devbin gets bins.tar.xz)
#   the device:  COMMIT=<hash> bash bench/kernels/device_d256_masks.sh .devbin     carry [".devdeps", ".devbin"]
#   1. device_kernels_bwd.sh D256=1 on the prebuilt binaries: backward tests of ws and ws1 plus every kernel's
#      HeadDim256 cases, memcheck and racecheck on the ws HeadDim256 small cases, the B2 H16 S16384 D256 causal row
#      against PyTorch SDPA FLASH and CUDNN in the same call;
#   2. device_mask.sh: masked kernel tests (every kernel), `ringlab run --world 1 --mask ... --verify`, the masked speed
#      table with PyTorch's paths (mask_peer_bench.py);
#   3. racecheck on the masked ws kernels' cases.
# $OUT: d256_summary.md, mask_kernels_h100.md/.json, logs.tar.gz (every log); the summaries are printed last.
set -uo pipefail
source bench/device_call_start.sh ringlab_d256_masks "$1"
mkdir -p $W/d256 $W/mask

el "== 1. D=256 backward: tests, sanitizers, the D256 row"
OUT=$W/d256 BUILD=$B PREBUILT=1 D256=1 BWDS="ws ws1" SAN_TOOLS="memcheck racecheck" TEST_TIMEOUT=150 COMMIT=$COMMIT \
  timeout 330 bash bench/kernels/device_kernels_bwd.sh > $W/d256.log 2>&1
echo "device_kernels_bwd rc=$?"
grep -E "rc=|correct|SUMMARY|^\[  (PASSED|FAILED)" $W/d256.log | head -20

el "== 2. masked kernels: tests, ringlab run --verify, speed with the peers"
timeout 200 bash bench/kernels/device_mask.sh "$B" $W/mask "$COMMIT" > $W/mask.log 2>&1
echo "device_mask rc=$?"

el "== 3. racecheck on the masked ws kernels"
RINGLAB_CUDA_TEST_SMALL=1 timeout 60 compute-sanitizer --tool racecheck --error-exitcode 3 \
  "$B/tests/cuda/ringlab_cuda_mask_test" --gtest_filter='*/ws' > $W/mask_racecheck.log 2>&1
echo "mask racecheck rc=$? $(grep -E 'RACECHECK SUMMARY' $W/mask_racecheck.log | tail -1)"

cp $W/d256/summary.md "$OUT/d256_summary.md" 2>/dev/null
cp $W/mask/mask_kernels_h100.md $W/mask/mask_kernels_h100.json "$OUT/" 2>/dev/null
tar czf "$OUT/logs.tar.gz" -C $W . 2>/dev/null
el "== summaries"
tail -25 $W/mask.log
cat "$OUT/d256_summary.md" 2>/dev/null
