#!/usr/bin/env bash
# One call on a one-GPU machine: is the persistent masked forward (one CTA per SM taking query tiles from a counter)
# faster than one tile per CTA (RINGLAB_MASKED_PERSISTENT=0, what the dense kernel does) at each head dim? Ours only,
# mask_peer_bench.py's issue-19 cases, alternated persistent / one-tile / persistent / one-tile, 10 timed iterations;
# then (NCU=1) Nsight Compute on the D = 256 window 4096 forward, dense and masked (bench/kernels/device_mask_ncu.sh).
#   here:   bash bench/pack_device_binaries.sh build .devbin/dyn bench/kernels/ringlab_mask_bench (and the rest)
#   device: [DIMS="256"] bash bench/kernels/device_mask_persistent_ab.sh .devbin/dyn   (carry [".devdeps", ".devbin"])
# $OUT/persistent_ab.tar.gz: the JSONs and logs; a table (forward ms per round) is printed last.
set -uo pipefail
source bench/device_call_start.sh ringlab_mask_persistent "$1"
export PYTHONUNBUFFERED=1
MB=bench/kernels/mask_peer_bench.py
{ date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; } > "$W/env.txt" 2>&1
for d in ${DIMS:-128 256}; do
  if [ $d = 128 ]; then shape="--seq 32768 --heads 32 --dim 128"; else shape="--seq 16384 --heads 16 --dim 256"; fi
  for run in p1 o1 p2 o2; do
    persistent=""; [ ${run#o} != $run ] && persistent=0
    RINGLAB_MASKED_PERSISTENT=$persistent timeout 90 python3 $MB --ours $B/bench/kernels/ringlab_mask_bench $shape \
      --iters 10 --peers none --json $W/d${d}_$run.json --commit "${COMMIT}" > $W/d${d}_$run.log 2>&1
    el "d$d $run (RINGLAB_MASKED_PERSISTENT='$persistent') rc=$?"
  done
done
if [ -n "${NCU:-}" ]; then
  el "ncu"
  CASES="window 4096" SHAPE_ARGS="--seq 16384 --heads 16 --dim 256" OUT=$W/ncu \
    timeout ${NCU_S:-150} bash bench/kernels/device_mask_ncu.sh "$1" > $W/ncu.log 2>&1
  tail -6 $W/ncu.log
  cp -r /tmp/ringlab_mask_ncu $W/ncu_reports 2>/dev/null  # the reports, also when the time limit cut the script
fi
tar czf "$OUT/persistent_ab.tar.gz" -C "$W" . 2>/dev/null
cat "$W/env.txt"
python3 - "$W" <<'PY'
import json, os, sys
w = sys.argv[1]
for d in (128, 256):
    runs = {r: json.load(open(f"{w}/d{d}_{r}.json"))["ours"] for r in ("p1", "o1", "p2", "o2")
            if os.path.exists(f"{w}/d{d}_{r}.json")}
    if not runs:
        continue
    print(f"D={d} | forward ms: persistent / one tile per CTA / persistent / one tile per CTA")
    names = list(next(iter(runs.values()))["cases"]) + ["dense_causal"]
    for n in names:
        cells = [(runs[r]["cases"].get(n) or runs[r].get(n) or {}).get("fwd_ms", float("nan")) if r in runs
                 else float("nan") for r in ("p1", "o1", "p2", "o2")]
        print(f"{n} | " + " / ".join(f"{c:.3f}" for c in cells))
PY
