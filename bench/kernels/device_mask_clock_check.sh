#!/usr/bin/env bash
# One call on a one-GPU H100: does our dense causal baseline run at another clock than the masked cases it divides
# (issue 19's 0.9x floor)? ringlab_mask_bench times dense causal first, then the masked cases, then dense causal again
# (`dense_causal_after`) and right before each case (--dense-each), in bursts (synchronised single runs, as
# the tables were timed) and sustained (each kernel back to back SUSTAIN_MS, default 200, before its timed runs);
# nvidia-smi samples the SM clock, power and temperature beside it (a read-only query).
#   here:   bash bench/pack_device_binaries.sh build .devbin/dyn bench/kernels/ringlab_mask_bench
#   device: COMMIT=<hash> REPS=2 bash bench/kernels/device_mask_clock_check.sh .devbin/dyn
#           carry [".devdeps", ".devbin"]; PEERS=1 also writes the tables with PyTorch's paths (D = 128 and 256)
# $OUT/all.tar.gz: every log, the runs' JSON (clock_<mode>_d<D>_<rep>.json) and the clock samples (smi.csv); the summary
# table (per run: dense before / after, each case's ratio against both; REPS >= 1) and, with PEERS, the two tables'
# ours/dense and ours/best-peer columns are printed last.
set -uo pipefail
source bench/device_call_start.sh ringlab_mask_clock "$1"
R=$W/results
mkdir -p $R
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
{ date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; echo "binaries $COMMIT"; } \
  > "$R/env.txt" 2>&1
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
  --format=csv -lms 200 > $R/smi.csv 2> $W/smi.err &
SMI=$!
for rep in $(seq 1 ${REPS:-2}); do
  for mode in burst sustained; do
    sus=0; [ $mode = sustained ] && sus=${SUSTAIN_MS:-200}
    for d in 128 256; do
      if [ $d = 128 ]; then shape="--seq 32768 --heads 32 --dim 128"; else shape="--seq 16384 --heads 16 --dim 256"; fi
      el "rep $rep $mode D=$d"
      timeout 120 python3 bench/kernels/mask_peer_bench.py --ours $B/bench/kernels/ringlab_mask_bench $shape \
        --iters 10 --sustain-ms $sus --dense-each --peers none --json $R/clock_${mode}_d${d}_$rep.json --commit "$COMMIT" \
        > $W/clock_${mode}_d${d}_$rep.log 2>&1
      echo "rc=$?"
    done
  done
done
# PEERS=1: the tables with PyTorch's paths, ours in bursts as the peers are timed, dense next to each case
if [ -n "${PEERS:-}" ]; then
  el "peers D=128"
  timeout 200 python3 bench/kernels/mask_peer_bench.py --ours $B/bench/kernels/ringlab_mask_bench --iters 10 \
    --dense-each --json $R/mask_kernels_h100.json --md $R/mask_kernels_h100.md --commit "$COMMIT" > $W/peers_d128.log 2>&1
  echo "rc=$?"
  el "peers D=256"
  timeout 150 python3 bench/kernels/mask_peer_bench.py --ours $B/bench/kernels/ringlab_mask_bench --seq 16384 \
    --heads 16 --dim 256 --iters 10 --dense-each --json $R/mask_kernels_h100_d256.json --md $R/mask_kernels_h100_d256.md \
    --commit "$COMMIT" > $W/peers_d256.log 2>&1
  echo "rc=$?"
fi
kill $SMI 2>/dev/null
tar czf "$OUT/all.tar.gz" -C "$W" . 2>/dev/null
el "== summary"
cat "$R/env.txt"
# the clock table needs REPS >= 1; a PEERS-only call prints its two tables instead
if [ "${REPS:-2}" -gt 0 ]; then python3 bench/kernels/mask_clock_summary.py "$R"; fi
if [ -n "${PEERS:-}" ]; then
  for md in "$R/mask_kernels_h100.md" "$R/mask_kernels_h100_d256.md"; do
    [ -f "$md" ] && grep -E '^(# |## |\| )' "$md" | cut -d'|' -f1-7,11
  done
fi
