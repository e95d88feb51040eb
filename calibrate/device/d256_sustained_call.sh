#!/usr/bin/env bash
# One call on a one-GPU H100: the D=256 kernel coverage timed sustained, as the D=64/128 tables' coverage was
# (SUSTAIN_MS=50 per kernel after a 3 s preheat), so that calibrate/scripts/kernel_model_fit.py can fit the D=256
# tables' load clock and power cap; then the D=256 held-out shapes (bench/kernels/heldout_shapes_d256.txt) timed
# sustained (500 ms, then 7 timed), ours and SDPA FLASH.
#   here:        bash bench/pack_device_binaries.sh build .devbin/now apps/ringlab bench/kernels/ringlab_attention_bench
#   the device:  COMMIT=<hash> bash calibrate/device/d256_sustained_call.sh .devbin/now      carry [".devdeps", ".devbin"]
# $OUT: d256_sustained.tar.gz (cov/: kernel_coverage.sh's files; heldout/: shapes_ours.json, shapes_peer.json; logs).
set -uo pipefail
source bench/device_call_start.sh ringlab_d256_sustained "$1"
mkdir -p "$W/cov" "$W/heldout"

el "== 1. D=256 coverage, sustained: ours and SDPA FLASH"
HEAD_DIMS=256 SKIP_HELDOUT=1 RINGLAB_BIN=$B/apps/ringlab OUT=$W/cov COMMIT=$COMMIT SUSTAIN_MS=50 PREHEAT_MS=3000 \
  PEER_BACKENDS=FLASH_ATTENTION CALIBRATE_TIMEOUT_S=200 SDPA_TIMEOUT_S=150 timeout 380 \
  bash calibrate/device/kernel_coverage.sh > "$W/coverage.log" 2>&1
echo "coverage rc=$?"; tail -5 "$W/coverage.log"

el "== 2. D=256 held-out shapes, sustained"
ITERS=7 SUSTAIN_MS=500 BACKENDS=FLASH_ATTENTION BENCH=$B/bench/kernels/ringlab_attention_bench \
  SHAPES=bench/kernels/heldout_shapes_d256.txt OUT=$W/heldout timeout 120 bash bench/kernels/run_shapes.sh \
  > "$W/heldout.log" 2>&1
echo "held-out rc=$?"; tail -8 "$W/heldout.log"
tar czf "$OUT/d256_sustained.tar.gz" -C "$W" .
el "done"
