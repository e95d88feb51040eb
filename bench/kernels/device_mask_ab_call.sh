#!/usr/bin/env bash
# One call on a one-GPU H100 for a change to the masked kernels (issue 19), binaries built on the CPU machine:
#   here:        bash bench/pack_device_binaries.sh build .devbin tests/cuda/ringlab_cuda_mask_test \
#                  tests/cuda/ringlab_cuda_kernels_test bench/kernels/ringlab_mask_bench bench/kernels/ringlab_mask_bench_old
#                (ringlab_mask_bench_old: the bench built before the change)
#   the device:  COMMIT=<hash> bash bench/kernels/device_mask_ab_call.sh .devbin       carry [".devdeps", ".devbin"]
# Steps, most important first: (1) the masked kernel tests (every kernel, forward and backward, the persistent ws
# forward capped at 1-3 CTAs so that each CTA walks many tiles) and the dense ws forward tests; (2) racecheck of the
# masked ws forward on the small cases; (3) A/B: our masked speed table (mask_peer_bench.py, ours only) of the old and
# the new bench, alternated, ROUNDS rounds (default 2); (4) with PEERS=1 (default) the new bench beside PyTorch's paths
# (SDPA with a mask, FlexAttention, nested jagged tensors) in the same call: mask_kernels.{md,json}.
# TESTS=0 skips steps 1 and 2. $OUT/mask_ab_call.tar.gz holds every log and table; the summaries are printed last.
set -uo pipefail
source bench/device_call_start.sh ringlab_mask_ab_call "$1"
mkdir -p $W/ab
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv > $W/gpu.csv 2>&1

if [ "${TESTS:-1}" = 1 ]; then
  el "== 1. masked kernel tests, dense ws forward tests"
  timeout 120 "$B/tests/cuda/ringlab_cuda_mask_test" > $W/mask_tests.log 2>&1
  echo "mask_test rc=$?" | tee -a $W/mask_tests.log
  timeout 40 "$B/tests/cuda/ringlab_cuda_kernels_test" --gtest_filter='*/ws' > $W/kernels_ws_tests.log 2>&1
  echo "kernels_test(ws) rc=$?" | tee -a $W/kernels_ws_tests.log

  el "== 2. racecheck, masked ws forward (small cases)"
  RINGLAB_CUDA_TEST_SMALL=1 timeout 150 compute-sanitizer --tool racecheck --error-exitcode 3 \
    "$B/tests/cuda/ringlab_cuda_mask_test" --gtest_filter='*Forward*/ws' > $W/racecheck.log 2>&1
  echo "racecheck rc=$? $(grep -E 'SUMMARY' $W/racecheck.log | tail -1)"
fi

el "== 3. A/B old vs new, ours only, alternated"
for round in $(seq 1 "${ROUNDS:-2}"); do
  for which in old new; do
    bin=$B/bench/kernels/ringlab_mask_bench
    [ $which = old ] && bin=$B/bench/kernels/ringlab_mask_bench_old
    timeout 60 python3 bench/kernels/mask_peer_bench.py --ours "$bin" --iters 10 --peers none \
      --json $W/ab/${which}_$round.json --md $W/ab/${which}_$round.md --commit "$COMMIT" > $W/ab/${which}_$round.log 2>&1
    echo "ab $which round $round rc=$?"
  done
done

if [ "${PEERS:-1}" = 1 ]; then
  el "== 4. the new bench beside PyTorch's paths"
  timeout 200 python3 bench/kernels/mask_peer_bench.py --ours "$B/bench/kernels/ringlab_mask_bench" --iters 10 \
    --json $W/mask_kernels.json --md $W/mask_kernels.md --commit "$COMMIT" > $W/peers.log 2>&1
  echo "peers rc=$?"
fi

tar czf "$OUT/mask_ab_call${TAG:-}.tar.gz" -C $W . 2>/dev/null
el "== summaries"
cat $W/gpu.csv
grep -E "rc=|^\[  (PASSED|FAILED)|FAILED TEST" $W/mask_tests.log $W/kernels_ws_tests.log | head -20
python3 - $W/ab <<'PY'
import glob, json, os, statistics, sys
d = sys.argv[1]
rows = {}
for f in sorted(glob.glob(f"{d}/*_*.json")):
    which = os.path.basename(f).split("_")[0]
    ours = json.load(open(f))["ours"]
    cases = dict(ours.get("cases", {}), **{"dense causal (unchanged)": ours.get("dense_causal", {})})
    for name, m in cases.items():
        for k in ("fwd_ms", "fwdbwd_ms"):
            rows.setdefault((name, k), {}).setdefault(which, []).append(m.get(k, 0.0))
print(f"{'case':36} {'pass':10} {'old ms':>9} {'new ms':>9} {'old/new':>8}")
for (name, k), v in rows.items():
    o, n = statistics.median(v.get("old", [0])), statistics.median(v.get("new", [0]))
    print(f"{name:36} {k:10} {o:9.3f} {n:9.3f} {o / n if n else float('nan'):8.3f}")
PY
[ -f $W/mask_kernels.md ] && grep -E "^\| (docs|window|case)" $W/mask_kernels.md | head -16
