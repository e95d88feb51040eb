#!/bin/bash
# The scale table: W × method × pass × sharding with one profile, one `ringlab sim` process per run (summary only), each
# capped at `timeout` seconds and `mem_gib` GiB of address space; prints one JSON line per run (wall s, peak RSS, step
# time, the fast path's facts) and "timeout" / "OOM" / "error" for runs that did not finish. With CPU_CAP=1 the cap is on
# CPU seconds (ulimit -t; the wall cap becomes 10x) and a run stopped by it is "cpu-limit": on a shared, loaded machine
# CPU seconds are the comparable number (user_s is recorded either way).
# Usage: bench/sim/run_scale_matrix.sh <ringlab binary> <label> [profile] [timeout s] [mem GiB] [worlds...]
#   bench/sim/run_scale_matrix.sh build/apps/ringlab after h100_sxm_calibrated 120 8 4096 16384 65536
# Problem: the CLI's default (B=1 H=32 Hkv=8 D=128 bf16 causal) with 128 tokens per GPU (seq = 128·W).
set -uo pipefail
bin=$1; label=$2; profile=${3:-h100_sxm_calibrated}; limit=${4:-120}; mem=${5:-8}; shift 5 || shift $#
worlds=${*:-"4096 16384 65536"}
tmp=$(mktemp -d)
for w in $worlds; do
  for m in allgather alltoall; do
    for p in forward backward; do
      for s in head-tail contiguous; do
        cmd="ringlab sim -w $w -s $((128 * w)) --profile $profile -m $m --pass $p --sharding $s --json -"
        wall_cap=$limit
        [ "${CPU_CAP:-0}" = 1 ] && wall_cap=$((10 * limit))
        ( ulimit -v $((mem * 1024 * 1024)); [ "${CPU_CAP:-0}" = 1 ] && ulimit -t "$limit"
          /usr/bin/time -f "%e %M %U" -o "$tmp/time" timeout "$wall_cap" \
            "$bin" sim -w "$w" -s $((128 * w)) --profile "$profile" -m "$m" --pass "$p" --sharding "$s" \
            --json "$tmp/out.json" > "$tmp/stdout" 2> "$tmp/stderr" )
        rc=$?
        read -r wall rss_kb user < <(tail -1 "$tmp/time" | grep -E '^[0-9.]+ [0-9]+ [0-9.]+$' || echo "null 0 null")
        status=ok
        if [ $rc -eq 124 ]; then status=timeout
        elif [ $rc -eq 152 ] || [ $rc -eq 137 ] && [ "${CPU_CAP:-0}" = 1 ]; then status=cpu-limit
        elif [ $rc -ne 0 ]; then
          if grep -qiE "bad_alloc|memory|Cannot allocate" "$tmp/stderr"; then status=OOM; else status="error rc=$rc"; fi
        fi
        extra=""
        if [ $status = ok ]; then
          extra=$(python3 -c "import json,sys; r=json.load(open('$tmp/out.json'))['runs'][0]; print(', '.join('\"%s\": %s' % (k, json.dumps(r.get(k))) for k in ['step_time_us','symmetry_period','symmetry_fallback','fast_path','distinct_rank_programs','engine']))")
          extra=", $extra"
        fi
        echo "{\"label\": \"$label\", \"world\": $w, \"method\": \"$m\", \"pass\": \"$p\", \"sharding\": \"$s\", \"profile\": \"$profile\", \"status\": \"$status\", \"wall_s\": $wall, \"user_s\": $user, \"peak_rss_mib\": $(( rss_kb / 1024 )), \"limit_s\": $limit, \"mem_limit_gib\": $mem, \"command\": \"$cmd\"$extra}"
      done
    done
  done
done
rm -rf "$tmp"
