#!/usr/bin/env bash
# Regenerates notebooks/data/ulysses_w1024_16384.csv: the points of ulysses_study.ipynb too slow to simulate on every
# run (W = 1024, 4096, 16384: with ulysses > 1 the simulator runs every rank, about W·R ring steps per point; minutes
# on 2 cores). Llama-3-70B attention (H=64, Hkv=8, D=128), bf16, causal, head-tail, forward + backward,
# h100_sxm_calibrated, 8 GPUs per node. Layouts (a subset, chosen to keep W·R ≤ 2^22; the notebook lists the rest):
#   W=1024:  plain ring and all-gather; U ∈ {8,16,32,64} × {consecutive, strided} × {ring, all-gather across R}
#   W=4096:  U ∈ {32,64} × both placements × both methods across R
#   W=16384: U = 64 × both placements, ring across R, at 128K and 1M tokens only
# Usage: notebooks/data/ulysses_slow_points.sh [RINGLAB_BIN]   (default build/apps/ringlab), from the repository root.
# The committed CSV: made 2026-12-06 on the shared 2-core CPU machine (no GPU) with the CLI built at 4d106fb,
# simulator only, profile h100_sxm_calibrated refit for the ws kernels; 3 min 5 s of CPU (3 min 20 s wall under load).
set -euo pipefail
BIN="${1:-build/apps/ringlab}"
OUT=notebooks/data/ulysses_w1024_16384.csv
SEQS=131072,524288,1048576,4194304
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
sweep() {  # world seqs methods ulysses placement
  "$BIN" sweep --worlds "$1" --seqs "$2" --methods "$3" --passes both --heads 64 --kv-heads 8 --dim 128 \
    --ulysses "$4" --ulysses-placement "$5" --profile h100_sxm_calibrated --csv - 2>/dev/null
}
{
  sweep 1024 "$SEQS" allgather,alltoall 1 consecutive
  for u in 8 16 32 64; do for p in consecutive strided; do sweep 1024 "$SEQS" allgather,alltoall "$u" "$p"; done; done
  for u in 32 64; do for p in consecutive strided; do sweep 4096 "$SEQS" allgather,alltoall "$u" "$p"; done; done
  for p in consecutive strided; do sweep 16384 131072,1048576 alltoall 64 "$p"; done
} | awk 'NR == 1 || !/^world,/' > "$tmp"
mv "$tmp" "$OUT"
echo "wrote $OUT ($(($(wc -l < "$OUT") - 1)) points)" >&2
