#!/usr/bin/env bash
# One call on a one-GPU H100 that remeasures the masked kernels after a kernel change (issue 19): correctness first,
# then every number that depends on the kernels' speed, most needed first, so that a call cut short keeps the rest.
#   here:   bash bench/pack_device_binaries.sh build .devbin/now apps/ringlab tests/cuda/ringlab_cuda_mask_test \
#             tests/cuda/ringlab_cuda_kernels_test bench/kernels/ringlab_mask_bench
#   device: COMMIT=<hash> bash bench/kernels/device_mask_remeasure_call.sh .devbin/now   carry [".devdeps", ".devbin/now"]
#   1. device_mask_dynamic_call.sh without its A/B and odd shapes: the masked kernel tests (float64, poisoned outputs),
#      racecheck and synccheck of the ws kernels, the dense ws tests, then the tables with PyTorch's paths
#      (mask_kernels_h100.md / _d256.md, --dense-each);
#   2. device_mask_heldout.sh coverage and heldout with DENSE_EACH=1: the simulator's masked-kernel terms
#      (calibrate/scripts/masked_cost_fit.py);
#   3. 30 random odd shapes and masks through `ringlab run --world 1 --verify` (float64 reference).
# STEPS (default "1 2 3") picks steps. $OUT: all.tar.gz (step 1), mask_coverage.tar.gz, mask_heldout.tar.gz,
# odd.tar.gz; the summaries are printed as each step ends. Written 2026-12-07 and not yet run on a GPU (no machine
# started that session); its parts are the scripts named above, each of which has run.
set -uo pipefail
bins=$1
STEPS=${STEPS:-1 2 3}
source bench/device_call_start.sh ringlab_remeasure "$bins"  # OUT, W, el, the binaries under B, LD_LIBRARY_PATH
export OUT
for step in $STEPS; do
  case $step in
    1) el "== 1. tests, sanitizers, tables with PyTorch's paths"
       SKIP_AB=1 SKIP_ODD=1 bash bench/kernels/device_mask_dynamic_call.sh "$bins" "$bins" 2>&1 | grep -v '^\s*$' | tail -30 ;;
    2) for set in coverage heldout; do
         el "== 2. $set (ours only, dense beside each case)"
         DENSE_EACH=1 bash bench/kernels/device_mask_heldout.sh "$bins/bins.tar.xz" "$OUT" $set 2>&1 | tail -8
       done ;;
    3) el "== 3. odd shapes vs float64"
       o=$W/odd && mkdir -p "$o"
       timeout 100 python3 bench/kernels/odd_shape_sweep.py --ringlab "$B/apps/ringlab" --count 30 --seed 23 \
         --timeout 40 --budget 90 --out "$o" > "$o/odd_summary.md" 2> "$o/odd_sweep.log"
       echo "odd_shape_sweep rc=$?"; tail -4 "$o/odd_summary.md"
       tar czf "$OUT/odd.tar.gz" -C "$o" . ;;
    *) echo "device_mask_remeasure_call: STEPS holds 1, 2 or 3, not '$step'" >&2; exit 2 ;;
  esac
done
el "done"
