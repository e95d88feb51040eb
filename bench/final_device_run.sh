#!/usr/bin/env bash
# One call on a 4-GPU H100 machine, after bench/cp/build_device.sh filled .device-exec/ (plus the kernel test and
# benchmark binaries): run with carry [".device-exec"] as `bash bench/final_device_run.sh`.
#   1. kernel tests against the float64 reference, both backward kernels (v4 default, v5 candidate);
#   2. kernel benchmark v4 vs v5 and PyTorch SDPA (FLASH, CUDNN) at S=32768 D=128, same card, same run;
#   3. ours vs PyTorch Context Parallel, W = 2 and 4, S = 32768 and 131072, both methods, fwd and fwd+bwd, with the
#      faster correct backward kernel;
#   4. the executor's W=2/W=4 test matrix, in the time left before DEADLINE seconds.
# At most 8 files land in $OUT; a short table is printed last.
set -uo pipefail
D=.device-exec
OUT=${OUT:-/tmp/ringlab_final_out}
mkdir -p "$OUT"
source $D/device_env.sh > "$OUT/env.log" 2>&1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export LD_LIBRARY_PATH=$D:${NCCL_LIB_DIR:-}:${LD_LIBRARY_PATH:-}
{ date -u; cat $D/commit.txt; nvidia-smi --query-gpu=index,name,driver_version --format=csv; } >> "$OUT/env.log" 2>&1
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }

el "== 1. kernel tests (both backward kernels)"
timeout 150 $D/ringlab_cuda_kernels_test > "$OUT/kernel_tests.log" 2>&1
echo "kernel tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$OUT/kernel_tests.log" | tail -12
BWD=v4
if ! grep -qE "FAILED .*v5" "$OUT/kernel_tests.log" && grep -qE "OK \] .*/v5" "$OUT/kernel_tests.log"; then V5_OK=1; else V5_OK=0; fi
echo "v5 correct: $V5_OK"
timeout 45 compute-sanitizer --tool memcheck --error-exitcode 3 $D/ringlab_cuda_kernels_test \
  --gtest_filter='*Backward*/v5' > /tmp/memcheck.log 2>&1; echo "v5 memcheck rc=$?" | tee -a "$OUT/kernel_tests.log"
tail -3 /tmp/memcheck.log >> "$OUT/kernel_tests.log"

el "== 2. kernel benchmark, v4 vs v5, and the peer (SDPA FLASH/CUDNN) in the same run"
timeout 120 torchrun --standalone --nproc-per-node=1 $D/torch_cp_bench.py --skip seed,cp,nccl --seqs 32768 --iters 10 \
  --json /tmp/kpeer.json > /tmp/kpeer.log 2>&1; echo "peer sdpa rc=$?"
for v in v4 v5; do
  timeout 100 $D/ringlab_attention_bench --seqs 32768 --dims 128 --iters 10 --bwd-kernel $v --peer /tmp/kpeer.json \
    --json /tmp/kbench_$v.json --md /tmp/kbench_$v.md --commit "$(cat $D/commit.txt)" > /tmp/kbench_$v.log 2>&1
  echo "bench $v rc=$?"
done
BWD=$(python3 - "$V5_OK" <<'PY'
import json, sys
ok = sys.argv[1] == "1"
try:
    t = {v: sum(r["fwdbwd_ms"] for r in json.load(open(f"/tmp/kbench_{v}.json"))) for v in ("v4", "v5")}
    print("v5" if ok and t["v5"] < t["v4"] else "v4")
except Exception:
    print("v4")
PY
)
echo "backward kernel for the executor: $BWD"
export RINGLAB_BWD_KERNEL=$BWD
tar czf "$OUT/kernels.tar.gz" -C /tmp kpeer.json kpeer.log kbench_v4.json kbench_v5.json kbench_v4.md kbench_v5.md \
  kbench_v4.log kbench_v5.log 2>/dev/null

el "== 3. ours vs PyTorch Context Parallel"
RG=$D/ringlab-gpu
BENCH="--heads 32 --kv-heads 32 --dim 128 --batch 1 --sharding head-tail --method both --pass both --iters 10 --warmup 3"
OURS=()
for W in 2 4; do
  for S in 32768 131072; do
    single=""; [ $W = 2 ] && single="--single"
    timeout 100 $RG run --gpus $W --seq $S $BENCH $single --json /tmp/ours_${W}_${S}.json \
      --trace /tmp/bench_w${W}_s${S}.json >> /tmp/bench.log 2>&1; echo "ours W=$W S=$S rc=$?"
    OURS+=(/tmp/ours_${W}_${S}.json)
  done
done
python3 -c "import json,sys,os; json.dump(sum([json.load(open(f)) for f in sys.argv[1:] if os.path.exists(f)],[]), open('$OUT/ours.json','w'), indent=1)" "${OURS[@]}"
PEERS=()
for W in 2 4; do
  timeout 150 torchrun --standalone --nproc-per-node=$W $D/peer_with_memory.py $D/torch_cp_bench.py --skip seed,single \
    --seqs 32768,131072 --iters 10 --json /tmp/peer_$W.json >> /tmp/bench.log 2>&1; echo "peer W=$W rc=$?"
  PEERS+=(/tmp/peer_$W.json)
done
python3 -c "import json,sys,os; json.dump(sum([json.load(open(f)) for f in sys.argv[1:] if os.path.exists(f)],[]), open('$OUT/peer.json','w'), indent=1)" "${PEERS[@]}"
tar czf "$OUT/traces.tar.gz" -C /tmp bench.log $(cd /tmp && ls bench_w*.json 2>/dev/null) 2>/dev/null
python3 $D/merge_results.py --ours "$OUT/ours.json" --peer "$OUT/peer.json" --json "$OUT/cp.json" --md "$OUT/cp.md" \
  --note "commit $(cat $D/commit.txt), backward kernel $BWD" > /dev/null 2>&1
el "== 4. executor test matrix (with the time left)"
timeout $(( ${DEADLINE:-530} - ($(date +%s) - T0) )) $D/ringlab_gpu_executor_test > "$OUT/exec_tests.log" 2>&1; echo "executor tests rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]" "$OUT/exec_tests.log" | tail -8

el "== done"
echo "--- kernels (S=32768 D=128)"; cat /tmp/kbench_v4.md /tmp/kbench_v5.md 2>/dev/null | grep -E "^\| 128" 
echo "--- cp"; grep -E "^\| [24] " "$OUT/cp.md" | cut -c1-120
