#!/usr/bin/env bash
# compute-sanitizer memcheck, racecheck and synccheck on the warp-specialized kernels' small test cases (forward with
# D 64/128/256, backward with D 64/128 and 256, masked forward and backward), from prebuilt binaries:
#   here:        bash bench/pack_device_binaries.sh build .devbin
#   the device:  bash bench/kernels/device_sanitize.sh .devbin        carry [".devdeps", ".devbin"]
# RINGLAB_CUDA_TEST_SMALL=1 keeps each test's small cases. $OUT: sanitize.log (every report); a table is printed last.
# Knobs: SAN_TOOLS (default "memcheck racecheck synccheck"), SAN_TESTS ("test filter" pairs separated by ';', default
# the three above), SAN_TIMEOUT_S (default 100 per run). E.g. the persistent masked forward, CTAs capped at 2 so that
# each walks many query tiles (tests/cuda/attention_mask_test.cc RINGLAB_TEST_FEW_CTAS):
#   RINGLAB_TEST_FEW_CTAS=2 SAN_TESTS="mask *ForwardPersistent*/ws" SAN_TIMEOUT_S=240 bash bench/kernels/device_sanitize.sh .devbin
set -uo pipefail
OUT=${OUT:-/tmp/ringlab_sanitize_out}
mkdir -p "$OUT"
source bench/device_env.sh > /dev/null 2>&1
source bench/device_prebuilt.sh "$1"
B=$PREBUILT_DIR
export RINGLAB_CUDA_TEST_SMALL=1
: > "$OUT/sanitize.log"
rows=""
IFS=';' read -ra tests <<< "${SAN_TESTS:-kernels */ws;backward */ws;mask */ws}"
for tool in ${SAN_TOOLS:-memcheck racecheck synccheck}; do
  for t in "${tests[@]}"; do
    set -f; set -- $t; set +f
    log=/tmp/san_${tool}_$1.log
    timeout ${SAN_TIMEOUT_S:-100} compute-sanitizer --tool $tool --error-exitcode 3 "$B/tests/cuda/ringlab_cuda_$1_test" \
      --gtest_filter="$2" > $log 2>&1
    rc=$?
    passed=$(grep -oE '\[  PASSED  \] [0-9]+ test' $log | grep -oE '[0-9]+' | tail -1)
    summary=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $log | tail -1 | sed 's/=* *//')
    rows="$rows| $tool | $1 $2 | $rc | ${passed:-0} | $summary |\n"
    { echo "=== $tool $1 $2 rc=$rc"; grep -vE '^\[ (seed|backward|bwd in)' $log | tail -25; } >> "$OUT/sanitize.log"
  done
done
printf "| tool | test (small cases) | rc | tests passed | summary |\n|---|---|---|---|---|\n$rows"
