#!/usr/bin/env bash
# One call on a one-GPU H100 for the persistent masked forward's run length (RINGLAB_MASKED_RUN: consecutive query
# tiles a CTA takes per turn, kernels/cuda/attention_checks.h), binaries built on the CPU machine:
#   here:        bash bench/pack_device_binaries.sh build .devbin/now tests/cuda/ringlab_cuda_mask_test \
#                  tests/cuda/ringlab_cuda_kernels_test bench/kernels/ringlab_mask_bench
#   the device:  COMMIT=<hash> bash bench/kernels/device_mask_run_call.sh .devbin/now     carry [".devdeps", ".devbin"]
# Steps, most important first: (1) the masked kernel tests (every kernel, forward and backward; the persistent ws
# forward capped at 1-3 CTAs so that each CTA walks many tiles) with the default run and with runs 1 and 3 (a run that
# divides no tile count: partial runs at the end), and the dense ws forward tests; (2) racecheck of the masked ws
# forward on the small cases; (3) our masked speed table (mask_peer_bench.py, ours only) for each run in RUNS
# (default "1 2 4 8"; 1 is the plain stride of before), alternated, ROUNDS rounds (default 2); (4) with PEERS=1 the
# default run beside PyTorch's paths (SDPA with a mask, FlexAttention, nested jagged tensors): mask_kernels.{md,json}.
# TESTS=0 skips steps 1 and 2. $OUT/mask_run_call.tar.gz holds every log and table; the summaries are printed last.
set -uo pipefail
source bench/device_call_start.sh ringlab_mask_run_call "$1"
mkdir -p $W/runs
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv > $W/gpu.csv 2>&1
RUNS=${RUNS:-1 2 4 8}

if [ "${TESTS:-1}" = 1 ]; then
  el "== 1. masked kernel tests (default run, runs 1 and 3), dense ws forward tests"
  for run in default 1 3; do
    env $([ $run != default ] && echo RINGLAB_MASKED_RUN=$run) timeout 120 "$B/tests/cuda/ringlab_cuda_mask_test" \
      > $W/mask_tests_run_$run.log 2>&1
    echo "mask_test run=$run rc=$?" | tee -a $W/mask_tests_run_$run.log
  done
  timeout 40 "$B/tests/cuda/ringlab_cuda_kernels_test" --gtest_filter='*/ws' > $W/kernels_ws_tests.log 2>&1
  echo "kernels_test(ws) rc=$?" | tee -a $W/kernels_ws_tests.log

  el "== 2. racecheck, masked ws forward (small cases)"
  RINGLAB_CUDA_TEST_SMALL=1 timeout 150 compute-sanitizer --tool racecheck --error-exitcode 3 \
    "$B/tests/cuda/ringlab_cuda_mask_test" --gtest_filter='*Forward*/ws' > $W/racecheck.log 2>&1
  echo "racecheck rc=$? $(grep -E 'SUMMARY' $W/racecheck.log | tail -1)"
fi

el "== 3. runs $RUNS, ours only, alternated"
for round in $(seq 1 "${ROUNDS:-2}"); do
  for run in $RUNS; do
    RINGLAB_MASKED_RUN=$run timeout 60 python3 bench/kernels/mask_peer_bench.py --ours "$B/bench/kernels/ringlab_mask_bench" \
      --iters 10 --peers none --json $W/runs/run${run}_$round.json --md $W/runs/run${run}_$round.md --commit "$COMMIT" \
      > $W/runs/run${run}_$round.log 2>&1
    echo "run $run round $round rc=$?"
  done
done

if [ "${PEERS:-0}" = 1 ]; then
  el "== 4. the default run beside PyTorch's paths"
  timeout 200 python3 bench/kernels/mask_peer_bench.py --ours "$B/bench/kernels/ringlab_mask_bench" --iters 10 \
    --json $W/mask_kernels.json --md $W/mask_kernels.md --commit "$COMMIT" > $W/peers.log 2>&1
  echo "peers rc=$?"
fi

tar czf "$OUT/mask_run_call${TAG:-}.tar.gz" -C $W . 2>/dev/null
el "== summaries"
cat $W/gpu.csv
grep -hE "rc=|^\[  (PASSED|FAILED)|FAILED TEST" $W/mask_tests_run_*.log $W/kernels_ws_tests.log 2>/dev/null | head -20
python3 - $W/runs "$RUNS" <<'PY'
import glob, json, os, statistics, sys
d, runs = sys.argv[1], sys.argv[2].split()
rows = {}
for f in sorted(glob.glob(f"{d}/run*_*.json")):
    run = os.path.basename(f)[3:].split("_")[0]
    ours = json.load(open(f))["ours"]
    cases = dict(ours.get("cases", {}), **{"dense causal (unchanged)": ours.get("dense_causal", {})})
    for name, m in cases.items():
        for k in ("fwd_ms", "fwdbwd_ms"):
            rows.setdefault((name, k), {}).setdefault(run, []).append(m.get(k, 0.0))
print(f"{'case':34} {'pass':10} " + " ".join(f"{'run ' + r + ' ms':>10}" for r in runs) + "   (median of rounds)")
for (name, k), v in rows.items():
    print(f"{name:34} {k:10} " + " ".join(f"{statistics.median(v.get(r, [0])):10.3f}" for r in runs))
PY
[ -f $W/mask_kernels.md ] && grep -E "^\| (docs|window|case)" $W/mask_kernels.md | head -16
