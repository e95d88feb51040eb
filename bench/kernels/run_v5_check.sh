#!/usr/bin/env bash
# On a GPU machine, from the repository root, after bench/kernels/build_device.sh filled .device/ on the CPU machine
# (run with carry [".device"]):
#   bash bench/kernels/run_v5_check.sh
# Checks and times the v5 backward (attention_backward_v5.cu) against the default v4 in one run on one card:
#   1. the CUDA kernel tests (forward, and backward for both variants) against the float64 CPU reference;
#   2. compute-sanitizer memcheck and racecheck on the small v5 backward cases;
#   3. the benchmark at D=128, S in {8192, 32768}, causal and full, fwd and fwd+bwd, v4 and v5 alternated twice;
#   4. a short side-by-side table, printed last.
# Logs and JSON go to $OUT (the run tool's output folder when set, else /tmp/ringlab_v5_out).
set -uo pipefail
D=.device
OUT=${OUT:-/tmp/ringlab_v5_out}
SEQS=${SEQS:-8192,32768}
ITERS=${ITERS:-10}
REPEATS=${REPEATS:-2}
mkdir -p "$OUT"
[ -f $D/device_env.sh ] && source $D/device_env.sh > "$OUT/tests.log" 2>&1
export LD_LIBRARY_PATH=$D:${LD_LIBRARY_PATH:-}
COMMIT=$(cat $D/commit.txt 2>/dev/null || echo unknown)
{ date -u; nvidia-smi; cat $D/ptxas_summary.txt; } >> "$OUT/tests.log" 2>&1

echo "== tests (both backward variants)"
timeout 400 $D/ringlab_cuda_kernels_test >> "$OUT/tests.log" 2>&1
TEST_RC=$?
grep -E "^\[ (backward|bwd acc) |FAILED|PASSED|SKIPPED|Failure|rel " "$OUT/tests.log" | grep -vE "^\[ (forward|merge) " | tail -50
echo "tests rc=$TEST_RC"

echo "== compute-sanitizer (small v5 cases)"
{
  echo "--- memcheck"
  RINGLAB_CUDA_TEST_SMALL=1 timeout 300 compute-sanitizer --tool memcheck --error-exitcode 3 \
    $D/ringlab_cuda_kernels_test --gtest_filter='*BackwardMatches*/v5:*BackwardAccumulates*/v5'
  echo "memcheck rc=$?"
  echo "--- racecheck"
  RINGLAB_CUDA_TEST_SMALL=1 timeout 300 compute-sanitizer --tool racecheck --racecheck-report all --error-exitcode 3 \
    $D/ringlab_cuda_kernels_test --gtest_filter='*BackwardMatches*/v5'
  echo "racecheck rc=$?"
} > "$OUT/sanitizer.log" 2>&1
grep -E "rc=|ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitizer.log"

echo "== bench (D=128, S=$SEQS, causal and full; v4 and v5 alternated, $REPEATS repeats)"
# The FLASH numbers for the ratio columns come from the committed v4 run's peer JSON (same card type, another
# call); the v4-vs-v5 comparison itself is in this run.
PEER=bench/results/kernels_v4_peer_h100_2026-11-27.json
PEER_ARGS=()
[ -f $PEER ] && PEER_ARGS=(--peer $PEER)
for r in $(seq 1 $REPEATS); do
  for v in v4 v5; do
    timeout 200 $D/ringlab_attention_bench --seqs "$SEQS" --dims 128 --iters $ITERS --bwd-kernel $v "${PEER_ARGS[@]}" \
      --json "$OUT/bench_${v}_r$r.json" --commit "$COMMIT" > "$OUT/bench_${v}_r$r.log" 2>&1
    echo "bench $v repeat $r rc=$?"
  done
done

echo "== summary (median over repeats; bwd = fwd+bwd - fwd; FLASH fwd+bwd TFLOP/s from $PEER)"
python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
rows = {}
for f in sorted(glob.glob(os.path.join(out, "bench_v*_r*.json"))):
    try:
        data = json.load(open(f))
    except Exception as e:
        print("cannot read", f, e)
        continue
    for r in data:
        key = (r["D"], r["S"], "causal" if r["causal"] else "full")
        rows.setdefault(key, {}).setdefault(r["bwd_kernel"], []).append(r)
print(f"{'D':>4} {'S':>6} {'mask':>6} | {'v4 fb ms':>9} {'v5 fb ms':>9} {'v4 bwd':>8} {'v5 bwd':>8} {'bwd x':>6} |"
      f" {'v4 TF':>6} {'v5 TF':>6} {'FLASH':>6} {'v5/FL':>6}")
for key in sorted(rows):
    d = rows[key]
    if "v4" not in d or "v5" not in d:
        continue
    med = lambda v, f: statistics.median(x[f] for x in d[v])
    fb4, fb5 = med("v4", "fwdbwd_ms"), med("v5", "fwdbwd_ms")
    b4, b5 = fb4 - med("v4", "fwd_ms"), fb5 - med("v5", "fwd_ms")
    tf4, tf5 = med("v4", "fwdbwd_tflops"), med("v5", "fwdbwd_tflops")
    fl = d["v5"][0].get("flash_fwdbwd_tflops", 0.0)
    print(f"{key[0]:>4} {key[1]:>6} {key[2]:>6} | {fb4:9.3f} {fb5:9.3f} {b4:8.3f} {b5:8.3f} {b4 / b5:6.3f} |"
          f" {tf4:6.1f} {tf5:6.1f} {fl:6.1f} {(tf5 / fl if fl else 0):6.3f}")
PY
echo "tests rc=$TEST_RC"
