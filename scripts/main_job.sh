#!/usr/bin/env bash
# The main job on the embedded default problem (Llama-3-8B attention: 32 heads, 8 kv heads, head dim 128, causal,
# 131072 tokens, 8 GPUs of one H100 node). Every output lands in ./out/.
#   1. the schedule, validated;  2. numerics of every schedule on the CPU executor against the float64 reference;
#   3. the simulator, allgather beside alltoall, with traces;  4. where GPUs are present, the real run beside the
#   simulation;  5. a PNG of the timelines (under Xvfb when there is no display).
set -euo pipefail
cd "$(dirname "$0")/.."
RINGLAB=${RINGLAB:-build/apps/ringlab}  # overridable: a GPU machine may run a copied binary
mkdir -p out

echo "== 1. schedule of the default problem (alltoall ring, head-tail, W=8), rank 0"
$RINGLAB schedule --ranks 1

echo
echo "== 2. numerics: CPU executor vs float64 reference (default problem scaled to a CPU: W=4 S=1024 H=8 Hkv=2 D=64)"
$RINGLAB check --method both --trace out/cpu_check.json

echo
echo "== 3. simulation of the default problem on 8 H100s (profile h100_sxm_calibrated: the kernels this project runs,"
echo "   validated on held-out real runs), forward, both methods; then the cuDNN-rate what-if (profile h100_sxm)"
$RINGLAB sim --method both --profile h100_sxm_calibrated --trace out/sim.json --json out/sim_summary.json
$RINGLAB sim --method both --profile h100_sxm --json out/sim_summary_cudnn_rate_whatif.json

gpus=0
if command -v nvidia-smi >/dev/null 2>&1; then gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); fi
if [ "$gpus" -gt 0 ] && $RINGLAB run --help >/dev/null 2>&1; then
  world=$(( gpus < 8 ? gpus : 8 ))
  echo
  echo "== 4. real run of the default problem on $world GPU(s), then the simulator on the same configuration"
  $RINGLAB run --gpus "$world" --world "$world" --method both --trace out/real.json --json out/real_summary.json
  # The calibrated profile: fitted to our kernels and NCCL on H100s (bench/results/sim_validation.md); on other GPUs
  # the comparison says how far this machine is from those H100s.
  echo "-- simulated, same configuration (profile h100_sxm_calibrated: our kernels measured on H100):"
  $RINGLAB sim --world "$world" --method both --profile h100_sxm_calibrated --json out/sim_same_as_real.json
else
  echo
  echo "== 4. no GPU here (or built without CUDA): real runs skipped; the simulation and the CPU reference stand in"
fi

echo
echo "== 5. timeline pictures"
if [ -x build/apps/ringlab-view ]; then
  RINGLAB_VIEW=build/apps/ringlab-view scripts/screenshot.sh out/timeline.png \
    out/sim.allgather.forward.json out/sim.alltoall.forward.json --separate-runs --width 1600 --height 700
  echo "wrote $(pwd)/out/timeline.png (simulated timelines of both methods; open them live with:"
  echo "  build/apps/ringlab view out/sim.allgather.forward.json out/sim.alltoall.forward.json --separate-runs)"
else
  echo "viewer not built (needs libglfw3-dev, libimgui-dev); skipped"
fi
