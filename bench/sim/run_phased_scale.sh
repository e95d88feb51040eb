#!/bin/bash
# The phased all-gather run at scale (sim/phased_run.h): every allgather pass × sharding with the calibrated profile,
# one sim_scale_bench process per run under /usr/bin/time -v, one JSON line per run on stdout (the bench's line plus
# user/system CPU seconds, wall and peak RSS from time -v, and the load average before the run).
# Uses sim_scale_bench, not `ringlab sim`, because the CLI's memory pre-check (apps/resource_limits.cc,
# SimulationBytes) still assumes O(W²) program storage and refuses W = 65536.
# Usage: bench/sim/run_phased_scale.sh <sim_scale_bench> [worlds...]   (default 16384 65536)
set -euo pipefail
bench=$1; shift
worlds=${*:-"16384 65536"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for w in $worlds; do
  for pass in forward backward; do
    for sharding in head-tail contiguous; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      /usr/bin/time -v "$bench" --world "$w" --profile h100_sxm_calibrated --method allgather --pass "$pass" \
        --sharding "$sharding" > "$tmp/out" 2> "$tmp/time"
      python3 - "$tmp/out" "$tmp/time" "$pass" "$sharding" "$load" <<'PY'
import json, sys
line = json.load(open(sys.argv[1]))
t = {k.strip(): v.strip() for k, v in (l.split(": ", 1) for l in open(sys.argv[2]) if ": " in l)}
wall = t["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
line.update(method="allgather", **{"pass": sys.argv[3]}, sharding=sys.argv[4], profile="h100_sxm_calibrated",
            user_s=float(t["User time (seconds)"]), sys_s=float(t["System time (seconds)"]),
            time_wall_s=sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall))),
            time_peak_rss_mib=round(int(t["Maximum resident set size (kbytes)"]) / 1024, 1),
            load_avg_1min=float(sys.argv[5]))
print(json.dumps(line))
PY
    done
  done
done
