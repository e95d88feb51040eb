#!/usr/bin/env bash
# Kernel coverage from one GPU (issue 15): our attention kernels and PyTorch SDPA (FLASH and CUDNN) over the same
# single-GPU shapes, in one call on a one-GPU H100, from the repository root:
#
#   bash calibrate/device/kernel_coverage.sh
#
#   0. builds `ringlab` with CUDA into $BUILD (default /tmp/b) unless $RINGLAB_BIN is given (bench/device_build.sh;
#      needs .devdeps, see bench/fetch_device_debs.sh);
#   1. `ringlab calibrate --gpus 1 --skip-comm --head-dims $HEAD_DIMS`: the whole kernel plan (tile sweep, CTA sweep,
#      GQA, causal and the coverage grid: batch x heads 1x8 .. 16x64, S from 512, causal and full) at the head dims
#      HEAD_DIMS (default 64,128,256; `ringlab calibrate --dry-run --head-dims ...` prints the plan and its GPU time);
#   2. `ringlab calibrate --coverage-shapes --head-dims $HEAD_DIMS` (the coverage grid as "B H S D mask" lines) and
#      `python3 bench/peer/peer_bench.py sdpa --shapes ...` over them, FLASH and CUDNN, forward and forward+backward;
#   3. the held-out shapes (bench/kernels/heldout_shapes.txt, in neither list above): our kernels (the default
#      forward and backward, single-GPU overwrite) and SDPA FLASH/CUDNN, bench/kernels/run_shapes.sh, into
#      kernel_heldout.json (the form of bench/results/kernel_heldout_sustained_h100.json; calibrate/scripts/kernel_heldout.py
#      compares the fitted profiles with it). SKIP_HELDOUT=1 leaves it out.
#
# Knobs: SUSTAIN_MS (default 0) > 0 times every kernel, ours and SDPA, coverage and held-out, after that much GPU
# time of it back to back, then back to back (the clocks the card's 700 W limit allows under that work, as in a
# training loop; 0: short synchronised bursts, near boost clocks for short kernels); PREHEAT_MS (default 0) runs the
# largest forward that long before calibrate's first kernel; PEER_BACKENDS (default FLASH_ATTENTION,CUDNN_ATTENTION);
# HELDOUT_SUSTAIN_MS (default SUSTAIN_MS) the held-out step's (it starts a process per shape, so the card idles a
# second or two between shapes and needs longer than calibrate's back-to-back cases to reach the same clocks);
# HELDOUT_REPEAT=1 measures the held-out shapes twice (before the coverage and after it, into heldout_first/): the
# spread between the two is the measurement's own noise, the floor under any model's error.
#
# One head dim alone (a head dim the profiles lack; calibrate/scripts/merge_head_dim.py adds it to them afterwards):
#
#   HEAD_DIMS=256 SKIP_HELDOUT=1 RINGLAB_BIN=... bash calibrate/device/kernel_coverage.sh
#
# Files in $OUT: env.log, plan.txt (`ringlab calibrate --dry-run`), calibrate.log, kernel_coverage_samples.json (our
# kernels' samples, `ringlab fit-profile` input), kernel_coverage_profile.json (the profile fitted from them alone),
# coverage_shapes.txt, peer_sdpa.log, peer_sdpa_coverage.json (PyTorch SDPA records; calibrate/scripts/peer_sdpa_fit.py
# turns them into the peer profile's attention tables), clocks.csv (GPU clocks, power and throttle reasons meanwhile,
# read only).
set -uo pipefail
OUT=${OUT:-/tmp/ringlab_kernel_coverage_out}
BUILD=${BUILD:-/tmp/b}
HEAD_DIMS=${HEAD_DIMS:-64,128,256}
SUSTAIN_MS=${SUSTAIN_MS:-0}
PREHEAT_MS=${PREHEAT_MS:-0}
PEER_BACKENDS=${PEER_BACKENDS:-FLASH_ATTENTION,CUDNN_ATTENTION}
mkdir -p "$OUT"
source bench/device_env.sh > "$OUT/env.log" 2>&1
T0=$(date +%s)
el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || cat .commit 2>/dev/null || echo unknown)}
{ date -u; echo "commit $COMMIT"; echo "head dims $HEAD_DIMS sustain $SUSTAIN_MS ms preheat $PREHEAT_MS ms peer $PEER_BACKENDS"; python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; } \
  >> "$OUT/env.log" 2>&1

BIN=${RINGLAB_BIN:-$BUILD/apps/ringlab}
if [ ! -x "$BIN" ]; then
  el "== 0. build ringlab (CUDA) into $BUILD"
  targets=ringlab
  [ -n "${SKIP_HELDOUT:-}" ] || targets="ringlab ringlab_attention_bench"  # the benchmark runs the held-out step
  bash bench/device_build.sh . "$BUILD" $targets || exit 1
fi
export LD_LIBRARY_PATH=/tmp/ringlab-deps/usr/lib/x86_64-linux-gnu:${NCCL_LIB_DIR:-}:${LD_LIBRARY_PATH:-}

# The plan and its estimated GPU time (a bad HEAD_DIMS stops here, before any GPU work).
"$BIN" calibrate --dry-run --head-dims "$HEAD_DIMS" > "$OUT/plan.txt" 2>&1 || { cat "$OUT/plan.txt"; exit 2; }
grep -E "kernel cases|^peer|estimated" "$OUT/plan.txt"

nvidia-smi --query-gpu=timestamp,index,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
  --format=csv -lms 500 > "$OUT/clocks.csv" 2>&1 &
SMI=$!

# The held-out shapes, ours and SDPA, into $1 (kernel_heldout.json there).
measure_heldout() {
  local dir=$1
  BENCH_BIN=${RINGLAB_BENCH:-$BUILD/bench/kernels/ringlab_attention_bench}
  mkdir -p "$dir/heldout"
  ITERS=${HELDOUT_ITERS:-10} SUSTAIN_MS=${HELDOUT_SUSTAIN_MS:-$SUSTAIN_MS} BACKENDS=$PEER_BACKENDS BENCH="$BENCH_BIN" \
    SHAPES=bench/kernels/heldout_shapes.txt OUT="$dir/heldout" \
    timeout ${HELDOUT_TIMEOUT_S:-200} bash bench/kernels/run_shapes.sh > "$dir/heldout.log" 2>&1
  echo "held-out rc=$?"; tail -16 "$dir/heldout.log"
  python3 - "$dir" "$COMMIT" "${HELDOUT_SUSTAIN_MS:-$SUSTAIN_MS}" <<'PY'
import json, subprocess, sys, datetime
out, commit, sustain = sys.argv[1], sys.argv[2], float(sys.argv[3])
ours = json.load(open(f"{out}/heldout/shapes_ours.json"))
peer = json.load(open(f"{out}/heldout/shapes_peer.json"))
smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"], capture_output=True,
                     text=True).stdout.strip().split(", ")
import torch
json.dump({"what": "single-GPU kernel times at the held-out shapes of bench/kernels/heldout_shapes.txt: our kernels "
                   "(the default forward and backward, bf16, forward overwrite) and PyTorch SDPA in the same call",
           "card": smi[0], "driver": smi[1] if len(smi) > 1 else "?", "torch": torch.__version__,
           "date": datetime.date.today().isoformat(), "commit": commit, "sustain_ms": sustain,
           "command": "bash calibrate/device/kernel_coverage.sh (held-out step: bench/kernels/run_shapes.sh)",
           "ours": ours, "peer": peer}, open(f"{out}/kernel_heldout.json", "w"), indent=1)
PY
}

if [ -z "${SKIP_HELDOUT:-}" ] && [ -n "${HELDOUT_REPEAT:-}" ]; then
  el "== 0b. held-out shapes, first of two measurements (the noise between them)"
  mkdir -p "$OUT/heldout_first"
  measure_heldout "$OUT/heldout_first"
fi

el "== 1. ringlab calibrate --gpus 1 --skip-comm --head-dims $HEAD_DIMS (our kernels)"
timeout ${CALIBRATE_TIMEOUT_S:-240} "$BIN" calibrate --gpus 1 --skip-comm --base sim/profiles/h100_sxm_calibrated.json \
  --head-dims "$HEAD_DIMS" --sustain-ms "$SUSTAIN_MS" --preheat-ms "$PREHEAT_MS" --commit "$COMMIT" --out "$OUT/kernel_coverage_profile.json" \
  --samples "$OUT/kernel_coverage_samples.json" > "$OUT/calibrate.log" 2>&1
echo "calibrate rc=$?"; grep -E "calibrate \[[0-9]+ s\]: (device|kernels|wrote)|rror" "$OUT/calibrate.log" | head -8

el "== 2. PyTorch SDPA (FLASH, CUDNN) over the coverage shapes"
"$BIN" calibrate --coverage-shapes --head-dims "$HEAD_DIMS" > "$OUT/coverage_shapes.txt"
echo "$(wc -l < "$OUT/coverage_shapes.txt") coverage shapes"
timeout ${SDPA_TIMEOUT_S:-240} python3 bench/peer/peer_bench.py sdpa --shapes "$OUT/coverage_shapes.txt" \
  --warmup 3 --iters 10 --sustain-ms "$SUSTAIN_MS" --backends "$PEER_BACKENDS" --json "$OUT/peer_sdpa_coverage.json" > "$OUT/peer_sdpa.log" 2>&1
echo "sdpa rc=$?"; grep -c '^RESULT' "$OUT/peer_sdpa.log"; grep -E "rror" "$OUT/peer_sdpa.log" | head -5

if [ -z "${SKIP_HELDOUT:-}" ]; then
  el "== 3. held-out shapes: ours and SDPA"
  measure_heldout "$OUT"
fi

kill $SMI 2>/dev/null
el "done"
ls -la "$OUT"
