#!/usr/bin/env bash
# On a 4-GPU machine, from the repository root, after bench/cp/build_device.sh filled .device-exec/ (builds nothing):
#   bash bench/cp/run_on_gpus.sh
# 1. the GPU test matrix and fault tests; 2. `ringlab run --verify` through the CLI, one process with 4 GPUs and the
# multi-process path (torchrun --no-python with MASTER_ADDR/PORT, and --nccl-id-file with a rank that dies);
# 3. the benchmark: ours (`ringlab run`) and the peer (bench/peer/peer_bench.py cp) for W = 2 and 4,
# S = 32768 and 131072, both methods; merged into cp.json / cp.md. Logs under $OUT (8 files: tests.log cli.log bench.log traces.tar.gz ours.json peer.json cp.json cp.md); table last.
set -uo pipefail
D=.device-exec
OUT=${OUT:-/tmp/ringlab_cp_out}
mkdir -p "$OUT"
source $D/device_env.sh > "$OUT/tests.log" 2>&1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export LD_LIBRARY_PATH=$D:${NCCL_LIB_DIR:-}:${LD_LIBRARY_PATH:-}
RG=$D/ringlab
{ date -u; cat $D/commit.txt; nvidia-smi; nvidia-smi topo -m; ldd $RG; } >> "$OUT/tests.log" 2>&1
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }

el "== 1. GPU tests"
timeout 150 $D/ringlab_gpu_executor_test >> "$OUT/tests.log" 2>&1; echo "executor tests rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests? ran|FAILED " "$OUT/tests.log" | tail -8
timeout 60 $D/ringlab_gpu_fault_test >> "$OUT/tests.log" 2>&1; echo "fault tests rc=$?"
grep -E "^\[ fault" "$OUT/tests.log"

el "== 2. CLI: verify, multi-process"
P="--heads 8 --kv-heads 2 --dim 128 --seq 2048"
{
  echo "--- one process, 4 GPUs, --verify (vs 1 GPU and CPU float64)"
  timeout 120 $RG run --gpus 4 $P --method both --pass both --verify --iters 2 --warmup 1 --trace /tmp/v.json --out /tmp/vout
  echo "rc=$?"
  echo "--- contiguous sharding, full mask, 2 GPUs, --verify"
  timeout 60 $RG run --gpus 2 $P --no-causal --sharding contiguous --method both --verify --iters 2 --warmup 1
  echo "rc=$?"
  echo "--- read back the .npy files just written: --q/--k/--v/--do, --verify"
  timeout 60 $RG run --gpus 2 $P --method alltoall --q /tmp/vout/alltoall/q.npy --k /tmp/vout/alltoall/k.npy \
    --v /tmp/vout/alltoall/v.npy --do /tmp/vout/alltoall/do.npy --verify --iters 1 --warmup 0
  echo "rc=$?"
  echo "--- bad .npy (shape)"; timeout 30 $RG run --gpus 2 $P --q /tmp/vout/alltoall/k.npy --k /tmp/vout/alltoall/k.npy --v /tmp/vout/alltoall/v.npy; echo "rc=$?"
  echo "--- too many GPUs"; timeout 30 $RG run --gpus 16 $P; echo "rc=$?"
  echo "--- too large for memory"; timeout 60 $RG run --gpus 2 --seq 4194304 --heads 64 --kv-heads 64; echo "rc=$?"
  echo "--- multi-process: torchrun --no-python, 4 ranks, MASTER_ADDR/MASTER_PORT"
  timeout 90 torchrun --standalone --nproc-per-node=4 --no-python $RG run $P --method both --pass both --verify \
    --iters 2 --warmup 1 --timeout 30
  echo "rc=$?"
  echo "--- multi-process: --nccl-id-file, 2 ranks by hand"
  rm -f /tmp/ncclid*
  for r in 0 1; do RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r timeout 60 $RG run $P --nccl-id-file /tmp/ncclid --iters 2 \
    --warmup 1 > /tmp/mp$r.log 2>&1 & done; wait; cat /tmp/mp0.log /tmp/mp1.log
  echo "--- multi-process fault: rank 1 dies at op 1 (file mode): every rank must exit, none hang"
  rm -f /tmp/ncclid*
  for r in 0 1; do ( t0=$(date +%s); RINGLAB_FAULT=1:1:exit RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r timeout 60 $RG run $P \
    --nccl-id-file /tmp/ncclid --timeout 8 > /tmp/mf$r.log 2>&1; echo "rank $r rc=$? after $(( $(date +%s) - t0 )) s" >> /tmp/mf$r.log ) & done
  wait; cat /tmp/mf0.log /tmp/mf1.log
  echo "--- single-process fault: rank 0 errors at op 0, 4 GPUs"
  t0=$(date +%s); RINGLAB_FAULT=0:0:error timeout 60 $RG run --gpus 4 $P; echo "rc=$? after $(( $(date +%s) - t0 )) s"
} > "$OUT/cli.log" 2>&1
grep -E "^---|rc=|verify:|error" "$OUT/cli.log" | head -60
tar czf "$OUT/traces.tar.gz" -C /tmp v.allgather.json v.alltoall.json v.allgather.backward.json v.alltoall.backward.json 2>/dev/null

[ "${SKIP_BENCH:-0}" = 1 ] && { el "== benchmark skipped (SKIP_BENCH=1)"; exit 0; }
el "== 3. benchmark: ours, then the peer"
source bench/cp/ours_vs_peer.sh
tar czf "$OUT/traces.tar.gz" -C /tmp $(cd /tmp && ls v.*.json bench_w*.json 2>/dev/null) 2>/dev/null
el "== done"
grep -E "^-- |forward|one GPU" "$OUT/bench.log" | head -40
cat "$OUT/cp.md"
