#!/usr/bin/env bash
# On a GPU machine, from the repository root: Nsight Compute on the masked kernels where they fall furthest under
# issue 19's floor (short documents, a 1k window), beside the dense causal kernel of the same shape (B=1 H=32
# S=32768 D=128 bf16, mask_peer_bench.py's cases), with binaries packed on the CPU machine:
#   bash bench/kernels/device_mask_ncu.sh PREBUILT
# For each of the cases "docs short-256-1k" and "window 1024", ringlab_mask_bench runs the dense causal shape and then
# the case (--iters 1: per shape 4 forward launches, then 4 x (forward, backward)); ncu profiles the 4th forward of
# each (launch 3: dense, launch 11: masked) and the 4th backward of each (3, 7), clocks left alone
# (--clock-control none). CASES (a |-separated list of mask_peer_bench.py case names) picks other cases. Reports
# (text) in $OUT/mask_ncu.tar.gz; the headline metrics of each are printed last. SHAPE_ARGS (e.g. "--seq 16384
# --heads 16 --dim 256") passes another shape to mask_peer_bench.py.
set -uo pipefail
source bench/device_env.sh
source bench/device_prebuilt.sh "${1:?PREBUILT folder}"
B=$PREBUILT_DIR
dir=/tmp/ringlab_mask_ncu
mkdir -p "$dir" "$OUT"
python3 bench/kernels/mask_peer_bench.py ${SHAPE_ARGS:-} --cases-out "$dir/all_cases.json" > "$dir/cases.log" 2>&1 \
  || { echo "mask_peer_bench --cases-out failed: $(tail -2 "$dir/cases.log")"; exit 1; }
sections=(--section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats
          --section SchedulerStats --section MemoryWorkloadAnalysis)
IFS='|' read -r -a cases <<< "${CASES:-docs short-256-1k|window 1024}"
for name in "${cases[@]}"; do
  tag=${name// /_}
  python3 - "$dir/all_cases.json" "$dir/$tag.json" "$name" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["cases"] = [c for c in spec["cases"] if c["name"] == sys.argv[3]]
assert spec["cases"], f"no case {sys.argv[3]}"
json.dump(spec, open(sys.argv[2], "w"))
PY
  for kernel in "ForwardWs:3:dense_fwd" "ForwardWs:11:masked_fwd" "BackwardWs:3:dense_bwd" "BackwardWs:7:masked_bwd"; do
    IFS=: read -r regex skip label <<< "$kernel"
    timeout 240 ncu --clock-control none -k "regex:$regex" --launch-skip "$skip" --launch-count 1 "${sections[@]}" \
      "$B/bench/kernels/ringlab_mask_bench" --cases "$dir/$tag.json" --iters 1 > "$dir/${tag}_$label.txt" 2>&1
    echo "$tag $label rc=$?" >> "$dir/summary.txt"
  done
done
# Headline metrics of every report: duration, SM and tensor-pipe throughput, issue-slot use, the top stall reasons.
for f in "$dir"/*_fwd.txt "$dir"/*_bwd.txt; do
  printf '%s: ' "$(basename "$f" .txt)"
  grep -E '^\s+(Duration|Compute \(SM\) Throughput|Memory Throughput|Grid Size|Issue Slots Busy|No Eligible|Achieved Occupancy)\s' "$f" \
    | sed -E 's/^ +//; s/ {2,}/ /g' | tr '\n' ';'
  echo
done
cat "$dir/summary.txt"
tar czf "$OUT/mask_ncu.tar.gz" -C "$dir" .
