#!/usr/bin/env bash
# One call on a one-GPU H100, binaries built on the CPU machine (bench/pack_device_binaries.sh build .devbin/now):
#   1. the off-tile coverage (bench/kernels/offtile_shapes.txt: lengths off the 128-token tile, each beside a multiple
#      of 128 near it): our kernels and PyTorch SDPA FLASH, timed sustained (bench/kernels/run_shapes.sh), for the
#      kernel models' partial-tile cost (issue 15);
#   2. the masked kernels at head dim 256 against our dense kernel and PyTorch's paths (bench/kernels/mask_peer_bench.py
#      --dim 256, B1 H16 S16384; issue 19).
#   COMMIT=<hash> bash bench/kernels/device_offtile_call.sh .devbin/now      carry [".devdeps", ".devbin"]
# $OUT: offtile_ours.json, offtile_peer.json, offtile_table.md, mask_d256.{md,json}, logs.tar.gz; summaries printed last.
set -uo pipefail
source bench/device_call_start.sh ringlab_offtile "$1"
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
{ date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; echo "binaries of commit $COMMIT"; } \
  > "$OUT/env.txt" 2>&1

el "== 1. off-tile coverage: ours and SDPA FLASH, sustained"
BENCH=$B/bench/kernels/ringlab_attention_bench SHAPES=bench/kernels/offtile_shapes.txt OUT=$W ITERS=7 \
  SUSTAIN_MS=${SUSTAIN_MS:-300} BACKENDS=FLASH_ATTENTION timeout ${SHAPES_TIMEOUT:-280} bash bench/kernels/run_shapes.sh \
  > "$W/offtile_table.md" 2>&1
echo "run_shapes rc=$?"
cp "$W/shapes_ours.json" "$OUT/offtile_ours.json" 2>/dev/null
cp "$W/shapes_peer.json" "$OUT/offtile_peer.json" 2>/dev/null
cp "$W/offtile_table.md" "$OUT/" 2>/dev/null

el "== 2. masked kernels at D=256 with PyTorch's paths"
timeout ${MASK_TIMEOUT:-220} python3 bench/kernels/mask_peer_bench.py --ours "$B/bench/kernels/ringlab_mask_bench" \
  --seq 16384 --heads 16 --dim 256 --iters 10 --json "$OUT/mask_d256.json" --md "$OUT/mask_d256.md" \
  --commit "$COMMIT" > "$W/mask_d256.log" 2>&1
echo "mask_peer_bench rc=$?"

tar czf "$OUT/logs.tar.gz" -C "$W" . 2>/dev/null
el "== summaries"
cat "$OUT/env.txt"
tail -40 "$W/offtile_table.md"
grep -iE "error|Traceback" "$W/mask_d256.log" | head -5
cat "$OUT/mask_d256.md" 2>/dev/null | head -30
