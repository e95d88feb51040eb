#!/usr/bin/env bash
# Writes one file of every kind of trace ringlab writes, into OUT_DIR, for the trace checkers:
#   sim_*        simulator traces: all-gather, ring (pass-KV) with PyTorch's variants (pack + unfused merge),
#                Ulysses all-to-all, hybrid Ulysses x ring, both passes, and a W=1024 run traced at ranks 0,1,1023
#   cpu_*        the CPU executor's measured trace (ringlab check --trace), forward and backward
# usage: write_trace_kinds.sh RINGLAB_BIN OUT_DIR
set -euo pipefail
bin=$1
out=$2
mkdir -p "$out"
small=(--seq 4096 --heads 8 --kv-heads 4 --dim 64)
"$bin" sim "${small[@]}" --world 8 --method allgather --pass both --trace "$out/sim_allgather.json" > /dev/null
"$bin" sim "${small[@]}" --world 8 --method alltoall --pass both --pack-kv --unfused-merge \
  --trace "$out/sim_ring_peer.json" > /dev/null
"$bin" sim "${small[@]}" --world 8 --ulysses 8 --pass both --trace "$out/sim_ulysses.json" > /dev/null
"$bin" sim "${small[@]}" --world 8 --ulysses 2 --method alltoall --pass both --trace "$out/sim_hybrid.json" > /dev/null
"$bin" sim --seq 1048576 --world 1024 --method alltoall --trace-ranks 0,1,1023 \
  --trace "$out/sim_w1024_ranks.json" > /dev/null
"$bin" check --seq 256 --heads 2 --kv-heads 2 --dim 16 --world 4 --method alltoall --pass both \
  --trace "$out/cpu_ring.json" > /dev/null
"$bin" check --seq 256 --heads 4 --kv-heads 2 --dim 16 --world 4 --ulysses 2 --pass forward \
  --trace "$out/cpu_hybrid.json" > /dev/null
ls "$out"/*.json
