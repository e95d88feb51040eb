#!/usr/bin/env bash
# Screenshots of the viewer's real-capture features under Xvfb (software GL), from the test fixtures in
# tests/viz/data (make_kineto_fixture.py: two ranks of a PyTorch-style capture with two iterations, and simulated
# traces of the same problem). The numbers each picture shows are checked by tests/viz/real_capture_test.cc.
#   bench/viz/feature_screenshots.sh [OUT_DIR]     (default bench/viz/screens; needs a built ringlab-view)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/bench/viz/screens}" && cd "${1:-$root/bench/viz/screens}" && pwd)
cd "$root"
d=tests/viz/data  # relative: the pictures show file names, not this machine's paths
shot() {
  local name=$1
  shift
  RINGLAB_VIEW=${RINGLAB_VIEW:-} scripts/screenshot.sh "$out/$name.png" "$@" --width 1200 --height 720
}
capture=("$d/kineto_rank0.json" "$d/kineto_rank1.json")
# Iterations (ProfilerStep#5, #6) with per-iteration step times; full lane labels; the "Spans" process; counters.
shot iterations "${capture[@]}" --tab Iterations
# Per-name table (count, total, mean, p50, p99) over the visible range.
shot names "${capture[@]}" --tab Names
# Flow arrows for every flow in view: here cudaLaunchKernel -> its kernel (ac2g flows of the capture).
shot flows "${capture[@]}" --flows --range-us 0:1300 --no-stats
# Send -> recv arrows of a trace without flow events (derived from peer and step).
shot flows_send_recv "$d/sim_ring_w2.json" --flows --no-stats
# Compare mode across sources: the capture (iteration 5) against the simulated ring trace, error table by kind.
shot compare "${capture[@]}" --vs "$d/sim_ring_w2.json" --tab Compare
# ... and against an all-to-all schedule: the warning that the schedules differ.
shot compare_schedules_differ "${capture[@]}" --vs "$d/sim_a2a_w2.json" --tab Compare
# Files holding the same rank drawn as separate runs (without --separate-runs the load is refused).
shot separate_runs "${capture[@]}" "$d/kineto_rank0.json" --separate-runs --no-stats
