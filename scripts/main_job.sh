#!/usr/bin/env bash
# The main job on the default problem. Outputs go to ./out/.
set -euo pipefail
cd "$(dirname "$0")/.."
RINGLAB=build/apps/ringlab
mkdir -p out
echo "== 1. the schedule of the default problem (alltoall ring, head-tail, 8 ranks), rank 0"
$RINGLAB schedule --ranks 1
echo
echo "== 2. numerics: the CPU executor against the float64 reference (default problem scaled to a CPU), both methods"
$RINGLAB check --method both --trace out/cpu_check.json
