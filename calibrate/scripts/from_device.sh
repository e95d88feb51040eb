#!/usr/bin/env bash
# Offline half of issue 7's pipeline: the files calibrate/device/calibrate_and_grid.sh returned -> profile ->
# validation.
#
#   calibrate/scripts/from_device.sh FILES_DIR [GRID_DEST]
#
# FILES_DIR holds calibrated_profile.json, calibrate_samples.json, calibrate.log, env.log, grid.tar.gz. The grid is
# unpacked into GRID_DEST (default out/grids/calibration_grid_<date of the run>, git-ignored; to commit it, add it as
# an archive to bench/results/grids/). Then:
#   1. sim/profiles/h100_sxm_calibrated.json = microbenchmark samples (kernels, NCCL, slowdown) + the gaps between
#      kernels from the calibration runs (split: the H=8, Hkv=2 points), fitted by `ringlab fit-profile`;
#   2. bench/results/sim_validation.{md,json}: every grid point simulated from it, error on the held-out points;
#   3. bench/results/sim_validation_microbench_only.{md,json}: the microbenchmark samples alone, refitted here by
#      `ringlab fit-profile` (no run used at all; the profile `ringlab calibrate` wrote on the machine is kept as
#      GRID_DEST/microbench_profile.json), every point held out.
# Needs a CPU build of ringlab (RINGLAB_BIN, default build-sim/apps/ringlab) and .venv (scripts/setup_python.sh).
set -euo pipefail
FILES=${1:?usage: from_device.sh FILES_DIR [GRID_DEST]}
export RINGLAB_BIN=${RINGLAB_BIN:-build-sim/apps/ringlab}
PY=${PY:-.venv/bin/python}
DATE=$(grep -oE '"date": "[0-9-]+' "$FILES/calibrated_profile.json" | head -1 | cut -d'"' -f4)
DEST=${2:-out/grids/calibration_grid_${DATE:-new}}
mkdir -p "$DEST"
tar xzf "$FILES/grid.tar.gz" -C "$DEST" --strip-components=1
cp "$FILES/calibrate_samples.json" "$FILES/calibrate.log" "$DEST/"
cp "$FILES/calibrated_profile.json" "$DEST/microbench_profile.json"
# Kernel samples timed sustained (--sustain-ms, in the grid tarball since 970fac3) replace the burst ones.
MB="$DEST/calibrate_samples.json"
if [ -f "$DEST/calibrate_samples_sustained.json" ]; then
  $PY calibrate/scripts/combine_samples.py "$MB" "$DEST/calibrate_samples_sustained.json" \
    "$DEST/calibrate_samples_combined.json"
  MB="$DEST/calibrate_samples_combined.json"
fi
RUNS_COMMIT=$(grep -oE 'commit [^ ]+' "$FILES/env.log" | head -1 | cut -d' ' -f2)
SPLIT="calibration = the H=8 Hkv=2 points (every W, S, D; they give only host numbers: the gaps between kernels and the ranks' start skew), held out = all other points"
# Host numbers from every timed iteration of the calibration points when the runs traced them (since 5226c97).
CAL_TRACES="$DEST/w*_h8_k2_*.all*.iter*.json"
compgen -G "$CAL_TRACES" > /dev/null || CAL_TRACES="$DEST/w*_h8_k2_*.all*.json"
$PY calibrate/scripts/calibrate.py --microbench "$MB" \
  --traces "$CAL_TRACES" --split "$SPLIT" --runs-commit "$RUNS_COMMIT" \
  --out sim/profiles/h100_sxm_calibrated.json
$PY calibrate/scripts/validate.py --profile sim/profiles/h100_sxm_calibrated.json \
  --traces "$DEST/*.all*.json" --out bench/results/sim_validation > /dev/null
"$RINGLAB_BIN" fit-profile --samples "$MB" --base h100_sxm --name h100_sxm_microbench \
  --out bench/results/sim_validation_microbench_only.profile.json > /dev/null
$PY calibrate/scripts/validate.py --profile bench/results/sim_validation_microbench_only.profile.json \
  --traces "$DEST/*.all*.json" --out bench/results/sim_validation_microbench_only > /dev/null
grep -h "^\*\*Held out" bench/results/sim_validation.md bench/results/sim_validation_microbench_only.md
echo "notebooks: .venv/bin/python notebooks/build_notebooks.py (calibration_report reads bench/results/sim_validation.json)"
