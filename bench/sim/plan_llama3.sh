#!/usr/bin/env bash
# Regenerates bench/results/plan_llama3.{md,json}: `ringlab plan` for Llama-3 8B / 70B / 405B attention at 128K,
# 512K and 1M tokens on 8, 64 and 1,024 H100s (8 per node), profile h100_sxm_calibrated, head-tail sharding
# (contiguous is never better for causal attention). Usage: plan_llama3.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: plan_llama3.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
results=$here/../results
out=$(mktemp -d)
for model in "8B 32" "70B 64" "405B 128"; do
  set -- $model
  for seq in 131072 524288 1048576; do
    for nodes in 1 8 128; do
      # 8 and 64 GPUs: every layout simulated (exact comparisons, about a second each); 1,024: the default search,
      # which prunes layouts whose compute alone exceeds a simulated step (sim/plan_search.h).
      exhaustive=$([ "$nodes" -le 8 ] && echo --exhaustive || true)
      "$build/apps/ringlab" plan --heads "$2" --kv-heads 8 --dim 128 --seq "$seq" --gpus-per-node 8 --nodes "$nodes" \
        --profile h100_sxm_calibrated --shardings head-tail $exhaustive --json "$out/$1_${seq}_${nodes}.json" \
        > "$out/$1_${seq}_${nodes}.md"
      echo "done $1 $seq $nodes" >&2
    done
  done
done
python3 "$here/plan_llama3_collect.py" "$out" "$results"
