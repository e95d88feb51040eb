#!/bin/bash
# Runs the scale benchmark for W = 1024, 4096, 16384 (one process each, one core) and writes
# bench/results/sim_scale_h100_sxm.json (one line per W), then the same with the symmetric run off (--general 1, every rank
# simulated) for W = 1024 and 4096, the engine's raw rate. Usage: bench/sim/run_scale.sh <path to sim_scale_bench> [worlds...]
set -euo pipefail
bin=$1; shift
worlds=${*:-"1024 4096 16384"}
out=bench/results/sim_scale_h100_sxm.json
: > "$out"
for w in $worlds; do taskset -c 0 "$bin" --world "$w" | tee -a "$out"; done
for w in ${GENERAL_WORLDS:-1024 4096}; do taskset -c 0 "$bin" --world "$w" --general 1 | sed 's/^{/{"general": true, /' | tee -a "$out"; done
