#!/usr/bin/env bash
# The start-order rule (core/start_order.h) measured, one call on a 4-GPU machine after calibrate/device/build_device.sh
# and bench/cp/build_device.sh filled .device-exec/: carry [".device-exec"], `bash bench/start_order_ab.sh`.
#   1. the executor tests (4 GPUs) with the rule on;
#   2. A/B: the same binary with the listed order (default) and with --stream-order (each stream releases its ops as
#      they become ready: the executor before the rule), ABBA order so neither always runs on a hotter GPU, at the grid
#      points where the simulator missed most (alltoall, H = Hkv, W = 4) and one GQA point;
#   3. ours vs PyTorch Context Parallel (bench/cp/ours_vs_peer.sh) with the rule on.
# $OUT (8 files): executor_test.log, ab.json (every run's summary), ab.md, ab.tar.gz (env, logs, traces, bench.log)
# and ours.json, peer.json, cp.json, cp.md of ours_vs_peer.sh; the A/B table is printed last.
set -uo pipefail
D=.device-exec
OUT=${OUT:-/tmp/ringlab_ab_out}
BIN=$D/ringlab-cal
mkdir -p "$OUT" /tmp/ab
source $D/device_env.sh > /tmp/ab/env.log 2>&1
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export LD_LIBRARY_PATH=$D:${NCCL_LIB_DIR:-}:${LD_LIBRARY_PATH:-}
{ date -u; echo "commit $(tr '\n' ' ' < $D/commit.txt)"; nvidia-smi --query-gpu=index,name,driver_version --format=csv; } >> /tmp/ab/env.log 2>&1
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }

el "== 1. executor tests (4 GPUs)"
timeout 150 $D/ringlab_gpu_executor_test > "$OUT/executor_test.log" 2>&1
echo "executor tests rc=$?"; grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]" "$OUT/executor_test.log" | head -8

el "== 2. A/B: listed start order vs stream order"
ab() {  # W S H HKV D ORDER(listed|streams) K
  local name=w$1_s$2_h$3_k$4_d$5.$6.$7 flag=""
  [ "$6" = streams ] && flag=--stream-order
  timeout 90 $BIN run --gpus $1 --seq $2 --heads $3 --kv-heads $4 --dim $5 --batch 1 --sharding head-tail \
    --method alltoall --pass both --iters 5 --warmup 2 --warmup-ms 1000 $flag --json /tmp/ab/$name.summary.json \
    --trace /tmp/ab/$name.json > /tmp/ab/$name.log 2>&1
  echo "[+$(( $(date +%s) - T0 ))s] $name rc=$?"
}
for P in "4 16384 8 8 128" "4 16384 32 32 128" "4 65536 8 8 128" "2 16384 32 8 64"; do
  ab $P listed 1; ab $P streams 1; ab $P streams 2; ab $P listed 2
done
python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
rows, runs = {}, []
for f in sorted(glob.glob('/tmp/ab/*.summary.json')):
    point, order, k = os.path.basename(f)[:-len('.summary.json')].split('.')
    rec = json.load(open(f))[0]
    runs.append({'point': point, 'order': order, 'rep': int(k), 'fwd_ms': rec['fwd_ms'], 'fwdbwd_ms': rec['fwdbwd_ms'],
                 'gpu': rec['gpu']})
    rows.setdefault(point, {}).setdefault(order, []).append((rec['fwd_ms'], rec['fwdbwd_ms']))
json.dump(runs, open(f'{out}/ab.json', 'w'), indent=1)
lines = ['| point (alltoall) | fwd ms listed | fwd ms streams | listed/streams | fwd+bwd ms listed | fwd+bwd ms streams | listed/streams |',
         '|---|---|---|---|---|---|---|']
for point, o in rows.items():
    if 'listed' not in o or 'streams' not in o: continue
    f = {k: statistics.mean(v[0] for v in o[k]) for k in o}
    b = {k: statistics.mean(v[1] for v in o[k]) for k in o}
    lines.append(f"| {point} | {f['listed']:.3f} | {f['streams']:.3f} | {f['listed']/f['streams']:.3f} | "
                 f"{b['listed']:.3f} | {b['streams']:.3f} | {b['listed']/b['streams']:.3f} |")
open(f'{out}/ab.md', 'w').write('\n'.join(lines) + '\n')
PY

el "== 3. ours vs PyTorch Context Parallel (listed order)"
BENCH_LOG=/tmp/ab/bench.log source bench/cp/ours_vs_peer.sh
cp /tmp/bench_w*.json /tmp/ab/ 2>/dev/null
tar czf "$OUT/ab.tar.gz" -C /tmp ab
el "== done"
cat "$OUT/cp.md" 2>/dev/null | tail -22
cat "$OUT/ab.md"
