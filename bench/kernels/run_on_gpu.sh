#!/usr/bin/env bash
# On a GPU machine, from the repository root, after bench/kernels/build_device.sh filled .device/ on the CPU machine:
#   bash bench/kernels/run_on_gpu.sh
# Runs the kernel tests, compute-sanitizer memcheck and racecheck on a small case, the PyTorch peer
# (../shared/bench/torch_cp_bench.py --skip seed,cp,nccl, copied into .device/) and our benchmark on the same shapes,
# all in one run on the same card. Logs go to $OUT (at most 8 files), the table is printed last.
set -uo pipefail
D=.device
OUT=${OUT:-/tmp/ringlab_kernels_out}
SEQS=${SEQS:-4096,8192,16384,32768}
DIMS=${DIMS:-128 64}
ITERS=${ITERS:-10}
mkdir -p "$OUT"
source $D/device_env.sh > "$OUT/tests.log" 2>&1
export LD_LIBRARY_PATH=$D:${LD_LIBRARY_PATH:-}
COMMIT=$(cat $D/commit.txt)
{ date -u; nvidia-smi; cat $D/ptxas_summary.txt; } >> "$OUT/tests.log" 2>&1

echo "== tests"
$D/ringlab_cuda_kernels_test >> "$OUT/tests.log" 2>&1
TEST_RC=$?
grep -E "^\[ (forward|merge|backward|bwd acc) |PASSED|FAILED|SKIPPED" "$OUT/tests.log" | tail -60

echo "== compute-sanitizer (small cases)"
{
  echo "--- memcheck"
  RINGLAB_CUDA_TEST_SMALL=1 compute-sanitizer --tool memcheck --error-exitcode 3 $D/ringlab_cuda_kernels_test \
    --gtest_filter='*Forward*:*BackwardMatches*'
  echo "memcheck rc=$?"
  echo "--- racecheck"
  RINGLAB_CUDA_TEST_SMALL=1 compute-sanitizer --tool racecheck --racecheck-report all --error-exitcode 3 \
    $D/ringlab_cuda_kernels_test --gtest_filter='*ForwardOverwrite*:*BackwardMatches*'
  echo "racecheck rc=$?"
} > "$OUT/sanitizer.log" 2>&1
grep -E "rc=|ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitizer.log"

echo "== peer (PyTorch SDPA FLASH and CUDNN)"
PEERS=()
for d in $DIMS; do
  for mask in causal full; do
    f=/tmp/peer_d${d}_${mask}.json
    extra=""
    [ $mask = full ] && extra="--no-causal"
    timeout 200 torchrun --standalone --nproc-per-node=1 $D/torch_cp_bench.py --skip seed,cp,nccl --seqs "$SEQS" \
      --dim $d $extra --iters $ITERS --json $f >> "$OUT/peer.log" 2>&1 || echo "peer d=$d $mask rc=$?"
    [ -f $f ] && PEERS+=(--peer $f)
  done
done
python3 - "$OUT/peer.json" /tmp/peer_d*.json <<'PY'
import json, sys
rows = []
for f in sys.argv[2:]:
    rows += json.load(open(f))
json.dump(rows, open(sys.argv[1], "w"), indent=1)
PY

echo "== ours"
$D/ringlab_attention_bench --seqs "$SEQS" --dims "$(echo $DIMS | tr ' ' ,)" --iters $ITERS "${PEERS[@]}" \
  --json "$OUT/kernels.json" --md "$OUT/kernels.md" --commit "$COMMIT" > "$OUT/bench.log" 2>&1
echo "bench rc=$?"
echo "tests rc=$TEST_RC"
cat "$OUT/bench.log"
