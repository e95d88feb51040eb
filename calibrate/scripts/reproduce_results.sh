#!/usr/bin/env bash
# Regenerates every committed calibration result from the committed measurements (repository root; RINGLAB_BIN a
# CPU build of ringlab, default build-sim/apps/ringlab; .venv from scripts/setup_python.sh):
#   1. sim/profiles/h100_sxm_calibrated.json + bench/results/sim_validation.{md,json}: the grid measured with the
#      listed start order (core/start_order.h) at df699c1 (calibration_grid_listed: 1 s warm-up per run, every timed
#      iteration traced), NCCL microbenchmarks of d70bf27 (host-flag gate, occupancy probe, transfers beside forward
#      and backward kernels; calibration_grid_listed/calibrate_samples_comm.json) and the kernel microbenchmarks timed
#      sustained after a 3 s pre-heat (calibration_grid_steady/calibrate_samples_sustained.json: the kernels have not
#      changed since), + host numbers from every timed iteration of the grid's H=8 Hkv=2 runs;
#   2. bench/results/sim_validation_repeat.*: the same profile on a second grid call minutes later (d70bf27 binaries,
#      calibration_grid_listed_repeat), nothing refitted;
#   3. bench/results/sim_validation_microbench_only.*: the microbenchmarks alone (no run used), every point held out.
# The measurements are the archives of bench/results/grids/ (README there), unpacked into out/grids/ first. The grids
# measured before the start order are in git history only; sim_validation.notes.md keeps their numbers.
set -euo pipefail
export RINGLAB_BIN=${RINGLAB_BIN:-build-sim/apps/ringlab}
PY=${PY:-.venv/bin/python}
GRIDS=$(bash bench/results/grids/unpack.sh out/grids)
L=$GRIDS/calibration_grid_listed
R=$GRIDS/calibration_grid_listed_repeat
K=$GRIDS/calibration_grid_steady/calibrate_samples_sustained.json
HOST_SPLIT="calibration = the 10 grid points with H=8, Hkv=2 (every W, S, D; their 5 timed iterations each give only host numbers: the gaps between kernels, the ranks' start skew, the pass-start order, how often NCCL displaces a kernel's last round), held out = the 24 points with (H, Hkv) in {(32,32), (32,8), (8,8)}"
$PY calibrate/scripts/combine_samples.py $L/calibrate_samples_comm.json $K $L/calibrate_samples_combined.json
$PY calibrate/scripts/calibrate.py --microbench $L/calibrate_samples_combined.json --traces "$L/w*_h8_k2_*.all*.iter*.json" \
  --split "$HOST_SPLIT" --runs-commit df699c1 --out sim/profiles/h100_sxm_calibrated.json > /dev/null
$PY calibrate/scripts/validate.py --profile sim/profiles/h100_sxm_calibrated.json --traces "$L/*.all*.json" \
  --out bench/results/sim_validation --notes bench/results/sim_validation.notes.md > /dev/null
$PY calibrate/scripts/validate.py --profile sim/profiles/h100_sxm_calibrated.json --traces "$R/*.all*.json" \
  --out bench/results/sim_validation_repeat > /dev/null
"$RINGLAB_BIN" fit-profile --samples $L/calibrate_samples_combined.json --base h100_sxm --name h100_sxm_microbench \
  --out bench/results/sim_validation_microbench_only.profile.json > /dev/null 2>&1
$PY calibrate/scripts/validate.py --profile bench/results/sim_validation_microbench_only.profile.json \
  --traces "$L/*.all*.json" --out bench/results/sim_validation_microbench_only > /dev/null
grep -H "^\*\*Held" bench/results/sim_validation.md bench/results/sim_validation_repeat.md \
  bench/results/sim_validation_microbench_only.md
