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
C=$GRIDS/kernel_coverage_h100
# The one-GPU coverage (issue 15) joins the backward tables and the forward causal D=64 table only: with it in the
# forward D=128 and forward full D=64 tables the held-out grid got worse (bench/results/sim_validation.notes.md).
COVERAGE_TABLES="backward,forward causal 64"
KERNEL_LABEL="After the one-GPU coverage fit (issue 15): h100_sxm_calibrated with the coverage samples in its backward and forward causal D=64 tables, h100_pytorch_peer attention tables fitted from SDPA FLASH over the 136 coverage shapes. The 14 held-out shapes are in no fit (the old causal sweep held 2 of them, B=1 H=8 S=4096 D=128 and B=1 H=32 S=32768 D=64; the coverage plan excludes them)."
HOST_SPLIT="calibration = the 10 grid points with H=8, Hkv=2 (every W, S, D; their 5 timed iterations each give only host numbers: the gaps between kernels, the ranks' start skew, the pass-start order, how often NCCL displaces a kernel's last round), held out = the 24 points with (H, Hkv) in {(32,32), (32,8), (8,8)}"
$PY calibrate/scripts/combine_samples.py $L/calibrate_samples_comm.json $K $L/calibrate_samples_combined.json
$PY calibrate/scripts/combine_samples.py $L/calibrate_samples_comm.json $K $C/kernel_coverage_samples.json \
  $L/calibrate_samples_combined_coverage.json --more-only "$COVERAGE_TABLES"
$PY calibrate/scripts/calibrate.py --microbench $L/calibrate_samples_combined_coverage.json --traces "$L/w*_h8_k2_*.all*.iter*.json" \
  --split "$HOST_SPLIT" --runs-commit df699c1 --out sim/profiles/h100_sxm_calibrated.json > /dev/null
$PY calibrate/scripts/validate.py --profile sim/profiles/h100_sxm_calibrated.json --traces "$L/*.all*.json" \
  --out bench/results/sim_validation --notes bench/results/sim_validation.notes.md > /dev/null
$PY calibrate/scripts/validate.py --profile sim/profiles/h100_sxm_calibrated.json --traces "$R/*.all*.json" \
  --out bench/results/sim_validation_repeat > /dev/null
"$RINGLAB_BIN" fit-profile --samples $L/calibrate_samples_combined.json --base h100_sxm --name h100_sxm_microbench \
  --out bench/results/sim_validation_microbench_only.profile.json > /dev/null 2>&1
$PY calibrate/scripts/validate.py --profile bench/results/sim_validation_microbench_only.profile.json \
  --traces "$L/*.all*.json" --out bench/results/sim_validation_microbench_only > /dev/null
# 4. the peer's attention tables from PyTorch SDPA FLASH over the coverage shapes (every other number kept)
$PY calibrate/scripts/peer_sdpa_fit.py $C/peer_sdpa_coverage.json --log $C/peer_sdpa.log --backend FLASH_ATTENTION \
  --samples $C/peer_samples_flash.json --profile sim/profiles/h100_pytorch_peer.json \
  --tag "FIT 2026-12-06 from PyTorch SDPA FLASH_ATTENTION single-GPU coverage (NVIDIA H100 80GB HBM3, torch 2.11.0+cu130)" > /dev/null
# 5. the kernel cost model against the 14 held-out single-GPU shapes
$PY calibrate/scripts/kernel_heldout.py --before bench/results/kernel_model_heldout.before.json --label "$KERNEL_LABEL" > /dev/null
grep -H "^\*\*Held" bench/results/sim_validation.md bench/results/sim_validation_repeat.md \
  bench/results/sim_validation_microbench_only.md
