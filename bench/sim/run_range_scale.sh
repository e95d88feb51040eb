#!/bin/bash
# The calibrated-profile scale matrix (method × pass × sharding at the given W) with sim_scale_bench, one process per
# run under `timeout CAP` and /usr/bin/time -v; one JSON line per run on stdout: the bench's line plus user/system CPU
# seconds, wall, peak RSS, the load average before the run and `label`; a run stopped at the cap prints
# {"capped": true, ...} with its peak RSS at the stop. Uses sim_scale_bench, not `ringlab sim` (the CLI's memory
# pre-check refuses W = 65536, see run_phased_scale.sh).
# Usage: bench/sim/run_range_scale.sh <sim_scale_bench> <label> [worlds...]   (default 4096 16384 65536)
#   env: CAP (seconds, default 120), METHODS (default "alltoall allgather"), PASSES, SHARDINGS.
set -uo pipefail
bench=$1; label=$2; shift 2
worlds=${*:-"4096 16384 65536"}
cap=${CAP:-120}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for w in $worlds; do
  for method in ${METHODS:-alltoall allgather}; do
    for pass in ${PASSES:-forward backward}; do
      for sharding in ${SHARDINGS:-head-tail contiguous}; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        : > "$tmp/out"
        /usr/bin/time -v timeout "$cap" "$bench" --world "$w" --profile h100_sxm_calibrated --method "$method" \
          --pass "$pass" --sharding "$sharding" > "$tmp/out" 2> "$tmp/time"
        rc=$?
        python3 - "$tmp/out" "$tmp/time" "$w" "$method" "$pass" "$sharding" "$load" "$label" "$cap" "$rc" <<'PY'
import json, sys
out, tfile, w, method, p, sharding, load, label, cap, rc = sys.argv[1:]
t = {k.strip(): v.strip() for k, v in (l.split(": ", 1) for l in open(tfile) if ": " in l)}
wall = t["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
text = open(out).read().strip()
line = json.loads(text) if text and rc == "0" else {"world": int(w), "capped": rc == "124", "rc": int(rc)}
line.update(method=method, **{"pass": p}, sharding=sharding, profile="h100_sxm_calibrated", label=label,
            cap_s=int(cap), user_s=float(t["User time (seconds)"]), sys_s=float(t["System time (seconds)"]),
            time_wall_s=sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall))),
            time_peak_rss_mib=round(int(t["Maximum resident set size (kbytes)"]) / 1024, 1),
            load_avg_1min=float(load))
print(json.dumps(line))
PY
      done
    done
  done
done
