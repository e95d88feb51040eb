#!/usr/bin/env bash
# One call on a one-GPU H100: the persistent masked forward taking its query tiles from a counter (this tree) against
# the same kernel with a fixed stride (an earlier build), same call, same card (issue 19).
#   here:   bash bench/pack_device_binaries.sh build .devbin/dyn apps/ringlab tests/cuda/ringlab_cuda_mask_test \
#             tests/cuda/ringlab_cuda_kernels_test bench/kernels/ringlab_mask_bench
#           .devbin/old/bins.tar.xz: the earlier build's bench/kernels/ringlab_mask_bench (and lib/)
#   device: COMMIT=<hash> OLD_COMMIT=<hash> bash bench/kernels/device_mask_dynamic_call.sh .devbin/dyn .devbin/old
#           carry [".devdeps", ".devbin"]
#   1. the masked kernel tests (every kernel; persistent CTAs capped so each walks many tiles), racecheck and synccheck
#      on the ws cases, the dense ws tests;
#   2. random odd shapes and masks through `ringlab run --world 1 --verify` (float64 reference);
#   3. speed, ours only, old then new then old: the issue's six cases (B1 H32 S32768 D128) and the same at D256
#      (B1 H16 S16384), so drift shows as old-vs-old;
#   4. the tables with PyTorch's paths on the new build (mask_kernels_h100.md / _d256.md; SKIP_PEERS_D128=1 leaves the
#      first out, SKIP_PEERS=1 both). SAN_TOOLS (default "racecheck synccheck"; " " none) the sanitizers of step 1;
#      SKIP_ODD=1 leaves step 2 out, SKIP_AB=1 step 3 (the second argument is then still unpacked: pass the same folder).
# PROBE=FILE: also run bench/kernels/racecheck_probe's binary under racecheck in both modes (step 1).
# $OUT/all.tar.gz: every log, and results/ (env.txt, ab_*.json, the mask tables); the summary is printed last.
set -uo pipefail
source bench/device_call_start.sh ringlab_mask_dyn "$1"
OLD=/tmp/devbin_old
R=$W/results  # every output goes into one archive (the device tool brings back a few files only)
mkdir -p $R
mkdir -p $OLD && tar xJf "$2/bins.tar.xz" -C $OLD
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
{ date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; echo "new binaries $COMMIT, old ${OLD_COMMIT:-unknown}"; } \
  > "$R/env.txt" 2>&1
MB=bench/kernels/mask_peer_bench.py

el "== 1. tests"
timeout 120 "$B/tests/cuda/ringlab_cuda_mask_test" > $W/mask_test.log 2>&1
echo "mask_test rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $W/mask_test.log | tr '\n' ' ')"
for tool in ${SAN_TOOLS:-racecheck synccheck}; do
  RINGLAB_CUDA_TEST_SMALL=1 timeout 90 compute-sanitizer --tool $tool --error-exitcode 3 \
    "$B/tests/cuda/ringlab_cuda_mask_test" --gtest_filter='*/ws' > $W/mask_$tool.log 2>&1
  echo "mask $tool rc=$? $(grep -E 'SUMMARY' $W/mask_$tool.log | tail -1)"
done
timeout 60 "$B/tests/cuda/ringlab_cuda_kernels_test" --gtest_filter='*/ws' > $W/kernels_ws.log 2>&1
echo "kernels_test(ws) rc=$? $(grep -E '^\[  (PASSED|FAILED)' $W/kernels_ws.log | tr '\n' ' ')"

if [ -n "${PROBE:-}" ]; then
  for mode in 0 1; do
    timeout 60 compute-sanitizer --tool racecheck --error-exitcode 3 "$PROBE" $mode > $W/probe_$mode.log 2>&1
    echo "racecheck probe mode $mode rc=$? $(grep -E 'summed|SUMMARY' $W/probe_$mode.log | tr '\n' ' ')"
  done
fi

if [ -z "${SKIP_ODD:-}" ]; then
el "== 2. odd shapes vs float64"
timeout 100 python3 bench/kernels/odd_shape_sweep.py --ringlab "$B/apps/ringlab" --count 30 --seed 17 --timeout 40 \
  --budget 90 --out $W > $W/odd_summary.md 2> $W/odd_sweep.log
echo "odd_shape_sweep rc=$?"; tail -4 $W/odd_summary.md
fi

ab_dims=""
[ -n "${SKIP_AB:-}" ] || { el "== 3. A/B, ours only"; ab_dims="128 256"; }
for d in $ab_dims; do
  if [ $d = 128 ]; then shape="--seq 32768 --heads 32 --dim 128"; else shape="--seq 16384 --heads 16 --dim 256"; fi
  for run in old1 new old2; do
    bin=$B/bench/kernels/ringlab_mask_bench; [ ${run#old} != $run ] && bin=$OLD/bench/kernels/ringlab_mask_bench
    LD_LIBRARY_PATH=$OLD/lib:$LD_LIBRARY_PATH timeout 90 python3 $MB --ours $bin $shape --iters 10 --peers none \
      --json $R/ab_d${d}_$run.json --commit $run > $W/ab_d${d}_$run.log 2>&1
    echo "ab d$d $run rc=$?"
  done
done

if [ -z "${SKIP_PEERS:-}" ]; then
el "== 4. with PyTorch's paths (new)"
[ -n "${SKIP_PEERS_D128:-}" ] || { timeout 150 python3 $MB --ours $B/bench/kernels/ringlab_mask_bench --iters 10 --dense-each \
  --json $R/mask_kernels_h100.json --md $R/mask_kernels_h100.md --commit "$COMMIT" > $W/peers_d128.log 2>&1
  echo "peers d128 rc=$?"; }
timeout 100 python3 $MB --ours $B/bench/kernels/ringlab_mask_bench --seq 16384 --heads 16 --dim 256 --iters 10 --dense-each \
  --json $R/mask_kernels_h100_d256.json --md $R/mask_kernels_h100_d256.md --commit "$COMMIT" > $W/peers_d256.log 2>&1
echo "peers d256 rc=$?"
fi

tar czf "$OUT/all.tar.gz" -C "$W" . 2>/dev/null
el "== summary"
cat "$R/env.txt"
python3 - "$R" <<'PY'
import json, os, sys
out = sys.argv[1]
for d in (128, 256):
    runs = {}
    for r in ("old1", "new", "old2"):
        p = os.path.join(out, f"ab_d{d}_{r}.json")
        if os.path.exists(p):
            runs[r] = json.load(open(p))["ours"]
    if "new" not in runs:
        continue
    print(f"D={d} | fwd ms old1 / new / old2 | fwd+bwd ms old1 / new / old2")
    for name in list(runs["new"]["cases"]) + ["dense_causal"]:
        get = lambda r, k: (runs[r]["cases"].get(name) or runs[r].get(name) or {}).get(k, float("nan")) if r in runs else float("nan")
        print(f"{name} | " + " / ".join(f"{get(r, 'fwd_ms'):.3f}" for r in ("old1", "new", "old2")) + " | "
              + " / ".join(f"{get(r, 'fwdbwd_ms'):.3f}" for r in ("old1", "new", "old2")))
PY
