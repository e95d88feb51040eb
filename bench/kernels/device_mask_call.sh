#!/usr/bin/env bash
# One call on a one-GPU H100 for the masked kernels (issue 19), binaries built on the CPU machine and carried in:
#   here:        bash bench/pack_device_binaries.sh build .devbin
#   the device:  COMMIT=<hash> bash bench/kernels/device_mask_call.sh .devbin        carry [".devdeps", ".devbin"]
# Steps: (1) the masked speed table of our kernels alone with RINGLAB_MASKED_PERSISTENT=0 (one query tile per CTA, as
# before the persistent masked ws forward: the A/B baseline, same card); (2) device_mask.sh: the masked kernel tests
# (every kernel; the persistent ws forward capped at 1-3 CTAs), `ringlab run --world 1 --mask ... --verify`, the speed
# table with PyTorch's paths (persistent); (3) a dense kernel table (D 64/128 causal) of these binaries and, given
# OLD_BENCH (an attention bench built before the change), of the old ones, alternated; (4) racecheck
# (SANITIZERS="racecheck memcheck" for both) on the masked ws forward's small cases. PEERS=0: step 2 without PyTorch's
# paths and without `ringlab run` (a short call).
# $OUT: mask_call.tar.gz (every log and table: the device tool returns few files); the summaries are printed last.
set -uo pipefail
source bench/device_call_start.sh ringlab_mask_call "$1"
mkdir -p $W/before $W/mask
export LD_LIBRARY_PATH=$B/lib:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv > $W/gpu.csv 2>&1

el "== 1. baseline: the forward one tile per CTA (RINGLAB_MASKED_PERSISTENT=0), ours only"
RINGLAB_MASKED_PERSISTENT=0 timeout 60 python3 bench/kernels/mask_peer_bench.py --ours "$B/bench/kernels/ringlab_mask_bench" \
  --iters 10 --peers none --json $W/before/mask_kernels_before.json --md $W/before/mask_kernels_before.md \
  --commit "$COMMIT" > $W/before.log 2>&1
echo "baseline rc=$?"

if [ "${PEERS:-1}" = 1 ]; then
  el "== 2. masked kernels: tests, ringlab run --verify, speed with the peers (persistent forward)"
  MASK_TEST_TIMEOUT=100 timeout 250 bash bench/kernels/device_mask.sh "$B" $W/mask "$COMMIT" > $W/mask.log 2>&1
  echo "device_mask rc=$?"
else  # PEERS=0: a short call: the masked tests and our table alone (PyTorch's paths take ~2 minutes to compile)
  el "== 2. masked kernels: tests, our speed table alone (persistent forward)"
  mkdir -p $W/mask
  timeout 100 "$B/tests/cuda/ringlab_cuda_mask_test" > $W/mask/tests.log 2>&1
  echo "mask_test rc=$?" | tee -a $W/mask/tests.log
  timeout 60 python3 bench/kernels/mask_peer_bench.py --ours "$B/bench/kernels/ringlab_mask_bench" --iters 10 \
    --peers none --json $W/mask/mask_kernels_after.json --md $W/mask/mask_kernels_after.md --commit "$COMMIT" \
    > $W/mask.log 2>&1
  echo "ours (persistent) rc=$?"
  cat $W/mask/mask_kernels_after.md >> $W/mask.log
fi

el "== 3. dense kernels, forward: these binaries and (OLD_BENCH) the ones before the change, alternated"
for round in 1 2; do
  for which in new old; do
    bin=$B/bench/kernels/ringlab_attention_bench
    [ $which = old ] && bin=${OLD_BENCH:-}
    [ -x "$bin" ] || continue
    timeout 40 "$bin" --seqs 8192,32768 --dims 64,128 --masks causal --iters 20 --no-backward \
      --md $W/dense_${which}_$round.md > $W/dense_${which}_$round.log 2>&1
    echo "dense $which round $round rc=$?"
  done
done

el "== 4. sanitizers on the masked ws kernels (small cases)"
for tool in ${SANITIZERS:-racecheck}; do
  RINGLAB_CUDA_TEST_SMALL=1 timeout 150 compute-sanitizer --tool $tool --error-exitcode 3 \
    "$B/tests/cuda/ringlab_cuda_mask_test" --gtest_filter="${SAN_FILTER:-*Forward*/ws}" > $W/mask_$tool.log 2>&1
  echo "mask $tool rc=$? $(grep -E 'SUMMARY' $W/mask_$tool.log | tail -1)"
done

tar czf "$OUT/mask_call.tar.gz" -C $W . 2>/dev/null
el "== summaries"
cat $W/gpu.csv
grep -E "persistent|rc=|PASSED|FAILED" $W/mask/tests.log | grep -vE "^\[ (mask|persistent)" | head -20
grep -cE "^\[ persistent" $W/mask/tests.log | sed 's/^/persistent check lines: /'
tail -22 $W/mask.log
echo "-- dense forward (new / old, two rounds)"; for f in $W/dense_*.log; do echo "$f"; grep -E "causal" "$f" | head -4; done
echo "-- baseline (one tile per CTA), ours only"
grep -E "^\| (docs|window)" $W/before/mask_kernels_before.md
