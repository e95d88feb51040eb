#!/usr/bin/env bash
# Ours vs PyTorch Context Parallel on the same GPUs, one after the other: `ringlab run` and bench/peer/peer_bench.py cp for
# W = 2 and 4, S = 32768 and 131072, H = Hkv = 32, D = 128, both methods, forward and forward+backward. Sourced by the
# device scripts (bench/final_device_run.sh, bench/cp/run_on_gpus.sh, bench/start_order_ab.sh) after they set D, OUT
# and the environment; writes $OUT/ours.json, peer.json, cp.json, cp.md, appends to $BENCH_LOG and leaves the traces
# as /tmp/bench_w<W>_s<S>*.json. NOTE: the note in cp.md names the commit in $D/commit.txt.
BENCH_LOG=${BENCH_LOG:-$OUT/bench.log}
RG=$D/ringlab
BENCH="--heads 32 --kv-heads 32 --dim 128 --batch 1 --sharding head-tail --method both --pass both --iters 10 --warmup 3"
OURS=()
for W in 2 4; do
  for S in 32768 131072; do
    single=""; [ $W = 2 ] && single="--single"
    timeout 150 $RG run --gpus $W --seq $S $BENCH $single ${OURS_EXTRA:-} --json /tmp/ours_${W}_${S}.json \
      --trace /tmp/bench_w${W}_s${S}.json >> "$BENCH_LOG" 2>&1; echo "ours W=$W S=$S rc=$?"
    OURS+=(/tmp/ours_${W}_${S}.json)
  done
done
python3 -c "import json,sys,os; json.dump(sum([json.load(open(f)) for f in sys.argv[1:] if os.path.exists(f)],[]), open('$OUT/ours.json','w'), indent=1)" "${OURS[@]}"
PEERS=()
for W in 2 4; do
  timeout 200 torchrun --standalone --nproc-per-node=$W bench/peer/peer_bench.py cp \
    --seqs 32768,131072 --iters 10 --json /tmp/peer_$W.json >> "$BENCH_LOG" 2>&1; echo "peer W=$W rc=$?"
  PEERS+=(/tmp/peer_$W.json)
done
python3 -c "import json,sys,os; json.dump(sum([json.load(open(f)) for f in sys.argv[1:] if os.path.exists(f)],[]), open('$OUT/peer.json','w'), indent=1)" "${PEERS[@]}"
python3 $D/merge_results.py --ours "$OUT/ours.json" --peer "$OUT/peer.json" --json "$OUT/cp.json" --md "$OUT/cp.md" \
  --note "commit $(cat $D/commit.txt)${CP_NOTE:-}" > /dev/null 2>&1
