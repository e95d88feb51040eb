#!/usr/bin/env bash
# Regenerates every committed calibration result from the committed measurements (repository root; RINGLAB_BIN a
# CPU build of ringlab, default build-sim/apps/ringlab; .venv from scripts/setup_python.sh):
#   1. sim/profiles/h100_sxm_calibrated.json + bench/results/sim_validation.{md,json}: the grid measured at 48980cf
#      in a steady power state (calibration_grid_steady: every run warms up for 1 s of GPU time; deterministic pass
#      start; every timed iteration traced) with the kernel microbenchmarks timed sustained after a 3 s pre-heat and the
#      NCCL ones of the same call, + host numbers from every timed iteration of its H=8 Hkv=2 runs;
#   2. the same grid with the burst kernel microbenchmarks (sim_validation_burst), and the two grids of the calls
#      before with 200 ms of warm-up: 970fac3 with sustained kernels (calibration_grid_sustained:
#      sim_validation_repeat_sustained) and 931c52d with burst kernels (calibration_grid_passstart: sim_validation_repeat);
#   3. bench/results/sim_validation_microbench_only.*: the sustained + NCCL microbenchmarks alone (no run used);
#   4. bench/results/sim_validation_traces_only.* and sim_validation_corners.*: no microbenchmarks, every number from
#      run traces of the earlier mma.sync grid (two splits), and sim_validation_wgmma_grid.*: the grid measured with
#      the executor before f07510c (racy pass start, one iteration traced), for comparison.
set -euo pipefail
export RINGLAB_BIN=${RINGLAB_BIN:-build-sim/apps/ringlab}
PY=${PY:-.venv/bin/python}
W=bench/results/calibration_grid_steady
S=bench/results/calibration_grid_sustained
R=bench/results/calibration_grid_passstart
M=bench/results/calibration_grid
G=bench/results/calibration_grid_wgmma  # executor before f07510c (racy pass start), last iteration traced
HOST_SPLIT="calibration = the 10 grid points with H=8, Hkv=2 (every W, S, D; their 5 timed iterations each give only host numbers: the gaps between kernels, the ranks' start skew, the pass-start order, how often NCCL displaces a kernel's last round), held out = the 24 points with (H, Hkv) in {(32,32), (32,8), (8,8)}"
$PY scripts/calibrate/combine_samples.py $W/calibrate_samples.json $W/calibrate_samples_sustained.json \
  $W/calibrate_samples_combined.json
$PY scripts/calibrate/calibrate.py --microbench $W/calibrate_samples_combined.json --traces "$W/w*_h8_k2_*.all*.iter*.json" \
  --split "$HOST_SPLIT" --runs-commit 48980cf --out sim/profiles/h100_sxm_calibrated.json > /dev/null
$PY scripts/calibrate/validate.py --profile sim/profiles/h100_sxm_calibrated.json --traces "$W/*.all*.json" \
  --out bench/results/sim_validation --notes bench/results/sim_validation.notes.md > /dev/null
$PY scripts/calibrate/calibrate.py --microbench $W/calibrate_samples.json --traces "$W/w*_h8_k2_*.all*.iter*.json" \
  --split "$HOST_SPLIT" --runs-commit 48980cf --out bench/results/sim_validation_burst.profile.json > /dev/null
$PY scripts/calibrate/validate.py --profile bench/results/sim_validation_burst.profile.json --traces "$W/*.all*.json" \
  --out bench/results/sim_validation_burst > /dev/null
$PY scripts/calibrate/combine_samples.py $S/calibrate_samples.json $S/calibrate_samples_sustained.json \
  $S/calibrate_samples_combined.json
$PY scripts/calibrate/calibrate.py --microbench $S/calibrate_samples_combined.json --traces "$S/w*_h8_k2_*.all*.iter*.json" \
  --split "$HOST_SPLIT" --runs-commit 970fac3 --out bench/results/sim_validation_repeat_sustained.profile.json > /dev/null
$PY scripts/calibrate/validate.py --profile bench/results/sim_validation_repeat_sustained.profile.json \
  --traces "$S/*.all*.json" --out bench/results/sim_validation_repeat_sustained > /dev/null
$PY scripts/calibrate/calibrate.py --microbench $R/calibrate_samples.json --traces "$R/w*_h8_k2_*.all*.iter*.json" \
  --split "$HOST_SPLIT" --runs-commit 931c52d --out bench/results/sim_validation_repeat.profile.json > /dev/null
$PY scripts/calibrate/validate.py --profile bench/results/sim_validation_repeat.profile.json --traces "$R/*.all*.json" \
  --out bench/results/sim_validation_repeat > /dev/null
"$RINGLAB_BIN" fit-profile --samples $W/calibrate_samples_combined.json --base h100_sxm --name h100_sxm_microbench \
  --out bench/results/sim_validation_microbench_only.profile.json > /dev/null 2>&1
$PY scripts/calibrate/validate.py --profile bench/results/sim_validation_microbench_only.profile.json \
  --traces "$W/*.all*.json" --out bench/results/sim_validation_microbench_only > /dev/null
$PY scripts/calibrate/calibrate.py --traces "$M/w*_h8_k2_*.all*.json" --runs-commit 2b8875c \
  --split "calibration = the 10 grid points with H=8, Hkv=2 (every W, S, D; 40 traces, every number from them), held out = the 24 points with (H, Hkv) in {(32,32), (32,8), (8,8)}" \
  --out bench/results/sim_validation_traces_only.profile.json > /dev/null
$PY scripts/calibrate/validate.py --profile bench/results/sim_validation_traces_only.profile.json \
  --traces "$M/*.all*.json" --out bench/results/sim_validation_traces_only > /dev/null
$PY scripts/calibrate/calibrate.py --traces "$M/w*_h8_k2_*.all*.json" "$M/w*_h32_k32_*.all*.json" --runs-commit 2b8875c \
  --split "calibration = the 18 points with (H, Hkv) in {(8,2), (32,32)} (the grid's head-configuration corners, every W, S, D), held out = the 16 points with (32,8) or (8,8)" \
  --out bench/results/sim_validation_corners.profile.json > /dev/null
$PY scripts/calibrate/validate.py --profile bench/results/sim_validation_corners.profile.json \
  --traces "$M/*.all*.json" --out bench/results/sim_validation_corners > /dev/null
$PY scripts/calibrate/calibrate.py --microbench $G/calibrate_samples.json --traces "$G/w*_h8_k2_*.all*.json" \
  --split "$HOST_SPLIT" --runs-commit ff54f15 --out bench/results/sim_validation_wgmma_grid.profile.json > /dev/null
$PY scripts/calibrate/validate.py --profile bench/results/sim_validation_wgmma_grid.profile.json \
  --traces "$G/*.all*.json" --out bench/results/sim_validation_wgmma_grid > /dev/null
grep -H "^\*\*Held" bench/results/sim_validation.md bench/results/sim_validation_burst.md \
  bench/results/sim_validation_repeat_sustained.md bench/results/sim_validation_repeat.md bench/results/sim_validation_wgmma_grid.md bench/results/sim_validation_microbench_only.md \
  bench/results/sim_validation_traces_only.md bench/results/sim_validation_corners.md
