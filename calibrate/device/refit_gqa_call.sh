#!/usr/bin/env bash
# One call on a one-GPU H100 (issue 15): the sustained kernel coverage with the plan's GQA problems, the MHA held-out
# shapes and the GQA held-out shapes, all from binaries packed on the CPU machine, so that both profiles can be refit
# and checked against held-out shapes of both kinds from one card and one call:
#   here:       bash bench/pack_device_binaries.sh build .devbin apps/ringlab bench/kernels/ringlab_attention_bench
#   the device: COMMIT=<hash> bash calibrate/device/refit_gqa_call.sh .devbin          carry [".devbin", ".devdeps"]
# Steps (each under its own timeout, so that the archive always comes back):
# 1. calibrate/device/kernel_coverage.sh at head dims 64 and 128, sustained as the committed fit was (SUSTAIN_MS=50,
#    PREHEAT_MS=3000, held-out 500 ms x 7, the peer PyTorch SDPA FLASH): our samples, the peer's records, and the MHA
#    held-out shapes (bench/kernels/heldout_shapes.txt) after the coverage;
# 2. the GQA held-out shapes (bench/kernels/heldout_shapes_gqa.txt, 500 ms x 7): ours with the backward's group split
#    (the default) beside SDPA FLASH with enable_gqa, then ours without it (RINGLAB_BWD_GROUP_SPLITS=1): the layout
#    bench/kernels/gqa_heldout_report.sh reads (gqa_split/, gqa_nosplit/).
# Everything lands in $OUT/refit_gqa_call.tar.gz (coverage/ as kernel_coverage.sh's OUT, gqa_*/, card.txt, call.log).
set -uo pipefail
source bench/device_env.sh > /dev/null 2>&1  # NCCL_LIB_DIR and the rest, before the prebuilt binaries' paths
source bench/device_prebuilt.sh "${1:?PREBUILT folder}"
B=$PREBUILT_DIR
FINAL=${OUT:-/tmp/refit_gqa_call_out}
W=/tmp/refit_gqa_call
mkdir -p "$FINAL" "$W/gqa_split" "$W/gqa_nosplit"
archive() { tar czf "$FINAL/refit_gqa_call.tar.gz" -C "$W" . 2>/dev/null; }
trap archive EXIT
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*" | tee -a "$W/call.log"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$W/card.txt" 2>&1

el "== 1. kernel coverage (ours, SDPA FLASH), MHA held-out shapes"
OUT=$W/coverage RINGLAB_BIN=$B/apps/ringlab RINGLAB_BENCH=$B/bench/kernels/ringlab_attention_bench \
  HEAD_DIMS=64,128 SUSTAIN_MS=50 PREHEAT_MS=3000 HELDOUT_SUSTAIN_MS=500 HELDOUT_ITERS=7 PEER_BACKENDS=FLASH_ATTENTION \
  CALIBRATE_TIMEOUT_S=${CALIBRATE_TIMEOUT_S:-200} SDPA_TIMEOUT_S=${SDPA_TIMEOUT_S:-190} \
  HELDOUT_TIMEOUT_S=${HELDOUT_TIMEOUT_S:-90} COMMIT=${COMMIT:-unknown} \
  bash calibrate/device/kernel_coverage.sh >> "$W/call.log" 2>&1
el "coverage rc=$?"

for mode in split nosplit; do
  el "== 2. GQA held-out shapes, ours ($mode)$([ $mode = split ] && echo ' beside SDPA FLASH')"
  env $([ $mode = nosplit ] && echo RINGLAB_BWD_GROUP_SPLITS=1) BENCH="$B/bench/kernels/ringlab_attention_bench" \
    SHAPES=bench/kernels/heldout_shapes_gqa.txt OUT="$W/gqa_$mode" ITERS=7 SUSTAIN_MS=500 \
    BACKENDS=$([ $mode = split ] && echo FLASH_ATTENTION || echo none) \
    timeout ${GQA_TIMEOUT_S:-90} bash bench/kernels/run_shapes.sh > "$W/gqa_$mode/table.txt" 2>&1
  el "gqa $mode rc=$?"
done
el "done"
grep -E "rc=|coverage shapes|^\[\+" "$W/call.log" | tail -14
tail -12 "$W/gqa_split/table.txt"
