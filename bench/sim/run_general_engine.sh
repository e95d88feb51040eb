#!/usr/bin/env bash
# The general engine (every rank simulated, sim/engine.h) at world size W: CPU time, wall time and peak RSS of
# sim_scale_bench --general 1 (calibrated profile, 128 tokens per GPU, head-tail) per method x pass, for one or more
# builds of the bench, alternated row by row so that machine load hits them alike. One JSON line per run on stdout.
#
#   bench/sim/run_general_engine.sh "4096" "before=/tmp/old_bench after=build/bench/sim/sim_scale_bench" [cpu_cap_s]
set -euo pipefail
worlds=$1
builds=$2
cap=${3:-120}
for w in $worlds; do
  for method in alltoall allgather; do
    for pass in forward backward; do
      for spec in $builds; do
        label=${spec%%=*} bin=${spec#*=}
        tmp=$(mktemp)
        rc=0
        (ulimit -t "$cap"; /usr/bin/time -f "%U %S %e %M" -o "$tmp.time" "$bin" --world "$w" --general 1 \
          --profile h100_sxm_calibrated --method "$method" --pass "$pass" > "$tmp") || rc=$?
        read -r user sys wall rss_kb < <(tail -1 "$tmp.time")
        line=$(cat "$tmp"); line=${line:-"{}"}
        echo "{\"label\": \"$label\", \"world\": $w, \"method\": \"$method\", \"pass\": \"$pass\", \"rc\": $rc," \
             "\"user_s\": $user, \"sys_s\": $sys, \"wall_s\": $wall, \"peak_rss_mib\": $((rss_kb / 1024))," \
             "\"load\": \"$(cut -d' ' -f1 /proc/loadavg)\", \"bench\": $line}"
        rm -f "$tmp" "$tmp.time"
      done
    done
  done
done
