#!/bin/bash
# Runs the scale benchmark for W = 1024, 4096, 16384 (one process each, one core) and writes
# bench/results/sim_scale.json (one line per W). Usage: bench/sim/run_scale.sh <path to sim_scale_bench> [worlds...]
set -euo pipefail
bin=$1; shift
worlds=${*:-"1024 4096 16384"}
out=bench/results/sim_scale.json
: > "$out"
for w in $worlds; do taskset -c 0 "$bin" --world "$w" | tee -a "$out"; done
